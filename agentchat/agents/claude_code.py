"""``AgentAdapter`` for the Claude Code CLI in ``-p`` stream-json mode.

One instance is one process lifetime. The protocol (what lines mean) lives in
``stream_json``; this module only spawns the process, moves bytes and turns the
process's end into ``ProcessExited``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Sequence

from agentchat.agents.adapter import AgentStartError, Image, LaunchSpec
from agentchat.agents.environment import agent_environment
from agentchat.agents.events import AgentEvent, ProcessExited
from agentchat.agents.process import ExitSignallingProtocol, kill_group
from agentchat.agents.sandbox import bwrap_argv
from agentchat.agents.stream_json import (
    PartialAccumulator,
    StreamJsonError,
    encode_interrupt,
    encode_user_message,
    parse_line,
)

log = logging.getLogger(__name__)

STDOUT_LINE_LIMIT = 64 * 1024 * 1024  # tool results and file reads can be several MB per line
STDERR_TAIL_BYTES = 4096
PIPE_DRAIN_TIMEOUT = 5.0  # after exit, how long to wait for stdout/stderr EOF


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
        self._proc: asyncio.subprocess.Process | None = None
        self._queue: asyncio.Queue[AgentEvent] = asyncio.Queue()
        self._write_lock = asyncio.Lock()
        self._stopping = False
        self._stdin_closed = False
        self._stderr_tail = bytearray()
        self._partial = PartialAccumulator() if spec.partial_messages else None
        self._watcher: asyncio.Task[None] | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._protocol: ExitSignallingProtocol | None = None
        self._exited = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the process is alive and accepts input."""
        return (
            self._proc is not None
            and not self._exited.is_set()
            and self._proc.returncode is None
            and not self._stdin_closed
        )

    async def start(self) -> None:
        """Spawn the CLI; ``AgentStartError`` names the binary or directory that failed."""
        if self._proc is not None:
            raise RuntimeError("adapter already started (one instance per process lifetime)")
        cwd = self.spec.cwd
        if not cwd.is_dir():
            raise AgentStartError(f"working directory does not exist: {cwd}")
        argv = build_argv(self.spec, self.claude_path)
        # Never agentchat's own environment (its secrets): the allow-list, then our values.
        env = agent_environment(os.environ, own=self.spec.env)
        env.setdefault("PATH", os.defpath)
        if self.spec.sandbox is not None:
            self._check_binary(env["PATH"])  # inside bwrap a missing binary is only an exit 1
            argv = bwrap_argv(self.spec.sandbox, argv, cwd)
        loop = asyncio.get_running_loop()
        limit = self._stdout_limit
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: ExitSignallingProtocol(limit, loop),
                *argv,
                cwd=str(cwd),
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                # Own process group: the service decides when agents die, and a last-resort
                # SIGKILL can take the CLI's tool subprocesses along.
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise AgentStartError(
                f"Claude Code CLI not found at {self.claude_path!r} ({exc.strerror})"
            ) from exc
        except PermissionError as exc:
            raise AgentStartError(
                f"Claude Code CLI at {self.claude_path!r} is not executable ({exc.strerror})"
            ) from exc
        except OSError as exc:
            raise AgentStartError(
                f"could not start Claude Code CLI {self.claude_path!r} in {cwd}: {exc}"
            ) from exc
        self._transport = transport
        self._protocol = protocol
        self._proc = asyncio.subprocess.Process(transport, protocol, loop)
        log.info("started %s pid=%s session=%s", self.claude_path, self.pid, self.spec.session_id)
        self._watcher = asyncio.create_task(self._watch(self._proc), name=f"claude-{self.pid}")

    def _check_binary(self, path: str) -> None:
        found = shutil.which(self.claude_path, path=path)
        if found is None:
            raise AgentStartError(f"Claude Code CLI not found at {self.claude_path!r}")

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        """Pump stdout/stderr, then queue ``ProcessExited`` after the last stdout event."""
        assert proc.stdout is not None and proc.stderr is not None
        assert self._protocol is not None and self._transport is not None
        readers = asyncio.gather(self._read_stdout(proc.stdout), self._read_stderr(proc.stderr))
        try:
            await self._protocol.exited.wait()
            try:
                # Normally the pipes reach EOF with the exit; a grandchild that inherited
                # them must not keep ProcessExited from being reported.
                await asyncio.wait_for(asyncio.shield(readers), self._pipe_drain_timeout)
            except TimeoutError:
                log.warning("pid=%s exited but its output pipes stay open", proc.pid)
                self._transport.close()  # our pipe ends: the readers see EOF
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(readers, 5)
        except Exception:
            log.exception("pid=%s: output reader failed", proc.pid)
            readers.cancel()
            await self._protocol.exited.wait()
        finally:
            returncode = self._transport.get_returncode()
            tail = self._stderr_tail.decode("utf-8", errors="replace")
            self._exited.set()
            self._queue.put_nowait(ProcessExited(returncode, tail, expected=self._stopping))
            log.info("pid=%s exited rc=%s expected=%s", proc.pid, returncode, self._stopping)

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        skipping = False  # inside an over-long line: drop bytes up to its newline
        while True:
            try:
                line = await stream.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                line = exc.partial  # EOF; the last line may lack its newline
                if not line:
                    return
            except asyncio.LimitOverrunError as exc:
                if not skipping:
                    log.warning(
                        "pid=%s: stdout line over %d bytes skipped", self.pid, self._stdout_limit
                    )
                skipping = True
                await stream.readexactly(exc.consumed)
                continue
            if skipping:
                skipping = False
                continue
            try:
                events = parse_line(line, self._partial)
            except StreamJsonError as exc:
                log.warning("pid=%s: skipping stdout line: %s", self.pid, exc)
                continue
            except Exception:
                log.exception("pid=%s: could not interpret stdout line", self.pid)
                continue
            for event in events:
                self._queue.put_nowait(event)

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                return
            log.debug("pid=%s stderr: %s", self.pid, chunk.decode("utf-8", "replace").rstrip())
            self._stderr_tail += chunk
            if len(self._stderr_tail) > STDERR_TAIL_BYTES:
                del self._stderr_tail[: len(self._stderr_tail) - STDERR_TAIL_BYTES]

    async def _write(self, data: bytes) -> None:
        async with self._write_lock:
            proc = self._proc
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

    async def stop(self, grace: float = 3.0) -> None:
        """Close stdin, wait ``grace`` s, SIGTERM, wait ``grace`` s, SIGKILL the group."""
        proc = self._proc
        if proc is None:
            return
        self._stopping = True
        # No write lock here: a send stuck in drain() (CLI not reading) must not block the
        # stop; close() still flushes whole buffered lines, so framing stays intact.
        if proc.stdin is not None and not self._stdin_closed:
            self._stdin_closed = True
            proc.stdin.close()
        if not await self._wait_exit(grace):
            log.warning("pid=%s did not exit %.1fs after stdin closed: SIGTERM", proc.pid, grace)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            if not await self._wait_exit(grace):
                log.warning("pid=%s ignored SIGTERM: SIGKILL to its process group", proc.pid)
                kill_group(proc)  # the group (own session) holds the CLI's tools too
                if not await self._wait_exit(10):
                    log.error("pid=%s survived SIGKILL for 10 s", proc.pid)
        if self._watcher is not None:
            await self._watcher

    async def _wait_exit(self, timeout: float) -> bool:
        assert self._protocol is not None
        try:
            await asyncio.wait_for(self._protocol.exited.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def events(self) -> AsyncIterator[AgentEvent]:
        """Events in order, ending with ``ProcessExited`` (single consumer)."""
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, ProcessExited):
                return
