"""The stanzas written as text (agentchat/xmpp/wire.py): well-formed, every value escaped, and
read back by an XML parser as slixmpp's own stanzas would be."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from agentchat.xmpp import wire

HOSTILE = 'a<b>&"c\'\n\td'


def test_a_presence_carries_each_part_with_every_value_escaped() -> None:
    text = wire.presence("u@example.com", 'x@agents.example.com/r"1', "id-1", show="dnd",
                         status=HOSTILE, nick=HOSTILE, caps=("sha-1", "https://n", 'v"<'))
    pres = ET.fromstring(text)
    assert pres.tag == "presence" and pres.get("type") is None
    assert pres.get("from") == 'x@agents.example.com/r"1' and pres.get("id") == "id-1"
    assert pres.findtext("show") == "dnd" and pres.findtext("status") == HOSTILE
    assert pres.findtext(f"{{{wire.NICK_NS}}}nick") == HOSTILE
    caps = pres.find(f"{{{wire.CAPS_NS}}}c")
    assert caps is not None and caps.attrib == {"hash": "sha-1", "node": "https://n",
                                                "ver": 'v"<'}


def test_a_presence_leaves_out_what_it_does_not_have() -> None:
    pres = ET.fromstring(wire.presence("u@example.com", "x@agents.example.com", "i",
                                       ptype="unavailable", status=""))
    assert pres.get("type") == "unavailable" and list(pres) == []


def test_a_message_and_its_chat_state_parse_back() -> None:
    text = wire.with_state(wire.message("chat", "u@example.com", "x@agents.example.com/a",
                                        "m1", HOSTILE, receipt=True, replace="m0"), "active")
    msg = ET.fromstring(text)
    assert msg.findtext("body") == HOSTILE
    assert msg.find(f"{{{wire.CHATSTATES_NS}}}active") is not None
    replace = msg.find(f"{{{wire.CORRECTION_NS}}}replace")
    assert replace is not None and replace.get("id") == "m0"
