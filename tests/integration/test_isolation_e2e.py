"""Agents are contained: no secret in their environment, no reach into other agents or into
agentchat's state, no working directory outside work.basePath, no leak when the disk fails.

Real Prosody, real Claude CLI (approved Bash commands really run), real bubblewrap.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from tests.support import scripted_api as sa
from tests.support.chat_flows import (
    MANAGER,
    create_agent,
    reply,
    start_creation,
    turn_ended,
    wait_prompt,
)
from tests.support.claude_env import claude_env
from tests.support.containment import cli_pid, descendants, environ_of, read_only
from tests.support.service_harness import (
    ServiceProcess,
    make_workspace,
    running_service,
    service_env,
)
from tests.support.xmpp_client import ChatClient, ClientPool

pytestmark = [pytest.mark.usefixtures("component_free"), pytest.mark.timeout(180)]


def bash(command: str) -> sa.Reply:
    return sa.tool_use("Bash", {"command": command, "description": "Run a command"})


async def say_yes(client: ChatClient, agent: str) -> str:
    """Allow the pending prompt; returns the agent's 'done: …' answer at the end of its turn."""
    client.send(agent, "yes")
    received = await client.expect_eventually(agent, "done: ")  # after ✅ and the correction
    await turn_ended(client, agent)
    return str(received[-1]["body"])


async def approved_bash(client: ChatClient, agent: str) -> str:
    await wait_prompt(client, agent, "🔧 Bash")
    return await say_yes(client, agent)


def tool_output(api: sa.ScriptedAnthropic) -> str:
    results = api.last_tool_results()
    assert results, "the last request carries no tool result"
    return json.dumps(results[0]["content"])


@pytest.mark.parametrize("sandbox", ["auto", "off"])
async def test_env_shows_no_agentchat_secret_with_or_without_sandbox(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, monkeypatch: pytest.MonkeyPatch, sandbox: str,
) -> None:
    secret = prosody.settings.component_secret
    monkeypatch.setenv("XMPP_COMPONENT_SECRET", secret)  # as a real deployment has it
    monkeypatch.setenv("AGENT_CHAT_HOME", str(tmp_path / "home"))
    async with running_service(prosody, tmp_path, api, {"AGENTS_SANDBOX": sandbox}) as svc:
        client = await connect_client(make_user())
        api.push(bash("env"))
        agent = await create_agent(client, "show me the environment")
        await wait_prompt(client, agent, "🔧 Bash: env")
        runtime = svc.agents[agent.split("@")[0]]
        assert runtime.adapter is not None and runtime.adapter.pid is not None
        pids = descendants(runtime.adapter.pid)
        cli = cli_pid(runtime.adapter.pid, runtime.record.session_id)
        assert environ_of(cli)["ANTHROPIC_BASE_URL"] == api.base_url
        for pid in pids:  # bwrap, its init and the CLI alike
            env = environ_of(pid)
            assert secret not in "".join(env.values()), f"pid {pid} has the secret"
            assert "XMPP_COMPONENT_SECRET" not in env and "AGENT_CHAT_HOME" not in env
        assert environ_of(cli)["HOME"] == str(svc.agent_home(runtime.name))

        answer = await say_yes(client, agent)
        output = tool_output(api)
        assert "ANTHROPIC_BASE_URL=" in output  # env really ran
        assert secret not in output and "XMPP_COMPONENT_SECRET" not in output
        assert secret not in answer
        chat = " ".join(str(m["body"]) for m in client.history if getattr(m, "name", "") ==
                        "message" and m["body"])
        assert secret not in chat


async def test_agent_b_cannot_reach_agent_a_nor_agentchat_state(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    async with running_service(prosody, tmp_path, api) as svc:
        client = await connect_client(make_user())
        first = await create_agent(client, "hello", repo_choice="1")  # another-repo
        await reply(client, first, "echo: hello")
        a = svc.agents[first.split("@")[0]]
        home = svc.config.home
        a_mcp = home / "mcp" / f"{a.name}.json"  # written 0600 by agentchat
        a_secret = json.loads(a_mcp.read_text())["mcpServers"]["agentchat"]["headers"]
        a_tree = Path(a.record.cwd)
        a_home = home / "agents" / a.name
        probe = "; ".join([
            f"cat {a_mcp}; echo rc_mcp=$?",
            "echo procs: $(cat /proc/[0-9]*/cmdline | tr '\\0' ' ')",
            f"touch {a_tree}/from-b; echo rc_tree=$?",
            f"ls {a_tree}; echo rc_ls=$?",
            f"touch {home}/from-b; echo rc_home=$?",
            f"cat {home}/state.json; echo rc_state=$?",
            f"touch {a_home}/from-b; echo rc_a_home=$?",
            "touch ~/mine && echo rc_own_home=$?",
            "touch ./mine && echo rc_own_tree=$?",
        ])
        api.push(bash(probe))
        second = await create_agent(client, "probe", repo_choice="2")  # my-project
        await approved_bash(client, second)
        output = tool_output(api)

        for value in a_secret.values():
            assert value not in output  # A's MCP secret stayed with A
        assert "rc_mcp=1" in output
        assert a.record.session_id not in output  # A's CLI is not among B's processes
        assert "procs:" in output and "rc_tree=1" in output and "rc_ls=2" in output
        assert "rc_home=1" in output and "rc_state=1" in output and "rc_a_home=1" in output
        assert "rc_own_home=0" in output and "rc_own_tree=0" in output
        assert not (a_tree / "from-b").exists() and not (home / "from-b").exists()
        assert not (a_home / "from-b").exists()
        b = svc.agents[second.split("@")[0]]
        assert (Path(b.record.cwd) / "mine").exists()  # B's own tree is writable
        # and A is untouched: it still answers
        client.send(first, "still there?")
        await reply(client, first, "echo: still there?")


async def test_repository_swapped_for_a_symlink_is_refused_at_resume(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    async with running_service(prosody, tmp_path, api, {"AGENTS_IDLE_TIMEOUT": "1500"}) as svc:
        client = await connect_client(make_user())
        agent = await create_agent(client, "remember the word banana")
        await reply(client, agent, "echo: remember the word banana")
        await client.next_presence(agent, "xa")  # idle: the process is gone
        runtime = svc.agents[agent.split("@")[0]]
        assert not runtime.live
        repo = tmp_path / "work" / "my-project"
        repo.rename(repo.with_name("my-project.moved"))
        repo.symlink_to("/")
        requests = len(api.requests)

        client.send(agent, "what was the word?")
        refused = await client.expect(agent, "⚠️ Not delivered: the agent could not be started: "
                                             "the repository is not usable any more: "
                                             "'my-project' leads outside ")
        assert "(to /)" in refused["body"] and "\n" not in refused["body"]
        assert not runtime.live and svc.pool.live == 0 and len(api.requests) == requests
        client.send(agent, "status")
        status = await client.expect(agent, "Repository: my-project (⚠️ the repository is not "
                                            "usable any more")
        assert f"({repo})" not in status["body"]
        client.send(agent, "get etc/hostname")  # agentchat itself reads no file through it
        await client.expect(agent, "⚠️ the repository is not usable any more: 'my-project' "
                                   "leads outside ")

        repo.unlink()  # put it back: the agent resumes where it was
        repo.with_name("my-project.moved").rename(repo)
        client.send(agent, "what was the word?")
        await reply(client, agent, "echo: what was the word?")
        assert "remember the word banana" in api.all_user_texts()


async def test_unwritable_state_at_new_gives_one_line_and_releases_the_slot(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    async with running_service(prosody, tmp_path, api, {"AGENTS_MAX_CONCURRENT": "1"}) as svc:
        client = await connect_client(make_user())
        home = svc.config.home
        agents_dir, mcp_dir = home / "agents", home / "mcp"
        agents_dir.mkdir(exist_ok=True)
        mcp_dir.mkdir(exist_ok=True)
        # state.json cannot be written; the agent's own files can (so a process does start)
        with read_only(home, writable=(agents_dir, mcp_dir)):
            await start_creation(client, "hello")
            failed = await client.expect(MANAGER, "Could not create the agent: cannot save "
                                                  "state: read-only file system (")
            assert "\n" not in failed["body"]
            assert svc.pool.live == 0 and not svc.agents and not svc.state.agents
            assert list(agents_dir.iterdir()) == [] and list(mcp_dir.iterdir()) == []
            # the whole state directory read-only: the agent's files cannot be written either
        with read_only(home):
            await start_creation(client, "hello")
            failed = await client.expect(MANAGER, "Could not create the agent: ")
            assert "read-only file system" in failed["body"] and "\n" not in failed["body"]
            assert svc.pool.live == 0 and not svc.agents
        # fixed: with maxConcurrent = 1 the next agent gets the slot
        agent = await create_agent(client, "hello again")
        await reply(client, agent, "echo: hello again")
        client.send(MANAGER, "list")
        listing = await client.expect(MANAGER, "Your agents:")
        assert listing["body"].count("•") == 1


async def test_sigterm_with_an_unwritable_state_dir_exits_0_and_says_so(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    env = service_env(prosody, tmp_path / "home", make_workspace(tmp_path))
    env.update(claude_env(tmp_path, api))
    svc = ServiceProcess(env)
    await svc.start()
    try:
        client = await connect_client(make_user())
        agent = await create_agent(client, "hello")
        await reply(client, agent, "echo: hello")
        with read_only(tmp_path / "home"):
            started = time.monotonic()
            svc.kill(signal.SIGTERM)
            code = await svc.wait()
        output = "\n".join(svc.log)
        assert code == 0, output
        assert time.monotonic() - started < 10
        assert "could not save the state to" in output and "read-only file system" in output
        assert "Traceback" not in output
        await client.expect(agent, "agentchat is shutting down")
    finally:
        await svc.ensure_stopped()


async def test_sandbox_on_without_bwrap_refuses_to_start(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic,
) -> None:
    """An operator who asked for the sandbox never gets agents without one."""
    env = service_env(prosody, tmp_path / "home", make_workspace(tmp_path), AGENTS_SANDBOX="on")
    (tmp_path / "empty-bin").mkdir()
    env["PATH"] = str(tmp_path / "empty-bin")  # no bwrap to be found
    svc = ServiceProcess(env)
    await svc.start_only()
    try:
        code = await svc.wait()
        output = "\n".join(svc.log)
        assert code == 2, output
        assert 'agents.sandbox is "on" but bwrap not found (install bubblewrap' in output
        assert "Traceback" not in output
    finally:
        await svc.ensure_stopped()
