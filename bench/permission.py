"""5. Permission round trip: MCP call → prompt in the owner's chat, answer → tool call returns.

Baseline, measured interleaved in the same run: the least this can cost, one no-op call to an
MCP server built the same way (stateless streamable HTTP on uvicorn) plus one XMPP round trip
to the raw echo component.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from agentchat.permissions.mcp_app import SECRET_HEADER, RunningServer, serve
from bench.common import ECHO, REPO, Row, fmt_ms, loadgen, ms, percentile, stamp_calls
from bench.context import Ctx

WARMUP = 20
COUNT = 300
TARGET_MS = 5.0


def noop_app() -> Starlette:
    server: MCPServer[Any] = MCPServer("noop")

    @server.tool(name="noop", description="Returns at once.", structured_output=False)
    async def noop() -> str:
        return "{}"

    mcp_app = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True,
                                         host="127.0.0.1")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return Starlette(routes=list(mcp_app.routes), middleware=mcp_app.user_middleware,
                     lifespan=lifespan)


async def run(ctx: Ctx) -> None:
    owner = await ctx.user("perm")
    jid = await ctx.agent(owner)
    name = jid.split("@", 1)[0]
    cwd = ctx.world.work / REPO
    secret = secrets.token_urlsafe(32)
    ctx.service.broker.register_agent(name, owner.jid, secret, cwd)
    received: list[tuple[int, tuple[Any, ...]]] = []
    stamp_calls(ctx.service.broker, "request_for", received)
    assert ctx.service.mcp is not None
    noop: RunningServer = await serve(noop_app(), 0)
    try:
        result = await loadgen(ctx.spec(
            "permission", [owner], agent=jid, echo=f"perm@{ECHO}",
            url=ctx.service.mcp.url + "/mcp", headers={SECRET_HEADER: secret},
            noop_url=noop.url + "/mcp", warmup=WARMUP, count=COUNT, timeout=10, max_s=120,
            args={"tool_name": "Write", "tool_use_id": "toolu_bench",
                  "input": {"file_path": str(Path(cwd) / "bench.txt"), "content": "x\n"}},
        ), timeout=180)
    finally:
        await noop.stop()
    rows = result["rows"]
    stamps = [t for t, _ in received][result["skipped"]:]
    if len(stamps) != len(rows):
        raise RuntimeError(f"{len(stamps)} calls received, {len(rows)} made")
    to_prompt = [r["prompt"] - t for r, t in zip(rows, stamps, strict=True)]
    to_return = [r["return"] - r["answer"] for r in rows]
    request_half = [t - r["call"] for r, t in zip(rows, stamps, strict=True)]
    total = [(r["prompt"] - r["call"]) + (r["return"] - r["answer"]) for r in rows]
    baseline = [r["noop"] + r["echo"] for r in rows]

    def p(values: list[int], q: float = 50) -> float:
        return ms(percentile(values, q))

    overhead = p(total) - p(baseline)
    ctx.results.add(
        Row("Permission", f"call received → prompt at client p50 / p99 ({len(rows)})",
            f"{fmt_ms(p(to_prompt))} / {fmt_ms(p(to_prompt, 99))}"),
        Row("Permission", "answer sent → tool call returns p50 / p99",
            f"{fmt_ms(p(to_return))} / {fmt_ms(p(to_return, 99))}"),
        Row("Permission", "client's call sent → received by the service p50",
            fmt_ms(p(request_half))),
        Row("Permission", "whole round trip without the human p50 / p99",
            f"{fmt_ms(p(total))} / {fmt_ms(p(total, 99))}",
            f"{fmt_ms(p(baseline))} / {fmt_ms(p(baseline, 99))}", f"{overhead:+.2f} ms",
            f"≤ +{TARGET_MS:.0f} ms", overhead <= TARGET_MS),
        Row("Permission", "baseline parts: no-op MCP call / echo round trip p50", "",
            f"{fmt_ms(p([r['noop'] for r in rows]))} / {fmt_ms(p([r['echo'] for r in rows]))}"),
    )
