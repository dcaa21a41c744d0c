"""1. Relay overhead: owner → fake agent → owner round trips vs a raw echo component."""

from __future__ import annotations

import asyncio

from agentchat.agents.runtime import BUSY_SHOWN_AFTER
from bench.common import ECHO, Row, fmt_ms, loadgen, p50_p99
from bench.context import Ctx

WARMUP = 200
COUNT = 2000
TARGET_MS = 0.5


async def run(ctx: Ctx) -> None:
    owner = await ctx.user("relay")
    agent = await ctx.agent(owner)
    await asyncio.sleep(BUSY_SHOWN_AFTER * 2)  # the creation's first turn is over
    component = ctx.service.component

    def written() -> dict[str, tuple[int, int]]:
        return {"agentchat": (component.stanzas_written, component.bytes_written),
                "echo": (ctx.echo.stanzas_written, ctx.echo.bytes_written)}

    before = written()
    result = await loadgen(ctx.spec(
        "pingpong", [owner], targets={"agentchat": agent, "echo": f"relay@{ECHO}"},
        warmup=WARMUP, count=COUNT, timeout=5, max_s=90,
    ))
    after = written()
    per_turn = {}
    for label, (stanzas, size) in after.items():
        turns = max(1, result["turns"][label])
        per_turn[label] = (f"{(stanzas - before[label][0]) / turns:.2f} / "
                           f"{(size - before[label][1]) / turns:,.0f} B")
    ours50, ours99 = p50_p99(result["rtts"]["agentchat"])
    echo50, echo99 = p50_p99(result["rtts"]["echo"])
    lost = result["lost"]
    n = len(result["rtts"]["agentchat"])
    ctx.results.add(
        Row("Relay", f"round trip p50 ({n} sequential)", fmt_ms(ours50), fmt_ms(echo50),
            f"{ours50 - echo50:+.2f} ms", f"≤ +{TARGET_MS} ms", ours50 - echo50 <= TARGET_MS),
        Row("Relay", "round trip p99", fmt_ms(ours99), fmt_ms(echo99),
            f"{ours99 - echo99:+.2f} ms"),
        Row("Relay", "stanzas / bytes per turn, as the component writes them",
            per_turn["agentchat"], per_turn["echo"]),
    )
    if any(lost.values()):
        ctx.results.notes.append(f"relay: lost replies {lost}")
