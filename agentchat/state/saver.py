"""Write-behind saving of the state for the frequent, per-turn changes.

Why: a save is a full encode plus two fsyncs and two renames (1-2 ms at 100 agents, more on a
slow disk). Done inline twice per turn it sat between an agent's reply and its sending and capped
the whole service at a few hundred turns per second. Here a request only marks the state dirty;
one background task encodes it on the loop (a consistent snapshot) and writes it in a thread, at
most once per ``min_gap`` seconds while requests keep coming. An idle service is saved within
one write of the change; under load at most ``min_gap`` plus one write is at risk in a crash.
Changes that must be on disk before we answer (creation, shutdown) use ``save_now``; what
must be on disk before we confirm something (an owner's message, XEP-0184) awaits ``durable``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from agentchat.oserrors import describe
from agentchat.state.model import ServiceState
from agentchat.state.store import StateStore, encode

log = logging.getLogger(__name__)

MIN_GAP_S = 0.05


class StateSaver:
    def __init__(
        self,
        store: StateStore,
        snapshot: Callable[[], ServiceState],
        *,
        min_gap: float = MIN_GAP_S,
    ) -> None:
        self._store = store
        self._snapshot = snapshot
        self._min_gap = min_gap
        self._lock = threading.Lock()  # one writer at a time: the temp file name is fixed
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._last_start = float("-inf")
        self._encoded = 0  # snapshots taken, in order
        self._written = 0  # the newest snapshot on disk: an older one must never overwrite it
        self.writes = 0  # saves that reached the disk (for tests and benchmarks)
        self._syncs: set[asyncio.Task[None]] = set()  # flushes of save_now(flush_later=True)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # see durable()

    def request(self) -> None:
        """The state changed: save it soon. Without a running loop, save at once."""
        self._dirty = True
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save_now()
            return
        self._task = loop.create_task(self._run(), name="state-saver")

    def save_now(self, *, flush_later: bool = False) -> None:
        """Save synchronously (waits for a write in progress); errors reach the caller.

        ``flush_later``: the file is written and renamed into place now, so from here on it
        survives agentchat being killed, and a thread flushes it to the device right after
        (against a crash of the machine), off the caller's path: a creation answers without
        waiting for the disk (an fsync took 3-20 ms on the benchmark machine).
        """
        self._dirty = False
        seq, text = self._encode()
        try:
            self._write(seq, text, fsync=not flush_later)
        finally:
            self._release(seq)
        if not flush_later:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._store.sync()
            return
        task = loop.create_task(self._flush_to_device(), name="state-fsync")
        self._syncs.add(task)
        task.add_done_callback(self._syncs.discard)

    async def _flush_to_device(self) -> None:
        try:
            await asyncio.to_thread(self._store.sync)
        except OSError as exc:
            log.error("could not flush the state file %s: %s", self._store.path, describe(exc))

    async def durable(self) -> None:
        """Until every change requested before this call has been written (or a write of it
        failed, which is logged): a receipt for an owner's message waits for this, so a crash
        after the receipt cannot lose the message. Does not hold up other saves or callers."""
        target = self._encoded + 1 if self._dirty else self._encoded
        if self._written >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future

    def _release(self, seq: int) -> None:
        """Snapshot ``seq`` was written (or failed): wake the ``durable`` callers it covers."""
        waiting = []
        for target, future in self._waiters:
            if target <= seq:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((target, future))
        self._waiters = waiting

    async def flush(self) -> None:
        """Wait until nothing requested is left unsaved (and flushed to the device)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        if self._syncs:
            await asyncio.gather(*self._syncs)

    async def _run(self) -> None:
        while self._dirty:
            wait = self._last_start + self._min_gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # pacing under load, not waiting for an event
                if not self._dirty:  # save_now got there first
                    return
            self._dirty = False
            self._last_start = time.monotonic()
            seq, text = self._encode()
            try:
                await asyncio.to_thread(self._write, seq, text)
            except OSError as exc:  # full or read-only disk: say so, keep serving
                log.error("could not save the state to %s: %s", self._store.path, describe(exc))
            except Exception:
                log.exception("could not save the state to %s", self._store.path)
            finally:
                self._release(seq)

    def _encode(self) -> tuple[int, str]:
        """A snapshot, taken on the loop so it is consistent."""
        self._encoded += 1
        return self._encoded, encode(self._snapshot())

    def _write(self, seq: int, text: str, *, fsync: bool = True) -> None:
        with self._lock:
            if seq < self._written:
                return  # save_now already wrote a newer snapshot
            self._store.write(text, fsync=fsync)
            self._written = seq
            self.writes += 1
