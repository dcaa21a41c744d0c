"""The loopback HTTP MCP server that Claude Code calls via `--permission-prompt-tool`.

Every agent gets its own MCP config file naming this server with a per-agent secret header; the
tool maps that secret to the agent and asks the broker. Checked with Claude Code 2.1.331: the
config's headers arrive on every POST (a custom header; `Authorization: Bearer` arrived too, but a
custom one can never be taken for OAuth), the CLI speaks MCP 2026-07-28 (server/discover, no
session), and it aborts a tool call silent for 300 s unless the server entry has "timeout" (ms)
or the call sends progress; we do both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Mapping
from pathlib import Path
from typing import Any

import attrs
import uvicorn
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .broker import NOT_OVER_MCP, UNAUTHORIZED, PermissionBroker
from .model import Decision

log = logging.getLogger(__name__)

SERVER_NAME = "agentchat"
TOOL_NAME = "permission_prompt"
PERMISSION_TOOL = f"mcp__{SERVER_NAME}__{TOOL_NAME}"
SEND_FILE_TOOL = f"mcp__{SERVER_NAME}__send_file"  # allowed without a prompt (--allowedTools)
SECRET_HEADER = "X-Agentchat-Secret"
HOST = "127.0.0.1"
DEFAULT_PERMISSION_TIMEOUT_S = 300.0
TIMEOUT_MARGIN_S = 60.0
MAX_BODY_BYTES = 1_000_000  # one tool call's input; more is refused before it is parsed
IDLE_TIMEOUT_S = 10.0  # a connection with no request after this long is closed
MAX_CONNECTIONS = 256  # connections + requests in flight (each pending prompt holds one)
REFUSAL_LOG_INTERVAL_S = 60.0

_TOOL_DESCRIPTION = (
    "Asks the agent's owner over chat whether a tool use may proceed. "
    'Returns JSON: {"behavior":"allow","updatedInput":{...}} '
    'or {"behavior":"deny","message":"..."}.'
)


def secret_from_headers(headers: Mapping[str, str] | None) -> str | None:
    """The agent secret from our header (Starlette headers are case-insensitive)."""
    if headers is None:
        return None
    value = headers.get(SECRET_HEADER) or headers.get(SECRET_HEADER.lower())
    return value.strip() if value else None


async def decide(
    broker: PermissionBroker,
    secret: str | None,
    tool_name: str,
    input: dict[str, Any],
    tool_use_id: str | None = None,
) -> Decision:
    """``permission_prompt``: the caller's secret says which agent asks (or nobody: denied, and
    nothing it sent is logged or audited); the broker then decides for that agent."""
    name = broker.agent_for_secret(secret)
    if name is None:
        log.warning("permission request with a missing or unknown secret refused")
        if broker.audit:
            broker.audit.unauthorized("missing or unknown secret")
        return Decision("deny", message=UNAUTHORIZED, answered_by="auth", how="secret")
    if not broker.asks_over_mcp(name):
        log.warning("%s: permission_prompt refused: it asks over ACP", name)
        if broker.audit:
            broker.audit.unauthorized(f"{name}: permission_prompt from an ACP agent")
        return Decision("deny", message=NOT_OVER_MCP, answered_by="auth", how="secret")
    return await broker.request_for(name, tool_name, input, tool_use_id)


async def _decide_with_heartbeat(
    ctx: Context[Any, Any],
    request: Coroutine[Any, Any, Decision],
    interval_s: float,
) -> Decision:
    """Await the broker, sending MCP progress every `interval_s` while the owner thinks.

    Claude Code aborts a tool call silent for 300 s unless the config sets a longer
    "timeout"; progress notifications are a second line of defence for long waits.
    """
    task = asyncio.ensure_future(request)
    beats = 0
    try:
        while True:
            done, _ = await asyncio.wait([task], timeout=interval_s)
            if done:
                return task.result()
            beats += 1
            try:
                await ctx.report_progress(beats, None, "waiting for the owner's answer")
            except Exception:
                log.debug("progress notification failed", exc_info=True)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# (agent name, path, caption) -> what the agent is told; raises FileToolError when not sent.
SendFile = Callable[[str, str, str], Awaitable[str]]


class FileToolError(Exception):
    """``send_file`` failed; the text goes back to the agent as the tool's error."""


def _add_send_file_tool(server: MCPServer[Any], broker: PermissionBroker,
                        send_file: SendFile) -> None:
    """``send_file``: the agent hands its owner a file of its working tree (uploaded with
    XEP-0363, announced with XEP-0066). The secret header says which agent is calling."""

    @server.tool(name="send_file", structured_output=False, description=(
        "Send a file from your working directory to the user you are working for, in their "
        "chat (they can open or download it; images are shown inline). `path` is relative "
        "to the working directory; `caption` is an optional short note sent with it."))
    async def send_file_tool(path: str, ctx: Context[Any, Any], caption: str = "") -> str:
        agent = broker.agent_for_secret(secret_from_headers(ctx.headers))
        if agent is None:
            raise ToolError("unauthorized")
        try:
            return await send_file(agent, path, caption)
        except FileToolError as exc:
            raise ToolError(str(exc)) from None


def _hide_permission_tool(broker: PermissionBroker) -> ServerMiddleware[Any]:
    """``tools/list`` without ``permission_prompt`` for agents that ask over ACP: their models
    need not see a tool that refuses them (the broker refuses a call all the same)."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext
                         ) -> HandlerResult:
        result = await call_next(ctx)  # the wire dict by now
        if ctx.method == "tools/list" and isinstance(result, dict):
            headers = getattr(ctx.request, "headers", None)
            if not broker.asks_over_mcp(broker.agent_for_secret(secret_from_headers(headers))):
                tools = [t for t in result.get("tools") or []
                         if not (isinstance(t, dict) and t.get("name") == TOOL_NAME)]
                return {**result, "tools": tools}
        return result

    return middleware


class _Gate:
    """Authenticate every MCP call before anything reads, logs or audits what it sent.

    A caller without a valid agent secret gets 401 and leaves one fixed-size audit line and,
    at most once a minute, one log line with a count: nothing of its input, so it can neither
    forge log lines nor fill the disk. An authenticated body is capped at MAX_BODY_BYTES.
    """

    def __init__(self, app: ASGIApp, broker: PermissionBroker, path: str) -> None:
        self.app = app
        self.broker = broker
        self.path = path
        self.refused = 0
        self._refused_unlogged = 0
        self._last_log = -REFUSAL_LOG_INTERVAL_S

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.path):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.broker.agent_for_secret(secret_from_headers(headers)) is None:
            self._note_refusal()
            error = {"code": -32001, "message": "unauthorized"}
            await JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=401,
                               headers={"Connection": "close"})(scope, receive, send)
            return
        length = headers.get("content-length", "")
        if length and (not length.isascii() or not length.isdigit()
                       or int(length) > MAX_BODY_BYTES):
            await PlainTextResponse("request too large", status_code=413,
                                    headers={"Connection": "close"})(scope, receive, send)
            return
        await self.app(scope, _capped(receive), send)

    def _note_refusal(self) -> None:
        self.refused += 1
        self._refused_unlogged += 1
        if self.broker.audit is not None:
            self.broker.audit.unauthorized("missing or unknown secret")
        now = time.monotonic()
        if now - self._last_log >= REFUSAL_LOG_INTERVAL_S:
            log.warning("refused %d MCP call(s) without a valid agent secret",
                        self._refused_unlogged)
            self._refused_unlogged = 0
            self._last_log = now


def _capped(receive: Receive) -> Receive:
    """A body without Content-Length (chunked) may not grow past MAX_BODY_BYTES either."""
    seen = 0

    async def capped() -> Any:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > MAX_BODY_BYTES:
            return {"type": "http.disconnect"}
        return message

    return capped


def build_app(
    broker: PermissionBroker, *, path: str = "/mcp", progress_interval_s: float = 60.0,
    send_file: SendFile | None = None,
) -> Starlette:
    """Starlette app: the MCP endpoint at `path` plus GET /healthz; its lifespan runs MCP."""
    server: MCPServer[Any] = MCPServer(SERVER_NAME, middleware=[_hide_permission_tool(broker)])
    if send_file is not None:
        _add_send_file_tool(server, broker, send_file)

    @server.tool(name=TOOL_NAME, description=_TOOL_DESCRIPTION, structured_output=False)
    async def permission_prompt(
        tool_name: str,
        input: dict[str, Any],
        ctx: Context[Any, Any],
        tool_use_id: str | None = None,
    ) -> str:
        secret = secret_from_headers(ctx.headers)
        request = decide(broker, secret, tool_name, input, tool_use_id)
        decision = await _decide_with_heartbeat(ctx, request, progress_interval_s)
        return json.dumps(decision.tool_result(input), ensure_ascii=False)

    # Stateless: every POST stands alone, so no MCP session can be reaped by an idle timeout
    # while an agent sits quiet for an hour, and nothing accumulates per agent process.
    mcp_app = server.streamable_http_app(streamable_http_path=path, stateless_http=True, host=HOST)

    async def healthz(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return Starlette(
        routes=[Route("/healthz", healthz, methods=["GET"]), *mcp_app.routes],
        middleware=[Middleware(_Gate, broker=broker, path=path), *mcp_app.user_middleware],
        lifespan=lifespan,
    )


def tool_timeout_ms(permission_timeout_s: float) -> int:
    """The CLI's per-server MCP tool timeout: longer than ours, so Claude gets our deny text.

    Claude Code 2.1.331 aborts a tool call that sends nothing for 300 s ("sent no response or
    progress for 300s") unless the server entry has a "timeout" (ms).
    """
    return int((permission_timeout_s + TIMEOUT_MARGIN_S) * 1000)


def mcp_url(port: int, path: str = "/mcp") -> str:
    """Where agents reach this server (Claude's config file, ACP's ``mcpServers``)."""
    return f"http://{HOST}:{port}{path}"


def render_mcp_config(
    port: int,
    secret: str,
    *,
    permission_timeout_s: float = DEFAULT_PERMISSION_TIMEOUT_S,
    path: str = "/mcp",
) -> dict[str, Any]:
    """The `--mcp-config` content for one agent."""
    return {
        "mcpServers": {
            SERVER_NAME: {
                "type": "http",
                "url": mcp_url(port, path),
                "headers": {SECRET_HEADER: secret},
                "timeout": tool_timeout_ms(permission_timeout_s),
            }
        }
    }


def write_mcp_config(
    path: Path | str,
    port: int,
    secret: str,
    *,
    permission_timeout_s: float = DEFAULT_PERMISSION_TIMEOUT_S,
) -> Path:
    """Write the config readable by our user only: it contains the agent's secret."""
    p = Path(path)
    config = render_mcp_config(port, secret, permission_timeout_s=permission_timeout_s)
    data = json.dumps(config, indent=2).encode()
    fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
        os.write(fd, data)
    finally:
        os.close(fd)
    return p


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (the service owns SIGINT/SIGTERM) and with an
    event for "startup finished" instead of polling `started`."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_done = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.startup_done.set()


def _idle_closing_protocol(idle_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, closing a connection that sends no request in time.

    uvicorn times out idle keep-alive connections only after a first response: a client that
    connects and says nothing (or sends half a request) would hold its socket forever.
    """
    base: Any = AutoHTTPProtocol

    class IdleClosing(base):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self.loop.call_later(idle_timeout_s, self._close_if_no_request)

        def _close_if_no_request(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

    return IdleClosing


@attrs.define(eq=False)
class RunningServer:
    """A uvicorn server running as a task of the current loop."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int
    host: str = HOST

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(
    app: Any, port: int = 0, *, graceful_timeout_s: int = 3, host: str = HOST,
    idle_timeout_s: float = IDLE_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS,
) -> RunningServer:
    """Start uvicorn on 127.0.0.1:`port` (0 = any free port) and return once it accepts."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and accepted sockets inherit ours. With proto 0 Nagle held each response body until the
    # client acknowledged its headers: +40 ms per permission answer (delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=graceful_timeout_s,
        access_log=False,
        http=_idle_closing_protocol(idle_timeout_s),
        timeout_keep_alive=max(1, int(idle_timeout_s)),
        limit_concurrency=max_connections,
    )
    server = _QuietServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    started = asyncio.ensure_future(server.startup_done.wait())
    try:
        await asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED)
    finally:
        started.cancel()
    if task.done() or not server.started:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await task
        sock.close()
        raise RuntimeError(f"MCP server failed to start on {host}:{actual_port}")
    log.info("permission MCP server listening on %s:%s", host, actual_port)
    return RunningServer(server, task, actual_port, host)
