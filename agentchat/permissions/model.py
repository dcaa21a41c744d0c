"""Value types shared by the permission broker, prompt texts, audit log and MCP tool."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import attrs

Kind = Literal["tool", "question", "plan"]
Behavior = Literal["allow", "deny"]

QUESTION_TOOL = "AskUserQuestion"
PLAN_TOOL = "ExitPlanMode"


def kind_for(tool_name: str) -> Kind:
    """AskUserQuestion and ExitPlanMode come through the same tool but need other prompts."""
    if tool_name == QUESTION_TOOL:
        return "question"
    if tool_name == PLAN_TOOL:
        return "plan"
    return "tool"


@attrs.frozen
class Created:
    """Both clocks: monotonic for latency/timeouts, wall time for the audit log and display."""

    monotonic: float = attrs.field(factory=time.monotonic)
    wall: datetime = attrs.field(factory=lambda: datetime.now(UTC))


@attrs.frozen
class PermissionRequest:
    """One pending question to an agent's owner (a tool use, an AskUserQuestion or a plan)."""

    id: str
    agent: str
    owner: str
    tool_name: str
    input: dict[str, Any]
    tool_use_id: str | None = None
    kind: Kind = "tool"
    created: Created = attrs.field(factory=Created)
    cwd: Path | None = None


@attrs.frozen
class Decision:
    """The answer returned to Claude, plus who/what produced it (for audit and chat)."""

    behavior: Behavior
    updated_input: dict[str, Any] | None = None
    message: str = ""
    answered_by: str = "owner"  # owner | rule | timeout | shutdown | cancelled | auth
    how: str = ""  # yes | always | reaction | text | choice | rule | timeout ...
    by_jid: str | None = None
    note: str = ""  # for the owner: the deny reason, the chosen answers, the rule
    room: str = ""  # the group chat (bare JID) the answer was given in; "" for the 1:1 chat
    mode: str = ""  # a plan approved with "yes edits": the mode to continue in ("edits")

    @property
    def allowed(self) -> bool:
        return self.behavior == "allow"

    def tool_result(self, original_input: dict[str, Any]) -> dict[str, Any]:
        """The JSON object the CLI expects from the permission prompt tool."""
        if self.behavior == "allow":
            updated = self.updated_input if self.updated_input is not None else original_input
            result: dict[str, Any] = {"behavior": "allow", "updatedInput": updated}
            if self.mode == "edits":  # Claude Code leaves plan mode for acceptEdits
                result["updatedPermissions"] = [
                    {"type": "setMode", "mode": "acceptEdits", "destination": "session"}]
            return result
        return {"behavior": "deny", "message": self.message or "Permission denied."}


@attrs.frozen
class AlwaysRule:
    """A standing "always allow": the exact Bash command, or every use of another tool."""

    tool_name: str
    command: str | None = None

    def matches(self, tool_name: str, tool_input: dict[str, Any]) -> bool:
        if tool_name != self.tool_name:
            return False
        if self.command is None:
            return True
        return tool_input.get("command") == self.command

    def describe(self) -> str:
        if self.command is None:
            return self.tool_name
        return f"{self.tool_name}: {self.command}"

    @classmethod
    def for_request(cls, tool_name: str, tool_input: dict[str, Any]) -> AlwaysRule:
        """Bash rules are per exact command; blanket Bash approval would be far too broad."""
        if tool_name == "Bash":
            command = tool_input.get("command")
            return cls(tool_name, command if isinstance(command, str) else "")
        return cls(tool_name)
