"""The cap on live CLI processes (``agents.maxConcurrent``)."""

from __future__ import annotations


class PoolFull(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit

    def __str__(self) -> str:
        return (
            f"{self.limit} agents are already running (agents.maxConcurrent = {self.limit}). "
            "Quit or kill one first ('list' shows them)."
        )


class ProcessPool:
    """Slots for live processes; an agent holds one from start until its process is gone."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._holders: set[str] = set()

    def acquire(self, name: str) -> None:
        if name in self._holders:
            return
        refusal = self.full()
        if refusal is not None:
            raise refusal
        self._holders.add(name)

    def release(self, name: str) -> None:
        self._holders.discard(name)

    def full(self) -> PoolFull | None:
        """The refusal a new process would get now, or None while there is room."""
        return PoolFull(self.limit) if len(self._holders) >= self.limit else None

    def holds(self, name: str) -> bool:
        return name in self._holders

    @property
    def live(self) -> int:
        return len(self._holders)
