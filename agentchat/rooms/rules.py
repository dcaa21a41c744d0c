"""Who may do what with an agent in a group chat, and how that reads in its chat (pure).

The owner always may instruct and approve. Others are named by the owner: ``allow``/``deny``
(instruct: messages addressed to the agent start a turn) and ``approvers add/remove`` (answer its
permission prompts). Both are lists of bare JIDs on the agent's record, so they survive restarts.
"""

from __future__ import annotations

import re

import attrs

from agentchat.jid import bare_jid
from agentchat.state.model import AgentRecord

_JID = re.compile(r"^[^@/\s]+@[^@/\s]+(/\S*)?$")


def looks_like_jid(text: str) -> bool:
    """A JID with a local part (rooms and users both have one), or an xmpp: URI of one."""
    text = text.strip()
    if text.lower().startswith("xmpp:"):
        text = text[5:].split("?", 1)[0]
    return _JID.match(text) is not None


def may_instruct(record: AgentRecord, jid: str | None) -> bool:
    return jid is not None and (bare_jid(jid) == record.owner or bare_jid(jid) in record.allowed)


def may_approve(record: AgentRecord, jid: str | None) -> bool:
    return jid is not None and (bare_jid(jid) == record.owner or bare_jid(jid) in record.approvers)


def room_status_lines(record: AgentRecord) -> list[str]:
    """The group-chat part of ``status``: nothing at all for an agent that never joined one."""
    lines: list[str] = []
    if record.rooms:
        rooms = ", ".join(
            r.room if r.nick == record.name else f"{r.room} (as {r.nick})" for r in record.rooms)
        lines.append(f"Rooms: {rooms}")
    if record.allowed:
        lines.append(f"May instruct me in rooms: {', '.join(record.allowed)}")
    if record.approvers:
        lines.append(f"May answer my prompts in rooms: {', '.join(record.approvers)}")
    if record.room_context and record.rooms:
        lines.append("Room context: on")
    return lines


@attrs.frozen
class RoomCommand:
    """An owner's group-chat command from the 1:1 chat."""

    verb: str  # join, leave, allow, deny, approvers (add|remove), context
    arg: str = ""


def parse_room_command(text: str) -> RoomCommand | None:
    """Recognise the group-chat commands; anything else (``leave it as is``) is not one."""
    words = text.strip().split()
    if not words:
        return None
    head = words[0].lower()
    rest = words[1:]
    if head == "join" and len(rest) == 1 and looks_like_jid(rest[0]):
        return RoomCommand("join", bare_jid(rest[0]))
    if head == "leave" and not rest:
        return RoomCommand("leave")
    if head == "leave" and len(rest) == 1 and looks_like_jid(rest[0]):
        return RoomCommand("leave", bare_jid(rest[0]))
    if head in ("allow", "deny") and len(rest) == 1 and looks_like_jid(rest[0]):
        return RoomCommand(head, bare_jid(rest[0]))
    if head == "approvers" and not rest:
        return RoomCommand("approvers")
    if (head == "approvers" and len(rest) == 2 and rest[0].lower() in ("add", "remove")
            and looks_like_jid(rest[1])):
        return RoomCommand(f"approvers {rest[0].lower()}", bare_jid(rest[1]))
    if head == "context" and len(rest) == 1 and rest[0].lower() in ("on", "off"):
        return RoomCommand("context", rest[0].lower())
    return None
