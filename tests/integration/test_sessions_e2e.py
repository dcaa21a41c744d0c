"""Picking up a session started in a terminal: ``sessions <repo>`` and ``resume <n>`` through
the real Prosody with the real Claude Code CLI (both the terminal's run and the agent)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from agentchat.agents.types import native_codex
from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support import scripted_openai as so
from tests.support.agent_envs import CODEX, GEMINI, codex_env, pinned
from tests.support.chat_flows import MANAGER, reply
from tests.support.claude_env import claude_env, claude_path
from tests.support.real_client_demo import Tmux, wait_screen
from tests.support.service_harness import running_service
from tests.support.xmpp_client import ClientPool

pytestmark = pytest.mark.usefixtures("component_free")

RESUMED = re.compile(r"^Agent ([a-z]+-[a-z]+) created: it continues the Claude Code session "
                     r"([0-9a-f]{8}) ")


async def run_in_terminal(repo: Path, prompt: str, env: dict[str, str]) -> None:
    """``claude -p <prompt>`` in ``repo``, as the operator would at a terminal."""
    proc = await asyncio.create_subprocess_exec(
        claude_path(), "-p", prompt, cwd=repo, env={"PATH": os.environ["PATH"], **env},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, (out, err)


async def test_terminal_session_listed_and_resumed(
    service: Service, api: sa.ScriptedAnthropic, tmp_path: Path, make_user,
    connect_client: ClientPool,
) -> None:
    repo = Path(service.config.work.base_path) / "my-project"
    # the operator's config dir is the one the service's agents are templated from
    api.push(sa.text("Noted: the word is PINEAPPLE."))
    await run_in_terminal(repo, "Remember the word PINEAPPLE\nfor later \x1b[31mplease",
                          claude_env(tmp_path, api))
    store = Path(claude_env(tmp_path, api)["CLAUDE_CONFIG_DIR"]) / "projects"
    [transcript] = store.glob("*/*.jsonl")
    size_before = transcript.stat().st_size

    client = await connect_client(make_user())
    client.send(MANAGER, "resume 1")
    await client.expect(MANAGER, "Send 'sessions <repo>' first")
    client.send(MANAGER, "sessions 2")  # by number, as 'repos' and 'new' show them
    listing = str((await client.expect(MANAGER, "Earlier sessions in my-project"))["body"])
    assert "[1] Claude Code · " in listing
    # the first prompt on one line, its escape character visible, not acted on
    assert "“Remember the word PINEAPPLE for later ␛[31mplease”" in listing
    assert "\x1b" not in listing
    # just written: it may still be open in the terminal, and the listing says so
    assert "may be in use in a terminal right now: its transcript was written" in listing
    assert "resume <n>" in listing

    client.send(MANAGER, "resume 1")
    created = await client.expect(MANAGER, RESUMED)
    match = RESUMED.match(str(created["body"]))
    assert match is not None and transcript.stem.startswith(match.group(2))
    assert "seems to be in use in a terminal" in str(created["body"])
    agent = f"{match.group(1)}@agents.example.com"

    api.push(sa.text("The word was PINEAPPLE."))
    client.send(agent, "Which word did I ask you to remember?")
    await reply(client, agent, "The word was PINEAPPLE.")
    # the request carries the terminal's turns: the session was continued, not restarted
    texts = api.all_user_texts()
    assert texts[0].startswith("Remember the word PINEAPPLE")
    assert texts[-1] == "Which word did I ask you to remember?"
    assert "Noted: the word is PINEAPPLE." in str(api.requests[-1]["messages"])
    assert str(repo) in str(api.requests[-1])
    # the agent wrote to its own copy; the terminal's transcript is as it was
    assert transcript.stat().st_size == size_before
    own = service.agent_home(match.group(1)) / ".claude" / "projects"
    assert [p.name for p in own.glob("*/*.jsonl")] == [transcript.name]


async def test_sessions_of_a_repository_without_any(
    service: Service, make_user, connect_client: ClientPool
) -> None:
    client = await connect_client(make_user())
    client.send(MANAGER, "sessions another-repo")
    await client.expect(MANAGER, "No earlier sessions found in another-repo.")
    client.send(MANAGER, "resume 1")
    await client.expect(MANAGER, "The last list had no sessions (in another-repo).")
    client.send(MANAGER, "sessions nowhere")
    await client.expect(MANAGER, re.compile(
        r"^Unknown repository 'nowhere'\. .*\nAvailable repos: \[1\] another-repo "
        r"\[2\] my-project$", re.S))


async def acp_session_elsewhere(binary: str, repo: Path, env: dict[str, str], prompt: str,
                                log: Path) -> str:
    """One prompt in a new session of an ACP agent run directly (as an editor would run it),
    on the operator's own config; returns the session id."""
    proc = await asyncio.create_subprocess_exec(
        binary, cwd=repo, env={"PATH": os.environ["PATH"], **env},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log.open("wb"),
        limit=1 << 24)
    assert proc.stdin is not None and proc.stdout is not None
    calls = 0

    async def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        message = {"jsonrpc": "2.0", "id": calls, "method": method, "params": params}
        proc.stdin.write(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
        while True:  # notifications (session/update) pass by
            answer = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))  # type: ignore[union-attr]
            if answer.get("id") == calls and "method" not in answer:
                assert "result" in answer, answer
                return answer["result"]  # type: ignore[no-any-return]

    try:
        await call("initialize", {"protocolVersion": 1, "clientCapabilities": {}})
        session = (await call("session/new", {"cwd": str(repo), "mcpServers": []}))["sessionId"]
        done = await call("session/prompt", {"sessionId": session,
                                             "prompt": [{"type": "text", "text": prompt}]})
        assert done["stopReason"] == "end_turn"
    finally:
        proc.terminate()  # codex-acp ends on SIGTERM only
        await proc.wait()
    return str(session)


async def test_codex_session_listed_by_session_list_and_resumed(
    prosody: EmbeddedProsody, tmp_path: Path, make_user, connect_client: ClientPool,
) -> None:
    """Codex lists its sessions over ACP (session/list); Gemini CLI does not offer it, and the
    listing says so. A Codex session run elsewhere is continued by a new agent."""
    async with so.ScriptedOpenAI() as api:
        operator = {**codex_env(tmp_path, api), "GEMINI_API_KEY": "dummy"}
        types = {"AGENTS_TYPES": json.dumps({"claude-code": {},
                                             "codex": {"command": pinned(CODEX)},
                                             "gemini": {"command": pinned(GEMINI)}})}
        async with running_service(prosody, tmp_path, api, env_overrides=types,
                                   agent_env=operator) as service:
            repo = Path(service.config.work.base_path) / "my-project"
            api.push(so.text("Noted: PINEAPPLE."))
            session = await acp_session_elsewhere(
                native_codex(pinned(CODEX)), repo, operator, "Remember the word PINEAPPLE",
                tmp_path / "codex.log")
            [rollout] = Path(operator["CODEX_HOME"]).glob(f"sessions/*/*/*/*{session}.jsonl")
            size_before = rollout.stat().st_size

            client = await connect_client(make_user())
            client.send(MANAGER, "sessions my-project")
            # Gemini CLI is started to be asked: seconds, more on a loaded machine
            listing = str((await client.expect(MANAGER, "Earlier sessions in my-project",
                                               timeout=120))["body"])
            assert re.search(r"^\[1\] Codex · .* · “Remember the word PINEAPPLE”$", listing,
                             re.M), listing
            assert ("Gemini CLI: cannot list its sessions (its ACP agent does not offer "
                    "session/list).") in listing
            # its rollout file was just written: it may still be open where it was started
            assert "may be in use in a terminal right now: its transcript was written" in listing

            client.send(MANAGER, "resume 1")
            created = str((await client.expect(MANAGER, "Agent "))["body"])
            match = re.match(r"^Agent ([a-z]+-[a-z]+) created: it continues the Codex session "
                             + session[:8], created)
            assert match is not None, created
            assert "seems to be in use in a terminal" in created
            agent = f"{match.group(1)}@agents.example.com"
            api.push(so.text("It was PINEAPPLE."))
            client.send(agent, "Which word?")
            await reply(client, agent, "It was PINEAPPLE.")
            assert api.all_user_texts() == ["Remember the word PINEAPPLE", "Which word?"]
            assert service.agents[match.group(1)].record.session_id == session
            assert rollout.stat().st_size == size_before  # the agent wrote its own copy


async def test_session_open_in_an_interactive_terminal_is_said_to_be_in_use(
    service: Service, api: sa.ScriptedAnthropic, tmp_path: Path, make_user,
    connect_client: ClientPool,
) -> None:
    """A ``claude`` running interactively (in tmux, as at a desk) registers its session; the
    listing names its process, and stops doing so once it has exited."""
    repo = Path(service.config.work.base_path) / "my-project"
    env = claude_env(tmp_path, api)
    config = Path(env["CLAUDE_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / ".claude.json").write_text(json.dumps({  # past the first-run questions
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [env["ANTHROPIC_API_KEY"]], "rejected": []},
        "projects": {str(repo): {"hasTrustDialogAccepted": True}}}))
    api.push(sa.text("Noted."))
    terminal = Tmux(tmp_path / "tmux.sock", {"PATH": os.environ["PATH"]})
    terminal.start(["env", "-C", str(repo), "TERM=xterm-256color",
                    *(f"{k}={v}" for k, v in env.items()), claude_path()])
    try:
        await wait_screen(terminal, "Claude Code v", timeout=60)
        terminal.type("Remember the word PINEAPPLE")
        transcript = await _transcript_with(config, b"PINEAPPLE")
        [registered] = (config / "sessions").glob("*.json")
        pid = json.loads(registered.read_text())["pid"]
        hour_ago = time.time() - 3600
        os.utime(transcript, (hour_ago, hour_ago))  # only the CLI's registry can tell now

        client = await connect_client(make_user())
        client.send(MANAGER, "sessions my-project")
        listing = str((await client.expect(MANAGER, "Earlier sessions in my-project"))["body"])
        assert "“Remember the word PINEAPPLE”" in listing
        assert (f"may be in use in a terminal right now: a claude process (pid {pid}) has it "
                "open") in listing
    finally:
        terminal.kill()
    await _gone(pid)
    client.send(MANAGER, "sessions my-project")
    listing = str((await client.expect(MANAGER, "Earlier sessions in my-project"))["body"])
    assert "“Remember the word PINEAPPLE”" in listing and "has it open" not in listing


async def _transcript_with(config: Path, needle: bytes, timeout: float = 60) -> Path:
    """The session file once the CLI has written ``needle`` to it (polled: nothing tells)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in config.glob("projects/*/*.jsonl"):
            if needle in path.read_bytes():
                return path
        await asyncio.sleep(0.2)
    raise AssertionError(f"no transcript with {needle!r} under {config}")


async def _gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"pid {pid} still running")
