"""``AgentAdapter`` for the Claude Code CLI in ``-p`` stream-json mode (the "claude" backend).

One instance is one process lifetime. The protocol (what lines mean) lives in ``stream_json``;
the process (spawn, line framing, stderr tail, exit, stop) is ``agents.process``'s. What is
Claude's own stays here: the command line, the CLI's running cost turned into each turn's, and
the plan file plan mode writes (a neutral ``Plan`` event for the runtime).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs

from agentchat.agents.adapter import ControlError, Image, LaunchSpec
from agentchat.agents.controls import CLAUDE_MODES, resolve_mode
from agentchat.agents.environment import agent_environment
from agentchat.agents.events import (
    AgentEvent,
    ControlAnswered,
    Plan,
    ProcessExited,
    ToolCall,
    TurnFinished,
)
from agentchat.agents.process import (
    PIPE_DRAIN_TIMEOUT,
    STDOUT_LINE_LIMIT,
    AgentProcess,
    read_lines,
    until_exit,
)
from agentchat.agents.stream_json import (
    PartialAccumulator,
    StreamJsonError,
    encode_control,
    encode_interrupt,
    encode_user_message,
    initialize_events,
    parse_line,
)
from agentchat.chat.format import tool_line

log = logging.getLogger(__name__)

PLAN_DIR_MARK = "/.claude/plans/"  # where plan mode writes the plan (CLI 2.1.x)
CONTROL_TIMEOUT = 15.0  # for the answer to set_permission_mode / set_model


class AgentNotRunning(Exception):
    """The process is not running (never started, exited, or being stopped)."""


def build_argv(spec: LaunchSpec, claude_path: str) -> list[str]:
    """The full command line for ``spec`` (pure, so it is unit-tested)."""
    argv = [
        claude_path,
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
    ]
    if spec.resume:
        argv.append(f"--resume={spec.session_id}")
    else:
        argv.append(f"--session-id={spec.session_id}")
    if spec.mcp_config_path is not None:
        argv += ["--mcp-config", str(spec.mcp_config_path), "--strict-mcp-config"]
        if spec.permission_tool:
            argv += ["--permission-prompt-tool", spec.permission_tool]
    if spec.allowed_tools:
        # The equals form: --allowedTools takes a variable number of values otherwise.
        argv.append(f"--allowedTools={','.join(spec.allowed_tools)}")
    if spec.partial_messages:
        argv.append("--include-partial-messages")
    mode = resolve_mode(spec.mode, CLAUDE_MODES) if spec.mode else None
    if mode is not None:
        argv.append(f"--permission-mode={mode.id}")
    if spec.model:
        argv.append(f"--model={spec.model}")
    argv += list(spec.extra_args)
    return argv


class ClaudeCodeAdapter:
    """Runs one Claude Code CLI process and exposes it as an ``AgentAdapter``."""

    def __init__(
        self,
        spec: LaunchSpec,
        claude_path: str,
        *,
        stdout_limit: int = STDOUT_LINE_LIMIT,
        pipe_drain_timeout: float = PIPE_DRAIN_TIMEOUT,
    ) -> None:
        self.spec = spec
        self.claude_path = claude_path
        self._stdout_limit = stdout_limit
        self._pipe_drain_timeout = pipe_drain_timeout
        self._process = AgentProcess("Claude Code CLI")
        self._queue: asyncio.Queue[AgentEvent] = asyncio.Queue()
        self._write_lock = asyncio.Lock()
        self._partial = PartialAccumulator() if spec.partial_messages else None
        self._watcher: asyncio.Task[None] | None = None
        self._cost_total = 0.0  # the CLI reports its process's running total
        # our own control requests (initialize, set_permission_mode, set_model) by id: their
        # answers are consumed here, not passed on as ControlAnswered
        self._controls: dict[str, asyncio.Future[ControlAnswered]] = {}
        self._initialize_id = ""

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        """True while the process is alive and accepts input."""
        return self._process.stdin_open

    async def start(self) -> None:
        """Spawn the CLI; ``AgentStartError`` names the binary or directory that failed."""
        if self._process.proc is not None:
            raise RuntimeError("adapter already started (one instance per process lifetime)")
        # Never agentchat's own environment (its secrets): the allow-list, then our values.
        env = agent_environment(os.environ, own=self.spec.env)
        env.setdefault("PATH", os.defpath)
        await self._process.spawn(build_argv(self.spec, self.claude_path), self.spec.cwd, env,
                                  sandbox=self.spec.sandbox, limit=self._stdout_limit)
        log.info("Claude Code pid=%s session=%s", self.pid, self.spec.session_id)
        self._watcher = asyncio.create_task(self._watch(), name=f"claude-{self.pid}")
        # Its answer lists the models offered and the permission mode (no need to wait for it).
        self._initialize_id = f"initialize-{uuid.uuid4().hex}"
        with contextlib.suppress(AgentNotRunning):
            await self._write(encode_control(self._initialize_id, "initialize"))

    async def _watch(self) -> None:
        """Pump stdout, then queue ``ProcessExited`` after the last stdout event."""
        process = self._process
        reader = asyncio.ensure_future(self._read_stdout())
        try:
            await process.exited.wait()
            await process.drained(reader, timeout=self._pipe_drain_timeout)
        finally:
            rc = process.returncode
            self._queue.put_nowait(ProcessExited(rc, process.stderr_tail(),
                                                 expected=process.stopping))
            log.info("pid=%s exited rc=%s expected=%s", self.pid, rc, process.stopping)

    async def _read_stdout(self) -> None:
        async for line in read_lines(self._process.stdout, self._stdout_limit,
                                     f"pid={self.pid}"):
            try:
                events = parse_line(line, self._partial)
            except StreamJsonError as exc:
                log.warning("pid=%s: skipping stdout line: %s", self.pid, exc)
                continue
            except Exception:
                log.exception("pid=%s: could not interpret stdout line", self.pid)
                continue
            for event in events:
                if isinstance(event, ControlAnswered) and self._answered(event):
                    continue
                self._emit(event)

    def _emit(self, event: AgentEvent) -> None:
        """Claude's own shapes → what the runtime shows: the tool line, this turn's cost, the
        plan file."""
        if isinstance(event, ToolCall):
            event = attrs.evolve(event, line=tool_line(event.name, event.input,
                                                       str(self.spec.cwd)))
            path = event.input.get("file_path")
            if isinstance(path, str) and PLAN_DIR_MARK in path:
                self._queue.put_nowait(event)
                event = Plan(path=path)  # ExitPlanMode will ask about this file's content
        elif isinstance(event, TurnFinished):
            total = event.cost_usd
            turn = total - self._cost_total if total >= self._cost_total else 0.0
            self._cost_total = max(total, self._cost_total)
            event = attrs.evolve(event, cost_usd=turn)
        self._queue.put_nowait(event)

    def _answered(self, answer: ControlAnswered) -> bool:
        """Consume the answer to one of our own control requests (True)."""
        if answer.request_id == self._initialize_id:
            if answer.ok:
                for event in initialize_events(answer.payload):
                    self._queue.put_nowait(event)
            else:
                log.info("pid=%s: initialize refused: %s", self.pid, answer.error)
            return True
        future = self._controls.pop(answer.request_id, None)
        if future is None:
            return False
        if not future.done():
            future.set_result(answer)
        return True

    async def _write(self, data: bytes) -> None:
        async with self._write_lock:
            proc = self._process.proc
            if proc is None or proc.stdin is None:
                raise AgentNotRunning("agent process was never started")
            if not self.running:
                raise AgentNotRunning(
                    f"agent process pid={proc.pid} is not running (rc={proc.returncode})"
                )
            try:
                proc.stdin.write(data)
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise AgentNotRunning(f"agent process pid={proc.pid} closed its stdin") from exc

    @property
    def accepts_images(self) -> bool:
        return True  # stream-json user messages take image content blocks

    async def send(self, text: str, images: Sequence[Image] = ()) -> None:
        """Write one user message (call between turns)."""
        await self._write(encode_user_message(text, [(i.media_type, i.data) for i in images]))

    async def interrupt(self) -> str:
        """Ask the running turn to stop; the answer comes as ``ControlAnswered``."""
        request_id = f"interrupt-{uuid.uuid4().hex}"
        await self._write(encode_interrupt(request_id))
        return request_id

    async def _control(self, subtype: str, **fields: str) -> dict[str, object]:
        """Send one control request and wait for its answer's payload (``ControlError``)."""
        request_id = f"{subtype}-{uuid.uuid4().hex}"
        future: asyncio.Future[ControlAnswered] = asyncio.get_running_loop().create_future()
        self._controls[request_id] = future
        try:
            await self._write(encode_control(request_id, subtype, **fields))
            exited: asyncio.Future[Any] = asyncio.ensure_future(self._process.exited.wait())
            waiting: set[asyncio.Future[Any]] = {future, exited}
            try:
                done, _ = await asyncio.wait(waiting, timeout=CONTROL_TIMEOUT,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                exited.cancel()
        except AgentNotRunning as exc:
            raise ControlError(f"the agent is not running ({exc})") from None
        finally:
            self._controls.pop(request_id, None)
        if future not in done:
            raise ControlError("the agent did not answer" if not self._process.exited.is_set()
                               else "the agent process exited")
        answer = future.result()
        if not answer.ok:
            raise ControlError(answer.error or "refused")
        return answer.payload

    async def set_mode(self, mode: str) -> str:
        """``set_permission_mode``; the CLI answers with the mode in force."""
        payload = await self._control("set_permission_mode", mode=mode)
        return str(payload.get("mode") or mode)

    async def set_model(self, model: str) -> str:
        """``set_model``; the CLI answers with the model it resolved the name to."""
        payload = await self._control("set_model", model=model)
        return str(payload.get("model") or model)

    @property
    def compact_prompt(self) -> str | None:
        return "/compact"

    async def stop(self, grace: float = 3.0) -> None:
        """Close stdin, wait ``grace`` s, SIGTERM, wait ``grace`` s, SIGKILL the group.

        No write lock: a send stuck in drain() (CLI not reading) must not block the stop;
        closing stdin still flushes whole buffered lines, so framing stays intact."""
        await self._process.stop(grace)
        if self._watcher is not None:
            await self._watcher

    def events(self) -> AsyncIterator[AgentEvent]:
        """Events in order, ending with ``ProcessExited`` (single consumer)."""
        return until_exit(self._queue)
