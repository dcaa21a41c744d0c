"""The real Claude Code CLI, through ClaudeCodeAdapter, against the scripted API."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentchat.agents.adapter import LaunchSpec
from agentchat.agents.claude_code import ClaudeCodeAdapter
from agentchat.agents.controls import CLAUDE_MODES
from agentchat.agents.events import (
    AssistantText,
    ControlAnswered,
    ModeChanged,
    ModelChanged,
    PartialText,
    ProcessExited,
    SessionStarted,
    ToolCall,
    ToolOutcome,
    TurnFinished,
)
from tests.support.agent_events import next_of
from tests.support.claude_env import claude_env, claude_path
from tests.support.scripted_api import ScriptedAnthropic, text, tool_use

pytestmark = pytest.mark.timeout(120)

Launch = Callable[..., Awaitable[ClaudeCodeAdapter]]


@pytest.fixture
async def api() -> AsyncIterator[ScriptedAnthropic]:
    async with ScriptedAnthropic() as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
async def launch(tmp_path: Path, api: ScriptedAnthropic, workdir: Path) -> AsyncIterator[Launch]:
    """Starts real CLI processes (one HOME per test); stops them all at teardown."""
    binary = claude_path()  # raises with instructions if the pinned CLI is missing
    env = claude_env(tmp_path, api)
    started: list[ClaudeCodeAdapter] = []

    async def _launch(session_id: str, **kw: Any) -> ClaudeCodeAdapter:
        spec = LaunchSpec(cwd=workdir, session_id=session_id, env=env, **kw)
        adapter = ClaudeCodeAdapter(spec, binary)
        started.append(adapter)
        await adapter.start()
        return adapter

    yield _launch
    for adapter in started:
        await adapter.stop(grace=2)




async def test_turn_returns_scripted_text(
    launch: Launch, api: ScriptedAnthropic, workdir: Path
) -> None:
    api.push(text("Scripted hello."))
    session = str(uuid.uuid4())
    agent = await launch(session)
    events = agent.events()
    await agent.send("hi there")
    finished, seen = await next_of(events, TurnFinished)
    [started] = [e for e in seen if isinstance(e, SessionStarted)]
    assert started.session_id == session and "Write" in started.tools
    # the answer to our initialize control request: the models offered, the mode
    offered = [e for e in seen if isinstance(e, ModelChanged) and e.available]
    assert offered and "sonnet" in [c.id for c in offered[0].available]
    assert ModeChanged("default", CLAUDE_MODES) in seen
    assert AssistantText("Scripted hello.") in seen
    assert finished.subtype == "success" and not finished.is_error
    assert finished.result == "Scripted hello."
    assert finished.session_id == session

    assert len(api.requests) == 1
    assert api.last_user_text() == "hi there"
    assert f"Primary working directory: {workdir}" in json.dumps(api.requests[0])
    assert api.headers[0]["x-claude-code-session-id"] == session
    assert api.other_requests == [] and api.side_requests == []

    await agent.stop()
    exited, _ = await next_of(events, ProcessExited)
    assert exited.returncode == 0 and exited.expected


async def test_resume_sends_earlier_turns(launch: Launch, api: ScriptedAnthropic) -> None:
    session = str(uuid.uuid4())
    api.push(text("first answer"))
    first = await launch(session)
    await first.send("first message")
    await next_of(first.events(), TurnFinished)
    await first.stop()

    second = await launch(session, resume=True)
    events = second.events()
    await second.send("second message")
    finished, seen = await next_of(events, TurnFinished)
    started = next(e for e in seen if isinstance(e, SessionStarted))
    assert started.session_id == session
    assert AssistantText("echo: second message") in seen  # queue empty: default reply
    assert finished.session_id == session

    body = api.requests[-1]
    assert api.all_user_texts() == ["first message", "second message"]
    assistant_texts = [
        block["text"]
        for msg in body["messages"]
        if msg["role"] == "assistant"
        for block in msg["content"]
        if block.get("type") == "text"
    ]
    assert assistant_texts == ["first answer"]


async def test_interrupt_gated_turn_then_continue(launch: Launch, api: ScriptedAnthropic) -> None:
    gate = asyncio.Event()
    api.push(text("you should never see this", gate=gate))
    agent = await launch(str(uuid.uuid4()))
    events = agent.events()
    await agent.send("take your time")
    await api.wait_requests(1)  # the model is "thinking": the response is held
    request_id = await agent.interrupt()
    answered, _ = await next_of(events, ControlAnswered)
    assert answered.request_id == request_id and answered.ok
    finished, seen = await next_of(events, TurnFinished)
    assert finished.is_error and finished.subtype == "error_during_execution"
    assert not any(isinstance(e, AssistantText) for e in seen)
    await api.wait_disconnects(1)  # the CLI aborted the held HTTP response

    await agent.send("are you still there?")
    finished, seen = await next_of(events, TurnFinished)
    assert not finished.is_error
    [reply] = [e for e in seen if isinstance(e, AssistantText)]
    assert reply.text.startswith("echo: ")
    assert reply.text.endswith("are you still there?")
    assert len(api.requests) == 2


async def test_tool_use_without_permission_tool_is_denied(
    launch: Launch, api: ScriptedAnthropic, workdir: Path
) -> None:
    target = workdir / "out.txt"
    api.push(tool_use("Write", {"file_path": str(target), "content": "hi\n"}))
    agent = await launch(str(uuid.uuid4()))
    await agent.send("write a file")
    finished, seen = await next_of(agent.events(), TurnFinished)
    [call] = [e for e in seen if isinstance(e, ToolCall)]
    [outcome] = [e for e in seen if isinstance(e, ToolOutcome)]
    assert call.name == "Write" and call.input["file_path"] == str(target)
    assert outcome.tool_use_id == call.tool_use_id == api.replies_sent[0].tool_use_ids[0]
    assert outcome.is_error
    assert not target.exists()
    # The tool_result went back to the API, and the default reply quoted it.
    [result] = api.last_tool_results()
    assert result["tool_use_id"] == call.tool_use_id and result["is_error"] is True
    assert finished.result.startswith("done: ")
    assert finished.num_turns == 2


async def test_partial_messages(launch: Launch, api: ScriptedAnthropic) -> None:
    api.push(text("one two three four five six", chunk_size=4, chunk_delay=0.01))
    agent = await launch(str(uuid.uuid4()), partial_messages=True)
    await agent.send("stream please")
    _, seen = await next_of(agent.events(), TurnFinished)
    partials = [e.text for e in seen if isinstance(e, PartialText)]
    assert len(partials) >= 3
    assert partials[-1] == "one two three four five six"
    assert all(b.startswith(a) for a, b in itertools.pairwise(partials))
