"""Prompts in the chat: own resource, correction in place, reminders only for unseen prompts."""

from __future__ import annotations

import asyncio

from agentchat.permissions.chat_sink import ChatPermissionSink
from agentchat.permissions.model import Decision, PermissionRequest
from tests.support.fakes import FakePort


def request(rid: str) -> PermissionRequest:
    return PermissionRequest(id=rid, agent="swift-fox", owner="me@example.org",
                             tool_name="Write", input={"file_path": f"/w/{rid}.txt"})


def make(remind_after: float = 0.2) -> tuple[FakePort, ChatPermissionSink]:
    port = FakePort()
    order = {f"m{i}": i for i in range(1, 100)}  # FakePort ids: m1, m2… in sending order
    sink = ChatPermissionSink(port, lambda _agent: None, remind_after=remind_after,
                              order_of=order.get)
    return port, sink


async def test_each_prompt_from_its_resource_and_its_correction_from_the_same() -> None:
    port, sink = make()
    await sink.prompt(request("a1b2"))
    await sink.prompt(request("c3d4"))
    await sink.resolved(request("a1b2"), Decision("allow", how="yes"))
    assert port.resources == ["prompt-a1b2", "prompt-c3d4", "prompt-a1b2"]
    assert port.bodies()[-1].startswith("[correct m1] 🔐 Permission #a1b2")
    assert sink.request_for_message("swift-fox", "m2") == "c3d4"


async def test_unseen_prompt_is_mentioned_once_seen_ones_are_not() -> None:
    port, sink = make()
    await sink.prompt(request("a1b2"))  # m1
    await sink.prompt(request("c3d4"))  # m2
    port.send_chat("swift-fox", "me@example.org", "🔧 Bash: ls")  # m3, after both prompts
    await sink.prompt(request("e5f6"))  # m4
    sink.displayed("swift-fox", "m3")  # the client showed m3: the prompts before it were seen
    await asyncio.sleep(0.4)
    reminders = [b for b in port.bodies() if b.startswith("⏳")]
    assert reminders == [
        "⏳ Permission #e5f6 is waiting for your answer: Write /w/e5f6.txt "
        "(reply 'e5f6 yes' or 'e5f6 no')."]
    assert port.resources[-1] is None  # from the agent's usual resource


async def test_a_prompt_that_never_went_out_is_decided_in_a_short_new_message() -> None:
    port, sink = make()
    await sink.resolved(request("a1b2"), Decision("deny", how="no", note="not now"))
    assert port.bodies() == ["#a1b2 Write /w/a1b2.txt: ❌ denied: not now"]
