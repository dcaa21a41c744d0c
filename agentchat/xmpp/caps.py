"""What each virtual JID says it supports (disco#info) and its XEP-0115 capabilities hash.

Pure: clients cache disco#info by the ``ver`` hash in our presence, so the hash must be computed
from exactly the identities and features we answer disco#info with; one function builds both.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET

import attrs

CAPS_NS = "http://jabber.org/protocol/caps"
CAPS_NODE = "https://agentchat.invalid/caps"  # names the software; never fetched
COMMANDS_NS = "http://jabber.org/protocol/commands"

_COMMON = (
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    CAPS_NS,
    COMMANDS_NS,
    "jabber:x:data",
    "vcard-temp",
    "http://jabber.org/protocol/chatstates",
    "urn:xmpp:message-correct:0",
    "urn:xmpp:receipts",
    "urn:xmpp:ping",
)
AGENT_FEATURES = (
    *_COMMON,
    "urn:xmpp:reactions:0",  # reactions answer permission prompts
    "jabber:x:oob",  # files arrive and leave as XEP-0066 links
    # group chats: clients offer to invite agents (XEP-0249) into rooms (XEP-0045)
    "jabber:x:conference",
    "http://jabber.org/protocol/muc",
)
MANAGER_FEATURES = _COMMON


@attrs.frozen
class Identity:
    category: str
    type: str
    name: str = ""
    lang: str = ""


@attrs.frozen
class DiscoInfo:
    identities: tuple[Identity, ...]
    features: tuple[str, ...]


def info_for(kind: str, nick: str) -> DiscoInfo:
    """disco#info of the manager or of an agent called ``nick``."""
    features = AGENT_FEATURES if kind == "agent" else MANAGER_FEATURES
    return DiscoInfo((Identity("client", "bot", nick),), tuple(sorted(set(features))))


def verification_string(info: DiscoInfo) -> str:
    """XEP-0115 §5.1 (we publish no extended forms)."""
    identities = sorted(f"{i.category}/{i.type}/{i.lang}/{i.name}" for i in info.identities)
    features = sorted(set(info.features))
    return "".join(f"{item}<" for item in (*identities, *features))


def caps_ver(info: DiscoInfo) -> str:
    digest = hashlib.sha1(verification_string(info).encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def caps_element(info: DiscoInfo, node: str = CAPS_NODE) -> ET.Element:
    """The ``<c/>`` element for presence."""
    return ET.Element(f"{{{CAPS_NS}}}c",
                      {"hash": "sha-1", "node": node, "ver": caps_ver(info)})


def caps_node(info: DiscoInfo, node: str = CAPS_NODE) -> str:
    """The disco#info node a client asks about after seeing our caps: ``<node>#<ver>``."""
    return f"{node}#{caps_ver(info)}"
