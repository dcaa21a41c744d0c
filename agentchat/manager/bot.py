"""The manager contact: creates, lists, inspects and kills agents through chat commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from agentchat.chat.textpolicy import one_line
from agentchat.commands.manager import EMPTY, MANAGER_COMMANDS, NO_AGENTS, ManagerCall
from agentchat.jid import local_part
from agentchat.manager.flow import (
    TASK_QUESTION,
    CreateRequest,
    CreationFlow,
    _choose,
    advance,
    parse_one_line,
    repo_question,
    type_question,
)
from agentchat.sessions.model import SessionInfo, SessionListing
from agentchat.sessions.view import in_use_warning, listing_text, preview


class AgentView(Protocol):
    @property
    def name(self) -> str: ...

    def status_text(self) -> str: ...

    def presence(self) -> tuple[bool, str | None, str | None]: ...

    def creation_note(self) -> str | None:
        """A line for the 'created' reply (its worktree and branch), or None."""


class CreateError(Exception):
    """Creation refused; the message is shown to the user as is."""


class ManagerHost(Protocol):
    """The service as the manager needs it."""

    def agents_of(self, owner: str) -> list[AgentView]: ...

    def repos(self) -> list[str]: ...

    def capacity_error(self) -> str | None: ...

    def agent_types(self) -> tuple[tuple[str, str], ...]:
        """(key, label) of each agent type ``new`` offers (installed ones)."""

    def worktrees_default(self) -> bool:
        """work.worktrees: whether new agents get a git worktree unless told 'nowt'."""

    async def create_agent(self, owner: str, request: CreateRequest) -> str:
        """Create and start an agent; returns its full JID. Raises CreateError."""

    async def kill_agent(self, owner: str, name: str) -> bool: ...

    async def list_sessions(self, repo: str) -> SessionListing:
        """Earlier sessions in ``repo`` (a name from ``repos()``), newest first."""

    async def resume_session(self, owner: str, info: SessionInfo) -> tuple[str, str | None]:
        """Create an agent that continues ``info``: (its full JID, why the session seems to
        be in use in a terminal right now, or None). Raises CreateError."""

    @property
    def base_path(self) -> str: ...


class ManagerBot:
    def __init__(self, host: ManagerHost, say: Callable[[str, str], None]) -> None:
        self._host = host
        self._say = say  # (to, text)
        self._flows: dict[str, CreationFlow] = {}
        self._listings: dict[str, SessionListing] = {}  # the last 'sessions' shown to a user

    def in_flow(self, user: str) -> bool:
        return user in self._flows

    async def handle(self, user: str, text: str) -> None:
        flow = self._flows.get(user)
        if flow is not None:
            await self._continue_flow(user, flow, text)
            return
        if not text.split():
            self._say(user, EMPTY)
        elif not await MANAGER_COMMANDS.dispatch(ManagerCall(self, user), text,
                                                 lambda reply: self._say(user, reply)):
            word = text.split()[0]
            self._say(user, f"Unknown command '{word[:40]}'. Send 'help' for the commands.")

    # ------------------------------------------------------------------ new

    # The public methods below are the one implementation behind both the chat commands and
    # the ad-hoc commands (agentchat/commands/manager.py): they return what to tell the user.

    def creation_refusal(self) -> str | None:
        """Why no agent can be created right now (capacity, no repositories), or None."""
        refusal = self._host.capacity_error()
        if refusal is not None:
            return f"Cannot create an agent now: {refusal}"
        if not self._host.repos():
            return (f"No repositories found under {self._host.base_path}. "
                    "Add a directory there and try again.")
        if not self._host.agent_types():
            return ("No agent type is installed (agents.types); 'agentchat check' says how to "
                    "install each.")
        return None

    def repos(self) -> list[str]:
        return self._host.repos()

    def agent_types(self) -> tuple[tuple[str, str], ...]:
        return self._host.agent_types()

    def worktrees_default(self) -> bool:
        return self._host.worktrees_default()

    def agent_names(self, user: str) -> list[str]:
        return [a.name for a in self._host.agents_of(user)]

    async def create(self, user: str, request: CreateRequest) -> str:
        """Create an agent; the reply says where to chat with it, or why it failed."""
        try:
            jid = await self._host.create_agent(user, request)
        except CreateError as exc:
            return f"Could not create the agent: {exc}"
        name = local_part(jid)
        note = next((a.creation_note() for a in self._host.agents_of(user) if a.name == name),
                    None)
        return f"Agent {name} created. Chat at {jid}" + (f"\n{note}" if note else "")

    async def kill(self, user: str, name: str) -> str:
        if await self._host.kill_agent(user, name):
            return f"Killed {name}."
        return self._no_such_agent(user, name)

    # ------------------------------------------------------------------ sessions

    async def sessions(self, user: str, repo: str | None) -> str:
        """The earlier sessions in a repository (by number or name, as ``new`` takes it);
        remembered for this user's ``resume <n>``."""
        repos = self._host.repos()
        if not repos:
            return f"No repositories under {self._host.base_path}."
        index = None if repo is None else _choose(repo, repos)
        if index is None:
            what = ("Which repository? " if repo is None
                    else f"Unknown repository '{one_line(repo[:60])}'. ")
            return f"{what}Send 'sessions <n>' or 'sessions <name>'.\n{repo_question(repos)}"
        listing = await self._host.list_sessions(repos[index])
        self._listings[user] = listing
        return listing_text(listing)

    async def resume(self, user: str, number: int) -> str:
        listing = self._listings.get(user)
        if listing is None:
            return ("Send 'sessions <repo>' first: 'resume <n>' continues session n of that "
                    "list.")
        if not 1 <= number <= len(listing.sessions):
            if not listing.sessions:
                return (f"The last list had no sessions (in {one_line(listing.repo)}). "
                        "Send 'sessions <repo>' for another repository.")
            return (f"No session {number} in the last list (1–{len(listing.sessions)}, "
                    f"in {one_line(listing.repo)}).")
        refusal = self._host.capacity_error()
        if refusal is not None:
            return f"Cannot create an agent now: {refusal}"
        info = listing.sessions[number - 1]
        try:
            jid, in_use = await self._host.resume_session(user, info)
        except CreateError as exc:
            return f"Could not create the agent: {exc}"
        name = local_part(jid)
        topic = f" (“{preview(info.first_prompt, 60)}”)" if info.first_prompt.strip() else ""
        short = one_line(info.session_id[:8])
        text = (f"Agent {name} created: it continues the {info.label} session {short}{topic} "
                f"in {one_line(info.repo)}. Chat at {jid}: your next message there continues "
                "that conversation.")
        return text if in_use is None else f"{text}\n{in_use_warning(in_use)}"

    def start_flow(self, user: str) -> None:
        """``new``: ask the first question of the creation dialogue (or say why not)."""
        refusal = self.creation_refusal()
        if refusal is not None:
            self._say(user, refusal)
            return
        types = self._host.agent_types()
        self._flows[user] = CreationFlow(repos=self._host.repos(), types=types,
                                         worktrees_default=self._host.worktrees_default())
        self._say(user, type_question(types))

    async def create_from_line(self, user: str, text: str) -> None:
        """``new <repo> <task…>``: created at once; without a task, only the task is asked."""
        refusal = self.creation_refusal()
        if refusal is not None:
            self._say(user, refusal)
            return
        repos, types = self._host.repos(), self._host.agent_types()
        chosen = parse_one_line(text, repos, types)
        if chosen.error is not None:
            self._say(user, chosen.error)
            return
        if not chosen.task.strip():
            self._flows[user] = CreationFlow(
                repos=repos, types=types, step="task", agent_type=chosen.agent_type,
                repo=chosen.repo, worktree=chosen.worktree,
                worktrees_default=self._host.worktrees_default())
            self._say(user, TASK_QUESTION)
            return
        self._say(user, await self.create(user, CreateRequest(
            chosen.agent_type, chosen.repo, chosen.task.strip(), chosen.worktree)))

    async def _continue_flow(self, user: str, flow: CreationFlow, text: str) -> None:
        reply = advance(flow, text)
        if reply.finished:
            del self._flows[user]
        if reply.text:
            self._say(user, reply.text)
        if reply.done is not None:
            self._say(user, await self.create(user, reply.done))

    # ------------------------------------------------------------------ views

    def list_text(self, user: str) -> str:
        agents = self._host.agents_of(user)
        if not agents:
            return NO_AGENTS
        lines = ["Your agents:"]
        for agent in agents:
            _, _, status = agent.presence()
            lines.append(f"• {agent.name} – {status}")
        return "\n".join(lines)

    def repos_text(self) -> str:
        repos = self._host.repos()
        if not repos:
            return f"No repositories under {self._host.base_path}."
        numbered = "\n".join(f"[{i}] {one_line(name)}" for i, name in enumerate(repos, 1))
        return f"Repositories under {self._host.base_path}:\n{numbered}"

    def status_text(self, user: str, name: str | None) -> str:
        agents = self._host.agents_of(user)
        if name is None:
            if not agents:
                return NO_AGENTS
            return "\n\n".join(a.status_text() for a in agents)
        for agent in agents:
            if agent.name == name:
                return agent.status_text()
        return self._no_such_agent(user, name)

    def _no_such_agent(self, user: str, name: str) -> str:
        names = [a.name for a in self._host.agents_of(user)]
        known = f" Your agents: {', '.join(names)}." if names else " You have no agents."
        return f"No agent named '{name[:60]}'.{known}"
