"""Where the operator's earlier sessions are, and how an agent gets a copy to continue.

The operator's own directories are the templates the agents' config dirs are made from
(``agents/cli_home.py``): ``$CLAUDE_CONFIG_DIR`` or ``~/.claude`` for Claude Code, each ACP
type's config dirs (``$CODEX_HOME``) named by its configured environment. Sessions are listed
from there (Claude Code: read directly; ACP agents: asked with ``session/list``), and a session
picked with ``resume`` is copied from there into the new agent's own dirs, which the agent
then continues (``--resume`` / ``session/load``): agents never write the operator's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from agentchat.agents import cli_home
from agentchat.agents.environment import agent_environment
from agentchat.agents.types import AgentType
from agentchat.chat.textpolicy import one_line
from agentchat.sessions import acp_list, claude_store
from agentchat.sessions.model import SessionInfo, SessionListing

log = logging.getLogger(__name__)


class NotFound(Exception):
    """The session's files are not (any more) where the listing found them."""


class SessionFinder:
    def __init__(self, types: Callable[[], list[AgentType]],
                 agent_env: Mapping[str, str]) -> None:
        self._types = types  # the offered agent types, as they are now
        self._agent_env = dict(agent_env)  # what the service adds to agents' environments
        self._no_list: dict[str, str] = {}  # ACP types without session/list: the note

    # ----------------------------------------------------------------- where

    def template_env(self, kind: AgentType | None = None) -> dict[str, str]:
        """The configured environment whose HOME and config dir variables name the
        operator's own directories (for Claude Code: ``CLAUDE_CONFIG_DIR``)."""
        return {**os.environ, **self._agent_env, **(kind.env if kind is not None else {})}

    def claude_dir(self) -> Path:
        return cli_home.operator_config_dir(self.template_env())

    # ----------------------------------------------------------------- listing

    async def listing(self, cwd: Path, repo: str) -> SessionListing:
        """Every offered type's sessions in ``cwd``, newest first (all types asked at once:
        an ACP agent takes a second or more to start and answer)."""
        found: list[SessionInfo] = []
        notes: list[str] = []
        for listed, note in await asyncio.gather(*(
                self._claude(kind, cwd, repo) if kind.backend == "claude"
                else self._acp(kind, cwd, repo) for kind in self._types())):
            found += listed
            if note is not None:
                notes.append(note)
        found.sort(key=lambda s: s.modified or 0.0, reverse=True)
        return SessionListing(repo, tuple(found), tuple(notes))

    async def _claude(self, kind: AgentType, cwd: Path, repo: str
                      ) -> tuple[list[SessionInfo], str | None]:
        listed = await asyncio.to_thread(claude_store.list_sessions, self.claude_dir(), cwd,
                                         repo, agent_type=kind.name, label=kind.label)
        return listed, None

    async def _acp(self, kind: AgentType, cwd: Path, repo: str
                   ) -> tuple[list[SessionInfo], str | None]:
        """What the type's agent lists for ``cwd``, run on the operator's own config dirs;
        else a note saying why there is nothing."""
        if kind.name in self._no_list:
            return [], self._no_list[kind.name]
        template = self.template_env(kind)
        own = {"HOME": template.get("HOME") or str(Path.home()),
               **{d.env: str(d.template(template)) for d in kind.config_dirs if d.env}}
        env = agent_environment(os.environ, declared=kind.declared, own={
            **agent_environment(self._agent_env, declared=kind.declared), **kind.env, **own})
        argv = [kind.resolve() or kind.command, *kind.args]
        try:
            listed = await acp_list.list_sessions(argv, env, cwd, repo, agent_type=kind.name,
                                                  label=kind.label)
        except acp_list.NoSessionList:
            note = (f"{kind.label}: cannot list its sessions (its ACP agent does not offer "
                    "session/list).")
            self._no_list[kind.name] = note  # asked once per run, not at every listing
            return [], note
        except Exception as exc:
            log.warning("%s: session/list failed: %s", kind.label, exc)
            why = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            return [], f"{kind.label}: could not list its sessions ({why[:200]})."
        # off the loop, like the Claude listing: each check walks the agent's session files
        return await asyncio.to_thread(lambda: [
            attrs.evolve(s, in_use=self._acp_in_use(kind, s.session_id)) for s in listed]), None

    # ----------------------------------------------------------------- in use

    def in_use(self, kind: AgentType, info: SessionInfo) -> str | None:
        """Why the session seems to be open in a terminal right now (checked again at
        ``resume``: the listing may be old), or None."""
        if kind.backend == "claude":
            return claude_store.check_in_use(self.claude_dir(), info)
        return self._acp_in_use(kind, info.session_id)

    def _acp_in_use(self, kind: AgentType, session_id: str) -> str | None:
        """Files written within the last minutes: the session may be open elsewhere (ACP
        agents keep no registry of running sessions)."""
        written = []
        for _, path in cli_home.session_files(kind.config_dirs, self.template_env(kind),
                                              session_id):
            with contextlib.suppress(OSError):
                written.append(path.stat().st_mtime)
        if not written:
            return None
        return claude_store.in_use_reason(session_id, max(written), {}, time.time())

    # ----------------------------------------------------------------- copy

    def copy_into(self, kind: AgentType, info: SessionInfo, home: Path, cwd: Path) -> None:
        """Copy the session into an agent's own home (working directory ``cwd``), where its
        CLI looks for it. Raises ``OSError``, or ``NotFound`` when the files are gone."""
        if kind.backend == "claude":
            if info.path is None or not info.path.is_file():
                raise NotFound("its transcript is gone")
            cli_home.import_session(home / ".claude", info.path,
                                    claude_store.project_dir_name(str(cwd)))
            return
        copied = cli_home.import_files(home, kind.config_dirs, self.template_env(kind),
                                       info.session_id)
        if not copied and any(d.sessions for d in kind.config_dirs):
            raise NotFound(f"the files of {kind.label} session "
                           f"{one_line(info.session_id[:60])} were not found")
