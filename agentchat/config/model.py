"""The typed configuration: one attrs class per section of config.json.

Field names are snake_case; the JSON keys are the seed's camelCase (see ``load.py``).
Times are kept in milliseconds, as in the seed's config, and exposed in seconds where used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs

SandboxMode = Literal["auto", "on", "off"]


@attrs.frozen
class XmppConfig:
    host: str = "localhost"
    port: int = 5347
    domain: str = "localhost"
    component_domain: str = ""  # "" means "agents." + domain (filled in by the loader)
    component_secret: str = ""


@attrs.frozen
class ManagerConfig:
    username: str = "manager"


@attrs.frozen
class McpConfig:
    port: int = 3001
    permission_timeout: int = 300_000  # ms
    permission_reminder: int = 60_000  # ms before an unseen prompt is mentioned once more

    @property
    def permission_timeout_s(self) -> float:
        return self.permission_timeout / 1000

    @property
    def permission_reminder_s(self) -> float:
        return self.permission_reminder / 1000


@attrs.frozen
class WorkConfig:
    base_path: Path = Path("~/work")
    # New agents get a git worktree of their own (branch agentchat/<name>) unless told
    # otherwise at creation ('nowt'); off: they work in the repository itself unless 'wt'.
    worktrees: bool = False


@attrs.frozen
class AgentTypeConfig:
    """One entry of ``agents.types``: what ``new`` offers. Empty fields take the built-in
    default of that type name (``agentchat.agents.types``)."""

    name: str
    backend: str = ""  # "claude" (native stream-json) or "acp"
    label: str = ""  # the menu text
    command: str = ""
    args: tuple[str, ...] | None = None  # None: the default arguments
    env: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class AgentsConfig:
    max_concurrent: int = 5
    idle_timeout: int = 3_600_000  # ms
    claude_path: str = "claude"
    claude_args: tuple[str, ...] = ()
    streaming: bool = True
    silence_warning: int = 600_000  # ms without any output in a turn before the owner is told
    sandbox: SandboxMode = "auto"  # "auto": bubblewrap where it works; "on": required; "off": none
    types: tuple[AgentTypeConfig, ...] = ()  # empty: Claude Code only, as before agents.types
    # may owners switch an agent to a mode that asks nothing (Claude's bypassPermissions,
    # Gemini's yolo, Codex's full-access)? Off: those modes are refused in the chat
    allow_bypass: bool = False

    @property
    def idle_timeout_s(self) -> float:
        return self.idle_timeout / 1000

    @property
    def silence_warning_s(self) -> float:
        return self.silence_warning / 1000


@attrs.frozen
class AccessConfig:
    # Empty means the default: every account of xmpp.domain, nobody else.
    allowed_jids: tuple[str, ...] = ()


@attrs.frozen
class FilesConfig:
    """Files in both directions through the server's HTTP upload service (XEP-0363)."""

    max_size: int = 10 * 1024 * 1024  # bytes, per file, downloaded or uploaded
    # Extra hosts (``host`` or ``host:port``) whose links are downloaded, besides the upload
    # services the XMPP server announces. Never any other address.
    download_hosts: tuple[str, ...] = ()


@attrs.frozen
class WebConfig:
    # Serve the Converse.js web client from the private Prosody of ``agentchat run`` (and the
    # container's), and print its block in ``agentchat prosody-config``. Off: XMPP clients only.
    client: bool = True


@attrs.frozen
class Config:
    xmpp: XmppConfig = XmppConfig()
    manager: ManagerConfig = ManagerConfig()
    mcp: McpConfig = McpConfig()
    work: WorkConfig = WorkConfig()
    agents: AgentsConfig = AgentsConfig()
    access: AccessConfig = AccessConfig()
    files: FilesConfig = FilesConfig()
    web: WebConfig = WebConfig()
    home: Path = Path("~/.agent-chat")  # AGENT_CHAT_HOME: config.json, state, audit log

    @property
    def manager_jid(self) -> str:
        return f"{self.manager.username}@{self.xmpp.component_domain}"

    @property
    def state_path(self) -> Path:
        return self.home / "state.json"

    @property
    def audit_path(self) -> Path:
        return self.home / "audit.jsonl"
