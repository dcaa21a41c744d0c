"""One agent CLI process: spawn, line framing, stderr tail, exit detection, stop escalation.

Backends put their protocol on ``stdin``/``stdout``; this module owns the parts every agent
process needs the same way: the command line (under bubblewrap where the agent is sandboxed),
its own process group (a last-resort SIGKILL takes its tool subprocesses along), stdout as
lines (an over-long line is skipped, not fatal), stderr drained into a bounded tail (a chatty
agent must never block on a full pipe, and the tail explains a crash), the moment of exit (even
when a grandchild keeps the pipes open) and stopping: close stdin, SIGTERM, SIGKILL to the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from pathlib import Path

from agentchat.agents.adapter import AgentStartError
from agentchat.agents.events import AgentEvent, ProcessExited
from agentchat.agents.sandbox import SandboxPolicy, bwrap_argv

log = logging.getLogger(__name__)

STDOUT_LINE_LIMIT = 64 * 1024 * 1024  # one JSON line can carry a whole file
STDERR_TAIL_BYTES = 4096
PIPE_DRAIN_TIMEOUT = 5.0  # after exit, how long to wait for stdout/stderr EOF


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when agentchat dies (even by SIGKILL).

    Why: an agent that does not exit when its stdin closes (codex-acp) would otherwise run on,
    orphaned, after agentchat is killed; the next agentchat starts its own process anyway.
    """
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process's group (its own session: the tools it started die with it).

    ``proc.kill()`` only where the group could not be signalled: it polls first, and that
    poll can reap a process the group kill has just ended, before asyncio's child watcher
    does, which then reports the exit code as 255 instead of -9.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


class ExitSignallingProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Stream protocol that also signals the moment the process exits.

    Why: ``Process.wait()`` only returns once every pipe is closed too, so a grandchild that
    inherited stdout would hide the exit.
    """

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


class AgentProcess:
    """A spawned agent CLI with piped stdin/stdout; stderr is kept as a tail only."""

    def __init__(self, what: str) -> None:
        self.what = what  # for messages: "Gemini CLI"
        self.proc: asyncio.subprocess.Process | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._protocol: ExitSignallingProtocol | None = None
        self._tail = bytearray()
        self._stderr_task: asyncio.Task[None] | None = None
        self.stopping = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def stdin(self) -> asyncio.StreamWriter:
        assert self.proc is not None and self.proc.stdin is not None
        return self.proc.stdin

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout

    @property
    def exited(self) -> asyncio.Event:
        assert self._protocol is not None
        return self._protocol.exited

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode() if self._transport is not None else None

    def stderr_tail(self) -> str:
        return self._tail.decode("utf-8", errors="replace")

    @property
    def stdin_open(self) -> bool:
        """True while the process runs and its stdin takes input."""
        return (self.proc is not None and self.proc.stdin is not None
                and not self.proc.stdin.is_closing() and not self.exited.is_set()
                and self.proc.returncode is None)

    async def spawn(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str],
        *, sandbox: SandboxPolicy | None = None, limit: int = STDOUT_LINE_LIMIT,
    ) -> None:
        """Start it (under bubblewrap with ``sandbox``); ``AgentStartError`` names the binary or
        directory that failed."""
        if not cwd.is_dir():
            raise AgentStartError(f"working directory does not exist: {cwd}")
        if sandbox is not None:
            # inside bwrap a missing binary is only an exit 1: say which one is missing
            if shutil.which(argv[0], path=env.get("PATH", os.defpath)) is None:
                raise AgentStartError(f"{self.what} not found at {argv[0]!r}")
            argv = bwrap_argv(sandbox, list(argv), cwd)
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: ExitSignallingProtocol(limit, loop), *argv, cwd=str(cwd), env=dict(env),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        except FileNotFoundError as exc:
            raise AgentStartError(f"{self.what} not found at {argv[0]!r} ({exc.strerror})") from exc
        except PermissionError as exc:
            raise AgentStartError(
                f"{self.what} at {argv[0]!r} is not executable ({exc.strerror})") from exc
        except OSError as exc:
            raise AgentStartError(f"could not start {self.what} in {cwd}: {exc}") from exc
        self._transport, self._protocol = transport, protocol
        self.proc = asyncio.subprocess.Process(transport, protocol, loop)
        assert self.proc.stderr is not None
        self._stderr_task = asyncio.create_task(self._drain(self.proc.stderr))
        log.info("started %s pid=%s", self.what, self.pid)

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            log.debug("pid=%s stderr: %s", self.pid, chunk.decode("utf-8", "replace").rstrip())
            self._tail += chunk
            if len(self._tail) > STDERR_TAIL_BYTES:
                del self._tail[: len(self._tail) - STDERR_TAIL_BYTES]

    async def wait_exit(self, timeout: float | None) -> bool:
        try:
            await asyncio.wait_for(self.exited.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def drained(self, *readers: Awaitable[None], timeout: float = PIPE_DRAIN_TIMEOUT
                      ) -> None:
        """After the exit: wait for the pipes' EOF (``readers`` and the stderr tail end).

        Normally the pipes close with the exit; a grandchild that inherited them must not keep
        the exit from being reported, so after ``timeout`` our pipe ends are closed.
        """
        tasks = [asyncio.ensure_future(r) for r in readers]
        if self._stderr_task is not None:
            tasks.append(self._stderr_task)
        group = asyncio.gather(*tasks, return_exceptions=True)
        try:
            results = await asyncio.wait_for(asyncio.shield(group), timeout)
        except TimeoutError:
            log.warning("pid=%s exited but its output pipes stay open", self.pid)
            if self._transport is not None:
                self._transport.close()  # our pipe ends: the readers see EOF
            with contextlib.suppress(Exception):
                results = await asyncio.wait_for(group, 5)
            return
        for result in results:
            if isinstance(result, Exception):
                log.error("pid=%s: output reader failed: %r", self.pid, result)

    async def stop(self, grace: float = 3.0) -> None:
        """Close stdin, wait ``grace`` s, SIGTERM, wait ``grace`` s, SIGKILL the group."""
        proc = self.proc
        if proc is None:
            return
        self.stopping = True
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        if await self.wait_exit(grace):
            return
        log.warning("pid=%s did not exit %.1fs after stdin closed: SIGTERM", proc.pid, grace)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        if await self.wait_exit(grace):
            return
        log.warning("pid=%s ignored SIGTERM: SIGKILL to its process group", proc.pid)
        kill_group(proc)
        if not await self.wait_exit(10):
            log.error("pid=%s survived SIGKILL for 10 s", proc.pid)


async def read_lines(stream: asyncio.StreamReader, limit: int, what: str = "agent"
                     ) -> AsyncIterator[bytes]:
    """stdout as lines (the last may lack its newline); a line over ``limit`` bytes (the
    stream's limit) is skipped with a warning instead of ending the stream."""
    skipping = False  # inside an over-long line: drop bytes up to its newline
    while True:
        try:
            line = await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial and not skipping:
                yield exc.partial  # EOF
            return
        except asyncio.LimitOverrunError as exc:
            if not skipping:
                log.warning("%s: stdout line over %d bytes skipped", what, limit)
            skipping = True
            await stream.readexactly(exc.consumed)
            continue
        if skipping:
            skipping = False
            continue
        yield line


async def until_exit(queue: asyncio.Queue[AgentEvent]) -> AsyncIterator[AgentEvent]:
    """An adapter's events in order, ending with ``ProcessExited`` (single consumer)."""
    while True:
        event = await queue.get()
        yield event
        if isinstance(event, ProcessExited):
            return
