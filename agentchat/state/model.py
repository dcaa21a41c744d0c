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
class PendingMessage:
    """An owner's message the agent took but has not answered yet (its turn runs or waits)."""

    key: str  # message_key() of the stanza; "" when it had no id
    text: str
    taken: bool = False  # sent to the agent (its turn runs), not waiting in the queue


@attrs.define
class WorktreeRecord:
    """The agent's own git worktree (agentchat/worktree.py), as created: these paths are
    trusted because agentchat wrote them down before the agent ever ran there."""

    path: str  # the worktree, outside the repository (AGENT_CHAT_HOME/worktrees/<name>)
    repo: str  # the repository's absolute path (the agent's ``cwd`` is ``path``)
    branch: str  # agentchat/<name>
    git_dir: str  # its administrative directory: <repo>/.git/worktrees/<id>
    common_dir: str  # the repository's .git directory
    base: str  # the commit it started from: ``diff`` shows what changed since


@attrs.define
class AgentRecord:
    name: str
    owner: str  # bare JID
    agent_type: str
    repo: str  # directory name under work.basePath
    cwd: str  # absolute path of the repository (or of its own worktree)
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
    worktree: WorktreeRecord | None = None  # None: it works in the repository itself
    # Owner messages (1:1 chat) taken but not answered yet: after a crash of agentchat the
    # restarted service answers them. ``seen``: keys of the latest owner messages, so one sent
    # again with the same id (a client that lost its connection) is not handled twice.
    unanswered: list[PendingMessage] = attrs.field(factory=list)
    seen: list[str] = attrs.field(factory=list)
    # session controls (agents/controls.py), applied again at every start: the permission mode
    # in force (the backend's own id) and the model the owner chose ("" = the default)
    mode: str = ""
    model: str = ""
    tokens_used: int = 0  # input + output tokens over all its processes, where reported


@attrs.define
class ServiceState:
    version: int = SCHEMA_VERSION
    agents: list[AgentRecord] = attrs.field(factory=list)
