"""The manager's commands: chat verbs, help and ad-hoc nodes, with their handlers.

Each handler calls the one ``ManagerBot`` method behind both ways of asking (chat and
XEP-0050), and returns what to tell the user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

from agentchat.commands import forms
from agentchat.commands.base import (
    Command,
    CommandTable,
    ExecuteHandler,
    Invalid,
    Section,
    SubmitHandler,
    Values,
)
from agentchat.jid import local_part
from agentchat.manager.flow import build_request
from agentchat.xmpp.adhoc import Ask, Done, Step
from agentchat.xmpp.forms import Form, multi_line, single

if TYPE_CHECKING:
    from agentchat.manager.bot import ManagerBot

EMPTY = "Empty message. Send 'help' for the commands."
NO_AGENTS = "You have no agents. Send 'new' to create one."


@attrs.frozen
class ManagerCall:
    """A command to the manager: who asked."""

    bot: ManagerBot
    user: str


# What each chat verb's words parse to (the handlers' argument).

@attrs.frozen
class Help:
    pass


@attrs.frozen
class New:
    rest: str = ""  # 'new 2 fix the tests': created at once (flow.parse_one_line)


@attrs.frozen
class ListAgents:
    pass


@attrs.frozen
class Repos:
    pass


@attrs.frozen
class Kill:
    name: str


@attrs.frozen
class Status:
    name: str | None  # None: a summary of all agents


@attrs.frozen
class Sessions:
    repo: str | None  # a number from 'repos' or a name; None: ask which


@attrs.frozen
class Resume:
    number: int  # 1-based, in the last 'sessions' listing shown to this user


@attrs.frozen
class Unknown:
    text: str


# ---------------------------------------------------------------------- parsers

def _kill(args: list[str], text: str) -> Kill | Invalid:
    if len(args) != 1:
        return Invalid("Usage: kill <agent-name>  (e.g. kill swift-fox)")
    return Kill(local_part(args[0]))


def _status(args: list[str], text: str) -> Status | Invalid:
    if len(args) > 1:
        return Invalid("Usage: status <agent-name>  (or just 'status' for all agents)")
    return Status(local_part(args[0]) if args else None)


def _after_verb(text: str) -> str:
    """Everything after the verb, as typed (a task keeps its line breaks, a repository
    name its spaces)."""
    rest = text.strip().split(None, 1)
    return rest[1].strip() if len(rest) > 1 else ""


def _sessions(args: list[str], text: str) -> Sessions:
    return Sessions(_after_verb(text) or None)


def _resume(args: list[str], text: str) -> Resume | Invalid:
    if len(args) != 1 or not (args[0].isascii() and args[0].isdigit()):
        return Invalid("Usage: resume <n>  (n: a number from the last 'sessions <repo>' list)")
    return Resume(int(args[0]))


# ---------------------------------------------------------------------- handlers

async def _help(call: ManagerCall, args: object) -> str:
    return MANAGER_COMMANDS.help_text()


def _new_words(args: list[str], text: str) -> New:
    return New(_after_verb(text))


async def _new(call: ManagerCall, args: New) -> None:
    if args.rest:
        await call.bot.create_from_line(call.user, args.rest)
    else:
        call.bot.start_flow(call.user)


def _new_agent_form(call: ManagerCall) -> Form:
    return forms.new_agent(call.bot.repos(), call.bot.agent_types(),
                           worktree=call.bot.worktrees_default())


async def _new_form(call: ManagerCall) -> Step:
    refusal = call.bot.creation_refusal()
    if refusal is not None:
        return Done(refusal, "error")
    return Ask(_new_agent_form(call))


async def _new_submit(call: ManagerCall, values: Values) -> Step:
    repos = call.bot.repos()
    request = build_request(single(values, "type"), forms.repo_of(single(values, "repo"), repos),
                            multi_line(values, "task"), repos, call.bot.agent_types(),
                            forms.boolean(single(values, "worktree")))
    if isinstance(request, str):
        return Ask(_new_agent_form(call), request, "error")
    controls = forms.new_agent_controls(values)
    if isinstance(controls, str):
        return Ask(_new_agent_form(call), controls, "error")
    request = attrs.evolve(request, mode=controls[0], model=controls[1])
    reply = await call.bot.create(call.user, request)
    return Done(reply, "info" if reply.startswith("Agent ") else "error")


async def _list(call: ManagerCall, args: object) -> str:
    return call.bot.list_text(call.user)


async def _list_node(call: ManagerCall) -> Step:
    return Done(call.bot.list_text(call.user))


async def _repos(call: ManagerCall, args: object) -> str:
    return call.bot.repos_text()


async def _sessions_run(call: ManagerCall, args: Sessions) -> str:
    return await call.bot.sessions(call.user, args.repo)


async def _resume_run(call: ManagerCall, args: Resume) -> str:
    return await call.bot.resume(call.user, args.number)


async def _status_run(call: ManagerCall, args: Status) -> str:
    return call.bot.status_text(call.user, args.name)


async def _kill_run(call: ManagerCall, args: Kill) -> str:
    return await call.bot.kill(call.user, args.name)


def _choose_agent(title: str, instructions: str) -> ExecuteHandler[ManagerCall]:
    async def execute(call: ManagerCall) -> Step:
        names = call.bot.agent_names(call.user)
        if not names:
            return Done(NO_AGENTS)
        return Ask(forms.agent_choice(title, instructions, names))
    return execute


def _on_chosen(act: Callable[[ManagerCall, str], Awaitable[str]]) -> SubmitHandler[ManagerCall]:
    """The submit of an agent choice: ``act`` on the chosen agent."""
    async def submit(call: ManagerCall, values: Values) -> Step:
        name = single(values, "agent")
        if not name:
            return Done("No agent chosen.", "error")
        return Done(await act(call, name))
    return submit


async def _kill_chosen(call: ManagerCall, name: str) -> str:
    return await call.bot.kill(call.user, name)


async def _status_chosen(call: ManagerCall, name: str) -> str:
    return call.bot.status_text(call.user, name)


MANAGER_COMMANDS: CommandTable[ManagerCall] = CommandTable(
    sections=(Section("Commands:", (
        Command("new", "start a new agent: pick a type, a repository and a task\n"
                "  new <repo> <task…> – at once (also: new <type> <repo> <task…>; by number or "
                "name);\n    'wt' before the task: a git worktree of its own on branch "
                "agentchat/<name> ('nowt': none),\n    e.g. new 2 wt fix the login test", _new,
                aliases=("create",), parse=_new_words,
                node="new-agent", label="New agent", execute=_new_form, submit=_new_submit),
        Command("list", "list your agents", _list, aliases=("agents",), hidden_aliases=("ls",),
                parse=lambda a, t: ListAgents(),
                node="list-agents", label="List agents", execute=_list_node),
        Command("status", "status of one agent (status alone: all of them)", _status_run,
                usage="status <name>", parse=_status,
                node="agent-status", label="Agent status",
                execute=_choose_agent("Agent status", "Which agent?"),
                submit=_on_chosen(_status_chosen)),
        Command("kill", "force-stop an agent", _kill_run, usage="kill <name>", parse=_kill,
                node="kill-agent", label="Kill agent",
                execute=_choose_agent("Kill agent", "Force-stop one of your agents."),
                submit=_on_chosen(_kill_chosen)),
        Command("repos", "list the repositories under the work directory", _repos,
                parse=lambda a, t: Repos()),
        Command("sessions", "earlier sessions in a repository (number or name), e.g. a "
                "terminal's claude", _sessions_run, usage="sessions <repo>", parse=_sessions),
        Command("resume", "a new agent that continues session n of the last 'sessions' list",
                _resume_run, usage="resume <n>", parse=_resume),
        Command("help", "this text", _help, hidden_aliases=("?", "h"),
                parse=lambda a, t: Help()),
    ), note="During 'new', send 'cancel' to stop."),),
    strip="!.?:",
    menu=("new-agent", "list-agents", "kill-agent", "agent-status"),
)


def parse_manager_command(text: str) -> object:
    """What ``text`` asks of the manager: a verb's arguments, ``Invalid`` or ``Unknown``."""
    if not text.split():
        return Invalid(EMPTY)
    found = MANAGER_COMMANDS.match(None, text)
    return Unknown(text.strip()) if found is None else found.args
