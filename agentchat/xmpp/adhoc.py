"""XEP-0050 ad-hoc commands: the protocol side (sessions, actions, the ``<command/>`` reply).

Why not slixmpp's xep_0050 plugin: it registers commands per JID and keeps its own sessions,
while we serve any number of virtual JIDs whose command sets depend on who asks. What a command
does is decided by a ``CommandProvider``; this module only speaks the protocol.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections import OrderedDict
from typing import Literal, Protocol

import attrs

from agentchat.xmpp.caps import COMMANDS_NS
from agentchat.xmpp.directory import Contact
from agentchat.xmpp.forms import Form, FormError, find_form, form_element, submitted_values

NoteType = Literal["info", "warn", "error"]
MAX_SESSIONS = 500


@attrs.frozen
class CommandInfo:
    node: str
    name: str


@attrs.frozen
class Ask:
    """Show this form and wait for it to be submitted (status ``executing``)."""

    form: Form
    note: str = ""
    note_type: NoteType = "info"


@attrs.frozen
class Done:
    """The command is over (status ``completed``)."""

    note: str = ""
    note_type: NoteType = "info"
    form: Form | None = None


Step = Ask | Done


class CommandProvider(Protocol):
    def list_commands(self, contact: Contact, sender: str) -> list[CommandInfo]:
        """The commands ``sender`` (bare JID, already allowed) may run on ``contact``."""

    async def execute(self, contact: Contact, sender: str, node: str) -> Step:
        """The first stage of a command."""

    async def submit(
        self, contact: Contact, sender: str, node: str, values: dict[str, list[str]]
    ) -> Step:
        """A form of this command was submitted."""


class CommandError(Exception):
    """Answered as an IQ error; ``specific`` is a XEP-0050 condition (bad-sessionid...)."""

    def __init__(self, condition: str, etype: str = "modify", specific: str | None = None,
                 text: str = "") -> None:
        super().__init__(text or condition)
        self.condition = condition
        self.etype = etype
        self.specific = specific
        self.text = text


@attrs.frozen
class _Session:
    local: str
    sender: str
    node: str


class AdHocCommands:
    def __init__(self, provider: CommandProvider, max_sessions: int = MAX_SESSIONS) -> None:
        self.provider = provider
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._max_sessions = max_sessions

    def items(self, contact: Contact, sender: str) -> list[CommandInfo]:
        return self.provider.list_commands(contact, sender)

    def name_of(self, contact: Contact, sender: str, node: str) -> str | None:
        for info in self.items(contact, sender):
            if info.node == node:
                return info.name
        return None

    async def handle(self, contact: Contact, sender: str, command: ET.Element) -> ET.Element:
        """One ``<command/>`` from an allowed ``sender``; returns the ``<command/>`` reply."""
        node = command.get("node") or ""
        action = command.get("action") or "execute"
        sid = command.get("sessionid")
        if self.name_of(contact, sender, node) is None:
            raise CommandError("item-not-found", "cancel", text=f"No command {node!r} here.")
        if sid is None:
            if action == "cancel":
                return _reply(node, secrets.token_hex(8), "canceled")
            if action != "execute":
                raise CommandError("bad-request", specific="bad-action")
            sid = secrets.token_hex(8)
            step = await self.provider.execute(contact, sender, node)
        else:
            session = self._sessions.get(sid)
            if session is None or session != _Session(contact.local, sender, node):
                raise CommandError("bad-request", specific="bad-sessionid",
                                   text="Unknown or expired session; start the command again.")
            if action == "cancel":
                self._sessions.pop(sid, None)
                return _reply(node, sid, "canceled")
            if action not in ("execute", "complete", "next"):
                raise CommandError("bad-request", specific="bad-action")
            x = find_form(command)
            if x is None:
                raise CommandError("bad-request", specific="bad-payload",
                                   text="Submit the form to continue.")
            try:
                values = submitted_values(x)
            except FormError as exc:
                raise CommandError("bad-request", specific="bad-payload", text=str(exc)) from None
            step = await self.provider.submit(contact, sender, node, values)
        if isinstance(step, Ask):
            self._remember(sid, _Session(contact.local, sender, node))
            reply = _reply(node, sid, "executing", step.note, step.note_type)
            actions = ET.SubElement(reply, f"{{{COMMANDS_NS}}}actions", {"execute": "complete"})
            ET.SubElement(actions, f"{{{COMMANDS_NS}}}complete")
            reply.append(form_element(step.form))
            return reply
        self._sessions.pop(sid, None)
        reply = _reply(node, sid, "completed", step.note, step.note_type)
        if step.form is not None:
            reply.append(form_element(step.form))
        return reply

    def _remember(self, sid: str, session: _Session) -> None:
        self._sessions[sid] = session
        self._sessions.move_to_end(sid)
        while len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)


def _reply(node: str, sid: str, status: str, note: str = "",
           note_type: NoteType = "info") -> ET.Element:
    reply = ET.Element(f"{{{COMMANDS_NS}}}command",
                       {"node": node, "sessionid": sid, "status": status})
    if note:
        ET.SubElement(reply, f"{{{COMMANDS_NS}}}note", {"type": note_type}).text = note
    return reply
