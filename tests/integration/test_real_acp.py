"""The real Gemini CLI through AcpAdapter against the scripted Gemini API (Codex: e2e).

The agent runs in the bubblewrap sandbox, as the service starts it where bwrap works (CI).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentchat.agents.acp import AcpAdapter
from agentchat.agents.adapter import LaunchSpec
from agentchat.agents.events import (
    AssistantText,
    Notice,
    ProcessExited,
    SessionStarted,
    ToolCall,
    TurnFinished,
)
from agentchat.agents.sandbox import agent_policy, detect
from agentchat.permissions.model import Decision
from tests.support import scripted_gemini as sg
from tests.support.agent_envs import GEMINI, gemini_env, pinned
from tests.support.agent_events import next_of
from tests.support.containment import argv_of

pytestmark = pytest.mark.timeout(180)

Launch = Callable[..., Awaitable[AcpAdapter]]


@pytest.fixture
async def gemini_api() -> AsyncIterator[sg.ScriptedGemini]:
    async with sg.ScriptedGemini() as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


class Owner:
    """Answers permission requests from a list, recording what was asked."""

    def __init__(self) -> None:
        self.answers: list[Decision] = []
        self.asked: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, name: str, tool_input: dict[str, Any], _id: str | None) -> Decision:
        self.asked.append((name, tool_input))
        return self.answers.pop(0)


@pytest.fixture
async def gemini(
    tmp_path: Path, gemini_api: sg.ScriptedGemini, workdir: Path
) -> AsyncIterator[tuple[Launch, Owner]]:
    owner = Owner()
    started: list[AcpAdapter] = []
    sandbox = detect("on")
    assert sandbox.bwrap is not None, sandbox.message
    env = gemini_env(tmp_path, gemini_api)
    policy = agent_policy(sandbox.bwrap, agentchat_home=tmp_path / "agentchat",
                          base_path=tmp_path, command=pinned(GEMINI),
                          read_write=(workdir, Path(env["HOME"])))

    async def launch(session_id: str = "", resume: bool = False) -> AcpAdapter:
        spec = LaunchSpec(cwd=workdir, session_id=session_id, resume=resume, env=env,
                          sandbox=policy, agent="a", agent_type="gemini")
        adapter = AcpAdapter(spec, [pinned(GEMINI), "--acp"], label="Gemini CLI", ask=owner)
        started.append(adapter)
        await adapter.start()
        assert adapter.pid is not None and Path(argv_of(adapter.pid)[0]).name == "bwrap"
        return adapter

    yield launch, owner
    for adapter in started:
        await adapter.stop(grace=2)


async def test_gemini_turns_permission_and_cancel(
    gemini: tuple[Launch, Owner], gemini_api: sg.ScriptedGemini, workdir: Path
) -> None:
    launch, owner = gemini
    agent = await launch()
    events = agent.events()
    started, _ = await next_of(events, SessionStarted)
    assert started.session_id == agent.session_id and agent.can_load

    gemini_api.push(sg.text("Scripted hello."))
    await agent.send("hi there")
    finished, seen = await next_of(events, TurnFinished)
    assert AssistantText("Scripted hello.") in seen and not finished.is_error
    assert gemini_api.last_user_text() == "hi there"

    target = workdir / "a.txt"
    gemini_api.push(sg.write_file(target))
    owner.answers.append(Decision("allow", how="yes"))
    await agent.send("write a.txt")
    finished, seen = await next_of(events, TurnFinished)
    [call] = [e for e in seen if isinstance(e, ToolCall)]
    assert call.name == "Write" and call.input == {"file_path": str(target), "content": "hello\n"}
    assert owner.asked == [("Write", call.input)]
    assert target.read_text() == "hello\n"

    gate = asyncio.Event()
    gemini_api.push(sg.text("never shown", gate=gate))
    await agent.send("think slowly")
    await gemini_api.wait_requests(4)
    await agent.interrupt()
    finished, seen = await next_of(events, TurnFinished)
    assert finished.subtype == "cancelled" and not finished.is_error
    assert not any(isinstance(e, AssistantText) for e in seen)

    await agent.stop()
    exited, _ = await next_of(events, ProcessExited)
    assert exited.expected and exited.returncode == 0
    # session/load after a restart: tests/integration/test_acp_e2e.py (it needs a new minute)


async def test_gemini_denied_with_a_reason_tells_the_agent(
    gemini: tuple[Launch, Owner], gemini_api: sg.ScriptedGemini, workdir: Path
) -> None:
    launch, owner = gemini
    agent = await launch()
    events = agent.events()
    target = workdir / "a.txt"
    gemini_api.push(sg.write_file(target))
    owner.answers.append(Decision("deny", message="The user denied this tool use. They said: "
                                  "call it b.txt", how="no", note="call it b.txt"))
    await agent.send("write a.txt")
    finished, _ = await next_of(events, TurnFinished)
    assert not finished.is_error and not target.exists()
    assert "call it b.txt" in gemini_api.last_user_text()


async def test_resume_of_an_unknown_session_says_so_and_starts_fresh(
    gemini: tuple[Launch, Owner], gemini_api: sg.ScriptedGemini
) -> None:
    launch, _ = gemini
    agent = await launch("no-such-session", resume=True)
    notice, _ = await next_of(agent.events(), Notice)
    assert "could not continue the earlier conversation" in notice.text
    started, _ = await next_of(agent.events(), SessionStarted)
    assert started.session_id != "no-such-session"
