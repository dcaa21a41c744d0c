"""6. Real CLI turns: the pinned Claude Code CLI against the scripted Anthropic API, as the user
sees them (message sent → reply received), split by timestamps taken inside the service.

A second agentchat service (component cli.bench.localhost) runs the real adapter, wrapped to
stamp the spawn, the write to stdin and each event read from stdout; the scripted API stamps
each request. Cold turn = the creation task (starts the CLI); warm turns reuse the process.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import Response

from agentchat.agents.adapter import Image, LaunchSpec
from agentchat.agents.claude_code import ClaudeCodeAdapter
from agentchat.agents.events import AgentEvent, AssistantText, PartialText, SessionStarted
from agentchat.agents.runtime import AdapterFactory
from bench.common import CLI, Row, claude_path, fmt_ms, loadgen, ms, percentile, stamp_calls
from bench.context import Ctx
from tests.support.claude_env import claude_env
from tests.support.scripted_api import ScriptedAnthropic

AGENTS = 3
WARM_TURNS = 3

now = time.monotonic_ns


class StampedApi(ScriptedAnthropic):
    """The scripted API, noting when each conversation request arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[int] = []

    async def _messages(self, request: Request) -> Response:
        self.arrivals.append(now())
        return await super()._messages(request)


class StampedAdapter:
    """The real CLI adapter with timestamps: spawn start/end, stdin writes, stdout events."""

    log: ClassVar[list[tuple[int, str]]] = []

    def __init__(self, spec: LaunchSpec) -> None:
        self.inner = ClaudeCodeAdapter(spec, claude_path())

    @property
    def pid(self) -> int | None:
        return self.inner.pid

    async def start(self) -> None:
        self.log.append((now(), "spawn"))
        await self.inner.start()
        self.log.append((now(), "spawned"))

    @property
    def accepts_images(self) -> bool:
        return self.inner.accepts_images

    async def send(self, text: str, images: Sequence[Image] = ()) -> None:
        self.log.append((now(), "send"))
        await self.inner.send(text, images)

    async def interrupt(self) -> str:
        return await self.inner.interrupt()

    async def stop(self, grace: float = 3.0) -> None:
        await self.inner.stop(grace)

    async def events(self) -> AsyncIterator[AgentEvent]:
        async for event in self.inner.events():
            if isinstance(event, SessionStarted):
                self.log.append((now(), "init"))
            elif isinstance(event, AssistantText | PartialText):  # streamed: partial first
                self.log.append((now(), "text"))
            yield event


def _after(stamps: list[tuple[int, str]], t: int, kind: str) -> int:
    return min(s for s, k in stamps if k == kind and s >= t)


async def run(ctx: Ctx) -> None:
    owner = await ctx.user("cli")
    api = StampedApi()
    await api.start()
    try:
        factory: AdapterFactory = StampedAdapter
        service = ctx.world.make_service(CLI, "cli-service", adapter_factory=factory,
                                         agent_env=claude_env(ctx.world.root / "claude", api))
        received: list[tuple[int, tuple[Any, ...]]] = []
        sent: list[tuple[int, tuple[Any, ...]]] = []
        stamp_calls(service.inbound, "on_chat", received)
        stamp_calls(service.component, "send_chat", sent)
        await service.start()
        try:
            result = await loadgen(ctx.spec(
                "cliturn", [owner], manager=f"manager@{CLI}", domain=CLI, agents=AGENTS,
                warm_turns=WARM_TURNS, timeout=60), timeout=600)
        finally:
            await service.stop()
        log = StampedAdapter.log
        arrivals = [(t, "api") for t in api.arrivals]
    finally:
        await api.stop()
    stamps = sorted(log + arrivals + [(t, "recv") for t, _ in received]
                    + [(t, "reply") for t, args in sent if args[0] != "manager"])
    parts: dict[str, dict[str, list[int]]] = {"cold": {}, "warm": {}}
    for turn in result["turns"]:
        kind = "cold" if turn["cold"] else "warm"
        t0, t_end = turn["send"], turn["reply"]
        recv = _after(stamps, t0, "recv")
        first = _after(stamps, recv, "spawn" if kind == "cold" else "send")
        text = _after(stamps, first, "text")
        reply = _after(stamps, text, "reply")
        cli = text - first
        row = {"total": t_end - t0, "cli": cli, "ours": (t_end - t0) - cli,
               "api": _after(stamps, first, "api") - first}
        if kind == "cold":
            row["spawn"] = _after(stamps, first, "spawned") - first
            row["init"] = _after(stamps, first, "init") - first
        row["after_cli"] = t_end - text
        row["to_send"] = reply - text
        row["before_cli"] = first - t0
        for key, value in row.items():
            parts[kind].setdefault(key, []).append(value)

    def p(kind: str, key: str) -> str:
        values = parts[kind].get(key, [])
        return fmt_ms(ms(percentile(values, 50)))

    n_cold, n_warm = len(parts["cold"]["total"]), len(parts["warm"]["total"])
    ctx.results.add(
        Row("CLI turn", f"cold (creation task, CLI starts) p50 of {n_cold}: total",
            p("cold", "total")),
        Row("CLI turn", "cold: CLI (spawn → first text on stdout)", p("cold", "cli"), "",
            f"spawn {p('cold', 'spawn')}, first API request {p('cold', 'api')}"),
        Row("CLI turn", "cold: agentchat + XMPP (the rest)", p("cold", "ours"), "",
            f"before CLI {p('cold', 'before_cli')}, after {p('cold', 'after_cli')}"),
        Row("CLI turn", f"warm (running CLI) p50 of {n_warm}: total", p("warm", "total")),
        Row("CLI turn", "warm: CLI (stdin write → text on stdout)", p("warm", "cli"), "",
            f"API request after {p('warm', 'api')}"),
        Row("CLI turn", "warm: agentchat + XMPP (the rest)", p("warm", "ours"), "",
            f"before CLI {p('warm', 'before_cli')}, after {p('warm', 'after_cli')} "
            f"(of which stdout event → sent {p('warm', 'to_send')})"),
    )
