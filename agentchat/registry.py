"""The agent registry: which agents exist, their saved state, creating and ending them.

``AgentRegistry`` owns the ``agents`` mapping (shared, read-only, with the parts that look
agents up: rooms, files, ad-hoc commands) and the ``ServiceState`` they are saved in. It is the
manager's host (``ManagerHost``): ``new`` and ``kill`` end here. Launch details (homes,
secrets, sandboxes, backends) are the ``Launcher``'s; chat routing is ``routing/``'s.

``AgentHooks`` answers the permission side's questions about an agent by name (its presenter,
plan, approvers; its rules changed): the broker and its chat sink exist before any agent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from agentchat.agents.launch import Launcher
from agentchat.agents.names import generate_name
from agentchat.agents.pool import ProcessPool
from agentchat.agents.presenter import Presenter
from agentchat.agents.runtime import AdapterFactory, Agent
from agentchat.chat.port import ChatPort
from agentchat.chat.textpolicy import for_log, one_line
from agentchat.config.model import Config
from agentchat.files.chat import FileChat
from agentchat.manager.bot import AgentView, CreateError
from agentchat.manager.flow import CreateRequest
from agentchat.oserrors import describe
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.model import AlwaysRule
from agentchat.rooms.manager import RoomManager
from agentchat.sessions.finder import NotFound, SessionFinder
from agentchat.sessions.model import SessionInfo, SessionListing
from agentchat.sessions.view import preview
from agentchat.state.model import (
    AgentRecord,
    AgentStatus,
    RuleRecord,
    ServiceState,
    WorktreeRecord,
)
from agentchat.state.saver import StateSaver
from agentchat.state.store import StateError, StateStore
from agentchat.workspace import WorkspaceError, list_repos, resolve_repo
from agentchat.worktrees.chat import GitChat
from agentchat.worktrees.git import GitError, RepoInfo, add_worktree, branch_for, repo_info
from agentchat.xmpp.access import AccessPolicy

log = logging.getLogger(__name__)


class Roster(Protocol):
    """The component as a new agent needs it: its address, and the owner's subscription."""

    def jid_of(self, local: str) -> str: ...

    def subscribe(self, local: str, to: str, nick: str) -> None: ...


class AgentHooks:
    """What the permission broker and its chat sink ask about an agent, by its name."""

    def __init__(self, agents: dict[str, Agent], save: Callable[[], None]) -> None:
        self._agents = agents
        self._save = save

    def presenter_of(self, name: str) -> Presenter | None:
        """The presenter of the agent's current turn: prompts go where the turn came from."""
        agent = self._agents.get(name)
        return agent.output if agent is not None else None

    def approvers_of(self, name: str) -> list[str]:
        agent = self._agents.get(name)
        return agent.record.approvers if agent is not None else []

    def plan_text(self, name: str) -> str | None:
        agent = self._agents.get(name)
        return agent.plan_text() if agent is not None else None

    def refresh(self, name: str) -> None:
        agent = self._agents.get(name)
        if agent is not None:
            agent.refresh_presence()

    def rules_changed(self, name: str, rules: list[AlwaysRule]) -> None:
        agent = self._agents.get(name)
        if agent is not None:
            agent.record.rules = [RuleRecord(r.tool_name, r.command) for r in rules]
            self._save()


class AgentRegistry:
    def __init__(
        self,
        config: Config,
        agents: dict[str, Agent],
        *,
        store: StateStore,
        saver: StateSaver,
        access: AccessPolicy,
        pool: ProcessPool,
        launcher: Launcher,
        sessions: SessionFinder,
        adapter_factory: AdapterFactory,
        broker: PermissionBroker,
        port: ChatPort,
        roster: Roster,
        file_chat: FileChat,
        git: GitChat,
        rooms: RoomManager,
        on_live_change: Callable[[], None],
    ) -> None:
        self.config = config
        self.agents = agents
        self.state = ServiceState()
        self.store = store
        self.saver = saver
        self._access = access
        self._pool = pool
        self._launcher = launcher
        self._sessions = sessions  # earlier sessions (sessions/resume) in the operator's dirs
        self._adapter_factory = adapter_factory
        self._broker = broker
        self._port = port
        self._roster = roster
        self._file_chat = file_chat
        self._git = git  # status, diff and patches of the agents' working trees
        self._rooms = rooms
        self._on_live_change = on_live_change
        self._background: set[asyncio.Future[None]] = set()
        # told to the owners once connected (routing.inbound), then cleared there
        self.restart_notices: dict[str, list[str]] = {}
        self.access_restored: dict[str, list[str]] = {}  # owner -> agents

    # ------------------------------------------------------------------ state

    def load(self) -> list[str]:
        """Read the state; agents that were running are now stopped (their processes died)."""
        result = self.store.load()
        self.state = result.state
        for record in self.state.agents:
            if record.status is AgentStatus.ENDED:
                continue
            self._check_owner(record)
            crashed = record.status is AgentStatus.RUNNING
            if record.status in (AgentStatus.RUNNING, AgentStatus.STOPPED):
                # RUNNING: the service died with the process; STOPPED: it was shut down
                record.status = AgentStatus.STOPPED
                if not record.owner_revoked:
                    self.restart_notices.setdefault(record.owner, []).append(record.name)
            self.agents[record.name] = self.make_agent(record)
            self.agents[record.name].after_crash = crashed
            self._broker.set_rules(
                record.name, [AlwaysRule(r.tool_name, r.command) for r in record.rules]
            )
        try:
            self.saver.save_now()
        except OSError as exc:
            raise StateError(f"{self.store.path}: cannot save: {describe(exc)}") from None
        return list(result.warnings)

    def _check_owner(self, record: AgentRecord) -> None:
        """An owner removed from access.allowedJids loses their agents' answers, not the
        agents: their state stays, and the owner hears about it once they are allowed again."""
        if not self._access.allows(record.owner):
            if not record.owner_revoked:
                log.warning("%s: its owner %s is no longer allowed; the agent keeps its state "
                            "but answers nobody", record.name, record.owner)
            record.owner_revoked = True
        elif record.owner_revoked:
            record.owner_revoked = False
            self.access_restored.setdefault(record.owner, []).append(record.name)

    # ------------------------------------------------------------------ agents

    def make_agent(self, record: AgentRecord) -> Agent:
        return Agent(
            record,
            port=self._port,
            pool=self._pool,
            adapter_factory=self._adapter_factory,
            spec_factory=self._launcher.spec_for,
            persist=self.saver.request,
            idle_timeout=self.config.agents.idle_timeout_s,
            gate=self._broker,
            on_live_change=self._on_live_change,
            silence_warning=self.config.agents.silence_warning_s,
            send_file=self._file_chat.get,
            locate=self._launcher.workdir_of,
            rooms=self._rooms,
            git=self._git,
            allow_bypass=self.config.agents.allow_bypass,
            label=kind.label if (kind := self._launcher.types.get(record.agent_type))
            else "The agent",
        )

    async def create_agent(self, owner: str, request: CreateRequest) -> str:
        if request.agent_type not in dict(self.agent_types()):
            raise CreateError(f"unknown agent type '{request.agent_type}'")
        cwd = self._creation_checks(request.repo)
        name = self._new_name()
        wanted = self.config.work.worktrees if request.worktree is None else request.worktree
        info = await repo_info(cwd) if wanted else None  # asked once, also for the worktree
        if request.worktree is None and info is None:
            wanted = False  # work.worktrees applies where the repository is a git repository
        worktree = await self._make_worktree(name, cwd, info) if wanted else None
        now = time.time()
        record = AgentRecord(
            name=name, owner=owner, agent_type=request.agent_type, repo=request.repo,
            cwd=worktree.path if worktree is not None else str(cwd), task=request.task,
            session_id=str(uuid.uuid4()), created=now, last_active=now, worktree=worktree,
            mode=request.mode, model=request.model,
        )
        return await self._launch(record, request.task)

    async def _make_worktree(self, name: str, repo: Path, info: RepoInfo | None
                             ) -> WorktreeRecord:
        """A worktree for a new agent in ``repo`` (``info``: its ``repo_info``);
        ``CreateError`` says why not (not a git repository…)."""
        if info is None:
            raise CreateError(f"'{repo.name}' is not a git repository, so it cannot have a "
                              "worktree of its own. Create the agent without 'wt' (it then "
                              "works in the repository itself).")
        dest = self._launcher.worktrees_dir() / name
        try:
            return await add_worktree(info, dest, branch_for(name),
                                      self._launcher.add_sandbox(info, dest))
        except GitError as exc:
            raise CreateError(f"could not create its worktree: {exc}") from None
        except OSError as exc:
            raise CreateError(f"could not create its worktree: {describe(exc)}") from None

    def _creation_checks(self, repo: str) -> Path:
        """The repository's directory, if an agent may be created there now; else CreateError."""
        try:
            cwd = resolve_repo(self.config.work.base_path, repo)
        except WorkspaceError as exc:
            raise CreateError(str(exc)) from None
        refusal = self.capacity_error()
        if refusal is not None:
            raise CreateError(refusal)
        return cwd

    def _new_name(self) -> str:
        return generate_name({r.name for r in self.state.agents} | {self.config.manager.username})

    async def _launch(self, record: AgentRecord, first_message: str | None) -> str:
        """Start a new agent's process, save it, introduce it to its owner and hand it its
        first message (none for a resumed session: the owner's next message continues it)."""
        name, owner, worktree = record.name, record.owner, record.worktree
        agent = self.make_agent(record)
        error = await agent.start_process()
        if error is not None:
            self._broker.unregister_agent(name)
            await self._launcher.remove_agent_files(name, worktree)
            raise CreateError(error)
        self.state.agents.append(record)
        self.agents[name] = agent
        try:
            self.saver.save_now(flush_later=True)  # in the file before the answer
        except OSError as exc:  # give back everything this creation took
            log.error("%s: not created: cannot save state: %s", name, describe(exc))
            del self.agents[name]
            self.state.agents.remove(record)
            await agent.discard()
            self._broker.unregister_agent(name)
            await self._launcher.remove_agent_files(name, worktree)
            raise CreateError(f"cannot save state: {describe(exc)}") from None
        log.info("%s: created for %s in %s%s", name, owner, record.repo,
                 f" (worktree {worktree.path})" if worktree is not None else "")
        jid = self._roster.jid_of(name)
        # The contact request and the presences (the agent's, the manager's count) follow the
        # reply: the owner's server handles them in order, and the reply (the agent's address,
        # usable at once) is what the owner waits for; filing the request is a roster write.
        asyncio.get_running_loop().call_soon(self._announce_created, agent)
        if first_message is not None:
            task = asyncio.ensure_future(agent.deliver(first_message))  # after the reply
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return jid

    def _announce_created(self, agent: Agent) -> None:
        if self.agents.get(agent.name) is not agent:
            return  # killed at once
        self._roster.subscribe(agent.name, agent.owner, nick=agent.name)
        self._on_live_change()  # the owner is a known user only from now on
        agent.refresh_presence()

    # ------------------------------------------------------------------ earlier sessions

    async def list_sessions(self, repo: str) -> SessionListing:
        try:
            cwd = resolve_repo(self.config.work.base_path, repo)
        except WorkspaceError as exc:
            return SessionListing(repo, notes=(str(exc),))
        return await self._sessions.listing(cwd, repo)

    async def resume_session(self, owner: str, info: SessionInfo) -> tuple[str, str | None]:
        kind = self._launcher.types.get(info.agent_type)
        if kind is None or info.agent_type not in dict(self.agent_types()):
            raise CreateError(f"unknown agent type '{info.agent_type}'")
        cwd = self._creation_checks(info.repo)
        name = self._new_name()
        # file walks and a copy (a transcript may be large): off the loop
        in_use = await asyncio.to_thread(self._sessions.in_use, kind, info)
        try:
            await asyncio.to_thread(self._sessions.copy_into, kind, info,
                                    self._launcher.agent_home(name), cwd)
        except (OSError, NotFound) as exc:
            await self._launcher.remove_agent_files(name, None)
            why = describe(exc) if isinstance(exc, OSError) else str(exc)
            raise CreateError(f"cannot copy the session: {why}") from None
        now = time.time()
        record = AgentRecord(
            name=name, owner=owner, agent_type=info.agent_type, repo=info.repo, cwd=str(cwd),
            task=f"continues {info.label} session {one_line(info.session_id[:8])}: "
                 f"{preview(info.first_prompt, 200)}",
            session_id=info.session_id, created=now, last_active=now, started_once=True,
        )
        log.info("%s: resumes %s session %s", name, info.label, for_log(info.session_id, 80))
        return await self._launch(record, None), in_use

    async def kill_agent(self, owner: str, name: str) -> bool:
        agent = self.agents.get(name)
        if agent is None or agent.owner != owner or agent.record.status is AgentStatus.ENDED:
            return False
        await agent.end("killed from the manager")
        self._rooms.leave_all(agent, "killed")
        return True

    # ------------------------------------------------------------------ ManagerHost

    def agent_types(self) -> tuple[tuple[str, str], ...]:
        return self._launcher.agent_types()

    def agents_of(self, owner: str) -> list[AgentView]:
        return [a for a in self.agents.values()
                if a.owner == owner and a.record.status is not AgentStatus.ENDED]

    def repos(self) -> list[str]:
        try:
            return list_repos(self.config.work.base_path)
        except WorkspaceError as exc:
            log.error("%s", exc)
            return []

    def worktrees_default(self) -> bool:
        return self.config.work.worktrees

    @property
    def base_path(self) -> str:
        return str(self.config.work.base_path)

    def capacity_error(self) -> str | None:
        refusal = self._pool.full()
        return str(refusal) if refusal is not None else None
