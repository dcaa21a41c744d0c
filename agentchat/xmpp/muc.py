"""XEP-0045 group chats as agents use them: what the stanzas say, and the ones agents send.

Parsing works on the stanza's XML and returns plain values, so the rules (who spoke, was it the
agent itself, is the room anonymous, was it kicked) are unit-testable without a server. Sending
goes through the component like everything else: ``RoomRoute`` is what the component asks before
its one-to-one handling, so group-chat stanzas get a route of their own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Protocol

import attrs

from agentchat.jid import split_jid

MUC_NS = "http://jabber.org/protocol/muc"
MUC_USER_NS = "http://jabber.org/protocol/muc#user"
CONFERENCE_NS = "jabber:x:conference"  # XEP-0249 direct invitations
DELAY_NS = "urn:xmpp:delay"
REFERENCE_NS = "urn:xmpp:reference:0"  # XEP-0372 mentions
STANZA_ERROR_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"

# Status codes (XEP-0045 §15.6) that matter to an agent.
SELF = "110"
NON_ANONYMOUS = "100"  # real JIDs are visible to everyone in the room
CREATED = "201"  # the room did not exist: joining created it
NICK_CHANGED = "303"
NICK_ASSIGNED = "210"
BANNED = "301"
KICKED = "307"
AFFILIATION_REMOVED = "321"
MEMBERS_ONLY = "322"
SHUTDOWN = "332"
NOW_NON_ANONYMOUS = "172"
NOW_SEMI_ANONYMOUS = "173"


class RoomRoute(Protocol):
    """The component asks this first; True means the stanza was a group-chat matter, handled."""

    def claim_message(self, msg: Any) -> bool: ...

    def claim_presence(self, pres: Any) -> bool: ...

    def is_room(self, jid: str) -> bool:
        """``jid`` (bare) is a room one of our agents is in: messages to it are ``groupchat``."""


def _child(element: ET.Element, ns: str, name: str) -> ET.Element | None:
    return element.find(f"{{{ns}}}{name}")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def error_condition(stanza: ET.Element) -> tuple[str, str]:
    """(condition, text) of a stanza's ``<error/>``, whatever the stream's namespace."""
    for child in stanza:
        if _local(child.tag) != "error":
            continue
        condition, text = "undefined-condition", ""
        for part in child:
            if part.tag == f"{{{STANZA_ERROR_NS}}}text":
                text = part.text or ""
            elif part.tag.startswith(f"{{{STANZA_ERROR_NS}}}"):
                condition = _local(part.tag)
        return condition, text
    return "undefined-condition", ""


@attrs.frozen
class Invitation:
    """An invitation to a room: XEP-0249 (direct, from the inviter) or XEP-0045 (via the room)."""

    room: str
    inviter: str  # bare JID of who invited
    password: str | None = None
    reason: str = ""
    mediated: bool = False


def parse_invitation(stanza: ET.Element, from_jid: str) -> Invitation | None:
    """A mediated invitation first: Prosody adds a XEP-0249 ``<x/>`` to those as well, and
    then the inviter is the ``from`` of ``<invite/>``, not the sender (the room)."""
    user = _child(stanza, MUC_USER_NS, "x")
    invite = _child(user, MUC_USER_NS, "invite") if user is not None else None
    if user is not None and invite is not None and invite.get("from"):
        reason = _child(invite, MUC_USER_NS, "reason")
        password = _child(user, MUC_USER_NS, "password")
        return Invitation(room=split_jid(from_jid)[0], inviter=split_jid(invite.get("from", ""))[0],
                          password=(password.text or None) if password is not None else None,
                          reason=(reason.text or "") if reason is not None else "",
                          mediated=True)
    direct = _child(stanza, CONFERENCE_NS, "x")
    if direct is not None and direct.get("jid"):
        return Invitation(room=split_jid(direct.get("jid", ""))[0], inviter=split_jid(from_jid)[0],
                          password=direct.get("password") or None,
                          reason=direct.get("reason") or "")
    return None


@attrs.frozen
class OccupantPresence:
    """One presence from ``room/nick``."""

    room: str
    nick: str
    kind: str  # available | unavailable | error
    real_jid: str | None = None  # bare; None when the room hides it from us
    codes: frozenset[str] = frozenset()
    new_nick: str | None = None  # with 303
    destroyed: bool = False
    reason: str = ""
    error: str = ""  # the condition, for kind == "error"
    error_text: str = ""

    @property
    def is_self(self) -> bool:
        return SELF in self.codes


def parse_presence(stanza: ET.Element, from_jid: str, ptype: str) -> OccupantPresence:
    room, nick = split_jid(from_jid)
    kind = "error" if ptype == "error" else (
        "unavailable" if ptype == "unavailable" else "available")
    if kind == "error":
        condition, text = error_condition(stanza)
        return OccupantPresence(room, nick, kind, error=condition, error_text=text)
    user = _child(stanza, MUC_USER_NS, "x")
    if user is None:
        return OccupantPresence(room, nick, kind)
    codes = frozenset(s.get("code", "") for s in user.findall(f"{{{MUC_USER_NS}}}status"))
    item = _child(user, MUC_USER_NS, "item")
    real = item.get("jid") if item is not None else None
    reason_el = _child(item, MUC_USER_NS, "reason") if item is not None else None
    destroy = _child(user, MUC_USER_NS, "destroy")
    reason = reason_el.text or "" if reason_el is not None else ""
    if destroy is not None:
        d_reason = _child(destroy, MUC_USER_NS, "reason")
        reason = (d_reason.text or "") if d_reason is not None else reason
    return OccupantPresence(
        room, nick, kind,
        real_jid=split_jid(real)[0] if real else None,
        codes=codes,
        new_nick=item.get("nick") if item is not None else None,
        destroyed=destroy is not None,
        reason=reason,
    )


@attrs.frozen
class RoomMessage:
    """One ``groupchat`` message from ``room/nick`` (nick empty: from the room itself)."""

    room: str
    nick: str
    body: str
    msg_id: str
    delayed: bool  # history replayed on join (XEP-0203 delay): not for acting on
    mentions: tuple[str, ...] = ()  # XEP-0372 mention URIs
    codes: frozenset[str] = frozenset()  # status codes (configuration changes)


def parse_groupchat(stanza: ET.Element, from_jid: str) -> RoomMessage:
    room, nick = split_jid(from_jid)
    body = _child_text(stanza, "body")
    mentions = tuple(
        ref.get("uri", "") for ref in stanza.findall(f"{{{REFERENCE_NS}}}reference")
        if ref.get("type") == "mention" and ref.get("uri")
    )
    user = _child(stanza, MUC_USER_NS, "x")
    codes = frozenset(
        s.get("code", "") for s in user.findall(f"{{{MUC_USER_NS}}}status")
    ) if user is not None else frozenset()
    return RoomMessage(room, nick, body, stanza.get("id") or "",
                       delayed=_child(stanza, DELAY_NS, "delay") is not None,
                       mentions=mentions, codes=codes)


def _child_text(stanza: ET.Element, name: str) -> str:
    for child in stanza:
        if _local(child.tag) == name:
            return child.text or ""
    return ""


def is_from_room(stanza: ET.Element) -> bool:
    """A stanza carrying MUC payloads (status, items, invitations)."""
    return _child(stanza, MUC_USER_NS, "x") is not None


# ---------------------------------------------------------------------- stanzas we send


def join_payload(password: str | None) -> ET.Element:
    """``<x xmlns=muc>``: no history replay (we would ignore it anyway), and the password."""
    x = ET.Element(f"{{{MUC_NS}}}x")
    ET.SubElement(x, f"{{{MUC_NS}}}history", {"maxstanzas": "0"})
    if password:
        ET.SubElement(x, f"{{{MUC_NS}}}password").text = password
    return x


def decline_payload(inviter: str, reason: str) -> ET.Element:
    """XEP-0045 §7.8.2 decline of a mediated invitation, sent to the room."""
    x = ET.Element(f"{{{MUC_USER_NS}}}x")
    decline = ET.SubElement(x, f"{{{MUC_USER_NS}}}decline", {"to": inviter})
    ET.SubElement(decline, f"{{{MUC_USER_NS}}}reason").text = reason
    return x


def next_nick(name: str, attempt: int) -> str:
    """The nickname for the ``attempt``-th try (0: the agent's name, then name-2, name-3…)."""
    return name if attempt == 0 else f"{name}-{attempt + 1}"
