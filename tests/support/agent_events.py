"""Reading an adapter's event stream in tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

from agentchat.agents.events import AgentEvent

T = TypeVar("T")


async def next_of(
    it: AsyncIterator[AgentEvent], kind: type[T], timeout: float = 60
) -> tuple[T, list[AgentEvent]]:
    """Read events until one of ``kind``; return it and everything read before it."""
    seen: list[AgentEvent] = []
    async with asyncio.timeout(timeout):
        async for event in it:
            if isinstance(event, kind):
                return event, seen
            seen.append(event)
    raise AssertionError(f"no {kind.__name__} before the end; saw {seen}")
