"""agentchat/worktrees/git.py against real git repositories in a temporary directory (no
sandbox: what git itself does, and what it must never run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentchat.agents.adapter import LaunchSpec
from agentchat.agents.pool import ProcessPool
from agentchat.agents.runtime import Agent
from agentchat.chat.format import MAX_CHUNK
from agentchat.state.model import AgentRecord
from agentchat.worktrees.chat import GitChat
from agentchat.worktrees.git import (
    GitError,
    add_worktree,
    diff,
    remove_worktree,
    repo_info,
    tree_state,
    worktree_env,
)
from tests.support.fakes import FakeAdapter, FakePort

ID = ["-c", "user.name=T", "-c", "user.email=t@example.com"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *ID, *args], check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "proj"
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "a.txt").write_text("a\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "start")
    return path


def objects(repo: Path) -> set[str]:
    return {str(p) for p in (repo / ".git" / "objects").rglob("*") if p.is_file()}


async def test_plain_directories_and_directories_inside_a_repository_are_not_repos(
    repo: Path, tmp_path: Path,
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert await repo_info(plain) is None
    (repo / "sub").mkdir()
    assert await repo_info(repo / "sub") is None  # inside one, but not its top level
    info = await repo_info(repo)
    assert info is not None and info.top == repo and info.common_dir == repo / ".git"
    assert info.head == git(repo, "rev-parse", "HEAD").strip()
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    no_commit = await repo_info(empty)
    assert no_commit is not None and no_commit.head is None
    with pytest.raises(GitError, match="no commit yet"):
        await add_worktree(no_commit, tmp_path / "wt" / "x", "agentchat/x", None)


async def test_worktree_lifecycle_with_hooks_and_fsmonitor_never_run(
    repo: Path, tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git(repo, "config", "core.fsmonitor", f"touch {marker}-fsmonitor; false")
    info = await repo_info(repo)
    assert info is not None
    wt = await add_worktree(info, tmp_path / "home" / "worktrees" / "fox", "agentchat/fox", None)
    assert (wt.path, wt.branch, wt.base) == (str(tmp_path / "home" / "worktrees" / "fox"),
                                            "agentchat/fox", info.head)
    assert Path(wt.git_dir).parent == repo / ".git" / "worktrees"
    assert (Path(wt.path) / "a.txt").read_text() == "a\n"
    assert (await tree_state(wt, None)).dirty is False

    before = objects(repo)
    (Path(wt.path) / "a.txt").write_text("changed\n")
    (Path(wt.path) / "new.txt").write_text("new\n")
    changes = await diff(Path(wt.path), wt.base, sandbox=None, env=worktree_env(wt))
    assert "a.txt   | 2 +-" in changes.stat and "new.txt | 1 +" in changes.stat
    assert "+changed" in changes.patch and "+new" in changes.patch
    assert objects(repo) == before  # the diff wrote nothing into the repository
    state = await tree_state(wt, None)
    assert state.dirty and state.new_commits == 0
    assert not marker.exists() and not Path(f"{marker}-fsmonitor").exists()
    git(repo, "config", "--unset", "core.fsmonitor")  # the test's own git below is not hardened
    assert git(repo, "status", "--porcelain") == ""

    git(Path(wt.path), "add", "-A")
    git(Path(wt.path), "commit", "-q", "-m", "work")
    state = await tree_state(wt, None)
    assert not state.dirty and state.new_commits == 1
    await remove_worktree(wt, delete_branch=False)
    assert not Path(wt.path).exists() and "agentchat/fox" in git(repo, "branch")
    assert wt.path not in git(repo, "worktree", "list")


async def test_a_clean_worktree_without_commits_goes_with_its_branch(
    repo: Path, tmp_path: Path,
) -> None:
    info = await repo_info(repo)
    assert info is not None
    wt = await add_worktree(info, tmp_path / "w" / "owl", "agentchat/owl", None)
    with pytest.raises(GitError):  # the branch exists: a second one is refused, nothing left
        await add_worktree(info, tmp_path / "w" / "owl2", "agentchat/owl", None)
    assert not (tmp_path / "w" / "owl2").exists()
    await remove_worktree(wt, delete_branch=True)
    assert "agentchat/owl" not in git(repo, "branch")
    unchanged = await diff(repo, "HEAD", sandbox=None)
    assert unchanged.stat == "" and unchanged.patch == ""


# ------------------------------------------------------------------ diff in the chat

def chat_agent(port: FakePort, repo: Path, name: str = "swift-fox") -> Agent:
    record = AgentRecord(name=name, owner="u@example.com", agent_type="claude-code",
                         repo=repo.name, cwd=str(repo), task="t", session_id="sid",
                         created=0.0, last_active=0.0)
    return Agent(record, port=port, pool=ProcessPool(5), adapter_factory=FakeAdapter,
                 spec_factory=lambda rec, resume: LaunchSpec(cwd=Path(rec.cwd),
                                                             session_id="sid", resume=resume),
                 persist=lambda: None, idle_timeout=60, git=None)


async def test_a_long_diff_is_split_into_chat_sized_parts_then_cut(
    repo: Path, tmp_path: Path,
) -> None:
    sent: list[tuple[Path, str]] = []

    async def send_file(agent: Agent, folder: Path, name: str) -> None:
        sent.append((folder, name))

    chat = GitChat(tmp_path / "patches", lambda record: None, send_file)
    port = FakePort()
    agent = chat_agent(port, repo)
    await chat.diff(agent, False)
    assert port.bodies() == ["proj (its own checkout): no changes against HEAD."]
    (repo / "big.txt").write_text("".join(f"line {i} of a long file\n" for i in range(3000)))
    await chat.diff(agent, False)
    parts = port.bodies()[1:]
    assert parts[0].startswith("proj (its own checkout), changes against HEAD:\n```\n big.txt")
    assert len(parts) > 5 and all(len(p) <= MAX_CHUNK for p in parts)
    assert all(p.startswith("```") for p in parts[1:-1])  # each piece of the diff stays code
    assert parts[-1].endswith("✂️ The diff is cut here. Send 'diff patch' for the whole diff "
                              "as a file (swift-fox.patch).")
    await chat.diff(agent, True)
    folder, name = sent[0]
    assert folder == tmp_path / "patches" / "swift-fox" and name.endswith(".patch")
    patch = (folder / name).read_text()
    assert patch.count("\n+line ") == 3000  # the file has it all
    plain = tmp_path / "plain"
    plain.mkdir()
    agent.record.cwd = str(plain)
    await chat.diff(agent, False)
    assert port.bodies()[-1] == "'proj' is not a git repository: there is no diff to show."


async def test_what_the_repository_makes_git_run_never_gets_agentchats_environment(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XMPP_COMPONENT_SECRET", "s3cret-value")
    leak = tmp_path / "env-seen"
    git(repo, "config", "filter.leak.clean", f"env > {leak}; cat")
    (repo / ".gitattributes").write_text("*.txt filter=leak\n")
    (repo / "b.txt").write_text("b\n")
    changes = await diff(repo, "HEAD", sandbox=None)
    assert "+b" in changes.patch
    seen = leak.read_text()  # the filter did run: a sandbox is what contains it
    assert "PATH=" in seen and "s3cret-value" not in seen
