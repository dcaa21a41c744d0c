"""The command tables: one entry gives the chat verb, the help line and the ad-hoc node."""

from __future__ import annotations

import attrs
import pytest

from agentchat.commands.agent import AGENT_COMMANDS
from agentchat.commands.base import Command, CommandTable, Invalid, Section
from agentchat.commands.manager import MANAGER_COMMANDS
from agentchat.xmpp.adhoc import Done, Step


@attrs.define
class Target:
    said: list[str] = attrs.field(factory=list)
    ended: bool = False


async def _ping(target: Target, args: object) -> str:
    return f"pong {args}"


async def _ping_node(target: Target) -> Step:
    return Done("pong")


def _count(args: list[str], text: str) -> object:
    if len(args) != 1 or not args[0].isdigit():
        return Invalid("Usage: ping <n>")
    return int(args[0])


TOY: CommandTable[Target] = CommandTable(sections=(
    Section("Commands:", (
        Command("ping", "answer pong", _ping, aliases=("p",), hidden_aliases=("pp",),
                usage="ping <n>", parse=_count, node="ping", label="Ping", execute=_ping_node,
                offered=lambda t: not t.ended),
        Command("secret", "", _ping),
    ), note="That is all."),
))


async def test_one_entry_is_a_chat_verb_a_help_line_and_a_node() -> None:
    target = Target()
    assert TOY.help_text() == "Commands:\n  ping <n> (or p) – answer pong\nThat is all."
    for text in ("ping 3", "P 3", "pp! 3"):
        assert await TOY.dispatch(target, text, target.said.append)
    assert target.said == ["pong 3"] * 3
    assert await TOY.dispatch(target, "ping x", target.said.append)
    assert target.said[-1] == "Usage: ping <n>"
    assert not await TOY.dispatch(target, "pingpong", target.said.append)
    assert [(c.node, c.label) for c in TOY.nodes(target)] == [("ping", "Ping")]
    assert TOY.nodes(Target(ended=True)) == []


@pytest.mark.parametrize("table", [MANAGER_COMMANDS, AGENT_COMMANDS], ids=["manager", "agent"])
def test_no_two_commands_claim_a_verb_or_a_node(table: CommandTable[object]) -> None:
    verbs = [v for c in table.commands for v in c.verbs]
    assert len(verbs) == len(set(verbs))
    nodes = [c.node for c in table.commands if c.node]
    assert len(nodes) == len(set(nodes))
    assert all(c.label for c in table.commands if c.node)
    assert all(c.run is not None or c.node for c in table.commands)


def test_every_described_verb_is_in_the_help() -> None:
    for table in (MANAGER_COMMANDS, AGENT_COMMANDS):
        text = table.help_text()
        for command in table.commands:
            if command.help:
                assert f"  {command.usage or command.name}" in text
            for alias in command.hidden_aliases:
                assert f"or {alias}" not in text
