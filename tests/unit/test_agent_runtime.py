"""The agent runtime with an in-memory adapter: turns, queueing, crashes, idle, the pool."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

from agentchat.agents.adapter import AgentStartError, LaunchSpec
from agentchat.agents.events import AssistantText, ProcessExited, ToolCall, TurnFinished
from agentchat.agents.pool import ProcessPool
from agentchat.agents.runtime import Agent, answer_id, correction_text, message_key
from agentchat.state.model import AgentRecord, AgentStatus, PendingMessage
from tests.support.fakes import FakeAdapter, FakePort


def make_agent(port: FakePort, pool: ProcessPool | None = None, idle: float = 60,
               name: str = "swift-fox", silence: float = 600, busy_after: float = 0,
               unanswered: list[PendingMessage] | None = None) -> Agent:
    """``unanswered``: the agent as a restarted agentchat loads it (its CLI ran before)."""
    record = AgentRecord(name=name, owner="u@example.com", agent_type="claude-code",
                         repo="proj", cwd="/w/proj", task="t", session_id="sid",
                         created=0.0, last_active=0.0, unanswered=unanswered or [],
                         started_once=unanswered is not None)

    def spec(rec: AgentRecord, resume: bool) -> LaunchSpec:
        return LaunchSpec(cwd=Path(rec.cwd), session_id=rec.session_id, resume=resume)

    return Agent(record, port=port, pool=pool or ProcessPool(5), adapter_factory=FakeAdapter,
                 spec_factory=spec, persist=lambda: None, idle_timeout=idle,
                 silence_warning=silence, busy_after=busy_after)


def done() -> TurnFinished:
    return TurnFinished(subtype="success", is_error=False, cost_usd=0.01)


BUSY = ("swift-fox", "u@example.com", "dnd", "working…", True)


async def test_a_turn_relays_text_and_tool_lines() -> None:
    port = FakePort()
    agent = make_agent(port, busy_after=0.05)
    await agent.handle_owner_text("hello")
    adapter = FakeAdapter.instances[-1]
    assert adapter.sent == ["hello"] and agent.busy
    assert BUSY not in port.presences and not port.states  # not yet: the turn just started
    await port.wait_for(lambda: BUSY in port.presences)  # it lasted long enough to be seen
    assert port.states == [("swift-fox", "u@example.com", "composing")]
    # the backend words the line (Claude: its tool shapes); the runtime relays it
    adapter.emit(ToolCall("t1", "Edit", {"file_path": "/w/proj/src/a.py"},
                          line="🔧 Edit src/a.py"))
    adapter.emit(AssistantText("Done!"))
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    assert port.bodies() == ["🔧 Edit src/a.py", "Done!"]
    assert agent.record.turns == 1 and abs(agent.record.cost_usd - 0.01) < 1e-9
    assert port.states[-1][2] == "active"


async def test_a_quick_turn_is_only_its_reply() -> None:
    """Over before BUSY_SHOWN_AFTER: no busy presence, no "typing" (the component puts the
    "active" that follows the reply into it)."""
    port = FakePort()
    agent = make_agent(port, busy_after=0.2)
    await agent.handle_owner_text("hello")
    adapter = FakeAdapter.instances[-1]
    adapter.emit(AssistantText("Hi!"))
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    await asyncio.sleep(0.3)  # past the moment the busy state would have been shown
    assert port.events == [("message", "Hi!"), ("state", "active")]
    assert [p[2:4] for p in port.presences] == [(None, "ready · proj")]  # the component
    # sends only what differs from the last presence (the same ready one here)


async def test_messages_during_a_turn_are_queued_then_delivered_together() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_owner_text("first")
    adapter = FakeAdapter.instances[-1]
    await agent.handle_owner_text("second")
    await agent.handle_owner_text("third")
    assert adapter.sent == ["first"]
    assert port.bodies()[-1].startswith("⏳ Queued")
    adapter.sent_event.clear()
    adapter.emit(done())
    await asyncio.wait_for(adapter.sent_event.wait(), 5)
    assert adapter.sent == ["first", "second\n\nthird"]
    assert agent.busy and agent.queue == []


async def test_a_burst_during_a_turn_gets_one_queued_notice_per_turn() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_owner_text("first")
    adapter = FakeAdapter.instances[-1]
    for i in range(200):
        await agent.handle_owner_text(f"burst {i}")
    assert sum(b.startswith("⏳ Queued") for b in port.bodies()) == 1
    adapter.sent_event.clear()
    adapter.emit(done())  # the burst goes out as the next turn, which is busy again
    await asyncio.wait_for(adapter.sent_event.wait(), 5)
    assert len(adapter.sent) == 2 and adapter.sent[1].endswith("burst 199")
    await agent.handle_owner_text("during the second turn")
    assert sum(b.startswith("⏳ Queued") for b in port.bodies()) == 2


async def test_crash_is_reported_and_next_message_resumes() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_owner_text("hi")
    first = FakeAdapter.instances[-1]
    assert first.spec.resume is False
    first.emit(ProcessExited(3, "boom: out of memory", expected=False))
    await port.wait_for(lambda: any("exited unexpectedly" in b for b in port.bodies()))
    report = port.bodies()[-1]
    assert "exit code 3" in report and "boom: out of memory" in report
    assert agent.record.status is AgentStatus.CRASHED and not agent.live
    await agent.handle_owner_text("again")
    second = FakeAdapter.instances[-1]
    assert second is not first and second.spec.resume is True and second.sent == ["again"]


async def test_idle_timeout_stops_the_process_and_shows_idle() -> None:
    port = FakePort()
    agent = make_agent(port, idle=0.05)
    await agent.handle_owner_text("hi")
    adapter = FakeAdapter.instances[-1]
    adapter.emit(done())
    await port.wait_for(lambda: agent.record.status is AgentStatus.IDLE)
    assert adapter.stopped and not agent.live
    assert port.presences[-1][2:] == ("xa", "idle – send a message to resume", True)


async def test_pool_full_refuses_with_the_limit_and_keeps_nothing_silent() -> None:
    port = FakePort()
    pool = ProcessPool(1)
    a = make_agent(port, pool, name="a-a")
    b = make_agent(port, pool, name="b-b")
    await a.handle_owner_text("x")
    await b.handle_owner_text("y")
    assert "agents.maxConcurrent = 1" in port.bodies()[-1]
    assert "Not delivered" in port.bodies()[-1]
    await a.end("quit")
    await b.handle_owner_text("y")
    assert FakeAdapter.instances[-1].sent == ["y"]


async def test_agent_commands() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_owner_text("help")
    assert "quit" in port.bodies()[-1]
    await agent.handle_owner_text("status")
    assert port.bodies()[-1].startswith("swift-fox: ") and "Repository: proj" in port.bodies()[-1]
    await agent.handle_owner_text("stop")
    assert "Nothing to interrupt" in port.bodies()[-1]
    await agent.handle_owner_text("go")
    await agent.handle_owner_text("stop")
    assert FakeAdapter.instances[-1].interrupts == 1
    await agent.handle_owner_text("quit")
    assert agent.record.status is AgentStatus.ENDED
    assert port.presences[-1][4] is False
    await agent.handle_owner_text("hello?")
    assert "has ended" in port.bodies()[-1]


async def test_megabytes_of_output_are_split_and_capped_with_a_notice() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_owner_text("dump")
    adapter = FakeAdapter.instances[-1]
    huge = "\n".join(f"line {i} " + "x" * 90 for i in range(20_000))  # about 2 MB
    adapter.emit(AssistantText(huge))
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    bodies = port.bodies()
    assert bodies[-1].startswith("✂️ Output cut here: ") and "more characters" in bodies[-1]
    shown = sum(len(b) for b in bodies[:-1])
    assert 50_000 < shown <= 61_000
    assert all(len(b) <= 3500 for b in bodies)


async def test_a_silent_turn_is_reported_not_waited_on_forever() -> None:
    port = FakePort()
    agent = make_agent(port, silence=0.05)
    await agent.handle_owner_text("think hard")
    await port.wait_for(lambda: any("No output from the agent" in b for b in port.bodies()))
    assert agent.busy and agent.live  # reported, not killed
    adapter = FakeAdapter.instances[-1]
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    count = sum("No output" in b for b in port.bodies())
    await agent.handle_owner_text("status")  # the timer is off after the turn
    assert sum("No output" in b for b in port.bodies()) == count


async def test_a_start_that_fails_before_the_process_gives_the_slot_back() -> None:
    """A full disk or a swapped repository while preparing the start: the owner is told, the
    pool keeps no slot for a process that never ran."""
    port = FakePort()
    pool = ProcessPool(1)
    agent = make_agent(port, pool)
    failures: list[Exception] = [OSError(errno.ENOSPC, "No space left on device", "/h/a"),
                                 AgentStartError("the repository is not usable any more: x")]

    def failing_spec(rec: AgentRecord, resume: bool) -> LaunchSpec:
        raise failures.pop(0)

    agent._spec_factory = failing_spec
    await agent.handle_owner_text("hello")
    assert port.bodies()[-1] == ("⚠️ Not delivered: the agent could not be started: disk full "
                                 "(/h/a)")
    assert pool.live == 0 and not agent.live
    await agent.handle_owner_text("again")
    assert port.bodies()[-1].endswith("the repository is not usable any more: x")
    assert pool.live == 0


# ------------------------------------------------------------------ XEP-0308 corrections

async def test_a_correction_of_a_queued_message_replaces_it_in_the_queue() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_owner_text("first", "m1")
    adapter = FakeAdapter.instances[-1]
    await agent.handle_owner_text("fix the tets", "m2")
    await agent.handle_owner_text("and the docs", "m3")
    await agent.handle_correction("m2", "fix the tests", "m2b")
    assert port.bodies()[-1].startswith("✏️ Corrected: your queued message")
    await agent.handle_correction("m2", "fix the unit tests", "m2c")  # edited twice
    adapter.sent_event.clear()
    adapter.emit(done())
    await asyncio.wait_for(adapter.sent_event.wait(), 5)
    assert adapter.sent == ["first", "fix the unit tests\n\nand the docs"]


async def test_a_correction_of_a_delivered_message_goes_to_the_agent_saying_so() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_owner_text("rename foo to bar", "m1")
    adapter = FakeAdapter.instances[-1]
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    await agent.handle_correction("m1", "rename foo to baz", "m1b")
    assert adapter.sent[-1] == ('[This corrects my previous message, which you already '
                                'received. Before: "rename foo to bar" Now: "rename foo to baz"]')
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    await agent.handle_correction("m1", "rename foo to qux", "m1c")  # quotes the last version
    assert 'Before: "rename foo to baz" Now: "rename foo to qux"' in adapter.sent[-1]


async def test_a_correction_of_something_the_agent_never_got_is_handled_as_typed() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_correction("unknown", "statsu", "x1")  # as if typed: goes to the agent
    adapter = FakeAdapter.instances[-1]
    assert adapter.sent == ["statsu"]
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    await agent.handle_owner_text("help", "h1")  # a command: never reached the agent
    await agent.handle_correction("h1", "status", "h2")
    assert port.bodies()[-1].startswith("swift-fox: ")  # the status, not a message to it
    assert adapter.sent == ["statsu"]


def test_correction_text_quotes_both_versions_briefly() -> None:
    long = "word " * 100
    text = correction_text("short", long)
    head, _, rest = text.partition("\n\n")
    assert head.startswith('[This corrects my previous message') and '…"]' in head
    assert rest == long  # cut in the quote: the whole corrected text follows
    assert correction_text("a\nb", "c") == ('[This corrects my previous message, which you '
                                            'already received. Before: "a b" Now: "c"]')


async def test_a_message_sent_again_with_the_same_id_is_handled_once() -> None:
    port = FakePort()
    agent = make_agent(port)
    await agent.handle_owner_text("hello", "id1")
    await agent.handle_owner_text("hello", "id1")  # its client sends it again
    await agent.handle_owner_text("hello", "id2")  # a new one
    adapter = FakeAdapter.instances[-1]
    assert adapter.sent == ["hello"]
    assert sum(b.startswith("⏳ Queued") for b in port.bodies()) == 1  # only id2 was queued
    assert [p.text for p in agent.record.unanswered] == ["hello", "hello"]
    adapter.sent_event.clear()
    adapter.emit(done())
    await asyncio.wait_for(adapter.sent_event.wait(), 5)
    assert adapter.sent == ["hello", "hello"]
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    assert agent.record.unanswered == []
    assert message_key("", "x") == "" and message_key("a", "x") != message_key("a", "y")


async def test_the_first_message_of_an_answer_has_an_id_that_an_answer_again_corrects() -> None:
    port = FakePort()
    agent = make_agent(port)
    key = message_key("id1", "what is 6x7?")
    await agent.handle_owner_text("what is 6x7?", "id1")
    adapter = FakeAdapter.instances[-1]
    adapter.emit(AssistantText("42"))
    await port.wait_for(lambda: port.bodies() == ["42"])
    # agentchat dies here: the turn never ended, the record still holds the message
    assert agent.record.unanswered == [PendingMessage(key, "what is 6x7?", taken=True)]
    port2 = FakePort()
    restarted = make_agent(port2, unanswered=list(agent.record.unanswered))
    assert await restarted.answer_unanswered()
    again = FakeAdapter.instances[-1]
    assert again.spec.resume and again.sent == ["what is 6x7?"]
    again.emit(AssistantText("42"))
    again.emit(done())
    await asyncio.wait_for(restarted.turn_done.wait(), 5)
    assert port2.bodies() == [f"[correct {answer_id('swift-fox', key)}] 42"]
    assert restarted.record.unanswered == []
    assert not await restarted.answer_unanswered()  # nothing left


async def answer_both(adapter: FakeAdapter, port: FakePort) -> None:
    """The agent answers "m8"; only then does "m9" reach it, and it is answered too."""
    adapter.emit(AssistantText("answer 8"))
    adapter.sent_event.clear()
    adapter.emit(done())
    await asyncio.wait_for(adapter.sent_event.wait(), 5)
    assert adapter.sent == ["m8", "m9"]
    adapter.emit(AssistantText("answer 9"))
    adapter.emit(done())
    await port.wait_for(lambda: any("answer 9" in b for b in port.bodies()))


def _owed(*texts: str, taken: int) -> list[PendingMessage]:
    """Messages a killed agentchat left unanswered: the first ``taken`` were with its agent."""
    return [PendingMessage(message_key(f"id-{t}", t), t, taken=i < taken)
            for i, t in enumerate(texts)]


async def test_after_a_restart_what_was_left_unanswered_goes_first_and_alone() -> None:
    """Found by the endurance test: the owner's next message (sent again by their client once
    agentchat was back) arrived while the CLI was starting for the answer owed from before
    the SIGKILL, started a second turn at once, took over its answer id and left the owed
    message unanswered in the record, to be answered again after every later restart."""
    FakeAdapter.start_gate = asyncio.Event()
    try:
        port = FakePort()
        agent = make_agent(port, unanswered=_owed("m8", taken=1))
        owed = asyncio.ensure_future(agent.answer_unanswered())  # at the first connect
        await asyncio.sleep(0)
        new = asyncio.ensure_future(agent.handle_owner_text("m9", "id-m9"))
        await asyncio.sleep(0.05)  # both wait for the CLI to start
        FakeAdapter.start_gate.set()
        await asyncio.wait_for(asyncio.gather(owed, new), 5)
    finally:
        FakeAdapter.start_gate = None
    adapter = FakeAdapter.instances[-1]
    assert adapter.sent == ["m8"]  # m9 waits for the owed turn to end
    await answer_both(adapter, port)
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    m8 = message_key("id-m8", "m8")
    assert [b for b in port.bodies() if "answer" in b] == [
        f"[correct {answer_id('swift-fox', m8)}] answer 8", "answer 9"]
    assert port.messages[-1][0] == "swift-fox"
    assert agent.record.unanswered == []
    assert not await agent.answer_unanswered()  # owed once only


async def test_a_message_before_the_restart_answer_waits_for_it() -> None:
    """The owner's message reaches the restarted agentchat before it set out to answer what
    was left: the owed answer still goes first."""
    port = FakePort()
    agent = make_agent(port, unanswered=_owed("m8", taken=1))
    await agent.handle_owner_text("m9", "id-m9")
    adapter = FakeAdapter.instances[-1]
    assert adapter.sent == ["m8"]
    adapter.sent_event.clear()
    adapter.emit(done())
    await asyncio.wait_for(adapter.sent_event.wait(), 5)
    assert adapter.sent == ["m8", "m9"]
    assert not await agent.answer_unanswered()  # the connect's call finds nothing left


async def test_owed_messages_are_answered_in_the_turns_they_had() -> None:
    """The cut-short turn's message is answered alone; the one that was still queued next,
    each as a correction of its own answer id (new where the owner never saw one)."""
    port = FakePort()
    agent = make_agent(port, unanswered=_owed("m8", "m9", taken=1))
    assert await agent.answer_unanswered()
    adapter = FakeAdapter.instances[-1]
    assert adapter.sent == ["m8"]
    await answer_both(adapter, port)
    m8, m9 = (answer_id("swift-fox", message_key(f"id-{t}", t)) for t in ("m8", "m9"))
    assert [b for b in port.bodies() if "answer" in b] == [
        f"[correct {m8}] answer 8", f"[correct {m9}] answer 9"]
    assert not any(b.startswith("⏳") for b in port.bodies())  # nothing the owner sent now
