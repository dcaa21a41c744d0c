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


@attrs.define
class ServiceState:
    version: int = SCHEMA_VERSION
    agents: list[AgentRecord] = attrs.field(factory=list)
