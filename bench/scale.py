"""2. Throughput and scale: 1, 10, 100 agents answering concurrently (closed loops)."""

from __future__ import annotations

import os
from typing import Any

from bench.common import ECHO, Row, fmt_ms, loadgen, p50_p99
from bench.context import Ctx

SIZES = (1, 10, 100)
CONNECTIONS = 4  # users; agent i belongs to user i % 4
WARMUP_S = 1.0
MEASURE_S = 4.0
TARGET_SHARE = 0.5  # of the echo's replies/s in the same run (issue 17)


async def run(ctx: Ctx) -> None:
    owners = [await ctx.user("scale") for _ in range(CONNECTIONS)]
    agents = [await ctx.agent(owners[i % CONNECTIONS]) for i in range(max(SIZES))]
    phases = []
    for n in SIZES:
        for label, jids in (("agentchat", agents),
                            ("echo", [f"a{i}@{ECHO}" for i in range(n)])):
            phases.append({
                "label": f"{label}-{n}", "warmup_s": WARMUP_S, "measure_s": MEASURE_S,
                "service_pid": os.getpid(), "prosody_pid": ctx.world.prosody.pid,
                "max_per_conv": 1_000_000, "timeout": 10,
                "convs": [(i % CONNECTIONS, jids[i]) for i in range(n)],
            })
    result = await loadgen(ctx.spec("throughput", owners, phases=phases), timeout=300)
    by_label = {p["label"]: p for p in result["phases"]}
    if result["unprimed"]:
        ctx.results.notes.append(f"scale: no answer to the priming round trip from "
                                 f"{len(result['unprimed'])} targets: {result['unprimed'][:5]}")
    for n in SIZES:
        ours, echo = by_label[f"agentchat-{n}"], by_label[f"echo-{n}"]
        rate = ours["replies"] / ours["window_s"]
        echo_rate = echo["replies"] / echo["window_s"]
        _, p99 = p50_p99(ours["latencies"])
        _, echo_p99 = p50_p99(echo["latencies"])
        target = f"≥ {TARGET_SHARE:.0%} of echo" if n == max(SIZES) else ""
        met = rate >= TARGET_SHARE * echo_rate if n == max(SIZES) else None
        ctx.results.add(
            Row("Scale", f"{n} agent{'s' if n > 1 else ''}: replies/s", f"{rate:,.0f}",
                f"{echo_rate:,.0f}", f"{rate / echo_rate:.0%} of echo", target, met),
            Row("Scale", f"{n} agent{'s' if n > 1 else ''}: p99 round trip", fmt_ms(p99),
                fmt_ms(echo_p99)),
            Row("Scale", f"{n} agent{'s' if n > 1 else ''}: lost / sent",
                f"{ours['lost']} / {ours['sent']:,}", f"{echo['lost']} / {echo['sent']:,}",
                "", "0 lost", ours["lost"] == 0),
        )
        if n == max(SIZES):
            ctx.results.add(Row("Scale", f"{n} agents: CPU µs per reply: service / Prosody / "
                                "client", cpu_per_reply(ours), cpu_per_reply(echo)))


def cpu_per_reply(phase: dict[str, Any]) -> str:
    cpu, replies = phase["cpu_s"], max(1, phase["replies"])
    return " / ".join(f"{cpu[k] / replies * 1e6:,.0f}" for k in ("service", "prosody", "client"))
