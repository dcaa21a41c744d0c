"""The component's socket writes: the stanzas of one burst leave in one write, in order."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

from agentchat.xmpp.component import AgentComponent
from agentchat.xmpp.directory import Contact, PresenceInfo

CHATSTATES = "http://jabber.org/protocol/chatstates"


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)


def online_component() -> tuple[AgentComponent, FakeTransport]:
    nobody: Any = None
    comp = AgentComponent("agents.example.com", "s", "127.0.0.1", 5347, nobody, nobody)
    transport = FakeTransport()
    comp.transport = transport  # type: ignore[assignment]
    comp.online = True
    return comp, transport


async def test_a_burst_is_one_write_after_the_send_queue_drains() -> None:
    comp, transport = online_component()
    comp.send_raw("<a/>")
    comp.send_raw(b"<b/>")
    assert transport.writes == []  # held until the burst is complete
    comp.waiting_queue.put_nowait(("<c/>", False))  # slixmpp has more to serialize
    await asyncio.sleep(0)
    assert transport.writes == []
    comp.waiting_queue.get_nowait()
    comp.send_raw("<c/>")  # what the send loop would do with it
    for _ in range(3):
        await asyncio.sleep(0)
    assert transport.writes == [b"<a/><b/><c/>"]


async def test_the_stream_footer_goes_after_what_is_buffered() -> None:
    comp, transport = online_component()
    comp.send_raw("<message/>")
    comp.send_raw(comp.stream_footer)
    assert transport.writes == [b"<message/>", comp.stream_footer.encode()]


async def test_a_lost_connection_drops_the_buffer() -> None:
    comp, transport = online_component()
    comp.send_raw("<message/>")
    comp.closing = True  # no reconnect attempt in this test
    comp._on_disconnected(None)
    comp.online = True
    await asyncio.sleep(0)
    assert transport.writes == []


async def test_a_chat_state_is_queued_behind_earlier_stanzas_and_escaped() -> None:
    comp, _ = online_component()
    comp._session_started = True  # slixmpp holds stanzas back until the session starts
    comp.waiting_queue.put_nowait(("<iq/>", False))  # slixmpp's send loop has one to write
    comp.send_chat("swift-fox", "u@example.com", "done")
    comp.chat_state("swift-fox", "o'neil@example.com", "active")
    assert comp.waiting_queue.get_nowait()[0] == "<iq/>"
    first, _ = comp.waiting_queue.get_nowait()
    second, _ = comp.waiting_queue.get_nowait()
    assert "<body>done</body>" in first
    assert second == (
        '<message type="chat" to="o\'neil@example.com" '
        'from="swift-fox@agents.example.com/agentchat">'
        '<active xmlns="http://jabber.org/protocol/chatstates" /></message>'
    )


async def test_active_right_after_a_message_travels_in_it() -> None:
    comp, transport = online_component()
    comp.send_chat("swift-fox", "u@example.com", "a <reply> & more")
    comp.chat_state("swift-fox", "u@example.com", "active")
    comp.chat_state("swift-fox", "u@example.com", "active")  # nothing to carry it: its own
    written = (await flushed(transport)).decode()
    assert written.count("<message") == 2, written
    reply = ET.fromstring(written.split("</message>")[0] + "</message>")
    assert reply.findtext("body") == "a <reply> & more"
    assert reply.find(f"{{{CHATSTATES}}}active") is not None
    assert reply.find("{urn:xmpp:receipts}request") is not None


async def test_a_chat_state_after_the_write_or_another_state_goes_on_its_own() -> None:
    comp, transport = online_component()
    comp.send_chat("swift-fox", "u@example.com", "first")
    comp.chat_state("swift-fox", "u@example.com", "composing")  # never inside a body
    comp.chat_state("swift-fox", "u@example.com", "active")  # after composing: kept in order
    comp.send_chat("swift-fox", "u@example.com", "second")
    await flushed(transport)
    comp.chat_state("swift-fox", "u@example.com", "active")  # "second" is written already
    written = (await flushed(transport)).decode()
    kinds = [("body" if "<body>" in m else m.split("<")[2].split(" ")[0])
             for m in written.split("</message>") if m]
    assert kinds == ["body", "composing", "active", "body", "active"], written


async def flushed(transport: FakeTransport) -> bytes:
    for _ in range(3):
        await asyncio.sleep(0)
    return b"".join(transport.writes)


async def test_every_write_goes_through_the_text_policy() -> None:
    comp, transport = online_component()
    comp.send_raw("<message><body>\x1b[31mred\x1b[0m\x00\ufffe\ud800</body></message>")
    comp.send_raw(b"<presence><status>bad\x07</status></presence>")
    written = (await flushed(transport)).decode("utf-8")  # encodable: no lone surrogate
    assert written == ("<message><body>red␀\ufffd\ufffd</body></message>"
                       "<presence><status>bad␇</status></presence>")


async def test_a_stanza_prosody_refuses_is_dropped_reported_and_never_sent_again() -> None:
    comp, transport = online_component()
    comp.closing = True  # no reconnect in this test
    good = "<presence to='u@example.com' from='fox@agents.example.com'/>"
    bad = ("<message to='u@example.com' from='fox@agents.example.com/agentchat' id='1'>"
           "<body>&#27;</body></message>")  # what no policy lets through: a forbidden reference
    after = "<message to='u@example.com' from='fox@agents.example.com' id='2'><body>later</body>" \
            "</message>"
    comp.send_raw(good)
    comp.send_raw(bad)
    comp.send_raw(after)
    await flushed(transport)
    comp._on_stream_error({"condition": "not-well-formed", "text": ""})
    comp._on_disconnected(None)
    assert comp.losses == 1 and comp.stream_errors == ["not-well-formed"]
    queued = list(comp._outbox)
    assert queued[0].text == after  # never read by Prosody: sent again after the reconnect
    notice = queued[1]
    assert notice["to"] == "u@example.com" and str(notice["from"]).startswith("fox@")
    assert "⚠️ A message to you was dropped (the XMPP server refused it: not-well-formed)" in \
        notice["body"]
    comp.online, transport.writes = True, []
    comp.send_raw(bad.replace("id='1'", "id='99'"))  # the same prompt, sent again
    comp.send_raw(good)
    assert await flushed(transport) == good.encode()  # the re-send is dropped, nothing else


class OneAgent:
    """A directory with one agent, allowed to everyone, working."""

    def lookup(self, local: str) -> Contact | None:
        return Contact("swift-fox", "agent", "swift-fox") if local == "swift-fox" else None

    def allowed(self, contact: Contact, sender_bare: str) -> bool:
        return True

    def presence_for(self, contact: Contact, viewer_bare: str) -> PresenceInfo:
        return PresenceInfo(True, "dnd", "working…")


async def test_the_presence_is_sent_again_when_the_owner_subscribes() -> None:
    """Sent before the owner approved us, it never reached them (Prosody drops it): once they
    subscribe it is news; a repeated subscribe is not."""
    directory: Any = OneAgent()
    comp = AgentComponent("agents.example.com", "s", "127.0.0.1", 5347, directory, directory)
    transport = FakeTransport()
    comp.transport = transport  # type: ignore[assignment]
    comp.online = comp._session_started = True

    async def presences() -> list[str]:
        while not comp.waiting_queue.empty():  # what slixmpp's send loop would do
            stanza, _ = comp.waiting_queue.get_nowait()
            comp.waiting_queue.task_done()
            comp.send_raw(str(stanza))
        written = (await flushed(transport)).decode()
        transport.writes.clear()
        return ["<presence" + p for p in written.split("<presence") if p]

    comp.set_presence("swift-fox", "u@example.com", show="dnd", status="working…")
    assert len(await presences()) == 1
    subscribe = comp.make_presence(pto="swift-fox@agents.example.com", pfrom="u@example.com",
                                   ptype="subscribe")
    for _ in range(2):
        comp._on_presence(subscribe)
    sent = await presences()
    assert ['type="subscribed"' in p for p in sent] == [True, False], sent
    assert "<show>dnd</show>" in sent[1]


def queued(comp: AgentComponent) -> list[Any]:
    items = []
    while not comp.waiting_queue.empty():
        items.append(comp.waiting_queue.get_nowait()[0])
    return items


async def test_after_a_loss_the_latest_message_of_each_chat_goes_again_as_its_correction() -> None:
    comp, _transport = online_component()
    comp._session_started = True  # slixmpp queues stanzas elsewhere before the session
    first = comp.send_chat("swift-fox", "u@example.com", "the answer so f")
    comp.correct("swift-fox", "u@example.com", first, "the answer so far, whole")
    hello = comp.send_chat("calm-owl", "v@example.com", "hello")
    comp.send_link("calm-owl", "w@example.com", "https://files/x")  # a link: not as a text
    queued(comp)
    comp.closing = True  # no reconnect attempt in this test
    comp._on_disconnected(None)  # written, but Prosody may never have read them
    comp.online = True
    comp._repair_lost()
    again = {str(m["to"]): m for m in queued(comp)}
    assert set(again) == {"u@example.com", "v@example.com"}
    fox, owl = again["u@example.com"], again["v@example.com"]
    assert fox["replace"]["id"] == first and fox["body"] == "the answer so far, whole"
    assert str(fox["from"]) == "swift-fox@agents.example.com/agentchat"
    assert owl["replace"]["id"] == hello and owl["body"] == "hello"
    assert (fox["id"], owl["id"]) == (first, hello)  # shown under it where it was lost
    comp._repair_lost()  # once per loss
    assert queued(comp) == []


async def test_corrections_queued_while_offline_take_the_id_of_what_they_correct() -> None:
    comp, _transport = online_component()
    comp._session_started = True
    first = comp.send_chat("swift-fox", "u@example.com", "the ans")  # maybe never read
    queued(comp)
    comp.closing = True
    comp._on_disconnected(None)
    comp.correct("swift-fox", "u@example.com", first, "the answer, whole")  # in the outbox
    comp.send_chat("calm-owl", "v@example.com", "unrelated")  # not a correction: untouched
    comp.online = True
    comp._repair_lost()
    [correction, other] = [ET.fromstring(q.text) for q in comp._outbox]
    replace = "{urn:xmpp:message-correct:0}replace"
    assert correction.get("id") == first and correction.find(replace).get("id") == first
    assert other.get("id") != first and other.find(replace) is None
