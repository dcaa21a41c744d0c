"""Group chats (XEP-0045) on the private Prosody's ``rooms.example.com``, as test users use them.

Rooms are made and configured with slixmpp's xep_0045 (a real client's way: join, which creates
and locks the room, then submit its configuration form); room messages arrive in a ChatClient's
``other`` inbox (type groupchat), and are awaited from there.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from slixmpp import JID

from tests.support.xmpp_client import ChatClient

MUC = "rooms.example.com"
ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"
CHATSTATES = "http://jabber.org/protocol/chatstates"
_rooms = itertools.count(1)


def new_room_jid() -> str:
    return f"room{next(_rooms)}@{MUC}"


def _muc(client: ChatClient) -> Any:
    if "xep_0045" not in client.xmpp.plugin:
        client.xmpp.register_plugin("xep_0045")
    return client.xmpp.plugin["xep_0045"]


async def create_room(
    client: ChatClient, room: str, nick: str, *, whois: str = "anyone", persistent: bool = False
) -> None:
    """Join (creating it) and configure: ``whois`` anyone = non-anonymous."""
    muc = _muc(client)
    await muc.join_muc_wait(JID(room), nick, maxstanzas=0, timeout=15)
    form = client.xmpp.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", value=ROOMCONFIG)
    form.add_field(var="muc#roomconfig_whois", value=whois)
    form.add_field(var="muc#roomconfig_persistentroom", ftype="boolean", value=persistent)
    await muc.set_room_config(JID(room), form, timeout=15)


async def join_room(client: ChatClient, room: str, nick: str) -> None:
    await _muc(client).join_muc_wait(JID(room), nick, maxstanzas=0, timeout=15)


def invite(client: ChatClient, agent: str, room: str) -> None:
    """A XEP-0249 direct invitation, as Conversations, Gajim or Converse send it."""
    msg = client.xmpp.make_message(mto=agent, mtype="normal")
    x = msg.xml.makeelement("{jabber:x:conference}x", {"jid": room})
    msg.xml.append(x)
    msg.send()


def say(client: ChatClient, room: str, body: str) -> str:
    return client.send(room, body, mtype="groupchat")


def _room_text(room: str, nick: str | None) -> Any:
    def match(m: Any) -> bool:
        if m["type"] != "groupchat" or not m["body"] or str(m["from"].bare) != room:
            return False
        return nick is None or str(m["from"].resource) == nick
    return match


async def room_says(
    client: ChatClient, room: str, nick: str, contains: str | re.Pattern[str],
    timeout: float = 60,
) -> Any:
    """The next room message from ``nick`` (which must contain ``contains``); not skipping."""
    msg = await client.next_stanza("other", _room_text(room, nick), timeout,
                                   what=f"a message in {room} from {nick}")
    body = str(msg["body"])
    ok = contains in body if isinstance(contains, str) else contains.search(body) is not None
    assert ok, f"{client.jid}: {nick} in {room} said {body!r}, not {contains!r}"
    return msg


async def room_says_eventually(
    client: ChatClient, room: str, nick: str, contains: str | re.Pattern[str],
    timeout: float = 60,
) -> tuple[Any, list[str]]:
    """Room messages from ``nick`` up to the first containing ``contains`` (others returned)."""
    passed: list[str] = []
    while True:
        msg = await client.next_stanza("other", _room_text(room, nick), timeout,
                                       what=f"{contains!r} in {room} from {nick} "
                                            f"(passed over: {passed})")
        body = str(msg["body"])
        if (contains in body if isinstance(contains, str)
                else contains.search(body) is not None):
            return msg, passed
        passed.append(body)


def room_backlog(client: ChatClient, room: str, nick: str | None = None) -> list[str]:
    """Room messages received and not consumed yet (from ``nick``, or anyone)."""
    match = _room_text(room, nick)
    return [str(m["body"]) for m in client.inboxes["other"].pending() if match(m)]


async def occupant_presence(client: ChatClient, room: str, nick: str, type_: str = "available",
                            timeout: float = 60) -> Any:
    return await client.next_stanza(
        "presence",
        lambda p: str(p["from"]) == f"{room}/{nick}" and (
            p["type"] == type_ if type_ != "available"
            else p["type"] not in ("unavailable", "error")),
        timeout, what=f"presence[{type_}] of {nick} in {room}")


async def room_turn_ended(client: ChatClient, room: str, nick: str, timeout: float = 60,
                          last: Any = None) -> None:
    """The agent's ``active`` chat state in the room: its turn is over. ``last``: its message
    taken just before, which carries that state when the end of the turn left with it."""
    if last is not None and last.xml.find(f"{{{CHATSTATES}}}active") is not None:
        return
    await client.next_stanza(
        "other",
        lambda m: str(m["from"]) == f"{room}/{nick}" and m["type"] == "groupchat"
        and m.xml.find(f"{{{CHATSTATES}}}active") is not None,
        timeout, what=f"chat state 'active' from {nick} in {room}")


async def room_reply(
    client: ChatClient, room: str, nick: str, contains: str | re.Pattern[str]
) -> Any:
    """The agent's next room message (containing ``contains``) and the end of its turn."""
    msg = await room_says(client, room, nick, contains)
    await room_turn_ended(client, room, nick, last=msg)
    return msg
