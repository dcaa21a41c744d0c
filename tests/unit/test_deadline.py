"""The moving deadline behind the runtime's idle, silence and busy timers."""

from __future__ import annotations

import asyncio

from agentchat.agents.deadline import Deadline


async def test_it_fires_once_at_the_latest_start_and_not_after_a_stop() -> None:
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    done = asyncio.Event()

    def fire() -> None:
        fired.append(loop.time())
        done.set()

    deadline = Deadline(fire)
    started = loop.time()
    deadline.start(0.05)
    await asyncio.sleep(0.03)
    deadline.start(0.05)  # moved: the armed timer fires early and sleeps again
    moved = loop.time()
    await asyncio.wait_for(done.wait(), 2)
    assert len(fired) == 1 and fired[0] >= moved + 0.049 and not deadline.pending
    deadline.start(0.02)
    deadline.stop()
    await asyncio.sleep(0.06)  # past the deadline that was stopped
    assert len(fired) == 1 and fired[0] - started >= 0.079
