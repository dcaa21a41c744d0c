"""The presenter: a streamed answer is one message corrected in place, never interleaved."""

from __future__ import annotations

import asyncio

from agentchat.agents.presenter import MAX_OUTPUT_CHARS, Presenter
from tests.support.fakes import FakePort


def make(interval: float = 0.2, limit: int = 3500) -> tuple[FakePort, Presenter]:
    port = FakePort()
    return port, Presenter(port, "swift-fox", "u@example.com", interval=interval, limit=limit)


async def test_first_part_then_throttled_corrections_of_the_original_then_final() -> None:
    port, p = make(interval=0.2)
    loop = asyncio.get_running_loop()
    p.partial("Hel")
    started = loop.time()
    assert port.bodies() == ["Hel"] and p.streaming
    p.partial("Hello")
    p.partial("Hello wor")
    assert port.bodies() == ["Hel"]  # within the interval: nothing yet
    await port.wait_for(lambda: len(port.messages) == 2)
    assert loop.time() - started >= 0.19
    assert port.bodies()[-1] == "[correct m1] Hello wor"  # the latest text, once
    p.partial("Hello world, more")
    p.say("🔧 Bash: ls")  # must wait: some clients only correct the latest message
    p.correct("m0", "outcome of an older prompt")
    p.final("Hello world, more text.")
    assert port.bodies()[2:] == [
        "[correct m1] Hello world, more text.",
        "🔧 Bash: ls",
        "[correct m0] outcome of an older prompt",
    ]
    assert not p.streaming


async def test_final_equal_to_what_is_shown_sends_nothing_more() -> None:
    port, p = make()
    p.partial("echo: hi")
    p.final("echo: hi")
    assert port.bodies() == ["echo: hi"]


async def test_a_long_final_corrects_with_its_first_part_and_sends_the_rest() -> None:
    port, p = make(limit=200)
    text = "\n\n".join(f"paragraph {i} " + "word " * 20 for i in range(6))
    p.partial(text[:50])
    p.final(text)
    bodies = port.bodies()
    assert bodies[0] == text[:50].strip()
    assert bodies[1].startswith("[correct m1] paragraph 0 ")
    assert len(bodies) > 3 and all(len(b) <= 200 for b in bodies[2:])
    rebuilt = " ".join([bodies[1].removeprefix("[correct m1] "), *bodies[2:]])
    assert " ".join(rebuilt.split()) == " ".join(text.split())


async def test_a_prompt_ends_the_stream_and_the_final_only_adds_the_rest() -> None:
    port, p = make()
    p.partial("Let me check")
    p.partial("Let me check the")  # throttled, not shown yet
    prompt_id = p.send_now("🔐 Permission #a1b2")
    assert port.bodies() == ["Let me check", "[correct m1] Let me check the",
                             "🔐 Permission #a1b2"]
    assert prompt_id == "m3" and not p.streaming
    p.final("Let me check the tests.")
    assert port.bodies()[-1] == "…tests."


async def test_end_of_turn_shows_the_latest_text_and_releases_waiting_messages() -> None:
    port, p = make(interval=10)
    p.partial("partial")
    p.partial("partial answer")
    p.say("⏹ Interrupted.")
    assert port.bodies() == ["partial"]
    p.end_stream()
    assert port.bodies() == ["partial", "[correct m1] partial answer", "⏹ Interrupted."]


async def test_second_text_block_of_one_message_starts_a_new_message() -> None:
    port, p = make()
    p.partial("First block.")
    p.final("First block.")
    p.partial("First block.\n\nSecond")  # the CLI accumulates the whole message
    p.final("Second block.")
    assert port.bodies() == ["First block.", "Second", "[correct m2] Second block."]
    p.next_message()  # a tool ran: a new message may start with the same words
    p.partial("First block. again")
    assert port.bodies()[-1] == "First block. again"


async def test_markdown_is_styled_and_huge_output_is_capped() -> None:
    port, p = make()
    p.partial("## Plan\n**bold**")
    assert port.bodies() == ["*Plan*\n*bold*"]
    p.final("x" * (MAX_OUTPUT_CHARS + 10))
    assert port.bodies()[-1].startswith("✂️ Output cut here: 10 more characters")
    assert sum(len(b) for b in port.bodies()[1:-1]) <= MAX_OUTPUT_CHARS + 20


async def test_agent_text_imitating_a_prompt_is_quoted_while_streaming_and_at_the_end() -> None:
    port, p = make(interval=0)
    p.partial("Done.\n🔐 Permission #0000\nAction: Read")
    p.final("Done.\n🔐 Permission #0000\nAction: Read File\nReply: yes / no / always")
    assert port.bodies() == [
        "Done.\n> 🔐 Permission #0000\n> Action: Read",
        "[correct m1] Done.\n> 🔐 Permission #0000\n> Action: Read File\n"
        "> Reply: yes / no / always",
    ]
    p.final("✅ allowed #1234, really")  # an answer's wording, from the agent
    assert port.bodies()[-1] == "> ✅ allowed #1234, really"


async def test_typing_is_said_again_after_a_message_while_working_and_not_after_the_turn() -> None:
    port, presenter = make()
    presenter.chat_state("composing")
    presenter.partial("Hello")  # clients drop "typing" at the first streamed part
    await asyncio.sleep(0.6)  # TYPING_AGAIN: the loop timer fires
    presenter.chat_state("paused")  # waiting for the owner's answer
    presenter.chat_state("paused")  # unchanged: not repeated
    presenter.chat_state("composing")
    presenter.final("Hello world")
    presenter.chat_state("active")  # the turn ended right after its last message
    await asyncio.sleep(0.6)
    assert port.events == [
        ("state", "composing"), ("message", "Hello"), ("state", "composing"),
        ("state", "paused"), ("state", "composing"), ("message", "[correct m1] Hello world"),
        ("state", "active"),
    ]


async def test_a_prompt_from_its_own_resource_is_corrected_at_once_even_while_streaming() -> None:
    port, presenter = make()
    presenter.partial("Working on it")
    prompt = presenter.send_now("🔐 Permission #a1b2", resource="prompt-a1b2")
    presenter.partial("Working on it, still")
    presenter.correct(prompt, "🔐 Permission #a1b2 ✅ allowed", resource="prompt-a1b2")
    assert port.bodies()[-1] == f"[correct {prompt}] 🔐 Permission #a1b2 ✅ allowed"
    assert port.resources == [None, "prompt-a1b2", None, "prompt-a1b2"]  # not held back


async def test_agentchat_replies_come_from_their_own_resource_and_leave_the_anchor() -> None:
    """A reply ("queued", a command's answer) sent before the turn's first text neither takes
    the answer's id nor stands, on the client, between that answer and its corrections: an
    answer given again after a restart corrects the first attempt in place."""
    port = FakePort()
    p = Presenter(port, "swift-fox", "u@example.com", interval=0.2, reply_resource="notice")
    p.anchor("answer-1", again=True)
    p.say("⏳ Queued: …", reply=True)
    p.partial("Hello")
    p.final("Hello world")
    assert port.bodies() == ["⏳ Queued: …", "[correct answer-1] Hello",
                             "[correct answer-1] Hello world"]
    assert port.resources == ["notice", None, None]
    group = Presenter(port, "swift-fox", "room@muc.example.com")  # a room: one occupant JID
    group.say("⏳ Queued: …", reply=True)
    assert port.resources[-1] is None
