"""Launch planning: what one agent process start needs, per agent type.

The ``Launcher`` turns an agent's record into a ``LaunchSpec`` (working directory checked again,
its own HOME and config dirs, a fresh per-process secret, the sandbox policy) and a spec into
the adapter of its backend. It knows the agents' files on disk (home, MCP config); it holds no
agents and starts no processes: the runtime (``Agent``) does that with what it gets here.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from agentchat.agents import cli_home
from agentchat.agents.adapter import AgentAdapter, AgentStartError, LaunchSpec
from agentchat.agents.backends import Wiring, backend_of
from agentchat.agents.controls import is_bypass
from agentchat.agents.environment import agent_environment
from agentchat.agents.events import Choice
from agentchat.agents.sandbox import SandboxPolicy, SandboxStatus, agent_policy
from agentchat.agents.types import AgentType, claude_type, configured_types, offered_types
from agentchat.config.model import Config
from agentchat.logging_setup import register_secret
from agentchat.oserrors import describe
from agentchat.permissions.mcp_app import (
    PERMISSION_TOOL,
    SEND_FILE_TOOL,
    mcp_url,
    write_mcp_config,
)
from agentchat.permissions.model import Decision
from agentchat.state.model import AgentRecord, WorktreeRecord
from agentchat.workspace import WorkspaceError, recheck_repo
from agentchat.worktrees.git import RepoInfo, remove_worktree, writable_git_paths

log = logging.getLogger(__name__)


class Registrar(Protocol):
    """The permission broker as a launch needs it: who may ask for which agent, and how an
    ACP agent's questions reach it."""

    def register_agent(self, name: str, owner: str, secret: str, cwd: Path | None = None, *,
                       mcp_prompts: bool = True) -> None: ...

    async def request_for(self, name: str, tool_name: str, input: dict[str, Any],
                          tool_use_id: str | None = None) -> Decision: ...


class Launcher:
    def __init__(self, config: Config, sandbox: SandboxStatus, registrar: Registrar, *,
                 templates: Callable[[AgentType | None], dict[str, str]],
                 agent_env: dict[str, str] | None = None) -> None:
        self.config = config
        # the configured environment naming the operator's own CLI dirs, whose login and
        # settings each agent's own dirs get (SessionFinder.template_env)
        self._templates = templates
        self.sandbox = sandbox  # replaceable (tests); read at every start
        self._registrar = registrar
        # Added to each CLI's environment (tests: the scripted API), through the same allow-list.
        self._agent_env = agent_environment(agent_env or {})
        self._agent_env_given = dict(agent_env or {})  # ACP types filter it by their own list
        self.types = {t.name: t for t in configured_types(config)}  # agents.types
        self.mcp_port: int | None = None  # set once the MCP server listens (before any start)

    def agent_types(self) -> tuple[tuple[str, str], ...]:
        """(key, label) of each type ``new`` offers: the configured ones whose command is found."""
        return tuple((t.name, t.label) for t in offered_types(self.config))

    def acp_type(self, record: AgentRecord) -> AgentType | None:
        kind = self.types.get(record.agent_type)
        return kind if kind is not None and kind.backend == "acp" else None

    # ------------------------------------------------------------------ the agents' files

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

    async def remove_agent_files(self, name: str, worktree: WorktreeRecord | None) -> None:
        """Undo a failed creation: the agent's home, MCP config and worktree (best effort)."""
        if worktree is not None:
            await remove_worktree(worktree, delete_branch=True)
        shutil.rmtree(self.agent_home(name), ignore_errors=True)
        try:
            self.mcp_config_path(name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("%s: could not remove its MCP config: %s", name, describe(exc))

    # ------------------------------------------------------------------ one start

    def make_adapter(self, spec: LaunchSpec) -> AgentAdapter:
        kind = self.types.get(spec.agent_type) or claude_type(self.config)
        registrar = self._registrar
        wiring = Wiring(ask=lambda name: lambda tool, tool_input, call_id: registrar.request_for(
                            name, tool, tool_input, call_id),
                        streaming=self.config.agents.streaming)
        return backend_of(kind).adapter(kind, spec, wiring)

    def spec_for(self, record: AgentRecord, resume: bool) -> LaunchSpec:
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
        assert self.mcp_port is not None, "the MCP server starts before any agent"
        secret = secrets.token_urlsafe(32)
        register_secret(secret)
        home = self.agent_home(record.name)
        kind = self.acp_type(record)
        if kind is not None:  # asks over ACP; its secret reaches send_file, never permission_prompt
            self._registrar.register_agent(record.name, record.owner, secret, cwd,
                                           mcp_prompts=False)
            return self.acp_spec(record, kind, cwd, home, resume,
                                 mcp=(mcp_url(self.mcp_port), secret))
        config_path = self.mcp_config_path(record.name)
        try:
            config_dir = cli_home.prepare(home, record.session_id, resume=resume,
                                          env=self._templates(None))
            config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_mcp_config(config_path, self.mcp_port, secret,
                             permission_timeout_s=self.config.mcp.permission_timeout_s)
        except OSError as exc:
            raise AgentStartError(f"cannot write the agent's files: {describe(exc)}") from None
        self._registrar.register_agent(record.name, record.owner, secret, cwd)
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
            sandbox=self.sandbox_policy(self.config.agents.claude_path, cwd, home,
                                        config_path, worktree=record.worktree),
            agent=record.name,
            agent_type=record.agent_type,
            mode=self.mode_of(record),
            model=record.model,
        )

    def mode_of(self, record: AgentRecord) -> str:
        """The mode to start in: the one chosen last, unless it asks nothing and the operator
        has since taken agents.allowBypass back (then the backend's default)."""
        if record.mode and not self.config.agents.allow_bypass and is_bypass(Choice(record.mode)):
            log.warning("%s: not starting in mode %s: agents.allowBypass is off", record.name,
                        record.mode)
            return ""
        return record.mode

    def acp_spec(self, record: AgentRecord, kind: AgentType, cwd: Path, home: Path,
                 resume: bool, *, mcp: tuple[str, str] | None = None) -> LaunchSpec:
        """An ACP agent's start: its own HOME and config dirs (CODEX_HOME, ~/.gemini), with
        the configured ones' login and settings copied in; the type's env, never over those."""
        try:
            own = {"HOME": str(home),
                   **cli_home.prepare_dirs(home, kind.config_dirs, self._templates(kind))}
        except OSError as exc:
            raise AgentStartError(f"cannot create the agent's home: {describe(exc)}") from None
        env = {**agent_environment(self._agent_env_given, declared=kind.declared),
               **kind.env, **own}
        command = kind.resolve() or kind.command
        return LaunchSpec(cwd=cwd, session_id=record.session_id, resume=resume, env=env,
                          sandbox=self.sandbox_policy(command, cwd, home,
                                                      worktree=record.worktree),
                          agent=record.name, agent_type=record.agent_type,
                          mcp_url=mcp[0] if mcp else None, mcp_secret=mcp[1] if mcp else "",
                          mode=self.mode_of(record), model=record.model)

    def sandbox_policy(self, command: str, cwd: Path, home: Path,
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

    def git_sandbox(self, record: AgentRecord) -> SandboxPolicy | None:
        """Where agentchat runs git on an agent's files (status, diff): in its sandbox."""
        return self.sandbox_policy("git", Path(record.cwd), self.agent_home(record.name),
                                   worktree=record.worktree)

    def add_sandbox(self, info: RepoInfo, dest: Path) -> SandboxPolicy | None:
        """``git worktree add`` checks files out (filters from the repository's config may
        run): it runs sandboxed, seeing the repository read-only but its .git and the new
        worktree writable."""
        if self.sandbox.bwrap is None:
            return None
        return agent_policy(self.sandbox.bwrap, agentchat_home=self.config.home,
                            base_path=self.config.work.base_path, command="git",
                            read_only=(info.top,), read_write=(info.common_dir, dest))
