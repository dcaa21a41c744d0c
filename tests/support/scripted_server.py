"""What every scripted model API for tests shares: the reply script, the loopback server, waits.

Why: real agent CLIs (Claude Code, Gemini CLI, Codex) must run offline in tests, each pointed at
a small in-process server that answers from a FIFO script. The wire formats differ (see
``scripted_api`` for Anthropic, ``scripted_gemini``, ``scripted_openai``); the script, the
lifecycle (free loopback port, uvicorn as a task), the gates that hold a response like a slow
model, and the waits on what arrived are the same and live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route


@dataclass(frozen=True)
class TextBlock:
    """A text part of a scripted reply."""

    text: str


@dataclass(frozen=True)
class ToolUseBlock:
    """A tool call of a scripted reply (id generated when built)."""

    name: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: "toolu_" + uuid.uuid4().hex[:24])


Block = TextBlock | ToolUseBlock


@dataclass(frozen=True)
class ApiError:
    """An HTTP error answer (e.g. 400 invalid_request_error, 529 overloaded_error)."""

    status: int = 400
    type: str = "invalid_request_error"
    message: str = "scripted error"


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one main-conversation request.

    ``gate``: the server holds the response body until the event is set (the
    HTTP headers go out at once, like a slow model).  ``chunk_size`` /
    ``chunk_delay``: stream text and tool input in pieces, pausing between them.
    """

    blocks: tuple[Block, ...] = ()
    gate: asyncio.Event | None = None
    chunk_size: int | None = None
    chunk_delay: float = 0.0
    error: ApiError | None = None

    @property
    def stop_reason(self) -> str:
        return "tool_use" if any(isinstance(b, ToolUseBlock) for b in self.blocks) else "end_turn"

    @property
    def tool_use_ids(self) -> list[str]:
        return [b.id for b in self.blocks if isinstance(b, ToolUseBlock)]


def text(
    body: str,
    *,
    gate: asyncio.Event | None = None,
    chunk_size: int | None = None,
    chunk_delay: float = 0.0,
) -> Reply:
    """A plain text reply (stop_reason end_turn)."""
    return Reply((TextBlock(body),), gate=gate, chunk_size=chunk_size, chunk_delay=chunk_delay)


def tool_use(
    name: str,
    input: dict[str, Any],
    *,
    gate: asyncio.Event | None = None,
    chunk_size: int | None = None,
    chunk_delay: float = 0.0,
) -> Reply:
    """A reply that only calls one tool (stop_reason tool_use)."""
    return Reply(
        (ToolUseBlock(name, dict(input)),),
        gate=gate,
        chunk_size=chunk_size,
        chunk_delay=chunk_delay,
    )


def text_and_tool_use(
    body: str,
    name: str,
    input: dict[str, Any],
    *,
    gate: asyncio.Event | None = None,
    chunk_size: int | None = None,
    chunk_delay: float = 0.0,
) -> Reply:
    """Text, then a tool call, in one assistant message."""
    return Reply(
        (TextBlock(body), ToolUseBlock(name, dict(input))),
        gate=gate,
        chunk_size=chunk_size,
        chunk_delay=chunk_delay,
    )


def error(status: int = 400, type: str = "invalid_request_error", message: str = "boom") -> Reply:
    """An HTTP error answer. 5xx/429/529 make CLIs retry: prefer 400 in tests."""
    return Reply(error=ApiError(status, type, message))


def chunks(s: str, size: int | None) -> list[str]:
    if not size or size <= 0 or len(s) <= size:
        return [s]
    return [s[i : i + size] for i in range(0, len(s), size)]


def estimate_tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps(body)) // 4)


async def _client_gone(_request: Request, _exc: Exception) -> Response:
    """A CLI stopped or killed mid-request (the fuzz test's `stop`) is normal, not an error."""
    return Response(status_code=499)


class ScriptedServer:
    """The server part of a scripted API; subclasses add their routes (``api_routes``).

    Main-conversation requests consume the script (``take_reply``) and are recorded in
    ``requests``; side requests in ``side_requests``; unknown paths in ``other_requests``.
    """

    name = "ScriptedServer"

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []  # main-conversation request bodies
        self.side_requests: list[dict[str, Any]] = []  # {"path", "body"}
        self.other_requests: list[dict[str, Any]] = []  # {"method", "path", "headers", "body"}
        self.headers: list[dict[str, str]] = []  # headers of each main request, same order
        self.replies_sent: list[Reply] = []  # what each main request got, same order
        self.probes: list[str] = []  # "HEAD /api/hello" etc. (connectivity checks)
        self.disconnects = 0  # responses the client abandoned before the end (interrupts)
        self._queue: deque[Reply] = deque()
        self._cond = asyncio.Condition()
        self._closing = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                *self.api_routes(),
                Route(
                    "/{path:path}",
                    self._unknown,
                    methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"],
                ),
            ],
            lifespan=self._lifespan,
            exception_handlers={ClientDisconnect: _client_gone},
        )
        self._started = asyncio.Event()
        self._bg: set[asyncio.Task[None]] = set()

    def api_routes(self) -> list[BaseRoute]:
        return []

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError(f"{self.name} not started")
        return f"http://127.0.0.1:{self.port}"

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._started.set()
        yield

    async def start(self) -> None:
        """Bind a free loopback port and serve; returns once uvicorn is up."""
        # IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted sockets (no Nagle stalls).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)  # connections queue in the backlog until uvicorn accepts them
        self._sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        started = asyncio.create_task(self._started.wait())
        done, _ = await asyncio.wait(
            {started, self._serve_task}, timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        if started not in done:
            started.cancel()
            if self._serve_task in done:
                self._serve_task.result()  # re-raise the server's startup error
            raise RuntimeError(f"{self.name} did not start within 10 s")

    async def stop(self) -> None:
        """Release held responses and shut the server down."""
        self._closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._serve_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._serve_task, timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._serve_task = None
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- scripting and inspection ----------------------------------------------------------

    def push(self, *replies: Reply | Iterable[Reply]) -> None:
        """Queue replies, consumed FIFO by main-conversation requests."""
        for r in replies:
            if isinstance(r, Reply):
                self._queue.append(r)
            else:
                self._queue.extend(r)

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        return len(self._queue)

    async def wait_requests(self, n: int, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until at least ``n`` main requests arrived; return the n-th (1-based)."""

        async def _wait() -> None:
            async with self._cond:
                await self._cond.wait_for(lambda: len(self.requests) >= n)

        try:
            await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"waited {timeout}s for main request #{n}, got {len(self.requests)} "
                f"(side: {len(self.side_requests)}, other: {len(self.other_requests)})"
            ) from None
        return self.requests[n - 1]

    async def wait_disconnects(self, n: int, timeout: float = 30.0) -> None:
        """Wait until ``n`` streamed responses were abandoned by the client."""

        async def _wait() -> None:
            async with self._cond:
                await self._cond.wait_for(lambda: self.disconnects >= n)

        await asyncio.wait_for(_wait(), timeout)

    # --- helpers for the subclasses' handlers ----------------------------------------------

    async def take_reply(
        self, body: dict[str, Any], request: Request, default: Reply
    ) -> Reply:
        """Record a main request and return its scripted reply (or ``default``)."""
        reply = self._queue.popleft() if self._queue else default
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.replies_sent.append(reply)
        await self._notify()
        return reply

    async def record_side(self, request: Request, body: dict[str, Any]) -> None:
        self.side_requests.append({"path": request.url.path, "body": body})
        await self._notify()

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def _root(self, request: Request) -> Response:
        self.probes.append(f"{request.method} {request.url.path}")
        return Response(status_code=200)

    async def _unknown(self, request: Request) -> Response:
        raw = await request.body()
        self.other_requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": raw.decode("utf-8", "replace"),
            }
        )
        await self._notify()
        return JSONResponse(
            {
                "type": "error",
                "error": {"type": "not_found_error", "message": f"no route {request.url.path}"},
            },
            status_code=404,
        )

    async def _json(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {"_unparsed": raw.decode("utf-8", "replace")}
        return body if isinstance(body, dict) else {"_body": body}

    async def _hold(self, gate: asyncio.Event) -> None:
        """Wait for the gate, or for the server to close (so stop() never hangs)."""
        gate_task = asyncio.create_task(gate.wait())
        closing_task = asyncio.create_task(self._closing.wait())
        try:
            await asyncio.wait({gate_task, closing_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gate_task.cancel()
            closing_task.cancel()

    async def held(self, reply: Reply) -> bool:
        """Hold ``reply`` at its gate; False if the server closed instead (stop sending)."""
        if reply.gate is None:
            return True
        await self._hold(reply.gate)
        return not (self._closing.is_set() and not reply.gate.is_set())

    async def pace(self, index: int, reply: Reply) -> None:
        if index and reply.chunk_delay:
            await asyncio.sleep(reply.chunk_delay)  # deliberate pacing, not a wait

    async def tracked(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass a streamed body through, counting it in ``disconnects`` if it is abandoned."""
        completed = False
        try:
            async for piece in stream:
                yield piece
            completed = True
        finally:
            if not completed:
                # Cancelled by a client disconnect: count it, notify outside this dying task.
                self.disconnects += 1
                task = asyncio.get_running_loop().create_task(self._notify())
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)
