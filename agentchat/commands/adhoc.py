"""The ad-hoc commands (XEP-0050) of the manager and of each agent, served from the command
tables: the ``CommandProvider`` that agentchat.xmpp.adhoc speaks the protocol for.

No logic of its own: a node runs its table entry's ``execute``/``submit``, which call the same
methods as the chat verbs and show the text the chat would have shown as the command's note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from agentchat.commands.agent import AGENT_COMMANDS
from agentchat.commands.manager import MANAGER_COMMANDS, ManagerCall
from agentchat.xmpp.adhoc import CommandError, CommandInfo, Done, Step
from agentchat.xmpp.directory import Contact

if TYPE_CHECKING:
    from agentchat.agents.runtime import Agent
    from agentchat.commands.base import Command
    from agentchat.manager.bot import ManagerBot


class TableCommands:
    """A ``CommandProvider`` over the manager and the agents (``agents`` is live)."""

    def __init__(self, manager: ManagerBot, agents: Mapping[str, Agent]) -> None:
        self._manager = manager
        self._agents = agents

    def list_commands(self, contact: Contact, sender: str) -> list[CommandInfo]:
        if contact.kind == "manager":
            found: list[Command[ManagerCall]] | list[Command[Agent]] = MANAGER_COMMANDS.nodes(
                ManagerCall(self._manager, sender))
        else:
            agent = self._agents.get(contact.local)
            found = AGENT_COMMANDS.nodes(agent) if agent is not None else []
        return [CommandInfo(c.node, c.label) for c in found]

    async def execute(self, contact: Contact, sender: str, node: str) -> Step:
        if contact.kind == "manager":
            call = ManagerCall(self._manager, sender)
            command = MANAGER_COMMANDS.by_node(call, node)
            if command is not None and command.execute is not None:
                return await command.execute(call)
        else:
            agent = self._agent(contact)
            found = AGENT_COMMANDS.by_node(agent, node)
            if found is not None and found.execute is not None:
                return await found.execute(agent)
        raise CommandError("item-not-found", "cancel", text=f"No command {node!r} here.")

    async def submit(
        self, contact: Contact, sender: str, node: str, values: dict[str, list[str]]
    ) -> Step:
        if contact.kind == "manager":
            call = ManagerCall(self._manager, sender)
            command = MANAGER_COMMANDS.by_node(call, node)
            if command is not None and command.submit is not None:
                return await command.submit(call, values)
        else:
            agent = self._agent(contact)
            found = AGENT_COMMANDS.by_node(agent, node)
            if found is not None and found.submit is not None:
                return await found.submit(agent, values)
        return Done("This command has no form.", "error")

    def _agent(self, contact: Contact) -> Agent:
        agent = self._agents.get(contact.local)
        if agent is None:
            raise CommandError("item-not-found", "cancel", text="No such agent.")
        return agent
