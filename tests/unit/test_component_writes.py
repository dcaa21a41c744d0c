"""The component's socket writes: the stanzas of one burst leave in one write, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from agentchat.xmpp.component import AgentComponent


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
    comp.send_chat("swift-fox", "u@example.com", "done")
    comp.chat_state("swift-fox", "o'neil@example.com", "active")
    first, _ = comp.waiting_queue.get_nowait()
    second, _ = comp.waiting_queue.get_nowait()
    assert first["body"] == "done"
    assert second == (
        "<message type='chat' to=\"o'neil@example.com\" "
        'from="swift-fox@agents.example.com/agentchat">'
        "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
    )


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
