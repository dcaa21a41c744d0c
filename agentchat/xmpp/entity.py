"""What makes each virtual JID look like a well-made contact: disco, caps, vCard, ad-hoc commands.

Kept out of component.py (the transport) so the IQ protocols live together: the component creates
one ``EntityFeatures``, which registers its IQ handlers and answers for every JID under the
domain. Access follows the message rules (directory.refusal): an agent that does not exist and
one the sender may not use look the same (item-not-found); the manager refuses with forbidden.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from slixmpp.exceptions import XMPPError
from slixmpp.xmlstream.handler import Callback, CoroutineCallback
from slixmpp.xmlstream.matcher import MatchXPath

from agentchat.jid import bare_jid
from agentchat.xmpp.adhoc import AdHocCommands, CommandError
from agentchat.xmpp.caps import COMMANDS_NS, DiscoInfo, caps_element, caps_node, info_for
from agentchat.xmpp.directory import Contact, Directory, refusal
from agentchat.xmpp.forms import XDATA_NS
from agentchat.xmpp.vcard import VCARD_NS, vcard_element

log = logging.getLogger(__name__)


class EntityFeatures:
    def __init__(self, xmpp: Any, directory: Directory, emit: Callable[[Any], None]) -> None:
        self._xmpp = xmpp  # the AgentComponent (slixmpp is untyped)
        self._directory = directory
        self._emit = emit
        self.commands: AdHocCommands | None = None  # set by the service
        self._info_cache: dict[tuple[str, str], DiscoInfo] = {}

    def register(self) -> None:
        ns = self._xmpp.default_ns
        self._xmpp.register_handler(Callback(
            "agentchat vcard", MatchXPath(f"{{{ns}}}iq/{{{VCARD_NS}}}vCard"), self._on_vcard))
        self._xmpp.register_handler(CoroutineCallback(
            "agentchat command", MatchXPath(f"{{{ns}}}iq/{{{COMMANDS_NS}}}command"),
            self._on_command))
        disco = self._xmpp.plugin["xep_0030"]
        disco.api.register(self.disco_info, "get_info")
        disco.api.register(self.disco_items, "get_items")

    # ------------------------------------------------------------------ caps

    def info(self, contact: Contact) -> DiscoInfo:
        key = (contact.kind, contact.nick)
        cached = self._info_cache.get(key)
        if cached is None:
            cached = self._info_cache[key] = info_for(contact.kind, contact.nick)
        return cached

    def caps(self, contact: Contact) -> ET.Element:
        """XEP-0115 ``<c/>`` for this contact's presence."""
        return caps_element(self.info(contact))

    # ------------------------------------------------------------------ disco

    def _contact(self, jid: Any) -> Contact | None:
        if jid is None or str(jid.domain).lower() != self._xmpp.domain:
            return None
        return self._directory.lookup(str(jid.local).lower())

    def _allowed(self, contact: Contact, ifrom: Any) -> bool:
        return ifrom is not None and self._directory.allowed(contact, bare_jid(str(ifrom.bare)))

    async def disco_info(self, jid: Any, node: Any, ifrom: Any, data: Any) -> Any:
        contact = self._contact(jid)
        if contact is None or (contact.kind == "agent" and not self._allowed(contact, ifrom)):
            raise XMPPError("item-not-found", text=refusal(None, str(jid.local))[2])
        result = self._xmpp.plugin["xep_0030"].stanza.DiscoInfo()
        info = self.info(contact)
        if not node or node == caps_node(info):
            for identity in info.identities:
                result.add_identity(identity.category, identity.type,
                                    name=identity.name or None, lang=identity.lang or None)
            for feature in info.features:
                result.add_feature(feature)
            return result
        if node == COMMANDS_NS:
            result.add_identity("automation", "command-list", name="Commands")
            result.add_feature(COMMANDS_NS)
            return result
        name = None
        if self.commands is not None and self._allowed(contact, ifrom):
            name = self.commands.name_of(contact, bare_jid(str(ifrom.bare)), str(node))
        if name is None:
            raise XMPPError("item-not-found")
        result.add_identity("automation", "command-node", name=name)
        result.add_feature(COMMANDS_NS)
        result.add_feature(XDATA_NS)
        return result

    async def disco_items(self, jid: Any, node: Any, ifrom: Any, data: Any) -> Any:
        """Only the command list has items, and only for those who may run the commands.

        The answer repeats the queried ``node`` (XEP-0030 §4.2; slixmpp leaves it out, and
        clients such as Converse.js then find no commands). disco#info answers get it from
        slixmpp itself.
        """
        items = self._xmpp.plugin["xep_0030"].stanza.DiscoItems()
        if node:
            items["node"] = node
        contact = self._contact(jid)
        if (node == COMMANDS_NS and contact is not None and self.commands is not None
                and self._allowed(contact, ifrom)):
            for command in self.commands.items(contact, bare_jid(str(ifrom.bare))):
                items.add_item(self._xmpp.jid_of(contact.local), node=command.node,
                               name=command.name)
        return items

    # ------------------------------------------------------------------ vCard

    def _check(self, iq: Any) -> tuple[Contact, str] | None:
        """The contact and sender of an IQ; None after answering an error."""
        to = iq["to"]
        contact = None
        if str(to.domain).lower() == self._xmpp.domain:
            contact = self._directory.lookup(str(to.local).lower())
        sender = bare_jid(str(iq["from"].bare))
        if contact is None or not self._directory.allowed(contact, sender):
            self._error(iq, *refusal(contact, str(to.local)))
            return None
        return contact, sender

    def _on_vcard(self, iq: Any) -> None:
        if iq["type"] not in ("get", "set"):
            return
        checked = self._check(iq)
        if checked is None:
            return
        if iq["type"] == "set":
            self._error(iq, "cancel", "not-allowed", "This vCard is generated, not editable.")
            return
        reply = iq.reply()
        reply.xml.append(vcard_element(checked[0]))
        self._emit(reply)

    # ------------------------------------------------------------------ ad-hoc commands

    async def _on_command(self, iq: Any) -> None:
        if iq["type"] != "set":
            if iq["type"] == "get":
                self._error(iq, "cancel", "bad-request", "Commands are executed with type 'set'.")
            return
        checked = self._check(iq)
        if checked is None:
            return
        contact, sender = checked
        if self.commands is None:
            self._error(iq, "cancel", "item-not-found", "No commands here.")
            return
        command = iq.xml.find(f"{{{COMMANDS_NS}}}command")
        try:
            payload = await self.commands.handle(contact, sender, command)
        except CommandError as exc:
            self._error(iq, exc.etype, exc.condition, exc.text, exc.specific)
            return
        except Exception:
            log.exception("ad-hoc command %s on %s failed", command.get("node"),
                          contact.local or "(domain)")
            self._error(iq, "wait", "internal-server-error", "The command failed.")
            return
        reply = iq.reply()
        reply.xml.append(payload)
        self._emit(reply)

    def _error(self, iq: Any, etype: str, condition: str, text: str,
               specific: str | None = None) -> None:
        reply = iq.reply(clear=False)
        reply["type"] = "error"
        reply["error"]["type"] = etype
        reply["error"]["condition"] = condition
        if text:
            reply["error"]["text"] = text
        if specific:
            reply["error"].xml.append(ET.Element(f"{{{COMMANDS_NS}}}{specific}"))
        self._emit(reply)
