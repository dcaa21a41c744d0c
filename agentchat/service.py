"""The running service: state, agents, manager and the XMPP component wired together.

It is the component's ``Directory`` and ``Inbound``: it knows which virtual JIDs exist, who may
talk to them, and hands each chat message to the manager or to the right agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import time
import uuid
from pathlib import Path

from agentchat.agents import cli_home
from agentchat.agents.adapter import AgentAdapter, AgentStartError, LaunchSpec
from agentchat.agents.backends import Wiring, backend_of
from agentchat.agents.controls import is_bypass
from agentchat.agents.environment import agent_environment
from agentchat.agents.events import Choice
from agentchat.agents.names import generate_name
from agentchat.agents.pool import ProcessPool
from agentchat.agents.presenter import Presenter, PresenterPort
from agentchat.agents.runtime import AdapterFactory, Agent
from agentchat.agents.sandbox import SandboxPolicy, SandboxStatus, agent_policy, detect
from agentchat.agents.types import (
    AgentType,
    claude_type,
    configured_types,
    offered_types,
)
from agentchat.chat.format import split_message
from agentchat.chat.textpolicy import for_log, one_line
from agentchat.commands.adhoc import TableCommands
from agentchat.config.model import Config
from agentchat.files.chat import FileChat
from agentchat.files.transfer import FileTransfers
from agentchat.logging_setup import register_secret
from agentchat.manager.bot import AgentView, CreateError, ManagerBot
from agentchat.manager.flow import CreateRequest
from agentchat.oserrors import describe
from agentchat.permissions.audit import AuditLog
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.chat_sink import ChatPermissionSink
from agentchat.permissions.mcp_app import (
    PERMISSION_TOOL,
    SEND_FILE_TOOL,
    RunningServer,
    build_app,
    mcp_url,
    serve,
    write_mcp_config,
)
from agentchat.permissions.model import AlwaysRule
from agentchat.rooms.manager import RoomManager, RoomPresencePort
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
from agentchat.workspace import WorkspaceError, list_repos, recheck_repo, resolve_repo
from agentchat.worktrees.chat import GitChat
from agentchat.worktrees.git import (
    GitError,
    RepoInfo,
    add_worktree,
    branch_for,
    remove_worktree,
    repo_info,
    writable_git_paths,
)
from agentchat.xmpp.access import AccessPolicy
from agentchat.xmpp.adhoc import AdHocCommands
from agentchat.xmpp.component import AgentComponent
from agentchat.xmpp.directory import Contact, PresenceInfo
from agentchat.xmpp.upload import UploadClient

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 32_000


class Service:
    def __init__(
        self,
        config: Config,
        *,
        adapter_factory: AdapterFactory | None = None,
        agent_env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        # Added to each CLI's environment (tests: the scripted API), through the same allow-list.
        self._agent_env = agent_environment(agent_env or {})
        self._agent_env_given = dict(agent_env or {})  # ACP types filter it by their own list
        self.sandbox: SandboxStatus = detect(config.agents.sandbox)
        self.store = StateStore(config.state_path)
        self.saver = StateSaver(self.store, lambda: self.state)  # per-turn saves, write-behind
        self.state = ServiceState()
        self.agents: dict[str, Agent] = {}
        self.pool = ProcessPool(config.agents.max_concurrent)
        self.access = AccessPolicy.from_config(config)
        self._adapter_factory = adapter_factory or self._make_adapter
        self.types = {t.name: t for t in configured_types(config)}  # agents.types
        self.component = AgentComponent(
            config.xmpp.component_domain,
            config.xmpp.component_secret,
            config.xmpp.host,
            config.xmpp.port,
            directory=self,
            inbound=self,
        )
        self.manager = ManagerBot(self, self._manager_say)
        # ad-hoc commands come from the same tables as the chat commands (agentchat/commands)
        self.component.entity.commands = AdHocCommands(TableCommands(self.manager, self.agents))
        # prompts go through each agent's presenter: never in the middle of a streamed answer
        self.sink = ChatPermissionSink(PresenterPort(self.component, self._presenter_of),
                                       self._refresh_agent, self._plan_text,
                                       remind_after=config.mcp.permission_reminder_s,
                                       order_of=self.component.message_order,
                                       room_of=self._room_of)
        self.broker = PermissionBroker(
            self.sink,
            permission_timeout_s=config.mcp.permission_timeout_s,
            audit=AuditLog(config.audit_path),
            on_rules_changed=self._rules_changed,
            approvers=self._approvers_of,
        )
        self.file_chat = FileChat(FileTransfers(
            UploadClient(self.component, config.xmpp.domain, config.xmpp.component_domain),
            max_size=config.files.max_size, operator_hosts=config.files.download_hosts),
            self.agents, self.component.jid_of)
        self.git_chat = GitChat(config.home / "patches", self._git_sandbox,
                                self.file_chat.send_from)
        # group chats: their stanzas take this route before the 1:1 handling (agentchat/rooms)
        self.rooms = RoomManager(self.component, self.agents, self.broker, self.sink,
                                 self.persist)
        self.component.rooms = self.rooms
        self._agent_port = RoomPresencePort(self.component, self.rooms)
        self.mcp: RunningServer | None = None
        self._connected_once = False
        self._background: set[asyncio.Future[None]] = set()
        self._restart_notices: dict[str, list[str]] = {}
        self._access_restored: dict[str, list[str]] = {}  # owner -> agents, told at connect
        self._announced_restart = False
        # earlier sessions (sessions/resume) in the operator's dirs, the agents' templates
        self.sessions = SessionFinder(lambda: offered_types(self.config), self._agent_env_given)

    # ------------------------------------------------------------------ lifecycle

    def load_state(self) -> list[str]:
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
                    self._restart_notices.setdefault(record.owner, []).append(record.name)
            self.agents[record.name] = self._make_agent(record)
            self.agents[record.name].after_crash = crashed
            self.broker.set_rules(
                record.name, [AlwaysRule(r.tool_name, r.command) for r in record.rules]
            )
        try:
            self.persist()
        except OSError as exc:
            raise StateError(f"{self.store.path}: cannot save: {describe(exc)}") from None
        return list(result.warnings)

    def _check_owner(self, record: AgentRecord) -> None:
        """An owner removed from access.allowedJids loses their agents' answers, not the
        agents: their state stays, and the owner hears about it once they are allowed again."""
        if not self.access.allows(record.owner):
            if not record.owner_revoked:
                log.warning("%s: its owner %s is no longer allowed; the agent keeps its state "
                            "but answers nobody", record.name, record.owner)
            record.owner_revoked = True
        elif record.owner_revoked:
            record.owner_revoked = False
            self._access_restored.setdefault(record.owner, []).append(record.name)

    async def start(self, timeout: float = 30) -> None:
        """Serve MCP, connect and wait for the handshake (tests); raises TimeoutError."""
        await self._start_mcp()
        await self.component.start(timeout)

    async def start_background(self) -> None:
        """Serve MCP and connect; if Prosody is not up yet the component keeps retrying."""
        await self._start_mcp()
        self.component.connect()

    async def _start_mcp(self) -> None:
        self.mcp = await serve(build_app(self.broker, send_file=self.file_chat.tool),
                               self.config.mcp.port)
        log.info("permission tool listening on %s", self.mcp.url)

    async def stop(self) -> None:
        """Stop every process (agents stay resumable), persist, go offline."""
        await self.broker.aclose()  # pending prompts are denied: nobody will answer them now
        for agent in list(self.agents.values()):
            if agent.live:
                agent.say("agentchat is shutting down; send a message after it is back "
                          "to resume.")
        await asyncio.gather(
            *(a.stop_process(AgentStatus.STOPPED) for a in self.agents.values() if a.live),
            return_exceptions=True,
        )
        self.rooms.go_offline()
        for agent in self.agents.values():
            if agent.record.owner_revoked:
                continue
            self.component.set_presence(agent.name, agent.owner, show=None,
                                        status="agentchat stopped", available=False)
        for user in self.known_users():
            self.component.set_presence(self.config.manager.username, user, show=None,
                                        status="agentchat stopped", available=False)
        await self.saver.flush()
        try:
            self.persist()
        except OSError as exc:  # a full or read-only disk must not turn a stop into a crash
            log.error("could not save the state to %s on shutdown: %s; changes since the last "
                      "successful save are lost", self.store.path, describe(exc))
        await self.component.close()
        if self.mcp is not None:
            await self.mcp.stop()

    def persist(self) -> None:
        """Save now (creation, shutdown); agents' frequent changes go through ``saver``."""
        self.saver.save_now()

    # ------------------------------------------------------------------ agents

    def _make_adapter(self, spec: LaunchSpec) -> AgentAdapter:
        kind = self.types.get(spec.agent_type) or claude_type(self.config)
        broker = self.broker
        wiring = Wiring(ask=lambda name: lambda tool, tool_input, call_id: broker.request_for(
                            name, tool, tool_input, call_id),
                        streaming=self.config.agents.streaming)
        return backend_of(kind).adapter(kind, spec, wiring)

    def agent_types(self) -> tuple[tuple[str, str], ...]:
        return tuple((t.name, t.label) for t in offered_types(self.config))

    def _acp(self, record: AgentRecord) -> AgentType | None:
        kind = self.types.get(record.agent_type)
        return kind if kind is not None and kind.backend == "acp" else None

    def agent_home(self, name: str) -> Path:
        """The agent's own HOME (and CLI config dir inside it): sessions survive restarts."""
        return self.config.home / "agents" / name

    def mcp_config_path(self, name: str) -> Path:
        return self.config.home / "mcp" / f"{name}.json"

    def worktrees_dir(self) -> Path:
        return self.config.home / "worktrees"

    def workdir_of(self, record: AgentRecord) -> Path:
        """The agent's working directory, checked now; raises ``WorkspaceError``.

        With a worktree: its repository is checked as a repository is, and the worktree must
        still be the directory it was created as, under agentchat's home."""
        wt = record.worktree
        if wt is None:
            return recheck_repo(self.config.work.base_path, record.repo, record.cwd)
        recheck_repo(self.config.work.base_path, record.repo, wt.repo)
        path = Path(wt.path)
        try:
            usable = (path.is_dir() and path.resolve() == path
                      and path.parent == self.worktrees_dir().resolve())
        except OSError:
            usable = False
        if not usable:
            raise WorkspaceError(f"its worktree {wt.path} (branch {wt.branch}) is not there "
                                 "any more")
        return path

    def _spec_for(self, record: AgentRecord, resume: bool) -> LaunchSpec:
        """Everything for one process start; ``AgentStartError`` says what stands in the way.

        The working directory is checked again (it may have changed while the agent was
        stopped); a fresh per-process secret means only this process can ask for this agent's
        permissions.
        """
        try:
            cwd = self.workdir_of(record)
        except WorkspaceError as exc:
            raise AgentStartError(str(exc)) from None
        if not self.sandbox.ok:
            raise AgentStartError(self.sandbox.message)
        assert self.mcp is not None, "the MCP server starts before any agent"
        secret = secrets.token_urlsafe(32)
        register_secret(secret)
        home = self.agent_home(record.name)
        kind = self._acp(record)
        if kind is not None:  # asks over ACP; its secret reaches send_file, never permission_prompt
            self.broker.register_agent(record.name, record.owner, secret, cwd, mcp_prompts=False)
            return self._acp_spec(record, kind, cwd, home, resume,
                                  mcp=(mcp_url(self.mcp.port), secret))
        config_path = self.mcp_config_path(record.name)
        try:
            config_dir = cli_home.prepare(home, record.session_id, resume=resume,
                                          env=self.sessions.template_env())
            config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_mcp_config(config_path, self.mcp.port, secret,
                             permission_timeout_s=self.config.mcp.permission_timeout_s)
        except OSError as exc:
            raise AgentStartError(f"cannot write the agent's files: {describe(exc)}") from None
        self.broker.register_agent(record.name, record.owner, secret, cwd)
        return LaunchSpec(
            cwd=cwd,
            session_id=record.session_id,
            resume=resume,
            mcp_config_path=config_path,
            permission_tool=PERMISSION_TOOL,
            allowed_tools=(SEND_FILE_TOOL,),
            partial_messages=self.config.agents.streaming,
            extra_args=tuple(self.config.agents.claude_args),
            env={**self._agent_env, "HOME": str(home), "CLAUDE_CONFIG_DIR": str(config_dir)},
            sandbox=self._sandbox_policy(self.config.agents.claude_path, cwd, home,
                                         config_path, worktree=record.worktree),
            agent=record.name,
            agent_type=record.agent_type,
            mode=self._mode_of(record),
            model=record.model,
        )

    def _mode_of(self, record: AgentRecord) -> str:
        """The mode to start in: the one chosen last, unless it asks nothing and the operator
        has since taken agents.allowBypass back (then the backend's default)."""
        if record.mode and not self.config.agents.allow_bypass and is_bypass(Choice(record.mode)):
            log.warning("%s: not starting in mode %s: agents.allowBypass is off", record.name,
                        record.mode)
            return ""
        return record.mode

    def _acp_spec(self, record: AgentRecord, kind: AgentType, cwd: Path, home: Path,
                  resume: bool, *, mcp: tuple[str, str] | None = None) -> LaunchSpec:
        """An ACP agent's start: its own HOME and config dirs (CODEX_HOME, ~/.gemini), with
        the configured ones' login and settings copied in; the type's env, never over those."""
        template = {**os.environ, **self._agent_env_given, **kind.env}
        try:
            own = {"HOME": str(home), **cli_home.prepare_dirs(home, kind.config_dirs, template)}
        except OSError as exc:
            raise AgentStartError(f"cannot create the agent's home: {describe(exc)}") from None
        env = {**agent_environment(self._agent_env_given, declared=kind.declared),
               **kind.env, **own}
        command = kind.resolve() or kind.command
        return LaunchSpec(cwd=cwd, session_id=record.session_id, resume=resume, env=env,
                          sandbox=self._sandbox_policy(command, cwd, home,
                                                       worktree=record.worktree),
                          agent=record.name, agent_type=record.agent_type,
                          mcp_url=mcp[0] if mcp else None, mcp_secret=mcp[1] if mcp else "",
                          mode=self._mode_of(record), model=record.model)

    def _sandbox_policy(self, command: str, cwd: Path, home: Path,
                        mcp_config: Path | None = None, *,
                        worktree: WorktreeRecord | None = None) -> SandboxPolicy | None:
        """Also with a worktree: the repository's .git directory read-only, and what git in
        the worktree must write there (its admin dir, objects, its branch) read-write."""
        if self.sandbox.bwrap is None:
            return None
        git_ro: tuple[Path, ...] = ()
        git_rw: tuple[Path, ...] = ()
        if worktree is not None:
            git_ro, git_rw = (Path(worktree.common_dir),), writable_git_paths(worktree)
        return agent_policy(
            self.sandbox.bwrap, agentchat_home=self.config.home,
            base_path=self.config.work.base_path, command=command,
            read_only=(*(() if mcp_config is None else (mcp_config,)), *git_ro),
            read_write=(cwd, home, *git_rw),
        )

    def _git_sandbox(self, record: AgentRecord) -> SandboxPolicy | None:
        """Where agentchat runs git on an agent's files (status, diff): in its sandbox."""
        return self._sandbox_policy("git", Path(record.cwd), self.agent_home(record.name),
                                    worktree=record.worktree)

    async def _make_worktree(self, name: str, repo: Path) -> WorktreeRecord:
        """A worktree for a new agent; ``CreateError`` says why not (not a git repository…)."""
        info = await repo_info(repo)
        if info is None:
            raise CreateError(f"'{repo.name}' is not a git repository, so it cannot have a "
                              "worktree of its own. Create the agent without 'wt' (it then "
                              "works in the repository itself).")
        dest = self.worktrees_dir() / name
        try:
            return await add_worktree(info, dest, branch_for(name), self._add_sandbox(info, dest))
        except GitError as exc:
            raise CreateError(f"could not create its worktree: {exc}") from None
        except OSError as exc:
            raise CreateError(f"could not create its worktree: {describe(exc)}") from None

    def _add_sandbox(self, info: RepoInfo, dest: Path) -> SandboxPolicy | None:
        """``git worktree add`` checks files out (filters from the repository's config may
        run): it runs sandboxed, seeing the repository read-only but its .git and the new
        worktree writable."""
        if self.sandbox.bwrap is None:
            return None
        return agent_policy(self.sandbox.bwrap, agentchat_home=self.config.home,
                            base_path=self.config.work.base_path, command="git",
                            read_only=(info.top,), read_write=(info.common_dir, dest))

    def worktrees_default(self) -> bool:
        return self.config.work.worktrees

    async def _remove_agent_files(self, name: str, worktree: WorktreeRecord | None) -> None:
        """Undo a failed creation: the agent's home, MCP config and worktree (best effort)."""
        if worktree is not None:
            await remove_worktree(worktree, delete_branch=True)
        shutil.rmtree(self.agent_home(name), ignore_errors=True)
        try:
            self.mcp_config_path(name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("%s: could not remove its MCP config: %s", name, describe(exc))

    def _presenter_of(self, name: str) -> Presenter | None:
        """The presenter of the agent's current turn: prompts go where the turn came from."""
        agent = self.agents.get(name)
        return agent.output if agent is not None else None

    def _room_of(self, name: str) -> tuple[str, str] | None:
        agent = self.agents.get(name)
        return self.rooms.place_of(name, agent.output.owner) if agent is not None else None

    def _approvers_of(self, name: str) -> list[str]:
        agent = self.agents.get(name)
        return agent.record.approvers if agent is not None else []

    def _plan_text(self, name: str) -> str | None:
        agent = self.agents.get(name)
        return agent.plan_text() if agent is not None else None

    def _refresh_agent(self, name: str) -> None:
        agent = self.agents.get(name)
        if agent is not None:
            agent.refresh_presence()

    def _rules_changed(self, name: str, rules: list[AlwaysRule]) -> None:
        agent = self.agents.get(name)
        if agent is not None:
            agent.record.rules = [RuleRecord(r.tool_name, r.command) for r in rules]
            self.persist()

    def _make_agent(self, record: AgentRecord) -> Agent:
        return Agent(
            record,
            port=self._agent_port,
            pool=self.pool,
            adapter_factory=self._adapter_factory,
            spec_factory=self._spec_for,
            persist=self.saver.request,
            idle_timeout=self.config.agents.idle_timeout_s,
            gate=self.broker,
            on_live_change=self._refresh_manager_presence,
            silence_warning=self.config.agents.silence_warning_s,
            send_file=self.file_chat.get,
            locate=self.workdir_of,
            rooms=self.rooms,
            git=self.git_chat,
            allow_bypass=self.config.agents.allow_bypass,
            label=kind.label if (kind := self.types.get(record.agent_type)) else "The agent",
        )

    def agents_of(self, owner: str) -> list[AgentView]:
        return [a for a in self.agents.values()
                if a.owner == owner and a.record.status is not AgentStatus.ENDED]

    def repos(self) -> list[str]:
        try:
            return list_repos(self.config.work.base_path)
        except WorkspaceError as exc:
            log.error("%s", exc)
            return []

    @property
    def base_path(self) -> str:
        return str(self.config.work.base_path)

    def capacity_error(self) -> str | None:
        refusal = self.pool.full()
        return str(refusal) if refusal is not None else None

    async def create_agent(self, owner: str, request: CreateRequest) -> str:
        if request.agent_type not in dict(self.agent_types()):
            raise CreateError(f"unknown agent type '{request.agent_type}'")
        cwd = self._creation_checks(request.repo)
        name = self._new_name()
        wanted = request.worktree
        if wanted is None:  # work.worktrees, where the repository is a git repository
            wanted = self.config.work.worktrees and await repo_info(cwd) is not None
        worktree = await self._make_worktree(name, cwd) if wanted else None
        now = time.time()
        record = AgentRecord(
            name=name, owner=owner, agent_type=request.agent_type, repo=request.repo,
            cwd=worktree.path if worktree is not None else str(cwd), task=request.task,
            session_id=str(uuid.uuid4()), created=now, last_active=now, worktree=worktree,
            mode=request.mode, model=request.model,
        )
        return await self._launch(record, request.task)

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
        agent = self._make_agent(record)
        error = await agent.start_process()
        if error is not None:
            self.broker.unregister_agent(name)
            await self._remove_agent_files(name, worktree)
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
            self.broker.unregister_agent(name)
            await self._remove_agent_files(name, worktree)
            raise CreateError(f"cannot save state: {describe(exc)}") from None
        self._refresh_manager_presence()  # the owner is a known user only from now on
        log.info("%s: created for %s in %s%s", name, owner, record.repo,
                 f" (worktree {worktree.path})" if worktree is not None else "")
        jid = self.component.jid_of(name)
        self.component.subscribe(name, owner, nick=name)
        agent.refresh_presence()
        if first_message is not None:
            task = asyncio.ensure_future(agent.deliver(first_message))  # after the reply
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return jid

    # ------------------------------------------------------------------ earlier sessions

    async def list_sessions(self, repo: str) -> SessionListing:
        try:
            cwd = resolve_repo(self.config.work.base_path, repo)
        except WorkspaceError as exc:
            return SessionListing(repo, notes=(str(exc),))
        return await self.sessions.listing(cwd, repo)

    async def resume_session(self, owner: str, info: SessionInfo) -> tuple[str, str | None]:
        kind = self.types.get(info.agent_type)
        if kind is None or info.agent_type not in dict(self.agent_types()):
            raise CreateError(f"unknown agent type '{info.agent_type}'")
        cwd = self._creation_checks(info.repo)
        name = self._new_name()
        in_use = self.sessions.in_use(kind, info)
        try:
            self.sessions.copy_into(kind, info, self.agent_home(name), cwd)
        except (OSError, NotFound) as exc:
            await self._remove_agent_files(name, None)
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
        self.rooms.leave_all(agent, "killed")
        return True

    def _refresh_manager_presence(self) -> None:
        for user in self.known_users():
            self.component.announce(self._manager_contact(self.config.manager.username), user)

    # ------------------------------------------------------------------ Directory

    def _manager_contact(self, local: str) -> Contact:
        return Contact(local=local, kind="manager", nick="agentchat manager",
                       description="Creates and manages AI coding agents")

    def lookup(self, local: str) -> Contact | None:
        if local in ("", self.config.manager.username):
            return self._manager_contact(local)
        agent = self.agents.get(local)
        if agent is None:
            return None
        record = agent.record
        return Contact(local=local, kind="agent", nick=local,
                       description=f"{record.agent_type} in {one_line(record.repo)}: "
                                   f"{record.task}")

    def allowed(self, contact: Contact, sender_bare: str) -> bool:
        if contact.kind == "manager":
            return self.access.allows(sender_bare)
        agent = self.agents.get(contact.local)
        return (agent is not None and agent.owner == sender_bare
                and not agent.record.owner_revoked and self.access.allows(sender_bare))

    def presence_for(self, contact: Contact, viewer_bare: str) -> PresenceInfo:
        if contact.kind == "manager":
            running = self.pool.live
            return PresenceInfo(True, None, f"{running} agent{'s' if running != 1 else ''} "
                                            "running · send help")
        agent = self.agents[contact.local]
        available, show, status = agent.presence()
        return PresenceInfo(available, show, status)

    def contacts_of(self, viewer_bare: str) -> list[Contact]:
        contacts = [self._manager_contact(self.config.manager.username)]
        for agent in self.agents.values():
            if agent.owner == viewer_bare:
                contact = self.lookup(agent.name)
                if contact is not None:
                    contacts.append(contact)
        return contacts

    def known_users(self) -> list[str]:
        """Owners we send presence to (not those removed from access.allowedJids)."""
        return sorted({a.owner for a in self.agents.values() if not a.record.owner_revoked})

    # ------------------------------------------------------------------ Inbound

    def _manager_say(self, to: str, text: str) -> None:
        for part in split_message(text):
            self.component.send_chat(self.config.manager.username, to, part)

    async def on_chat(self, contact: Contact, sender_bare: str, body: str, msg_id: str) -> None:
        if len(body) > MAX_MESSAGE_CHARS:
            refusal = (f"⚠️ Message not delivered: it has {len(body):,} characters and the "
                       f"limit is {MAX_MESSAGE_CHARS:,}. Split it, or put the text in a file in "
                       "the repository and point the agent at it.")
            if contact.kind == "manager":
                self._manager_say(sender_bare, refusal)
            else:
                self.agents[contact.local].say(refusal)
            return
        if contact.kind == "manager":
            await self.manager.handle(sender_bare, body)
            return
        agent = self.agents[contact.local]
        await agent.handle_owner_text(body, msg_id)
        if agent.record.status is AgentStatus.ENDED:
            self.rooms.leave_all(agent, "the agent ended")

    async def on_correction(self, contact: Contact, sender_bare: str, body: str, msg_id: str,
                            replaces: str) -> None:
        """XEP-0308: the owner edited message ``replaces``. The manager answered the first
        version already: the new one is a new command. An agent decides by where the
        message is (runtime.handle_correction)."""
        if contact.kind == "manager" or len(body) > MAX_MESSAGE_CHARS:
            await self.on_chat(contact, sender_bare, body, msg_id)
            return
        agent = self.agents[contact.local]
        await agent.handle_correction(replaces, body, msg_id)
        if agent.record.status is AgentStatus.ENDED:
            self.rooms.leave_all(agent, "the agent ended")

    async def on_file(
        self, contact: Contact, sender_bare: str, url: str, body: str, msg_id: str
    ) -> None:
        if contact.kind == "manager":
            self._manager_say(sender_bare, "Files go to an agent: send it in that agent's "
                                           "chat, and it lands in its working tree.")
            return
        await self.file_chat.received(self.agents[contact.local], url, body)

    async def on_reaction(
        self, contact: Contact, sender_bare: str, target_id: str, emojis: list[str]
    ) -> None:
        agent = self.agents.get(contact.local)
        request_id = self.sink.request_for_message(contact.local, target_id)
        if agent is None or request_id is None:
            log.debug("reaction %s on %s from %s: not a prompt", emojis, target_id, sender_bare)
            return
        for emoji in emojis:
            reply = self.broker.answer_by_reaction(contact.local, request_id, emoji, sender_bare)
            if reply is not None:
                await agent.acknowledge(reply)
                return

    async def durable(self) -> None:
        await self.saver.durable()

    async def _answer_again(self, name: str) -> None:
        await self.agents[name].answer_unanswered()

    def on_displayed(self, contact: Contact, sender_bare: str, msg_id: str) -> None:
        if contact.kind == "agent":
            self.sink.displayed(contact.local, msg_id)

    async def on_connected(self) -> None:
        if self._connected_once:
            self.sink.resend_pending(self.broker, list(self.agents))
        self._connected_once = True
        self.rooms.on_connected()
        for user in self.known_users():
            for contact in self.contacts_of(user):
                self.component.announce(contact, user)
                self.component.probe(contact.local, user)
        if not self._announced_restart:
            self._announced_restart = True
            for owner, names in self._access_restored.items():
                self._manager_say(owner, "Your access to agentchat is back. Your agents kept "
                                         f"their state: {', '.join(names)}.")
            self._access_restored.clear()
            for owner, names in self._restart_notices.items():
                again = [n for n in names if self.agents[n].record.unanswered]
                stopped = [n for n in names if n not in again]
                parts = []
                if stopped:
                    listed = ", ".join(f"{n} stopped" for n in stopped)
                    parts.append(f"{listed}; send a message to resume")
                if again:
                    parts.append(f"{', '.join(again)} {'was' if len(again) == 1 else 'were'} "
                                 "interrupted and now answer"
                                 f"{'s' if len(again) == 1 else ''} what you sent last")
                self._manager_say(owner, f"agentchat restarted: {'; '.join(parts)}.")
                for name in again:  # after the notice: the answer follows it
                    task = asyncio.ensure_future(self._answer_again(name))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            self._restart_notices.clear()
