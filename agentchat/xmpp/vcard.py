"""XEP-0054 vcard-temp for virtual JIDs: clients show the nickname and description (pure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from agentchat.xmpp.directory import Contact

VCARD_NS = "vcard-temp"


def vcard_element(contact: Contact) -> ET.Element:
    """``<vCard/>`` with FN, NICKNAME and DESC (for an agent: type, repository and task)."""
    card = ET.Element(f"{{{VCARD_NS}}}vCard")
    for tag, value in (("FN", contact.nick), ("NICKNAME", contact.nick),
                       ("DESC", contact.description)):
        if value:
            ET.SubElement(card, f"{{{VCARD_NS}}}{tag}").text = value
    return card
