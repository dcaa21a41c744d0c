"""What survives a restart: one record per agent, versioned."""

from __future__ import annotations

import enum

import attrs

SCHEMA_VERSION = 1


class AgentStatus(enum.Enum):
    RUNNING = "running"  # a CLI process is live
    IDLE = "idle"  # process stopped after agents.idleTimeout; the next message resumes it
    STOPPED = "stopped"  # the service restarted; the next message resumes it
    CRASHED = "crashed"  # the process died; the next message resumes it
    ENDED = "ended"  # quit or killed: kept for history and name uniqueness only

    @property
    def resumable(self) -> bool:
        return self is not AgentStatus.ENDED


@attrs.define
class RuleRecord:
    """An ``always`` answer: allow this tool (for Bash: this exact command) without asking."""

    tool_name: str
    command: str | None = None


@attrs.define
class RoomRecord:
    """A group chat (XEP-0045) the agent is in: rejoined after every (re)connect."""

    room: str  # bare JID of the room
    nick: str  # the nickname it got there (its name, or with a suffix after a conflict)
    password: str | None = None  # from the invitation, for password-protected rooms


@attrs.define
class AgentRecord:
    name: str
    owner: str  # bare JID
    agent_type: str
    repo: str  # directory name under work.basePath
    cwd: str  # absolute path of the repository
    task: str
    session_id: str
    created: float  # unix time
    last_active: float
    status: AgentStatus = AgentStatus.RUNNING
    turns: int = 0
    cost_usd: float = 0.0
    started_once: bool = False  # the CLI session exists on disk: resume it instead of creating it
    rules: list[RuleRecord] = attrs.field(factory=list)
    # the owner was not in access.allowedJids at the last start: the agent kept its state but
    # answers nobody; when the owner is allowed again they are told it is back
    owner_revoked: bool = False
    # group chats (agentchat/rooms): where it is, who besides the owner may instruct it there
    # and answer its prompts, and whether it sees the rooms' other talk as context
    rooms: list[RoomRecord] = attrs.field(factory=list)
    allowed: list[str] = attrs.field(factory=list)  # bare JIDs
    approvers: list[str] = attrs.field(factory=list)  # bare JIDs
    room_context: bool = False


@attrs.define
class ServiceState:
    version: int = SCHEMA_VERSION
    agents: list[AgentRecord] = attrs.field(factory=list)
