"""ClaudeCodeAdapter against tests/support/fake_cli.py (fast; the real CLI is in integration)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import stat
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from agentchat.agents.adapter import AgentStartError, LaunchSpec
from agentchat.agents.claude_code import AgentNotRunning, ClaudeCodeAdapter, build_argv
from agentchat.agents.events import (
    AgentEvent,
    AssistantText,
    ControlAnswered,
    Plan,
    ProcessExited,
    SessionStarted,
    ToolCall,
    TurnFinished,
)
from tests.support import agent_events

FAKE_CLI = Path(__file__).resolve().parents[1] / "support" / "fake_cli.py"

pytestmark = pytest.mark.timeout(30)

Factory = Callable[..., ClaudeCodeAdapter]


@pytest.fixture
def fake_claude(tmp_path: Path) -> str:
    """An executable wrapper running fake_cli.py with this interpreter."""
    wrapper = tmp_path / "bin" / "claude"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_CLI}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def make_spec(tmp_path: Path, **kw: Any) -> LaunchSpec:
    cwd = tmp_path / "work"
    cwd.mkdir(exist_ok=True)
    kw.setdefault("session_id", str(uuid.uuid4()))
    return LaunchSpec(cwd=cwd, **kw)


@pytest.fixture
async def new_adapter(tmp_path: Path, fake_claude: str) -> AsyncIterator[Factory]:
    """Builds adapters on the fake CLI; any still running at teardown are killed."""
    made: list[ClaudeCodeAdapter] = []

    def factory(env: dict[str, str] | None = None, **kw: Any) -> ClaudeCodeAdapter:
        adapter = ClaudeCodeAdapter(make_spec(tmp_path, env=env or {}, **kw), fake_claude)
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.stop(grace=0.1)


next_of = functools.partial(agent_events.next_of, timeout=10)  # the fake CLI is fast


# --- build_argv --------------------------------------------------------------------------------

BASE = ["/x/claude", "-p", "--input-format", "stream-json", "--output-format", "stream-json",
        "--verbose"]  # fmt: skip


def test_argv_new_session(tmp_path: Path) -> None:
    spec = LaunchSpec(cwd=tmp_path, session_id="s-1")
    assert build_argv(spec, "/x/claude") == [*BASE, "--session-id=s-1"]


def test_argv_resume_partial_extra(tmp_path: Path) -> None:
    spec = LaunchSpec(
        cwd=tmp_path,
        session_id="s-2",
        resume=True,
        partial_messages=True,
        extra_args=("--model", "opus"),
    )
    assert build_argv(spec, "/x/claude") == [
        *BASE, "--resume=s-2", "--include-partial-messages", "--model", "opus",
    ]  # fmt: skip


def test_argv_permission_tool(tmp_path: Path) -> None:
    spec = LaunchSpec(
        cwd=tmp_path,
        session_id="s-3",
        mcp_config_path=tmp_path / "mcp.json",
        permission_tool="mcp__agentchat__permission_prompt",
    )
    assert build_argv(spec, "/x/claude") == [
        *BASE, "--session-id=s-3",
        "--mcp-config", str(tmp_path / "mcp.json"), "--strict-mcp-config",
        "--permission-prompt-tool", "mcp__agentchat__permission_prompt",
    ]  # fmt: skip


def test_argv_mcp_config_without_permission_tool(tmp_path: Path) -> None:
    spec = LaunchSpec(cwd=tmp_path, session_id="s-4", mcp_config_path=tmp_path / "m.json")
    assert build_argv(spec, "/x/claude")[-3:] == [
        "--mcp-config", str(tmp_path / "m.json"), "--strict-mcp-config",
    ]  # fmt: skip


# --- lifecycle ---------------------------------------------------------------------------------


async def test_turns_and_clean_stop(new_adapter: Factory, tmp_path: Path) -> None:
    argv_file = tmp_path / "argv.json"
    adapter = new_adapter(env={"FAKE_CLI_ARGV_FILE": str(argv_file)})
    await adapter.start()
    assert adapter.pid is not None
    events = adapter.events()

    await adapter.send("hello")
    finished, seen = await next_of(events, TurnFinished)
    started = seen[0]
    assert isinstance(started, SessionStarted)
    assert started.session_id == adapter.spec.session_id
    assert AssistantText("echo: hello") in seen
    assert finished.result == "echo: hello" and not finished.is_error

    await adapter.send("again")
    _, seen = await next_of(events, TurnFinished)
    assert AssistantText("echo: again") in seen

    await adapter.stop()
    exited, rest = await next_of(events, ProcessExited)
    assert rest == []
    assert exited == ProcessExited(0, "", expected=True)
    assert json.loads(argv_file.read_text())[1:] == build_argv(adapter.spec, "x")[1:]
    assert not adapter.running
    with pytest.raises(AgentNotRunning):
        await adapter.send("too late")


async def test_concurrent_sends_keep_lines_whole(new_adapter: Factory) -> None:
    adapter = new_adapter()
    await adapter.start()
    events = adapter.events()
    bodies = [f"message {i} " + "y" * 70_000 for i in range(20)]  # > pipe buffer each
    await asyncio.gather(*(adapter.send(b) for b in bodies))
    texts = []
    for _ in bodies:
        _, seen = await next_of(events, TurnFinished)
        texts += [e.text for e in seen if isinstance(e, AssistantText)]
    assert sorted(texts) == sorted("echo: " + b for b in bodies)


async def test_interrupt_then_continue(new_adapter: Factory) -> None:
    adapter = new_adapter()
    await adapter.start()
    events = adapter.events()
    await adapter.send("slow please")
    await next_of(events, SessionStarted)
    request_id = await adapter.interrupt()
    answered, _ = await next_of(events, ControlAnswered)
    assert answered == ControlAnswered(request_id, ok=True)
    finished, _ = await next_of(events, TurnFinished)
    assert finished.is_error and finished.subtype == "error_during_execution"
    second = await adapter.interrupt()
    assert second != request_id  # unique ids
    await next_of(events, ControlAnswered)
    await adapter.send("still there?")
    _, seen = await next_of(events, TurnFinished)
    assert AssistantText("echo: still there?") in seen


async def test_crash_reports_code_and_stderr(new_adapter: Factory) -> None:
    adapter = new_adapter(env={"FAKE_CLI_EXIT_CODE": "3", "FAKE_CLI_STDERR": "boom: it broke"})
    await adapter.start()
    await adapter.send("hi")
    exited, seen = await next_of(adapter.events(), ProcessExited)
    assert seen == []
    assert exited.returncode == 3
    assert exited.stderr_tail == "boom: it broke\n"
    assert exited.expected is False
    with pytest.raises(AgentNotRunning):
        await adapter.send("hello?")
    with pytest.raises(AgentNotRunning):
        await adapter.interrupt()


async def test_stderr_tail_is_bounded(new_adapter: Factory) -> None:
    noise = "".join(f"line {i}\n" for i in range(3000))
    adapter = new_adapter(env={"FAKE_CLI_EXIT_CODE": "1", "FAKE_CLI_STDERR": noise + "THE END"})
    await adapter.start()
    await adapter.send("hi")
    exited, _ = await next_of(adapter.events(), ProcessExited)
    assert 0 < len(exited.stderr_tail) <= 4096
    assert exited.stderr_tail.endswith("THE END\n")


async def test_huge_line(new_adapter: Factory) -> None:
    adapter = new_adapter(env={"FAKE_CLI_HUGE_LINE": str(5 * 1024 * 1024)})
    await adapter.start()
    events = adapter.events()
    await adapter.send("hi")
    _, seen = await next_of(events, TurnFinished)
    texts = [e.text for e in seen if isinstance(e, AssistantText)]
    assert len(texts[0]) == 5 * 1024 * 1024
    assert texts[1] == "echo: hi"


async def test_line_over_the_limit_is_skipped(tmp_path: Path, fake_claude: str) -> None:
    spec = make_spec(tmp_path, env={"FAKE_CLI_HUGE_LINE": str(3 * 1024 * 1024)})
    adapter = ClaudeCodeAdapter(spec, fake_claude, stdout_limit=1024 * 1024)
    await adapter.start()
    try:
        events = adapter.events()
        await adapter.send("hi")
        _, seen = await next_of(events, TurnFinished)
        assert [e for e in seen if isinstance(e, AssistantText)] == [AssistantText("echo: hi")]
        await adapter.send("next")
        _, seen = await next_of(events, TurnFinished)
        assert AssistantText("echo: next") in seen
    finally:
        await adapter.stop()


async def test_garbage_lines_are_skipped(new_adapter: Factory) -> None:
    adapter = new_adapter(env={"FAKE_CLI_GARBAGE": "1"})
    await adapter.start()
    await adapter.send("hi")
    _, seen = await next_of(adapter.events(), TurnFinished)
    assert isinstance(seen[0], SessionStarted)
    assert AssistantText("echo: hi") in seen


async def test_stop_escalates_to_kill(new_adapter: Factory) -> None:
    adapter = new_adapter(env={"FAKE_CLI_STUBBORN": "1"})
    await adapter.start()
    events = adapter.events()
    await adapter.send("hi")
    await next_of(events, TurnFinished)
    await adapter.stop(grace=0.3)
    exited, _ = await next_of(events, ProcessExited)
    assert exited.returncode == -9
    assert exited.expected is True
    await adapter.stop()  # idempotent


async def test_exit_reported_while_a_grandchild_holds_the_pipes(
    tmp_path: Path, fake_claude: str
) -> None:
    spec = make_spec(tmp_path, env={"FAKE_CLI_GRANDCHILD": "20"})
    adapter = ClaudeCodeAdapter(spec, fake_claude, pipe_drain_timeout=0.5)
    await adapter.start()
    events = adapter.events()
    try:
        await adapter.send("hi")
        await next_of(events, TurnFinished)
        await adapter.stop(grace=5)
        exited, _ = await next_of(events, ProcessExited, timeout=5)
        assert exited.returncode == 0 and exited.expected
    finally:
        assert adapter.pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(adapter.pid, signal.SIGKILL)  # the sleep is in the CLI's group


async def test_not_started(tmp_path: Path, fake_claude: str) -> None:
    adapter = ClaudeCodeAdapter(make_spec(tmp_path), fake_claude)
    assert adapter.pid is None
    with pytest.raises(AgentNotRunning):
        await adapter.send("hi")
    await adapter.stop()  # no-op


# --- start errors ------------------------------------------------------------------------------


async def test_missing_binary(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "claude")
    adapter = ClaudeCodeAdapter(make_spec(tmp_path), missing)
    with pytest.raises(AgentStartError, match="not found") as info:
        await adapter.start()
    assert missing in str(info.value)


async def test_binary_not_executable(tmp_path: Path) -> None:
    plain = tmp_path / "claude"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    with pytest.raises(AgentStartError, match="not executable") as info:
        await ClaudeCodeAdapter(make_spec(tmp_path), str(plain)).start()
    assert str(plain) in str(info.value)


async def test_missing_cwd(tmp_path: Path, fake_claude: str) -> None:
    spec = LaunchSpec(cwd=tmp_path / "gone", session_id="s")
    with pytest.raises(AgentStartError, match="working directory") as info:
        await ClaudeCodeAdapter(spec, fake_claude).start()
    assert str(tmp_path / "gone") in str(info.value)


# --- Claude's own shapes → neutral events ------------------------------------------------------


async def emitted(adapter: ClaudeCodeAdapter, *events: AgentEvent) -> list[AgentEvent]:
    for event in (*events, ProcessExited(0, "", expected=True)):
        adapter._emit(event)
    return [e async for e in adapter.events()][:-1]


async def test_turn_cost_is_this_turns_share_of_the_clis_running_total(tmp_path: Path) -> None:
    """The CLI reports its process's running total; the runtime adds up what each turn cost."""
    adapter = ClaudeCodeAdapter(make_spec(tmp_path), "claude")
    out = await emitted(adapter, *(TurnFinished("success", False, cost_usd=total)
                                   for total in (0.25, 0.75, 0.75)))
    assert [e.cost_usd for e in out if isinstance(e, TurnFinished)] == [0.25, 0.5, 0.0]


async def test_tool_lines_and_the_plan_file(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    plan = "/home/a/.claude/plans/bright-plan.md"
    out = await emitted(ClaudeCodeAdapter(spec, "claude"),
                        ToolCall("t1", "Edit", {"file_path": str(spec.cwd / "src" / "a.py")}),
                        ToolCall("t2", "Write", {"file_path": plan, "content": "1. x"}))
    edit, write, planned = out
    assert isinstance(edit, ToolCall) and edit.line == "🔧 Edit src/a.py"
    assert isinstance(write, ToolCall) and write.line == f"🔧 Write {plan}"
    assert planned == Plan(path=plan)  # ExitPlanMode asks about this file's content
