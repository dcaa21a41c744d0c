"""The component's ``Inbound``: each chat message, file, reaction and displayed marker goes to
the manager or to the agent it was sent to; after each (re)connect the contacts are announced
again and the owners hear what happened while agentchat was away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from agentchat.agents.runtime import Agent
from agentchat.chat.format import split_message
from agentchat.files.chat import FileChat
from agentchat.manager.bot import ManagerBot
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.chat_sink import ChatPermissionSink
from agentchat.rooms.manager import RoomManager
from agentchat.routing.directory import AgentDirectory
from agentchat.state.model import AgentStatus
from agentchat.state.saver import StateSaver
from agentchat.xmpp.directory import Contact

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 32_000


class ChatSender(Protocol):
    def send_chat(self, from_local: str, to: str, body: str, *,
                  resource: str | None = None) -> str: ...


class Announcer(Protocol):
    """The component as a reconnect needs it."""

    def announce(self, contact: Contact, to: str) -> None: ...

    def probe(self, local: str, to: str) -> None: ...


class RestartNotices(Protocol):
    """What the registry learnt while loading the state, for the owners (owner -> agents)."""

    restart_notices: dict[str, list[str]]
    access_restored: dict[str, list[str]]


class ManagerVoice:
    """The manager's chat messages, split to the chat size."""

    def __init__(self, sender: ChatSender, manager: str) -> None:
        self._sender = sender
        self._manager = manager

    def __call__(self, to: str, text: str) -> None:
        for part in split_message(text):
            self._sender.send_chat(self._manager, to, part)


class InboundRouter:
    def __init__(
        self,
        agents: Mapping[str, Agent],
        *,
        manager: ManagerBot,
        say: Callable[[str, str], None],
        directory: AgentDirectory,
        announcer: Announcer,
        notices: RestartNotices,
        broker: PermissionBroker,
        sink: ChatPermissionSink,
        rooms: RoomManager,
        file_chat: FileChat,
        saver: StateSaver,
    ) -> None:
        self._agents = agents
        self._manager = manager
        self._say = say
        self._directory = directory
        self._announcer = announcer
        self._notices = notices
        self._broker = broker
        self._sink = sink
        self._rooms = rooms
        self._file_chat = file_chat
        self._saver = saver
        self._background: set[asyncio.Future[None]] = set()
        self._connected_once = False
        self.announced_restart = False

    async def on_chat(self, contact: Contact, sender_bare: str, body: str, msg_id: str) -> None:
        if len(body) > MAX_MESSAGE_CHARS:
            refusal = (f"⚠️ Message not delivered: it has {len(body):,} characters and the "
                       f"limit is {MAX_MESSAGE_CHARS:,}. Split it, or put the text in a file in "
                       "the repository and point the agent at it.")
            if contact.kind == "manager":
                self._say(sender_bare, refusal)
            else:
                self._agents[contact.local].say(refusal)
            return
        if contact.kind == "manager":
            await self._manager.handle(sender_bare, body)
            return
        agent = self._agents[contact.local]
        await agent.handle_owner_text(body, msg_id)
        self._leave_rooms_if_ended(agent)

    async def on_correction(self, contact: Contact, sender_bare: str, body: str, msg_id: str,
                            replaces: str) -> None:
        """XEP-0308: the owner edited message ``replaces``. The manager answered the first
        version already: the new one is a new command. An agent decides by where the
        message is (runtime.handle_correction)."""
        if contact.kind == "manager" or len(body) > MAX_MESSAGE_CHARS:
            await self.on_chat(contact, sender_bare, body, msg_id)
            return
        agent = self._agents[contact.local]
        await agent.handle_correction(replaces, body, msg_id)
        self._leave_rooms_if_ended(agent)

    def _leave_rooms_if_ended(self, agent: Agent) -> None:
        """An owner's message may end the agent (``quit``): it leaves its rooms then."""
        if agent.record.status is AgentStatus.ENDED:
            self._rooms.leave_all(agent, "the agent ended")

    async def on_file(
        self, contact: Contact, sender_bare: str, url: str, body: str, msg_id: str
    ) -> None:
        if contact.kind == "manager":
            self._say(sender_bare, "Files go to an agent: send it in that agent's "
                                   "chat, and it lands in its working tree.")
            return
        await self._file_chat.received(self._agents[contact.local], url, body)

    async def on_reaction(
        self, contact: Contact, sender_bare: str, target_id: str, emojis: list[str]
    ) -> None:
        agent = self._agents.get(contact.local)
        request_id = self._sink.request_for_message(contact.local, target_id)
        if agent is None or request_id is None:
            log.debug("reaction %s on %s from %s: not a prompt", emojis, target_id, sender_bare)
            return
        for emoji in emojis:
            reply = self._broker.answer_by_reaction(contact.local, request_id, emoji,
                                                    sender_bare)
            if reply is not None:
                await agent.acknowledge(reply)
                return

    async def durable(self) -> None:
        await self._saver.durable()

    async def _answer_again(self, name: str) -> None:
        await self._agents[name].answer_unanswered()

    def on_displayed(self, contact: Contact, sender_bare: str, msg_id: str) -> None:
        if contact.kind == "agent":
            self._sink.displayed(contact.local, msg_id)

    async def on_connected(self) -> None:
        if self._connected_once:
            self._sink.resend_pending(self._broker, list(self._agents))
        self._connected_once = True
        self._rooms.on_connected()
        for user in self._directory.known_users():
            for contact in self._directory.contacts_of(user):
                self._announcer.announce(contact, user)
                self._announcer.probe(contact.local, user)
        if not self.announced_restart:
            self.announced_restart = True
            self._tell_what_happened()

    def _tell_what_happened(self) -> None:
        """Once, at the first connect: access given back, agents stopped by the restart."""
        restored, stopped = self._notices.access_restored, self._notices.restart_notices
        for owner, names in restored.items():
            self._say(owner, "Your access to agentchat is back. Your agents kept "
                             f"their state: {', '.join(names)}.")
        restored.clear()
        for owner, names in stopped.items():
            again = [n for n in names if self._agents[n].record.unanswered]
            halted = [n for n in names if n not in again]
            parts = []
            if halted:
                listed = ", ".join(f"{n} stopped" for n in halted)
                parts.append(f"{listed}; send a message to resume")
            if again:
                parts.append(f"{', '.join(again)} {'was' if len(again) == 1 else 'were'} "
                             "interrupted and now answer"
                             f"{'s' if len(again) == 1 else ''} what you sent last")
            self._say(owner, f"agentchat restarted: {'; '.join(parts)}.")
            for name in again:  # after the notice: the answer follows it
                task = asyncio.ensure_future(self._answer_again(name))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        stopped.clear()
