"""1. Relay overhead: owner → fake agent → owner round trips vs a raw echo component."""

from __future__ import annotations

from bench.common import ECHO, Row, fmt_ms, loadgen, p50_p99
from bench.context import Ctx

WARMUP = 200
COUNT = 2000
TARGET_MS = 0.5


async def run(ctx: Ctx) -> None:
    owner = await ctx.user("relay")
    agent = await ctx.agent(owner)
    result = await loadgen(ctx.spec(
        "pingpong", [owner], targets={"agentchat": agent, "echo": f"relay@{ECHO}"},
        warmup=WARMUP, count=COUNT, timeout=5, max_s=90,
    ))
    ours50, ours99 = p50_p99(result["rtts"]["agentchat"])
    echo50, echo99 = p50_p99(result["rtts"]["echo"])
    lost = result["lost"]
    n = len(result["rtts"]["agentchat"])
    ctx.results.add(
        Row("Relay", f"round trip p50 ({n} sequential)", fmt_ms(ours50), fmt_ms(echo50),
            f"+{ours50 - echo50:.2f} ms", f"≤ +{TARGET_MS} ms", ours50 - echo50 <= TARGET_MS),
        Row("Relay", "round trip p99", fmt_ms(ours99), fmt_ms(echo99),
            f"+{ours99 - echo99:.2f} ms"),
    )
    if any(lost.values()):
        ctx.results.notes.append(f"relay: lost replies {lost}")
