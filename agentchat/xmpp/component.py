"""The one XEP-0114 component: every JID under ``agents.<domain>`` is answered here.

Transport only: access checks and routing by local part happen here, what a message means is
decided by the ``Inbound`` handler. Inbound messages are processed one at a time per contact so
a user's messages reach an agent in the order they were sent. Outbound stanzas are queued while
the connection is down and flushed in order after the handshake; what was written just before a
loss may never have been read by Prosody, so the latest message of each chat is sent again then,
as a correction of itself (``_repair_lost``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import itertools
import logging
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Hashable
from typing import Any, Literal

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Iq, Message, Presence
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from agentchat.chat.port import ChatState, Show
from agentchat.chat.status import status_text
from agentchat.chat.textpolicy import for_log, scrub
from agentchat.jid import bare_jid
from agentchat.xmpp import wire
from agentchat.xmpp.directory import Contact, Directory, Inbound, PresenceInfo, refusal
from agentchat.xmpp.entity import EntityFeatures
from agentchat.xmpp.muc import RoomRoute
from agentchat.xmpp.presence_memory import PresenceMemory, Slot

log = logging.getLogger(__name__)

RESOURCE = "agentchat"
OUTBOX_LIMIT = 20_000
MARKERS_NS = "urn:xmpp:chat-markers:0"
FLUSH_HOPS = 2  # loop iterations a burst may wait for the rest of itself (see send_raw)
KEEPALIVE_INTERVAL = 10.0  # seconds between pings through Prosody
KEEPALIVE_TIMEOUT = 5.0  # no answer by then: the link is dead, reconnect
_RECEIPT_REQUEST = "{urn:xmpp:receipts}request"
RECEIPTS_KEPT = 1000  # ids of our messages the owner's client confirmed (newest kept)
OOB_NS = "jabber:x:oob"
REFUSED_KEPT = 1000  # fingerprints of stanzas Prosody closed the stream for (newest kept)
DROPPED_NOTICE = "⚠️ A message to you was dropped"
_ID_ATTR = re.compile(r"""\sid=(?:"[^"]*"|'[^']*')""")
_ADDR_ATTR = re.compile(r"""\s(from|to)=(?:"([^"]*)"|'([^']*)')""")
_HAS_TEXT = re.compile(r">[^<]*[^<\s][^<]*<")
SENT_KEPT = 5000  # ids of our latest messages, in sending order (see message_order)
# Seconds before a lost link whose messages are repaired even if a ping answered after them:
# Prosody may have read them and still lost them while shutting down (see _repair_lost).
REPAIR_WINDOW = 5.0


class AgentComponent(slixmpp.ComponentXMPP):
    def __init__(
        self,
        component_domain: str,
        secret: str,
        host: str,
        port: int,
        directory: Directory,
        inbound: Inbound | None = None,
    ) -> None:
        super().__init__(component_domain, secret, host, port)  # type: ignore[no-untyped-call]
        self.directory = directory
        self._inbound = inbound  # may be set after construction: the router needs the component
        self.rooms: RoomRoute | None = None  # group chats (agentchat/rooms), set by the service
        self.domain = component_domain
        self.online = False
        self.closing = False
        self.connected_event = asyncio.Event()
        self.disconnected_event = asyncio.Event()  # set while the link is down (after a loss)
        self._outbox: collections.deque[Any] = collections.deque()
        self._inboxes: dict[str, asyncio.Queue[tuple[Contact, str, Message, str]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._receipts: set[asyncio.Future[None]] = set()  # see _receipt_when_saved
        self._reconnect_delay = 0.5
        self.keepalive_interval = KEEPALIVE_INTERVAL
        self.keepalive_timeout = KEEPALIVE_TIMEOUT
        self._keepalive_task: asyncio.Task[None] | None = None
        self._sent_presence = PresenceMemory()  # see _emit_presence
        self._write_buffer: list[str] = []  # see send_raw
        # (from full JID, to) → index in _write_buffer of the latest message with a body
        # between them, while it is not written yet (see chat_state)
        self._unwritten_body: dict[tuple[str, str], int] = {}
        self._last_write: list[str] = []  # the stanzas of the latest socket write
        self._stream_error: str | None = None  # condition of a stream error on this link
        self._refused: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._strict = False  # parse every stanza before writing it (after a refused one)
        self.losses = 0  # connections lost while online (tests and diagnostics count them)
        self.stanzas_written = 0  # stanzas that reached the socket (the bench: per turn)
        self.bytes_written = 0
        self.stream_errors: list[str] = []  # conditions of stream errors Prosody sent us
        # We answer subscriptions and probes ourselves: slixmpp's in-memory roster would
        # answer with "unsubscribed" after every restart.
        self.auto_authorize = None
        self.auto_subscribe = False
        for event, handler in (
            ("presence_probe", self._handle_probe),
            ("presence_subscribe", self._handle_subscribe),
            ("presence_subscribed", self._handle_subscribed),
            ("presence_unsubscribe", self._handle_unsubscribe),
            ("presence_unsubscribed", self._handle_unsubscribed),
            ("roster_subscription_request", self._handle_new_subscription),
            ("presence_available", self._handle_available),
            ("presence_unavailable", self._handle_unavailable),
            ("presence_dnd", self._handle_available),
            ("presence_xa", self._handle_available),
            ("presence_chat", self._handle_available),
            ("presence_away", self._handle_available),
        ):
            self.del_event_handler(event, handler)
        self.remove_handler("IM")
        self.remove_handler("IMError")
        self._message_tag = f"{{{self.default_ns}}}message"
        # slixmpp's incoming filters (tests add some); see recv_stanza
        self._incoming_filters: list[Any] = self._XMLStream__filters["in"]  # type: ignore[attr-defined]
        self.register_handler(
            Callback("agentchat message", MatchXPath(f"{{{self.default_ns}}}message"),
                     self._on_message_stanza)
        )
        for ns in ("http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items"):
            self.register_handler(
                Callback(f"disco set {ns}", MatchXPath(f"{{{self.default_ns}}}iq/{{{ns}}}query"),
                         self._refuse_disco_set)
            )
        self.add_event_handler("presence", self._on_presence)
        self.add_event_handler("session_start", self._on_session_start)
        self.add_event_handler("disconnected", self._on_disconnected)
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("connection_failed", self._on_disconnected)
        for plugin in ("xep_0030", "xep_0085", "xep_0184", "xep_0199",
                       "xep_0308", "xep_0444"):
            self.register_plugin(plugin)
        self.plugin["xep_0184"].auto_ack = False
        self.plugin["xep_0184"].auto_request = False
        # The plugins give stanza interfaces and disco features; their handlers for incoming
        # messages only raise events nobody listens to (_on_message_stanza reads the XML),
        # and each was matched against every message.
        for name in ("Chat State", "Message Receipt", "Message Receipt Request",
                     "Message Correction", "Reaction received"):
            self.remove_handler(name)
        # disco#info/items, caps, vCard and ad-hoc commands (entity.py)
        self.entity = EntityFeatures(self, directory, self._emit)
        self.entity.register()
        self.delivered: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._sent_order: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._sent_count = itertools.count()
        # (from full JID, to) -> (id of its latest message, its body now, when) for _repair_lost
        self._latest: dict[tuple[str, str], tuple[str, str, float]] = {}
        self._confirmed_at = 0.0  # what was sent before this surely reached Prosody
        self._lost_at: float | None = None  # when the link went down (online until then)

    # ------------------------------------------------------------------ JIDs

    @property
    def inbound(self) -> Inbound:
        if self._inbound is None:
            raise RuntimeError("the component has no inbound route yet")
        return self._inbound

    @inbound.setter
    def inbound(self, inbound: Inbound) -> None:
        self._inbound = inbound

    def jid_of(self, local: str) -> str:
        return f"{local}@{self.domain}" if local else self.domain

    def full_jid_of(self, local: str, resource: str | None = None) -> str:
        return f"{self.jid_of(local)}/{resource or RESOURCE}"

    # ------------------------------------------------------------------ connection

    async def start(self, timeout: float = 30) -> None:
        """Connect and wait for the handshake; raises on failure."""
        self.connect()
        await asyncio.wait_for(self.connected_event.wait(), timeout)

    async def _on_session_start(self, _event: Any) -> None:
        self.online = True
        self._reconnect_delay = 0.5
        self.connected_event.set()
        self.disconnected_event.clear()
        if self._keepalive_task is None or self._keepalive_task.done():
            self._keepalive_task = asyncio.ensure_future(self._keepalive())
        log.info("component %s connected", self.domain)
        self._repair_lost()
        while self._outbox and self.online:
            self._outbox.popleft().send()
        try:
            await self.inbound.on_connected()
        except Exception:
            log.exception("error while re-announcing after connect")

    def _on_stream_error(self, error: Any) -> None:
        condition = str(error["condition"] or "undefined-condition")
        self._stream_error = condition
        self.stream_errors.append(condition)
        log.error("Prosody closed the component stream: %s (%s)", condition,
                  for_log(error["text"], 200))

    def _on_disconnected(self, _event: Any) -> None:
        was_online = self.online
        self.online = False
        # Prosody may come back with nothing: everything is news again (and what is queued
        # while offline is remembered afresh, so the re-announce after connecting skips it).
        self._sent_presence.clear()
        self._write_buffer.clear()  # never written into the next connection's stream
        self._unwritten_body.clear()
        self.connected_event.clear()
        self.disconnected_event.set()
        if was_online:
            self.losses += 1
            if self._stream_error is None:  # after a stream error _drop_refused re-sends
                self._lost_at = time.monotonic()
        if self._stream_error is not None:
            self._drop_refused(self._stream_error)
        self._stream_error = None
        self._last_write = []
        if self.closing:
            return
        delay = self._reconnect_delay
        self._reconnect_delay = min(self._reconnect_delay * 2, 30.0)
        if was_online:
            log.warning("component connection lost; reconnecting in %.1fs", delay)
        else:
            log.info("component not connected; retrying in %.1fs", delay)
        self.loop.call_later(delay, self._reconnect)

    def set_keepalive(self, interval: float, timeout: float) -> None:
        """Change the ping schedule now (tests use short ones)."""
        self.keepalive_interval, self.keepalive_timeout = interval, timeout
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
        self._keepalive_task = asyncio.ensure_future(self._keepalive())

    async def _keepalive(self) -> None:
        """Ping ourselves through Prosody; a silent link (no FIN, e.g. a frozen server or a
        dropped network) is noticed within interval + timeout seconds and reconnected."""
        while not self.closing:
            await asyncio.sleep(self.keepalive_interval)
            if not self.online:
                continue
            sent_at = time.monotonic()
            try:
                await self.plugin["xep_0199"].send_ping(
                    slixmpp.JID(self.domain), ifrom=slixmpp.JID(self.domain),
                    timeout=self.keepalive_timeout,
                )
                if self.online:  # Prosody read everything written before the ping
                    self._confirmed_at = max(self._confirmed_at, sent_at)
            except IqTimeout:
                log.warning("no answer to a ping within %ss: dropping the connection",
                            self.keepalive_timeout)
                self.abort()
            except IqError:
                pass  # an error reply still proves the link works
            except Exception:
                log.exception("keepalive ping failed")

    def _reconnect(self) -> None:
        if self.closing or self.online:
            return
        self.connect()

    async def close(self) -> None:
        self.closing = True
        for task in self._workers.values():
            task.cancel()
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
        if self.online:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self.disconnect(), 5)
        self.online = False
        # slixmpp cancels its send loop only when the object is collected
        send_task = getattr(self, "_run_out_filters", None)
        if send_task is not None and not send_task.done():
            send_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await send_task

    def send_raw(self, data: str | bytes) -> None:
        """Every byte we write passes here: the one point where the text policy is applied.

        ``scrub`` (agentchat.chat.textpolicy) removes what would make Prosody close the stream,
        whoever built the stanza (our messages, presences, forms, slixmpp's own replies).

        While online, the stanzas of one burst leave in one socket write. Why: an agent's reply
        follows its presence and chat state within a millisecond. Written separately, Prosody
        relays the first at once and, with its default Nagle setting, holds the reply until the
        client acknowledges the first: ~40 ms on loopback (delayed ACK), a round trip or more
        over a network. One write per burst also saves syscalls under load.
        """
        text = scrub(data if isinstance(data, str) else data.decode("utf-8", "replace"))
        if self.transport is None:
            # Queued before the link went down: lost with it (``_repair_lost`` sends each
            # chat's latest message again after reconnecting; presences are re-announced).
            log.debug("not connected; not sent: %s", _describe(text))
            return
        if not self.online or text == self.stream_footer:
            self._flush_writes()
            super().send_raw(text)
            return
        if self._refused and _fingerprint(text) in self._refused:
            log.info("not sending again a stanza Prosody refused: %s", _describe(text))
            return
        if self._strict and not _well_formed(text):
            log.error("dropped a stanza that is not well-formed XML: %s", _describe(text))
            self._tell_refused(text, "it is not well-formed XML")
            return
        self._write_buffer.append(text)
        if len(self._write_buffer) == 1:
            self.loop.call_soon(self._flush_when_drained, 0)

    def _flush_when_drained(self, hops: int) -> None:
        """Flush once slixmpp's send loop has serialized what is queued (bounded hops)."""
        if not self.waiting_queue.empty() and hops < FLUSH_HOPS:
            self.loop.call_soon(self._flush_when_drained, hops + 1)
            return
        self._flush_writes()

    def _flush_writes(self) -> None:
        if not self._write_buffer:
            return
        stanzas, self._write_buffer = self._write_buffer, []
        self._unwritten_body.clear()
        if self.online and self.transport is not None:
            self._last_write = stanzas
            data = "".join(stanzas).encode("utf-8")
            self.transport.write(data)
            self.stanzas_written += len(stanzas)
            self.bytes_written += len(data)

    def _drop_refused(self, condition: str) -> None:
        """Prosody closed the stream right after our latest write: never send its culprit again.

        The culprit is the stanza that is not well-formed XML; if none is, every stanza of the
        write that carries text is a suspect. Each is reported once (log and, where it was
        addressed to a user, a chat message from the same contact); stanzas written after it
        in the same write are sent again after the reconnect, since Prosody never read them.
        """
        written = self._last_write
        broken = [i for i, stanza in enumerate(written) if not _well_formed(stanza)]
        if broken and not self._strict:
            # Something gets past the text policy: from now on every stanza is parsed before
            # it is written (a cost paid only after such an incident).
            log.error("checking every stanza before sending from now on")
            self._strict = True
        culprits = broken or [i for i, stanza in enumerate(written) if _HAS_TEXT.search(stanza)]
        if not culprits:
            log.warning("stream error %s with no stanza of ours to blame", condition)
            return
        for i in culprits:
            stanza = written[i]
            self._refused[_fingerprint(stanza)] = None
            while len(self._refused) > REFUSED_KEPT:
                self._refused.popitem(last=False)
            log.error("dropped a stanza Prosody refused (%s): %s", condition, _describe(stanza))
            self._tell_refused(stanza, f"the XMPP server refused it: {condition}")
        unread = [s for i, s in enumerate(written) if i > culprits[0] and i not in culprits]
        for stanza in reversed(unread):
            self._outbox.appendleft(_RawStanza(self, stanza))

    def _tell_refused(self, stanza: str, why: str) -> None:
        """The user a dropped stanza was for hears about it, from the same contact."""
        addresses = _addresses(stanza)
        sender, to = addresses.get("from", ""), addresses.get("to", "")
        local, _, domain = sender.split("/", 1)[0].rpartition("@")
        if domain.lower() != self.domain or not to or to.split("/")[0].endswith(self.domain):
            return
        if stanza.startswith("<message") and DROPPED_NOTICE in stanza:
            return
        self._emit(self.make_message(
            mto=to, mtype="chat", mfrom=self.full_jid_of(local),
            mbody=f"{DROPPED_NOTICE} ({why}); it will not be sent again. agentchat's log has "
                  "the details."))

    def _repair_lost(self) -> None:
        """After a loss: Prosody may not have read the last stanzas written before it (it
        closes without reading on, and a component has no stream management), or lost them
        while shutting down. For each chat whose latest message was sent since the last
        keepalive ping came back, or within REPAIR_WINDOW seconds of the loss, send that
        message again as a XEP-0308 correction of itself, with its own id: a client that has it
        sees no change, one that missed its last correction gets it, one that missed the
        message shows it (under that id, so the corrections that follow still apply).
        Before the outbox: the correction must still be of the latest message from its JID.
        Corrections queued in the outbox for such a chat get their original's id too: the
        message they correct may be the one that was lost."""
        lost_at, self._lost_at = self._lost_at, None
        if lost_at is None:
            return
        confirmed = min(self._confirmed_at, lost_at - REPAIR_WINDOW)
        now = time.monotonic()
        self._confirmed_at = now
        suspects = {chat for chat, (_id, _body, at) in self._latest.items() if at > confirmed}
        for queued in self._outbox:
            if isinstance(queued, _RawStanza) and queued.correction is not None:
                chat, msg_id, original_id = queued.correction
                if chat in suspects:
                    queued.text = queued.text.replace(f" id={wire.attr(msg_id)}",
                                                      f" id={wire.attr(original_id)}", 1)
        repaired = 0
        for (sender, to), (original_id, body, at) in list(self._latest.items()):
            if not confirmed < at <= lost_at:
                continue
            msg = self.make_message(mto=to, mbody=body, mtype="chat", mfrom=sender)
            msg["id"] = original_id  # shown as new where it was lost: later corrections match
            msg["replace"]["id"] = original_id
            msg["request_receipt"] = True
            msg.send()
            self._latest[(sender, to)] = (original_id, body, now)
            repaired += 1
        if repaired:
            log.info("sent the latest message of %d chat(s) again (as corrections of "
                     "themselves): the link was lost right after them", repaired)

    def _remember_latest(self, mtype: str, frm: str, to: str, original_id: str, body: str,
                         oob_url: str | None) -> None:
        """The latest message of each 1:1 chat, for ``_repair_lost`` (a link is not repaired
        as a text: a correction would lose its out-of-band data)."""
        if mtype != "chat":
            return
        if oob_url is not None:
            self._latest.pop((frm, to), None)
        else:
            self._latest[(frm, to)] = (original_id, body, time.monotonic())

    def _emit(self, stanza: Any) -> None:
        if self.online:
            stanza.send()
            return
        if len(self._outbox) >= OUTBOX_LIMIT:
            log.error("outbox full (%d stanzas): dropping the oldest", OUTBOX_LIMIT)
            self._outbox.popleft()
        self._outbox.append(stanza)

    # ------------------------------------------------------------------ ChatPort

    def _mtype(self, to: str) -> Literal["chat", "groupchat"]:
        """A room our agents are in gets ``groupchat`` messages; everyone else ``chat``."""
        return "groupchat" if self.rooms is not None and self.rooms.is_room(to) else "chat"

    def send_chat(self, from_local: str, to: str, body: str, *,
                  resource: str | None = None, msg_id: str | None = None) -> str:
        # XEP-0333 markable from a prompt's resource: clients that show it send "displayed"
        # (the prompt need not be repeated)
        return self._send_message(from_local, to, body, resource=resource,
                                  markable=resource is not None, msg_id=msg_id)

    def correct(self, from_local: str, to: str, original_id: str, body: str, *,
                resource: str | None = None, msg_id: str | None = None) -> str:
        return self._send_message(from_local, to, body, resource=resource,
                                  replace=original_id, msg_id=msg_id)

    def _send_message(self, from_local: str, to: str, body: str, *, resource: str | None,
                      markable: bool = False, replace: str | None = None,
                      oob_url: str | None = None, msg_id: str | None = None) -> str:
        """Every message our contacts say: built as text (wire.py), the hot path of a turn."""
        mtype = self._mtype(to)
        msg_id = msg_id or uuid.uuid4().hex
        frm = self.full_jid_of(from_local, resource)
        text = wire.message(mtype, to, frm, msg_id, body, receipt=mtype == "chat",
                            markable=markable, replace=replace, oob_url=oob_url)
        self._remember_latest(mtype, frm, to, replace or msg_id, body, oob_url)
        index = self._send_text(text, ((frm, to), msg_id, replace) if replace else None)
        if index is not None:
            self._unwritten_body[(frm, to)] = index
        return self._note_sent(msg_id)

    def _send_text(self, text: str,
                   correction: tuple[tuple[str, str], str, str] | None = None) -> int | None:
        """A stanza built as text (wire.py): into this burst's write when it can go now
        (its index there), else through slixmpp's queue or the outbox, in order (None)."""
        index = self._write_now(text)
        if index is None:
            self._emit(_RawStanza(self, text, correction))
        return index

    def _write_now(self, text: str) -> int | None:
        """Put ``text`` into this burst's write, skipping slixmpp's send queue, if nothing is
        waiting there (the order stays as sent); its index in the write, or None if it must
        take the queue (or was dropped by ``send_raw``)."""
        queue = self.waiting_queue
        held: int = getattr(queue, "_unfinished_tasks", 1)  # the send loop may still hold one
        if not self.online or self.transport is None or not queue.empty() or held:
            return None
        before = len(self._write_buffer)
        self.send_raw(text)
        return before if len(self._write_buffer) > before else None

    def _note_sent(self, msg_id: str) -> str:
        self._sent_order[msg_id] = next(self._sent_count)
        while len(self._sent_order) > SENT_KEPT:
            self._sent_order.popitem(last=False)
        return msg_id

    def message_order(self, msg_id: str) -> int | None:
        """When one of our recent messages (or corrections) was sent, as a rising number.

        Clients mark only the latest message as displayed (XEP-0333): a marker for a later
        message means the earlier ones were seen too (Conversations marks a corrected message
        by the correction's id).
        """
        return self._sent_order.get(msg_id)

    def send_link(self, from_local: str, to: str, url: str) -> str:
        """XEP-0066: the URL as the body and in ``<x xmlns='jabber:x:oob'>``, which is how
        clients recognise a shared file and show it inline."""
        return self._send_message(from_local, to, url, resource=None, oob_url=url)

    def send_stanza(self, stanza: Any) -> None:
        """Send (or queue while offline) a stanza built elsewhere (group-chat presences)."""
        self._emit(stanza)

    def set_presence(
        self, local: str, to: str, *, show: Show | None, status: str | None,
        available: bool = True,
    ) -> None:
        self._send_presence(local, to, PresenceInfo(available, show, status))

    def _send_presence(self, local: str, to: str, info: PresenceInfo) -> None:
        self._emit_presence(local, to, "status", info,
                            lambda: self._presence_stanza(local, to, info))

    def _emit_presence(self, local: str, to: str, slot: Slot, value: Hashable,
                       build: Callable[[], Presence | str]) -> None:
        """The one place presences leave: an identical one to the same JID is not repeated
        (presence_memory.py says when "identical" is forgotten). ``build`` makes the stanza
        (or its text, see wire.py), only if it is sent."""
        if not self._sent_presence.is_news(local, to, slot, value):
            return
        stanza = build()
        if isinstance(stanza, str):
            self._send_text(stanza)
        else:
            self._emit(stanza)

    def subscribe(self, local: str, to: str, nick: str) -> None:
        self._emit_presence(local, to, "subscription", "subscribe", lambda: wire.presence(
            to, self.jid_of(local), uuid.uuid4().hex, ptype="subscribe", nick=nick))

    def probe(self, local: str, to: str) -> None:
        """Ask for ``to``'s presence (after a reconnect we know nothing about our users)."""
        self._emit(self.make_presence(pto=to, pfrom=self.jid_of(local), ptype="probe"))

    def chat_state(self, from_local: str, to: str, state: ChatState) -> None:
        """XEP-0085. ``active`` right after a message (the end of a turn after its reply, in
        the same burst) goes into that message, not in a stanza of its own: XEP-0085 allows
        ``active`` in a message with a body, and what the client shows is the same."""
        frm = self.full_jid_of(from_local)
        index = self._unwritten_body.pop((frm, to), None)
        if index is not None and state == "active":
            self._write_buffer[index] = wire.with_state(self._write_buffer[index], state)
            return
        self._send_text(wire.chat_state(self._mtype(to), to, frm, state))

    def _presence_stanza(self, local: str, to: str, info: PresenceInfo) -> str:
        contact = self.directory.lookup(local)
        status = status_text(info.status)  # every status text leaves here
        caps = None
        if contact is not None:  # XEP-0115, so clients enable features
            c = self.entity.caps(contact)
            caps = (c.get("hash", ""), c.get("node", ""), c.get("ver", ""))
        return wire.presence(
            to, self.full_jid_of(local), uuid.uuid4().hex,
            ptype=None if info.available else "unavailable",
            show=info.show if info.available else None, status=status,
            nick=contact.nick if contact is not None and info.available else None, caps=caps)

    def announce(self, contact: Contact, to: str) -> None:
        """Send ``to`` the current presence of ``contact``."""
        self._send_presence(contact.local, to, self.directory.presence_for(contact, to))

    # ------------------------------------------------------------------ inbound

    def _resolve(self, stanza: Any) -> tuple[Contact | None, str]:
        """(the contact addressed, the sender's bare JID), read off the attributes: Prosody
        has checked both addresses, and slixmpp's JID objects cost more than the rest of
        routing a message."""
        xml = stanza.xml
        local, _at, domain = xml.get("to", "").split("/", 1)[0].rpartition("@")
        contact = self.directory.lookup(local.lower()) if domain.lower() == self.domain else None
        return contact, bare_jid(xml.get("from", ""))

    def recv_stanza(self, stanza: Any) -> None:
        """Messages go straight to ``_on_message_stanza``: slixmpp would match each against
        every registered handler (all but ours are for IQs and presences), ~30 µs a stanza."""
        if stanza.xml.tag == self._message_tag and not self._incoming_filters:
            try:
                self._on_message_stanza(stanza)
            except Exception as exc:
                stanza.exception(exc)
            return
        super().recv_stanza(stanza)

    def _on_message_stanza(self, msg: Any) -> None:
        if self.rooms is not None and self.rooms.claim_message(msg):
            return  # group chats have a route of their own (agentchat/rooms)
        mtype = msg.xml.get("type") or "normal"
        if mtype == "error":
            log.info("error message from %s: %s", msg["from"], msg["error"]["condition"])
            return
        if mtype in ("groupchat", "headline"):
            log.debug("ignoring %s message from %s", mtype, msg["from"])
            return
        contact, sender = self._resolve(msg)
        if contact is None or not self.directory.allowed(contact, sender):
            log.info("refused a message from %s to %s", for_log(sender, 80),
                     for_log(msg["to"], 80))
            self._error_reply(msg, *refusal(contact, str(msg["to"].local or msg["to"])))
            return
        received = msg.xml.find("{urn:xmpp:receipts}received")
        if received is not None and received.get("id"):
            self._note_delivered(received.get("id"), sender)
        for marker in ("displayed", "acknowledged"):  # acknowledged implies displayed
            seen = msg.xml.find(f"{{{MARKERS_NS}}}{marker}")
            if seen is not None and seen.get("id"):
                self.inbound.on_displayed(contact, sender, seen.get("id"))
        body = str(msg["body"])
        has_reactions = msg.xml.find("{urn:xmpp:reactions:0}reactions") is not None
        if not body and not has_reactions and oob_url(msg.xml) is None:
            return  # chat states, receipts, markers: nothing more to act on
        queue = self._inboxes.get(contact.local)
        if queue is None:
            queue = self._inboxes[contact.local] = asyncio.Queue()
            self._workers[contact.local] = asyncio.ensure_future(self._work(queue))
        queue.put_nowait((contact, sender, msg, body))

    async def _work(self, queue: asyncio.Queue[tuple[Contact, str, Message, str]]) -> None:
        while True:
            contact, sender, msg, body = await queue.get()
            msg_id = msg.xml.get("id", "")
            try:
                reactions = msg.xml.find("{urn:xmpp:reactions:0}reactions")
                if reactions is not None:
                    emojis = [r.text or "" for r in reactions]
                    await self.inbound.on_reaction(contact, sender, reactions.get("id", ""),
                                                   emojis)
                elif (url := oob_url(msg.xml)) is not None:
                    await self.inbound.on_file(contact, sender, url, body, msg_id)
                elif (replaces := _replaced_id(msg.xml)) is not None and body:
                    await self.inbound.on_correction(contact, sender, body, msg_id, replaces)
                elif body:
                    await self.inbound.on_chat(contact, sender, body, msg_id)
                if msg_id and msg.xml.find(_RECEIPT_REQUEST) is not None:
                    receipt = asyncio.ensure_future(self._receipt_when_saved(msg))
                    self._receipts.add(receipt)
                    receipt.add_done_callback(self._receipts.discard)
            except Exception:
                log.exception("error handling a message to %s", contact.local or "(domain)")
                self._error_reply(msg, "wait", "internal-server-error",
                                  "agentchat hit an internal error; the message was not handled.")

    async def _receipt_when_saved(self, msg: Message) -> None:
        """XEP-0184 receipt once the message is safe on disk (without holding up the next one):
        a client that gets no receipt sends the message again after a reconnect."""
        await self.inbound.durable()
        ack = self.make_message(mto=msg["from"], mfrom=msg["to"])
        ack["receipt"] = msg["id"]
        self._emit(ack)

    def _refuse_disco_set(self, iq: Any) -> None:
        """slixmpp's disco plugin ignores type='set'; every IQ must still be answered."""
        if iq["type"] == "set":
            self._error_reply(iq, "cancel", "bad-request", "disco queries are type 'get'.")

    def _error_reply(self, stanza: Any, etype: str, condition: str, text: str) -> None:
        reply = stanza.reply(clear=False)
        reply["type"] = "error"
        reply["error"]["type"] = etype
        reply["error"]["condition"] = condition
        reply["error"]["text"] = text
        self._emit(reply)

    def _on_presence(self, pres: Presence) -> None:
        if self.rooms is not None and self.rooms.claim_presence(pres):
            return
        ptype = pres["type"]
        if ptype == "error":
            return
        contact, sender = self._resolve(pres)
        if ptype == "unavailable":
            self._sent_presence.forget_user(sender)  # their next session knows nothing
        if contact is None or not self.directory.allowed(contact, sender):
            if ptype == "subscribe":
                # Keyed by the address asked (strangers get one answer, agent or not).
                self._emit_presence(
                    str(pres["to"].bare), sender, "subscription", "unsubscribed",
                    lambda: self.make_presence(pto=sender, pfrom=pres["to"],
                                               ptype="unsubscribed"))
            elif ptype == "probe":  # an error answers one request: never suppressed
                reply = self.make_presence(pto=sender, pfrom=pres["to"], ptype="error")
                etype, condition, _text = refusal(contact, str(pres["to"].local))
                reply["error"]["type"] = etype
                reply["error"]["condition"] = condition
                self._emit(reply)
            return
        if ptype == "subscribe":
            if self._sent_presence.is_news(contact.local, sender, "subscription", "subscribed"):
                # From this approval on our presence reaches them; what was sent before it
                # did not (Prosody drops it), so the current one is news whatever it is.
                self._sent_presence.forget(contact.local, sender, "status")
                self._emit(self.make_presence(pto=sender, pfrom=self.jid_of(contact.local),
                                              ptype="subscribed"))
            self.announce(contact, sender)
        elif ptype in ("unsubscribe", "unsubscribed"):
            self._sent_presence.forget(contact.local, sender)  # a new subscribe is news
        elif ptype == "probe":
            # A client of theirs came online and asks: answer even if it is what we sent.
            self._sent_presence.forget(contact.local, sender, "status")
            self.announce(contact, sender)
        elif ptype == "available" and not pres["to"].resource:
            self.announce(contact, sender)

    # ------------------------------------------------------------------ receipts

    def _note_delivered(self, msg_id: str, sender: str) -> None:
        """XEP-0184 receipt for one of our messages: remembered (debugging), never answered."""
        log.debug("%s received message %s", sender, msg_id)
        self.delivered[msg_id] = sender
        while len(self.delivered) > RECEIPTS_KEPT:
            self.delivered.popitem(last=False)


class _RawStanza:
    """Stanza text that still goes through slixmpp's send queue, so the order is kept."""

    __slots__ = ("_stream", "correction", "text")

    def __init__(self, stream: slixmpp.ComponentXMPP, text: str,
                 correction: tuple[tuple[str, str], str, str] | None = None) -> None:
        self._stream = stream
        self.text = text
        # a XEP-0308 correction: ((from, to), its id, the id it replaces), see _repair_lost
        self.correction = correction

    def send(self) -> None:
        self._stream.send(self.text)


def oob_url(message: ET.Element) -> str | None:
    """The XEP-0066 URL of a message, if it carries one (a shared file)."""
    url = message.findtext(f"{{{OOB_NS}}}x/{{{OOB_NS}}}url")
    return url.strip() if url and url.strip() else None


def _replaced_id(message: ET.Element) -> str | None:
    """The id a XEP-0308 correction replaces, if the message is one."""
    replace = message.find("{urn:xmpp:message-correct:0}replace")
    replaced = replace.get("id") if replace is not None else None
    return replaced or None


def _fingerprint(stanza: str) -> str:
    """The same stanza sent again (a re-sent prompt) differs only in its id."""
    return hashlib.sha256(_ID_ATTR.sub("", stanza).encode("utf-8", "replace")).hexdigest()


def _well_formed(stanza: str) -> bool:
    try:
        ET.fromstring(stanza)
    except ET.ParseError:
        return False
    return True


def _addresses(stanza: str) -> dict[str, str]:
    head = stanza.split(">", 1)[0]
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _ADDR_ATTR.finditer(head)}


def _describe(stanza: str) -> str:
    addresses = _addresses(stanza)
    kind = stanza[1:].split(" ", 1)[0].split(">", 1)[0]
    return (f"<{for_log(kind, 20)}> from {for_log(addresses.get('from', '?'), 80)} "
            f"to {for_log(addresses.get('to', '?'), 80)}: {for_log(stanza, 300)}")


__all__ = ["AgentComponent", "Iq"]
