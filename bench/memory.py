"""4. Memory: the service's RSS with 0, 100 and 1,000 stored (stopped) agents and with 50 live
fake agents, each measured in a fresh process (``python -m bench.memory`` is the probe).

The probe writes the state file, builds the Service, loads the state, serves MCP, connects the
component (which announces every agent to its owner), starts the live agents, collects garbage
and reads VmRSS from /proc/self/status.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import MEMORY, REPO, REPO_ROOT, Row, vmrss_kb
from bench.context import Ctx

CASES = ((0, 0), (100, 0), (1000, 0), (0, 50))  # (stored, live)
OWNERS = 10
TARGET_KB = 100.0


def rss_kb() -> int:
    found = vmrss_kb(Path("/proc/self/status"))
    if found is None:
        raise RuntimeError("no VmRSS in /proc/self/status")
    return found


async def run(ctx: Ctx) -> None:
    from tests.support.xmpp_client import wait_component_free

    prosody = ctx.world.prosody
    s = prosody.settings
    rss: dict[tuple[int, int], int] = {}
    for stored, live in CASES:
        await wait_component_free(prosody.component_host, s.component_port, MEMORY,
                                  ctx.world.secrets[MEMORY])
        home = ctx.world.root / f"mem-{stored}-{live}"
        spec = {"env": ctx.world.service_env(MEMORY, home), "stored": stored, "live": live,
                "owners": [f"owner{i}@{ctx.world.prosody.settings.domain}"
                           for i in range(OWNERS)],
                "cwd": str(ctx.world.work / REPO)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.memory", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(REPO_ROOT))
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(spec).encode()), 120)
        if proc.returncode != 0:
            raise RuntimeError(f"memory probe failed:\n{err.decode(errors='replace')[-3000:]}")
        rss[(stored, live)] = json.loads(out)["rss_kb"]
    base = rss[(0, 0)]
    per_1000 = (rss[(1000, 0)] - base) / 1000
    per_100 = (rss[(100, 0)] - base) / 100
    per_live = (rss[(0, 50)] - base) / 50
    ctx.results.add(
        Row("Memory", "service RSS with 0 / 100 / 1,000 stored agents",
            " / ".join(f"{rss[(n, 0)] / 1024:.1f} MB" for n in (0, 100, 1000))),
        Row("Memory", "per stored (idle) agent, from 0 → 1,000 stored", f"{per_1000:.1f} KB",
            "", f"100 stored: {per_100:.1f} KB each (within allocator noise)",
            f"≤ {TARGET_KB:.0f} KB", per_1000 <= TARGET_KB),
        Row("Memory", "per live fake agent, 50 live", f"{per_live:.1f} KB", "",
            f"RSS {rss[(0, 50)] / 1024:.1f} MB"),
    )

async def probe(spec: dict[str, Any]) -> dict[str, Any]:
    from agentchat.config.load import load_config
    from agentchat.manager.flow import CreateRequest
    from agentchat.service import Service
    from agentchat.state.model import AgentRecord, AgentStatus, ServiceState
    from agentchat.state.store import StateStore
    from bench.common import InstantAdapter

    config = load_config(None, spec["env"]).config
    now = time.time()
    owners = spec["owners"]
    records = [
        AgentRecord(name=f"agent-{i}", owner=owners[i % len(owners)], agent_type="claude-code",
                    repo=REPO, cwd=spec["cwd"], task=f"stored task number {i}: fix the tests",
                    session_id=str(uuid.uuid4()), created=now, last_active=now,
                    status=AgentStatus.STOPPED, turns=3, started_once=True)
        for i in range(spec["stored"])
    ]
    StateStore(config.state_path).save(ServiceState(agents=records))
    service = Service(config, adapter_factory=InstantAdapter)
    service.load_state()
    await service.start()
    for _ in range(1000):  # until on_connected has announced everything (bounded)
        if service.inbound.announced_restart:
            break
        await asyncio.sleep(0.01)
    for i in range(spec["live"]):
        await service.create_agent(owners[i % len(owners)], CreateRequest("claude-code", REPO,
                                                                          f"live task {i}"))
    for _ in range(20):  # let the queued stanzas go out
        await asyncio.sleep(0.01)
    gc.collect()
    result = {"rss_kb": rss_kb(), "agents": len(service.agents), "live": service.pool.live}
    await service.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(json.loads(sys.stdin.read())))))
