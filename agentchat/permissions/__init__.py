"""Permission prompts: Claude Code's permission tool (MCP over loopback HTTP) ↔ the owner's chat.

The HTTP side lives in `agentchat.permissions.mcp_app` (not imported here: it pulls in mcp and
uvicorn, which the pure parts don't need).
"""

from .audit import AuditLog
from .broker import PermissionBroker, PermissionSink
from .model import AlwaysRule, Decision, PermissionRequest
from .prompt_text import format_outcome, format_prompt

__all__ = [
    "AlwaysRule",
    "AuditLog",
    "Decision",
    "PermissionBroker",
    "PermissionRequest",
    "PermissionSink",
    "format_outcome",
    "format_prompt",
]
