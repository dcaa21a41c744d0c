"""``python -m bench``: run the benchmarks, print the table, write it into README.md.

Options: ``--only relay,scale`` runs a subset; ``--no-readme`` leaves README.md alone;
``--profile FILE`` runs the service's process under cProfile and writes the stats to FILE
(read them with ``python -m pstats FILE``; the echo baseline shares the process, so its
functions appear too). Figures measured under the profiler are not comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable

from bench import agent_types, cli_turn, creation, memory, permission, relay, scale
from bench.common import COMPONENT, REPO_ROOT, Results, Row, machine_line, render_table, world
from bench.common import write_readme as write_block
from bench.context import Ctx

BENCHMARKS: dict[str, tuple[Callable[[Ctx], Awaitable[None]], float]] = {
    # name: (run, time budget in seconds)
    "relay": (relay.run, 120),
    "creation": (creation.run, 240),
    "permission": (permission.run, 240),
    "scale": (scale.run, 360),
    "memory": (memory.run, 240),
    "cli": (cli_turn.run, 600),
    "types": (agent_types.run, 1800),
}


NOTES = (
    "Clients run in their own process (bench/loadgen.py: slixmpp, plain TCP, SCRAM-SHA-1); "
    "agentchat, the raw echo component (a bare slixmpp component answering each message with "
    "its body) and the private Prosody (its generated config, Nagle off) share the machine.",
    "Relay and scale use an in-process fake agent that answers at once: a turn that short "
    "is one stanza, the reply carrying the 'active' chat state (the busy presence and "
    "'composing' go out only once a turn has lasted 0.3 s, and an unchanged presence is not "
    "repeated); the echo sends one. Stanzas and bytes are counted where each component writes "
    "to its socket. Scale: one message in flight per agent (closed loop), after one round trip "
    "with every agent; replies counted in a 4 s window after 1 s of warm-up; CPU per reply "
    "read from /proc for each process.",
    "Creation: task message → the 'created' reply, when the agent answers at its address. "
    "Baseline: the account-per-agent design's cost to that point, `prosodyctl register` plus a "
    "SCRAM login of the new account, timed from the client the same way. The subscription "
    "request follows the reply; both designs send one, so it is timed but not in the ratio "
    "(until 2026-11-30 the ratio used the later of the two).",
    "Permission baseline: one no-op call to an MCP server built like ours plus one echo round "
    "trip, interleaved with the real calls. CLI turn: the pinned Claude Code CLI against the "
    "scripted API; stamps inside the service split the time.",
    "Agent types: each installed type's real agent (the pinned versions) against its scripted "
    "model API, started as agentchat starts it (own home, no sandbox); cold start = spawn → "
    "first text of the first answer; RSS summed over the agent's process tree after that answer "
    "(shared pages counted per process).",
)


async def run_all(names: list[str]) -> Results:
    results = Results()
    with world() as w:
        service = w.make_service(COMPONENT, "service")
        await service.start()
        echo = await w.echo()
        ctx = Ctx(w, service, echo, results)
        try:
            for name in names:
                bench, budget = BENCHMARKS[name]
                started = time.monotonic()
                print(f"[bench] {name}…", file=sys.stderr, flush=True)
                try:
                    async with asyncio.timeout(budget):
                        await bench(ctx)
                except Exception as exc:
                    traceback.print_exc()
                    results.add(Row(name, "FAILED", f"{type(exc).__name__}: {exc}"[:200]))
                print(f"[bench] {name} took {time.monotonic() - started:.1f}s",
                      file=sys.stderr, flush=True)
        finally:
            await echo.close()
            await service.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    parser.add_argument("--no-readme", action="store_true", help="do not write README.md")
    parser.add_argument("--profile", metavar="FILE",
                        help="run under cProfile, write the stats to FILE (implies --no-readme)")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    if args.profile:
        profiler = cProfile.Profile(time.process_time)  # CPU, not time spent waiting
        results = profiler.runcall(asyncio.run, run_all(names))
        profiler.dump_stats(args.profile)
        args.no_readme = True
    else:
        results = asyncio.run(run_all(names))
    header = (f"{machine_line()} · run took {time.monotonic() - started:.0f} s. "
              "Times are medians (p50) unless marked; the baseline ran in the same run.")
    results.notes.extend(NOTES)
    table = render_table(results, header)
    print(table)
    if not args.no_readme and names == list(BENCHMARKS):
        write_block(REPO_ROOT / "README.md", table)
        print("\nREADME.md updated.", file=sys.stderr)


if __name__ == "__main__":
    main()
