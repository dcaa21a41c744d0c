"""A git worktree per agent, through a real Prosody, the real Claude CLI and real bubblewrap:
two agents edit the same file name on their own branches, ``diff`` shows each one's own change,
quit/kill remove a clean worktree and keep a dirty one, one-line ``new``, non-git refusal,
resume after a restart in the worktree.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support.chat_flows import (
    MANAGER,
    reply,
    start_creation,
    turn_ended,
    wait_prompt,
)
from tests.support.service_harness import running_service
from tests.support.uploads import download, oob_url
from tests.support.xmpp_client import ChatClient, ClientPool

pytestmark = [pytest.mark.usefixtures("component_free"), pytest.mark.timeout(240)]

CREATED_WT = re.compile(
    r"^Agent ([a-z]+-[a-z]+) created\. Chat at \1@agents\.example\.com\n"
    r"🌿 It works in a git worktree of its own: branch agentchat/\1 in (\S+)\. "
    r"Send it 'diff' to see its changes\.$")
GIT_ID = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *GIT_ID, *args], check=True,
                          capture_output=True, text=True).stdout


def git_repo(path: Path) -> Path:
    """The test's repository as a git repository with one commit."""
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "start")
    return path


def branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--format=%(refname:short)").split()


async def new_in_worktree(client: ChatClient, line: str) -> tuple[str, str, Path]:
    """``new <line>`` at the manager, answered with a worktree: (agent JID, name, worktree)."""
    client.send(MANAGER, f"new {line}")
    created = await client.expect(MANAGER, CREATED_WT)
    match = CREATED_WT.match(created["body"])
    assert match is not None
    return f"{match.group(1)}@agents.example.com", match.group(1), Path(match.group(2))


async def approve(client: ChatClient, agent: str, tool_line: str) -> None:
    await wait_prompt(client, agent, tool_line)
    client.send(agent, "yes")
    await client.expect_eventually(agent, "done: ")
    await turn_ended(client, agent)


def write(path: Path, content: str) -> sa.Reply:
    return sa.tool_use("Write", {"file_path": str(path), "content": content})


async def test_two_agents_edit_the_same_file_in_their_own_worktrees(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    repo = git_repo(tmp_path / "work" / "my-project")
    client = await connect_client(make_user())
    a, name_a, wt_a = await new_in_worktree(client, "2 wt say hello")
    await reply(client, a, "echo: say hello")
    b, name_b, wt_b = await new_in_worktree(client, "claude my-project wt say hello")
    await reply(client, b, "echo: say hello")
    home = service.config.home.resolve()
    for wt, name in ((wt_a, name_a), (wt_b, name_b)):
        assert wt == home / "worktrees" / name and not wt.is_relative_to(repo)
    assert api.requests[0] != api.requests[-1]
    assert f"Primary working directory: {wt_b}" in str(api.requests[-1])

    for agent, wt, text in ((a, wt_a, "from A\n"), (b, wt_b, "from B\n")):
        api.push(write(wt / "notes.txt", text))
        client.send(agent, "write the notes")
        await approve(client, agent, "🔧 Write notes.txt")
    assert (wt_a / "notes.txt").read_text() == "from A\n"
    assert (wt_b / "notes.txt").read_text() == "from B\n"
    assert not (repo / "notes.txt").exists()

    client.send(a, "diff")
    diff_a = (await client.expect(a, f"Branch agentchat/{name_a}, changes since "))["body"]
    assert "notes.txt | 1 +" in diff_a and "+from A" in diff_a and "from B" not in diff_a
    client.send(a, "diff patch")  # the same as a file, through the server's upload service
    await client.expect(a, re.compile(rf"^📎 {name_a}-\d{{8}}-\d{{6}}\.patch \(\d+ B\)$"))
    link = await client.next_message(a)
    url = oob_url(link)
    assert url is not None and url.endswith(".patch")
    patch = (await download(url)).decode()
    assert patch.startswith("diff --git a/notes.txt b/notes.txt") and "+from A" in patch
    assert "from B" not in patch

    # its sandbox: git may write its branch, not the repository's checkout or hooks
    escape = (f"touch {repo}/escaped.txt; touch {repo}/.git/hooks/post-checkout; "
              f"echo x >> {repo}/.git/config; echo tried")
    api.push(sa.tool_use("Bash", {"command": escape, "description": "Try"}))
    client.send(a, "try it")
    await approve(client, a, "🔧 Bash: touch")
    assert not (repo / "escaped.txt").exists()
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()
    assert "\nx\n" not in (repo / ".git" / "config").read_text()

    # B commits its change (git in its sandbox writes the repository's objects and its branch)
    api.push(sa.tool_use("Bash", {"command": f"git {' '.join(GIT_ID)} add notes.txt && "
                                             f"git {' '.join(GIT_ID)} commit -q -m notes",
                                  "description": "Commit"}))
    client.send(b, "commit it")
    await approve(client, b, "🔧 Bash: git")
    assert git(repo, "log", "-1", "--format=%s", f"agentchat/{name_b}").strip() == "notes"
    client.send(b, "diff")  # committed or not: what changed since it started
    diff_b = (await client.expect(b, f"Branch agentchat/{name_b}, changes since "))["body"]
    assert "+from B" in diff_b and "from A" not in diff_b

    client.send(a, "status")
    status = (await client.expect(a, f"{name_a}: "))["body"]
    assert f"Branch: agentchat/{name_a} (its own worktree)" in status
    statuses = [p["status"] for p in client.history
                if p.name == "presence" and str(p["from"].bare) == a]
    assert f"ready · my-project · agentchat/{name_a}" in statuses

    client.send(a, "quit")  # dirty: kept, and the owner is told where
    await client.expect(a, "👋 Shutting down")
    kept = (await client.expect(a, "🌿 Its worktree has uncommitted changes and is kept"))["body"]
    assert f"{wt_a} (branch agentchat/{name_a})" in kept
    assert (wt_a / "notes.txt").exists() and f"agentchat/{name_a}" in branches(repo)

    client.send(MANAGER, f"kill {name_b}")  # clean with a commit: removed, the branch kept
    await client.expect(MANAGER, f"Killed {name_b}.")
    await client.expect(b, f"🛑 {name_b} was killed")
    await client.expect(b, f"🌿 Its worktree was clean and is removed; branch agentchat/{name_b} "
                           "is kept with 1 commit(s) of its own.")
    assert not wt_b.exists() and f"agentchat/{name_b}" in branches(repo)
    assert str(wt_b) not in git(repo, "worktree", "list")
    assert git(repo, "status", "--porcelain") == ""  # the repository itself untouched


async def test_default_from_config_resume_in_the_worktree_and_clean_quit(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    env = {"WORK_WORKTREES": "true"}
    async with running_service(prosody, tmp_path, api, env):
        repo = git_repo(tmp_path / "work" / "my-project")
        user = make_user()
        client = await connect_client(user)
        await start_creation(client, "hello there")  # the step-by-step flow: repo [2], no word
        created = await client.expect(MANAGER, CREATED_WT)
        match = CREATED_WT.match(created["body"])
        assert match is not None
        agent, name, wt = f"{match.group(1)}@agents.example.com", match.group(1), Path(
            match.group(2))
        await reply(client, agent, "echo: hello there")

        # a plain directory: refused when asked for, and without a worktree by default
        client.send(MANAGER, "new another-repo wt do it")
        refused = await client.expect(MANAGER, "Could not create the agent: 'another-repo' is "
                                               "not a git repository")
        assert "Create the agent without 'wt'" in refused["body"]
        client.send(MANAGER, "new 1 hi")
        plain = (await client.expect(MANAGER, "Agent "))["body"]
        assert "🌿" not in plain
        other = plain.split("Chat at ")[1].strip()
        await reply(client, other, "echo: hi")
        client.send(other, "diff")
        await client.expect(other, "'another-repo' is not a git repository: there is no diff "
                                   "to show.")
        client.send(MANAGER, "new 2 nowt look")  # in the repository itself: its own git diff
        here = (await client.expect(MANAGER, "Agent "))["body"]
        assert "🌿" not in here
        mine = here.split("Chat at ")[1].strip()
        await reply(client, mine, "echo: look")
        (repo / "README.md").write_text("# my-project\nmore\n")
        client.send(mine, "diff")
        own = (await client.expect(mine, "my-project (its own checkout), changes against HEAD"))
        assert "README.md | 1 +" in own["body"] and "+more" in own["body"]
        (repo / "README.md").write_text("# my-project\n")
        client.send(MANAGER, "new")  # the flow offers the other choice
        await client.expect(MANAGER, "What type of agent?")
        client.send(MANAGER, "1")
        await client.expect(MANAGER, "add 'nowt' to work in the repository itself")
        client.send(MANAGER, "cancel")
        await client.expect(MANAGER, "Cancelled.")
        await client.disconnect()

    async with running_service(prosody, tmp_path, api, env):  # restarted: state from disk
        client = await connect_client(user)
        client.send(agent, "again")  # after the shutdown notices kept for us while offline
        await client.expect_eventually(agent, "echo: again")
        await turn_ended(client, agent)
        request = str(api.requests[-1])
        assert f"Primary working directory: {wt}" in request and "hello there" in request
        client.send(agent, "quit")
        await client.expect(agent, "👋 Shutting down")
        await client.expect(agent, f"🌿 Its worktree was clean and is removed, and so is branch "
                                   f"agentchat/{name}.")
        assert not wt.exists() and f"agentchat/{name}" not in branches(repo)
        assert git(repo, "worktree", "list").count("\n") == 1
