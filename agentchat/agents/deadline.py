"""A loop timer for a deadline that keeps moving later.

Why: the runtime moves its deadlines at every turn or event (the idle stop, the silence
warning, the busy presence). Moving one here only notes the new time: the one armed loop timer,
when it fires early, sleeps again for what is left, and ``stop`` only forgets the deadline (the
timer then fires to nothing). Making and cancelling loop timers at every event was a good part
of a quick turn's cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Deadline:
    """Calls ``fire`` once the loop time reaches the latest ``start(delay)`` plus its delay."""

    def __init__(self, fire: Callable[[], None]) -> None:
        self._fire = fire
        self._due: float | None = None  # loop time; None: nothing to fire
        self._handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        return self._due is not None

    def start(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._due = loop.time() + delay
        if self._handle is None:
            self._handle = loop.call_at(self._due, self._fired)

    def stop(self) -> None:
        self._due = None

    def _fired(self) -> None:
        self._handle = None
        if self._due is None:
            return
        loop = asyncio.get_running_loop()
        if self._due > loop.time():  # moved since the timer was armed
            self._handle = loop.call_at(self._due, self._fired)
            return
        self._due = None
        self._fire()
