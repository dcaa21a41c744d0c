"""An agent's commands (its owner's 1:1 chat and its ad-hoc nodes), the group-chat ones
included, with their handlers: each calls the one ``Agent`` (or rooms) method behind both ways
of asking and returns what to say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from agentchat.commands import forms
from agentchat.commands.base import Command, CommandTable, Parser, Section, Values
from agentchat.rooms.rules import RoomCommand, parse_room_command
from agentchat.state.model import AgentStatus
from agentchat.xmpp.adhoc import Ask, Done, Step
from agentchat.xmpp.forms import single

if TYPE_CHECKING:
    from agentchat.agents.runtime import Agent


class RoomCommands(Protocol):
    """The group chats as the owner's commands need them (agentchat.rooms.manager)."""

    def run_owner_command(self, agent: Agent, command: RoomCommand) -> None:
        """Do ``command`` and tell the owner how it went."""


def get_command_path(text: str) -> str | None:
    """The path of ``get <path>`` (one word, or quoted when it has spaces), else None:
    "get rid of the warnings" is a message for the agent, not a command."""
    head, _, rest = text.strip().partition(" ")
    if head.lower() != "get":
        return None
    rest = rest.strip()
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'":
        return rest[1:-1]
    if not rest:
        return ""
    return rest if len(rest.split()) == 1 else None


def _revoke_target(args: list[str], text: str) -> str | None:
    stripped = text.strip()
    return stripped[len("revoke "):].strip() if stripped.lower().startswith("revoke ") else None


def _room_verb(verb: str) -> Parser:
    def parse(args: list[str], text: str) -> RoomCommand | None:
        command = parse_room_command(text)
        return command if command is not None and command.verb.split()[0] == verb else None
    return parse


def one_word(args: list[str], text: str) -> str | None:
    """``mode``, ``mode plan``: the name or ""; more words are a message ("model the data")."""
    return args[0] if len(args) == 1 else "" if not args else None


def _live(agent: Agent) -> bool:
    return agent.record.status is not AgentStatus.ENDED


def _has_rooms(agent: Agent) -> bool:
    return agent.rooms is not None


# ---------------------------------------------------------------------- handlers

async def _help(agent: Agent, args: object) -> str:
    return AGENT_COMMANDS.help_text()


async def _status(agent: Agent, args: object) -> str:
    return agent.status_text()


async def _status_node(agent: Agent) -> Step:
    return Done(agent.status_text())


async def _stop(agent: Agent, args: object) -> str:
    return await agent.interrupt()


async def _stop_node(agent: Agent) -> Step:
    return Done(await agent.interrupt())


async def _mode(agent: Agent, word: str) -> str:
    return await agent.mode_command(word)


async def _model(agent: Agent, word: str) -> str:
    return await agent.model_command(word)


async def _compact(agent: Agent, args: object) -> None:
    await agent.compact()


async def _rules(agent: Agent, args: object) -> str:
    return agent.rules_text()


async def _revoke(agent: Agent, target: str) -> str:
    return agent.revoke_rule(target)


async def _get(agent: Agent, path: str) -> None:
    await agent.send_path(path)


def _diff_args(args: list[str], text: str) -> bool | None:
    """``diff`` → False, ``diff patch`` → True (a .patch file); "diff the two configs" is a
    message for the agent."""
    if not args:
        return False
    return True if [a.lower() for a in args] == ["patch"] else None


async def _diff(agent: Agent, as_patch: bool) -> None:
    await agent.diff(as_patch)


async def _quit(agent: Agent, args: object) -> None:
    await agent.end("quit")


async def _quit_node(agent: Agent) -> Step:
    await agent.end("quit")
    return Done(f"{agent.name} has shut down.")


async def _approvals(agent: Agent) -> Step:
    pending = agent.pending_requests()
    if not pending:
        return Done("No permission requests are waiting.")
    return Ask(forms.approvals(pending))


async def _approvals_submit(agent: Agent, values: Values) -> Step:
    replies: list[str] = []
    for req in agent.pending_requests():
        choice = single(values, f"req-{req.id}")
        if choice == forms.LEAVE:
            continue
        reply = agent.answer_permission(f"{req.id} {choice}")
        replies.append(reply or f"#{req.id}: '{choice}' is not an answer.")
    if not replies:
        return Done("Nothing decided; the requests are still waiting.")
    return Done("\n".join(replies))


async def _room(agent: Agent, command: RoomCommand) -> None:
    assert agent.rooms is not None  # applies=_has_rooms
    agent.rooms.run_owner_command(agent, command)


def _room_command(verb: str, usage: str = "", help: str = "") -> Command[Agent]:
    return Command(verb, help, _room, usage=usage, parse=_room_verb(verb), applies=_has_rooms)


AGENT_COMMANDS: CommandTable[Agent] = CommandTable(
    sections=(
        Section("Commands:", (
            Command("status", "what I'm doing, repository, uptime, turns, tokens, context, cost",
                    _status,
                    node="status", label="Status", execute=_status_node),
            Command("stop", "interrupt the current turn", _stop, aliases=("cancel",),
                    hidden_aliases=("interrupt",),
                    node="interrupt", label="Interrupt", execute=_stop_node, offered=_live),
            Command("mode", "the permission mode and the modes offered; mode ask / edits / "
                            "plan switches", _mode, usage="mode [<name>]", parse=one_word),
            Command("model", "the model and the models offered; model <name> switches",
                    _model, usage="model [<name>]", parse=one_word),
            Command("compact", "have the agent compact its context (where it can)", _compact),
            Command("rules", "the tools you allowed with 'always'; revoke <n> removes one",
                    _rules),
            Command("revoke", "", _revoke, parse=_revoke_target,
                    applies=lambda agent: agent.has_gate),
            Command("get", "send me a file of the working tree (a link your client can show)",
                    _get, usage="get <path>", parse=lambda a, t: get_command_path(t),
                    applies=lambda agent: agent.can_send_files),
            Command("diff", "what changed in the working tree (git diff --stat and the diff); "
                    "diff patch – as a file", _diff, parse=_diff_args,
                    applies=lambda agent: agent.has_git),
            Command("quit", "shut me down", _quit, aliases=("exit",),
                    node="quit", label="Quit", execute=_quit_node, offered=_live),
            Command("", node="approvals", label="Pending approvals", execute=_approvals,
                    submit=_approvals_submit, offered=_live),
            Command("help", "this text", _help),
        ), note="Anything else is passed to the agent; files and images you send go with your "
                "next message."),
        Section("Group chats (invite me from your client, or):", (
            _room_command("join", "join <room JID>", "join a group chat; leave [<room JID>] – "
                                                     "leave it"),
            _room_command("leave"),
            _room_command("allow", "allow <jid> / deny <jid>",
                          "who besides you may instruct me there (by mentioning me)"),
            _room_command("deny"),
            _room_command("approvers", "approvers",
                          "list; approvers add <jid> / approvers remove <jid> – who besides you "
                          "may answer\n    my permission prompts there"),
            _room_command("context", "context on|off",
                          "see the rooms' other talk as context for my next turn"),
        )),
    ),
    footer="While a permission request is pending, answer it with\n"
           "yes / no (or '<id> yes' when several are pending).",
)
