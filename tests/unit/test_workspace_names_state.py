import json
import os
import random
from pathlib import Path

import pytest

from agentchat.agents.names import generate_name
from agentchat.state.model import AgentRecord, AgentStatus, RuleRecord, ServiceState
from agentchat.state.store import StateError, StateStore
from agentchat.workspace import WorkspaceError, list_repos, resolve_repo


def test_repos_sorted_without_hidden_or_escaping_links(tmp_path: Path) -> None:
    base = tmp_path / "work"
    base.mkdir()
    for name in ("zeta", "Alpha", ".hidden", "mid"):
        (base / name).mkdir()
    (base / "file.txt").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (base / "escape").symlink_to(outside)
    assert list_repos(base) == ["Alpha", "mid", "zeta"]


@pytest.mark.parametrize("name", ["..", ".", "../outside", "a/b", "", "escape", "missing"])
def test_resolve_repo_refuses_escapes(tmp_path: Path, name: str) -> None:
    base = tmp_path / "work"
    base.mkdir()
    (tmp_path / "outside").mkdir()
    (base / "escape").symlink_to(tmp_path / "outside")
    with pytest.raises(WorkspaceError):
        resolve_repo(base, name)


def test_resolve_repo_ok(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    assert resolve_repo(tmp_path, "proj") == (tmp_path / "proj").resolve()


def test_names_unique_and_shaped() -> None:
    rng = random.Random(1)
    taken: set[str] = set()
    for _ in range(2000):
        name = generate_name(taken, rng)
        assert name not in taken
        assert name.count("-") in (1, 2) and name == name.lower()
        taken.add(name)


def _record(name: str = "swift-fox") -> AgentRecord:
    return AgentRecord(name=name, owner="u@example.com", agent_type="claude-code", repo="r",
                       cwd="/w/r", task="t", session_id="s", created=1.0, last_active=2.0,
                       status=AgentStatus.IDLE, rules=[RuleRecord("Bash", "ls")])


def test_state_round_trip_and_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    assert store.load().state == ServiceState()
    store.save(ServiceState(agents=[_record("a-b")]))
    store.save(ServiceState(agents=[_record("a-b"), _record("c-d")]))
    assert [a.name for a in store.load().state.agents] == ["a-b", "c-d"]
    backup = json.loads((tmp_path / "state.json.bak").read_text())
    assert [a["name"] for a in backup["agents"]] == ["a-b"]
    assert os.stat(tmp_path / "state.json").st_mode & 0o777 == 0o600


def test_corrupt_state_recovers_from_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.save(ServiceState(agents=[_record("a-b")]))
    store.save(ServiceState(agents=[_record("a-b"), _record("c-d")]))
    (tmp_path / "state.json").write_text('{"version": 1, "agents": [')
    result = StateStore(tmp_path / "state.json").load()
    assert [a.name for a in result.state.agents] == ["a-b"]
    assert result.warnings and "recovered from state.json.bak" in result.warnings[0]
    assert "line 1" in result.warnings[0]


def test_corrupt_state_without_backup_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"version": 1, "agents": [{"name": 3}]}')
    with pytest.raises(StateError) as err:
        StateStore(tmp_path / "state.json").load()
    assert "state.json" in str(err.value) and "no backup" in str(err.value)


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"version": 99, "agents": []}')
    with pytest.raises(StateError, match="schema version 99"):
        StateStore(tmp_path / "state.json").load()


def test_a_corrupt_primary_never_becomes_the_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.save(ServiceState(agents=[_record("a-b")]))
    store.save(ServiceState(agents=[_record("c-d")]))
    (tmp_path / "state.json").write_text("garbage")
    StateStore(tmp_path / "state.json").save(ServiceState(agents=[_record("x-y")]))
    backup = json.loads((tmp_path / "state.json.bak").read_text())
    assert [a["name"] for a in backup["agents"]] == ["a-b"]


def test_a_primary_corrupted_behind_the_running_store_never_becomes_the_backup(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "state.json")
    store.save(ServiceState(agents=[_record("a-b")]))
    store.save(ServiceState(agents=[_record("c-d")]))
    (tmp_path / "state.json").write_text('{"version": 1, "agents": [')  # e.g. a bad edit
    store.save(ServiceState(agents=[_record("x-y")]))
    backup = json.loads((tmp_path / "state.json.bak").read_text())
    assert [a["name"] for a in backup["agents"]] == ["a-b"]
    store.save(ServiceState(agents=[_record("z-z")]))  # our own good file rotates again
    backup = json.loads((tmp_path / "state.json.bak").read_text())
    assert [a["name"] for a in backup["agents"]] == ["x-y"]
