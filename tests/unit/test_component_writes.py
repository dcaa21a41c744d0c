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
