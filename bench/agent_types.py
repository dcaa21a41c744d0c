"""7. Agent types: for every installed type of the registry, the cold start of its real agent
process to its first answer, and the memory of the live process (RSS summed over its process
tree): the figure that decides how many agents fit on one machine.

Each type runs offline against its scripted model API (``tests.support.agent_envs.OFFLINE``),
through the adapter its backend builds, with its own home and config dirs as agentchat gives
them (without the sandbox: bwrap adds a few ms and no memory). Cold start = ``start()``
(spawn, and for ACP ``initialize`` + ``session/new``) + the first prompt until its first text.
RSS is read from /proc after that answer, while the process idles between turns.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import attrs

from agentchat.agents import cli_home
from agentchat.agents.adapter import AgentAdapter, LaunchSpec
from agentchat.agents.backends import Wiring, backend_of
from agentchat.agents.environment import agent_environment
from agentchat.agents.events import AssistantText, PartialText, ProcessExited, TurnFinished
from agentchat.agents.types import AgentType, builtin_types
from agentchat.permissions.model import Decision
from bench.common import REPO_ROOT, Row, vmrss_kb
from bench.context import Ctx

RUNS = int(os.environ.get("BENCH_AGENT_RUNS", "2"))
ANSWER_TIMEOUT = 240.0


def tree_rss_kb(pid: int) -> tuple[int, int]:
    """(sum of VmRSS over ``pid`` and its descendants, number of processes). Shared pages
    are counted in every process that maps them: an upper bound."""
    from tests.support.containment import descendants

    total, count = 0, 0
    for current in descendants(pid):
        try:
            found = vmrss_kb(Path(f"/proc/{current}/status"))
        except OSError:
            continue
        if found is not None:
            total += found
            count += 1
    return total, count


async def _deny(_tool: str, _input: dict[str, Any], _id: str | None) -> Decision:
    return Decision("deny", message="the benchmark asks for text only", answered_by="rule")


def _adapter(kind: AgentType, root: Path, given: dict[str, str]) -> AgentAdapter:
    """The adapter agentchat would build, with the agent's own home (agents/cli_home.py)."""
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    if kind.backend == "claude":
        config_dir = cli_home.prepare(home, "", resume=False, env=given)
        env = {**agent_environment(given), "HOME": str(home),
               "CLAUDE_CONFIG_DIR": str(config_dir)}
    else:
        own = cli_home.prepare_dirs(home, kind.config_dirs, {**os.environ, **given, **kind.env})
        env = {**agent_environment(given, declared=kind.declared), **kind.env,
               "HOME": str(home), **own}
    spec = LaunchSpec(cwd=work, session_id=str(uuid.uuid4()), env=env, agent="bench",
                      agent_type=kind.name, partial_messages=True)
    return backend_of(kind).adapter(kind, spec, Wiring(ask=lambda _name: _deny))


async def cold_start(kind: AgentType, root: Path) -> tuple[float, int, int]:
    """(seconds from start to the first answer's text, tree RSS in KB, processes)."""
    from tests.support.agent_envs import OFFLINE

    offline = OFFLINE[kind.name]
    async with offline.api() as api:
        adapter = _adapter(kind, root, offline.env(root, api))
        started = time.monotonic()
        await adapter.start()
        events = adapter.events()
        try:
            await adapter.send("say hello")
            async with asyncio.timeout(ANSWER_TIMEOUT):
                async for event in events:
                    if isinstance(event, AssistantText | PartialText):
                        break
                    if isinstance(event, TurnFinished | ProcessExited):
                        raise RuntimeError(f"{kind.label}: no answer ({event})")
            first = time.monotonic() - started
            async for event in events:  # the turn's end: the process is idle
                if isinstance(event, TurnFinished | ProcessExited):
                    break
            assert adapter.pid is not None
            rss, count = tree_rss_kb(adapter.pid)
        finally:
            await adapter.stop()
            async for _event in events:
                pass
    return first, rss, count


async def run(ctx: Ctx) -> None:
    # the versions scripts/bootstrap pinned in tools/ first
    os.environ["PATH"] = f"{REPO_ROOT / 'tools' / 'node_modules' / '.bin'}:{os.environ['PATH']}"
    for kind in builtin_types():
        found = kind.resolve()
        if found is None:
            ctx.results.add(Row("Agent types", f"{kind.label}: not installed", "n/a", "",
                                kind.install))
            continue
        kind = attrs.evolve(kind, command=found) if kind.backend == "claude" else kind
        starts, rss, count = [], [], 0
        for i in range(RUNS):
            first, kb, count = await cold_start(kind, ctx.world.root / f"type-{kind.name}-{i}")
            starts.append(first)
            rss.append(kb)
        ctx.results.add(
            Row("Agent types", f"{kind.label}: cold start → first answer (p50 of {RUNS})",
                f"{statistics.median(starts) * 1000:,.0f} ms", "",
                f"range {min(starts) * 1000:,.0f}–{max(starts) * 1000:,.0f} ms"),
            Row("Agent types", f"{kind.label}: RSS of one live agent (process tree)",
                f"{statistics.median(rss) / 1024:,.0f} MB", "", f"{count} process(es)"),
        )

