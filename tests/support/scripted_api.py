"""A scripted Anthropic Messages API for tests, served in-process on 127.0.0.1.

Why: the real Claude Code CLI must run offline in tests, so it is pointed
(``ANTHROPIC_BASE_URL``) at this server, which answers from a FIFO script.

Telling main-conversation requests from side requests
-----------------------------------------------------
Observed with the pinned CLI (2.1.331, ``-p`` stream-json, see docs/claude-cli-notes.md):
with ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` it sends nothing but
``POST /v1/messages?beta=true`` conversation requests (no title/topic generation, no
quota probe, no count_tokens); without that variable it also sends ``HEAD /api/hello``
(a preconnect). Every conversation request carries the agent's tool list (Bash, Read,
Write, ...), which the side requests older/interactive CLIs send (quota probe with
``max_tokens: 1``, topic/title with the small model, count_tokens) never do. So:

* ``POST /v1/messages`` whose body has a non-empty ``tools`` list → main request:
  recorded in ``requests`` and answered from the script (else the default reply).
  Sub-agent (Agent/Task tool) requests also carry tools, so they count as main
  requests and consume the script too;
* any other ``POST /v1/messages`` → side request: recorded in ``side_requests`` and
  answered with a short canned text, never consuming the script;
* ``POST /v1/messages/count_tokens`` → ``{"input_tokens": <estimate>}`` (side request);
* ``HEAD``/``GET`` ``/`` and ``/api/hello`` → 200, recorded in ``probes``;
* anything else → 404 JSON error, recorded in ``other_requests``.

Pass ``is_main=`` to override the rule (e.g. for a CLI run with ``--tools ""``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

_DEFAULT_MODEL = "claude-sonnet-4-5"


@dataclass(frozen=True)
class TextBlock:
    """A text content block of a scripted reply."""

    text: str


@dataclass(frozen=True)
class ToolUseBlock:
    """A tool_use content block of a scripted reply (id generated when built)."""

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
    """An HTTP error answer. 5xx/429/529 make the CLI retry: prefer 400 in tests."""
    return Reply(error=ApiError(status, type, message))


# --- helpers over request bodies -------------------------------------------------------------


def _is_reminder(txt: str) -> bool:
    return txt.lstrip().startswith("<system-reminder>")


def _block_text(content: Any) -> str:
    """Flatten message/tool_result content (string or list of blocks) to text."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def user_text(message: dict[str, Any]) -> str:
    """The human-written text of a user message, without ``<system-reminder>`` blocks."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") == "text":
            t = str(block.get("text", ""))
            if not _is_reminder(t):
                parts.append(t)
    return "\n".join(parts)


def tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a message."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def last_user_message(body: dict[str, Any]) -> dict[str, Any] | None:
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return msg
    return None


def is_main_request(body: dict[str, Any]) -> bool:
    """Main conversation requests always carry the agent's tool list; side requests don't."""
    tools = body.get("tools")
    return isinstance(tools, list) and len(tools) > 0


def _estimate_tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps(body)) // 4)


# --- SSE encoding ----------------------------------------------------------------------------


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _chunks(s: str, size: int | None) -> list[str]:
    if not size or size <= 0 or len(s) <= size:
        return [s]
    return [s[i : i + size] for i in range(0, len(s), size)]


def _message_json(reply: Reply, model: str, input_tokens: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for b in reply.blocks:
        if isinstance(b, TextBlock):
            content.append({"type": "text", "text": b.text})
        else:
            content.append({"type": "tool_use", "id": b.id, "name": b.name, "input": b.input})
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": max(1, sum(len(json.dumps(c)) for c in content) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


class ScriptedAnthropic:
    """The scripted API server. Start with ``await api.start()`` or ``async with``."""

    def __init__(
        self,
        *,
        model: str = _DEFAULT_MODEL,
        is_main: Callable[[dict[str, Any]], bool] = is_main_request,
    ) -> None:
        self.model = model
        self.is_main = is_main
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
                Route("/", self._root, methods=["GET", "HEAD"]),
                Route("/api/hello", self._root, methods=["GET", "HEAD"]),
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
                Route(
                    "/{path:path}",
                    self._unknown,
                    methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"],
                ),
            ],
            lifespan=self._lifespan,
        )
        self._started = asyncio.Event()
        self._bg: set[asyncio.Task[None]] = set()

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("ScriptedAnthropic not started")
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
            raise RuntimeError("ScriptedAnthropic did not start within 10 s")

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

    async def __aenter__(self) -> ScriptedAnthropic:
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

    def last_user_text(self, index: int = -1) -> str:
        """Human text of the last user message of main request ``index``."""
        msg = last_user_message(self.requests[index])
        return user_text(msg) if msg else ""

    def last_tool_results(self, index: int = -1) -> list[dict[str, Any]]:
        """tool_result blocks in the last user message of main request ``index``."""
        msg = last_user_message(self.requests[index])
        return tool_results(msg) if msg else []

    def all_user_texts(self, index: int = -1) -> list[str]:
        """Human text of every user message in main request ``index`` (for resume checks)."""
        return [
            user_text(m)
            for m in self.requests[index].get("messages") or []
            if isinstance(m, dict) and m.get("role") == "user"
        ]

    # --- handlers --------------------------------------------------------------------------

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

    async def _count_tokens(self, request: Request) -> Response:
        body = await self._json(request)
        self.side_requests.append({"path": request.url.path, "body": body})
        await self._notify()
        return JSONResponse({"input_tokens": _estimate_tokens(body)})

    async def _json(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {"_unparsed": raw.decode("utf-8", "replace")}
        return body if isinstance(body, dict) else {"_body": body}

    def _default_reply(self, body: dict[str, Any]) -> Reply:
        msg = last_user_message(body)
        if msg is None:
            return text("echo: ")
        results = tool_results(msg)
        if results:
            return text("done: " + _block_text(results[-1].get("content"))[:200])
        return text("echo: " + user_text(msg))

    async def _messages(self, request: Request) -> Response:
        body = await self._json(request)
        model = str(body.get("model") or self.model)
        if not self.is_main(body):
            self.side_requests.append({"path": request.url.path, "body": body})
            await self._notify()
            reply = text(self._side_answer(body))
        else:
            reply = self._queue.popleft() if self._queue else self._default_reply(body)
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            self.replies_sent.append(reply)
            await self._notify()
        if reply.error is not None:
            err = reply.error
            return JSONResponse(
                {"type": "error", "error": {"type": err.type, "message": err.message}},
                status_code=err.status,
            )
        tokens = _estimate_tokens(body)
        if not body.get("stream"):
            if reply.gate is not None:
                await self._hold(reply.gate)
            return JSONResponse(_message_json(reply, model, tokens))
        return StreamingResponse(
            self._stream(reply, model, tokens),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "request-id": "req_" + uuid.uuid4().hex[:20]},
        )

    def _side_answer(self, body: dict[str, Any]) -> str:
        """Something plausible for side requests (titles/topics expect short JSON-ish text)."""
        system = json.dumps(body.get("system", ""))
        if "isNewTopic" in system:
            return '{"isNewTopic": false, "title": null}'
        if "title" in system.lower():
            return '{"title": "Scripted session"}'
        return "ok"

    async def _hold(self, gate: asyncio.Event) -> None:
        """Wait for the gate, or for the server to close (so stop() never hangs)."""
        gate_task = asyncio.create_task(gate.wait())
        closing_task = asyncio.create_task(self._closing.wait())
        try:
            await asyncio.wait({gate_task, closing_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gate_task.cancel()
            closing_task.cancel()

    async def _stream(self, reply: Reply, model: str, tokens: int) -> AsyncIterator[bytes]:
        completed = False
        try:
            msg = _message_json(reply, model, tokens)
            start = dict(msg, content=[], stop_reason=None)
            start["usage"] = dict(msg["usage"], output_tokens=1)
            yield _sse("message_start", {"type": "message_start", "message": start})
            if reply.gate is not None:
                yield _sse("ping", {"type": "ping"})
                await self._hold(reply.gate)
                if self._closing.is_set() and not reply.gate.is_set():
                    return
            for index, block in enumerate(reply.blocks):
                async for chunk in self._block_events(index, block, reply):
                    yield chunk
            yield _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": msg["usage"]["output_tokens"]},
                },
            )
            yield _sse("message_stop", {"type": "message_stop"})
            completed = True
        finally:
            if not completed:
                # Cancelled by a client disconnect: count it, notify outside this dying task.
                self.disconnects += 1
                task = asyncio.get_running_loop().create_task(self._notify())
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)

    async def _block_events(self, index: int, block: Block, reply: Reply) -> AsyncIterator[bytes]:
        if isinstance(block, TextBlock):
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            pieces = _chunks(block.text, reply.chunk_size)
            delta_type, key = "text_delta", "text"
        else:
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block.id,
                        "name": block.name,
                        "input": {},
                    },
                },
            )
            pieces = _chunks(json.dumps(block.input), reply.chunk_size)
            delta_type, key = "input_json_delta", "partial_json"
        for i, piece in enumerate(pieces):
            if i and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)  # deliberate pacing, not a wait
            yield _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": delta_type, key: piece},
                },
            )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
