"""AcpAdapter against tests/support/fake_acp_agent.py (the real agents are in integration)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentchat.agents.acp import AcpAdapter
from agentchat.agents.adapter import AgentStartError, LaunchSpec
from agentchat.agents.events import (
    AgentEvent,
    AssistantText,
    Notice,
    PartialText,
    ProcessExited,
    SessionStarted,
    ToolCall,
    TurnFinished,
)
from agentchat.agents.sandbox import SandboxPolicy
from agentchat.permissions.model import Decision
from tests.support.agent_events import next_of

FAKE = Path(__file__).resolve().parents[1] / "support" / "fake_acp_agent.py"

pytestmark = pytest.mark.timeout(30)

Launch = Callable[..., Awaitable[AcpAdapter]]


class Owner:
    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self.decision: asyncio.Future[Decision] | None = None

    async def __call__(self, name: str, tool_input: dict[str, Any], _id: str | None) -> Decision:
        self.asked.append((name, tool_input))
        self.decision = asyncio.get_running_loop().create_future()
        return await self.decision


@pytest.fixture
def owner() -> Owner:
    return Owner()


@pytest.fixture
async def launch(tmp_path: Path, owner: Owner) -> AsyncIterator[Launch]:
    started: list[AcpAdapter] = []

    async def _launch(session_id: str = "", resume: bool = False, mcp_url: str | None = None,
                      mcp_secret: str = "", **env: str) -> AcpAdapter:
        spec = LaunchSpec(cwd=tmp_path, session_id=session_id, resume=resume, env=env,
                          mcp_url=mcp_url, mcp_secret=mcp_secret)
        adapter = AcpAdapter(spec, [sys.executable, str(FAKE)], label="Fake", ask=owner)
        started.append(adapter)
        await adapter.start()
        return adapter

    yield _launch
    for adapter in started:
        await adapter.stop(grace=1)


Events = AsyncIterator[AgentEvent]


async def asking(launch: Launch, owner: Owner) -> tuple[AcpAdapter, Events, ToolCall,
                                                        asyncio.Future[Decision]]:
    """A started fake agent whose turn waits on a permission request (a Bash call)."""
    agent = await launch()
    events = agent.events()
    await agent.send("ask")
    call, _ = await next_of(events, ToolCall)
    assert owner.decision is not None
    return agent, events, call, owner.decision


async def test_a_turn_streams_text_and_ends(launch: Launch) -> None:
    agent = await launch()
    events = agent.events()
    started, _ = await next_of(events, SessionStarted)
    assert started.session_id == "fake-session-1"
    await agent.send("hi")
    finished, seen = await next_of(events, TurnFinished)
    assert [e.text for e in seen if isinstance(e, PartialText)] == ["echo: ", "echo: hi"]
    assert AssistantText("echo: hi") in seen
    assert finished.subtype == "end_turn" and not finished.is_error
    await agent.stop()
    exited, _ = await next_of(events, ProcessExited)
    assert exited.expected and exited.returncode == 0


async def test_permission_shows_the_call_and_answers_with_the_chosen_option(
    launch: Launch, owner: Owner
) -> None:
    _, events, call, decision = await asking(launch, owner)
    assert (call.name, call.input) == ("Bash", {"command": "rm -rf build",
                                                "description": "Run rm -rf build"})
    assert owner.asked == [("Bash", call.input)]
    decision.set_result(Decision("allow", how="yes"))
    _, seen = await next_of(events, TurnFinished)
    assert AssistantText("outcome: yes") in seen


async def test_a_bare_tool_call_is_shown_once_its_update_says_what_it_does(
    launch: Launch,
) -> None:
    agent = await launch()
    events = agent.events()
    await agent.send("write")
    call, _ = await next_of(events, ToolCall)
    assert (call.name, call.input) == ("Write", {"file_path": "/w/a.txt", "content": "hi\n"})
    assert call.line == "🔧 Write /w/a.txt"


async def test_interrupt_cancels_a_pending_permission_and_the_turn(
    launch: Launch, owner: Owner
) -> None:
    agent, events, _, decision = await asking(launch, owner)
    # what the broker answers when the runtime cancels the agent's pending prompts
    decision.set_result(Decision("deny", answered_by="cancelled", how="cancelled"))
    _, seen = await next_of(events, TurnFinished)
    assert AssistantText("outcome: cancelled") in seen
    await agent.send("slow")
    await agent.interrupt()
    finished, _ = await next_of(events, TurnFinished)
    assert finished.subtype == "cancelled" and not finished.is_error


async def test_a_refusal_with_a_reason_is_sent_to_the_agent_in_the_same_turn(
    launch: Launch, owner: Owner
) -> None:
    _, events, _, decision = await asking(launch, owner)
    decision.set_result(Decision("deny", how="no", note="keep the build"))
    finished, seen = await next_of(events, TurnFinished)
    texts = [e.text for e in seen if isinstance(e, AssistantText)]
    assert texts == ["outcome: no",
                     "echo: The user refused the permission for: Run rm -rf build. "
                     "They said: keep the build"]
    assert not finished.is_error


async def test_crash_mid_turn_is_an_unexpected_exit_with_the_stderr_tail(launch: Launch) -> None:
    agent = await launch()
    events = agent.events()
    await agent.send("crash")
    exited, seen = await next_of(events, ProcessExited)
    assert not exited.expected and exited.returncode == 3
    assert "out of cheese" in exited.stderr_tail
    assert not any(isinstance(e, TurnFinished) for e in seen)  # the exit tells the owner


async def test_resume_loads_the_session_without_replaying_it(launch: Launch) -> None:
    agent = await launch("fake-session-1", resume=True)
    events = agent.events()
    started, seen = await next_of(events, SessionStarted)
    assert started.session_id == "fake-session-1" and seen == []  # "old answer" not shown
    await agent.send("again")
    _, seen = await next_of(events, TurnFinished)
    assert [e.text for e in seen if isinstance(e, AssistantText)] == ["echo: again"]


async def test_resume_without_load_support_says_so_before_a_fresh_session(
    launch: Launch,
) -> None:
    agent = await launch("fake-session-1", resume=True, FAKE_ACP_NO_LOAD="1")
    notice, _ = await next_of(agent.events(), Notice)
    assert "cannot continue an earlier conversation" in notice.text
    started, _ = await next_of(agent.events(), SessionStarted)
    assert started.session_id == "fake-session-1"  # session/new of the fake: a new session


MCP_URL = "http://127.0.0.1:4711/mcp"
AGENTCHAT_MCP = [{"type": "http", "name": "agentchat", "url": MCP_URL,
                  "headers": [{"name": "X-Agentchat-Secret", "value": "s3cret"}]}]


async def _mcp_servers_seen(agent: AcpAdapter) -> Any:
    events = agent.events()
    await agent.send("mcp")
    _, seen = await next_of(events, TurnFinished)
    return json.loads(next(e.text for e in seen if isinstance(e, AssistantText)))


@pytest.mark.parametrize("resume", [False, True], ids=["session-new", "session-load"])
async def test_an_agent_taking_http_mcp_servers_gets_agentchats_with_its_secret(
    launch: Launch, resume: bool
) -> None:
    agent = await launch("fake-session-1", resume=resume, mcp_url=MCP_URL, mcp_secret="s3cret",
                         FAKE_ACP_MCP_HTTP="1")
    assert await _mcp_servers_seen(agent) == AGENTCHAT_MCP
    assert "s3cret" not in repr(agent.spec) and "s3cret" not in " ".join(agent.argv)


async def test_an_agent_without_http_mcp_support_gets_no_mcp_servers(launch: Launch) -> None:
    agent = await launch(mcp_url=MCP_URL, mcp_secret="s3cret")
    assert await _mcp_servers_seen(agent) == []


async def test_a_missing_binary_is_a_start_error(tmp_path: Path, owner: Owner) -> None:
    spec = LaunchSpec(cwd=tmp_path, session_id="")
    adapter = AcpAdapter(spec, [str(tmp_path / "nope")], label="Fake", ask=owner)
    with pytest.raises(AgentStartError, match="not found"):
        await adapter.start()


async def test_a_missing_binary_in_the_sandbox_is_named_not_an_exit_1(
    tmp_path: Path, owner: Owner
) -> None:
    """Inside bwrap a missing command would only be bwrap's exit 1: checked before."""
    spec = LaunchSpec(cwd=tmp_path, session_id="", sandbox=SandboxPolicy("/usr/bin/bwrap"))
    adapter = AcpAdapter(spec, ["no-such-agent-cli"], label="Fake", ask=owner)
    with pytest.raises(AgentStartError, match="Fake not found at 'no-such-agent-cli'"):
        await adapter.start()
    assert adapter.pid is None  # nothing was spawned
