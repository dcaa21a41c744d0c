"""What a chat client shows of a conversation, by the correction rule of Conversations and Dino.

Both apply a XEP-0308 correction only when the replaced id is the latest message received from
the correction's full JID (Conversations: ``Conversation.findMessageWithRemoteIdAndCounterpart``;
Dino 0.4: ``MessageCorrection.run`` keeps ``last_messages[conversation][message.from]``);
otherwise the correction is shown as a new message. Tests feed the stanzas a test client received
and look at the result the way the owner would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REPLACE = "{urn:xmpp:message-correct:0}replace"


@dataclass
class Shown:
    sender: str  # full JID
    msg_id: str
    body: str
    corrected: bool = False


def shown_messages(stanzas: list[Any], from_bare: str) -> list[Shown]:
    """The messages with a body from ``from_bare`` as such a client lists them."""
    shown: list[Shown] = []
    latest: dict[str, Shown] = {}  # full JID -> the latest message from it
    for stanza in stanzas:
        if getattr(stanza, "name", None) != "message" or not stanza["body"]:
            continue
        sender = str(stanza["from"])
        if sender.split("/", 1)[0].lower() != from_bare.lower():
            continue
        replace = stanza.xml.find(REPLACE)
        target = latest.get(sender)
        if replace is not None and target is not None and target.msg_id == replace.get("id"):
            target.body, target.corrected = str(stanza["body"]), True
            continue  # the id stays the original's: later corrections point at it
        item = Shown(sender, str(stanza["id"]), str(stanza["body"]))
        shown.append(item)
        latest[sender] = item
    return shown
