"""Write-behind state saving: coalesced, newest state wins, synchronous when it must be."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agentchat.state.model import AgentRecord, ServiceState
from agentchat.state.saver import StateSaver
from agentchat.state.store import StateStore, encode


def record(name: str) -> AgentRecord:
    return AgentRecord(name=name, owner="u@example.com", agent_type="claude-code", repo="r",
                       cwd="/w/r", task="t", session_id="s", created=0.0, last_active=0.0)


def names_on_disk(path: Path) -> list[str]:
    return [a["name"] for a in json.loads(path.read_text())["agents"]]


async def test_requests_in_a_burst_are_one_write_of_the_newest_state(tmp_path: Path) -> None:
    state = ServiceState()
    saver = StateSaver(StateStore(tmp_path / "state.json"), lambda: state)
    for i in range(50):
        state.agents.append(record(f"a-{i}"))
        saver.request()
    await saver.flush()
    assert saver.writes == 1
    assert names_on_disk(tmp_path / "state.json") == [f"a-{i}" for i in range(50)]


async def test_changes_during_a_write_are_saved_after_it(tmp_path: Path) -> None:
    state = ServiceState(agents=[record("first")])
    saver = StateSaver(StateStore(tmp_path / "state.json"), lambda: state, min_gap=0.01)
    saver.request()
    await asyncio.sleep(0)  # the saver has taken its snapshot and is writing
    state.agents.append(record("second"))
    saver.request()
    await saver.flush()
    assert saver.writes == 2
    assert names_on_disk(tmp_path / "state.json") == ["first", "second"]


async def test_save_now_makes_a_pending_request_unnecessary(tmp_path: Path) -> None:
    state = ServiceState(agents=[record("a-b")])
    saver = StateSaver(StateStore(tmp_path / "state.json"), lambda: state)
    saver.request()
    saver.save_now()
    await saver.flush()
    assert saver.writes == 1 and names_on_disk(tmp_path / "state.json") == ["a-b"]


def test_an_older_snapshot_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    saver = StateSaver(StateStore(tmp_path / "state.json"), ServiceState)
    saver._write(2, encode(ServiceState(agents=[record("new")])))
    saver._write(1, encode(ServiceState(agents=[record("old")])))  # a late thread write
    assert names_on_disk(tmp_path / "state.json") == ["new"] and saver.writes == 1


def test_without_an_event_loop_a_request_saves_at_once(tmp_path: Path) -> None:
    state = ServiceState(agents=[record("x-y")])
    saver = StateSaver(StateStore(tmp_path / "state.json"), lambda: state)
    saver.request()
    assert names_on_disk(tmp_path / "state.json") == ["x-y"]


async def test_save_now_can_leave_the_flush_to_the_device_to_a_thread(tmp_path: Path) -> None:
    """Creation answers once the file is in place; the fsync follows, and flush() awaits it."""
    store = StateStore(tmp_path / "state.json")
    synced: list[list[str]] = []
    flushing = asyncio.Event()

    def sync() -> None:
        synced.append(names_on_disk(tmp_path / "state.json"))
        flushing.set()

    store.sync = sync  # type: ignore[method-assign]
    state = ServiceState(agents=[record("new")])
    saver = StateSaver(store, lambda: state)
    saver.save_now(flush_later=True)
    assert names_on_disk(tmp_path / "state.json") == ["new"] and synced == []
    await saver.flush()
    assert flushing.is_set() and synced == [["new"]]


def test_sync_flushes_the_file_and_its_directory(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.write(encode(ServiceState(agents=[record("a")])), fsync=False)
    store.sync()  # no error: both can be opened and flushed
    assert names_on_disk(tmp_path / "state.json") == ["a"]


async def test_durable_returns_once_the_changes_before_it_are_on_disk(tmp_path: Path) -> None:
    state = ServiceState(agents=[record("first")])
    saver = StateSaver(StateStore(tmp_path / "state.json"), lambda: state, min_gap=0.05)
    saver.request()
    await saver.durable()
    assert names_on_disk(tmp_path / "state.json") == ["first"]
    state.agents.append(record("second"))
    saver.request()  # paced: written min_gap after the first write started
    waiting = asyncio.ensure_future(saver.durable())
    await asyncio.sleep(0)
    assert not waiting.done()
    await waiting
    assert names_on_disk(tmp_path / "state.json") == ["first", "second"]
    await saver.durable()  # nothing new: at once
