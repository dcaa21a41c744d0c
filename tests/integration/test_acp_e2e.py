"""ACP agents (Gemini CLI, Codex, OpenCode, Claude Code over ACP) end to end: real Prosody,
real agent CLIs, scripted model APIs.

Each family goes through what a user does with a Claude Code agent: created from the manager's
``new`` menu, a permission prompt answered ``yes`` and ``no, <reason>``, a second turn that
remembers the first, ``stop`` mid-turn, and agentchat killed and restarted in between turns.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentchat.permissions.audit import read_audit
from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support import scripted_chat as sc
from tests.support import scripted_gemini as sg
from tests.support import scripted_openai as so
from tests.support import scripted_server as ss
from tests.support.agent_envs import (
    CLAUDE_ACP,
    CODEX,
    GEMINI,
    OPENCODE,
    codex_env,
    gemini_env,
    gemini_minute_passed,
    opencode_env,
    pinned,
)
from tests.support.chat_flows import (
    MANAGER,
    asking_to_write,
    correction_of,
    create_agent,
    reply,
    wait_prompt,
)
from tests.support.claude_env import claude_env
from tests.support.containment import argv_of, environ_of
from tests.support.service_harness import (
    ServiceProcess,
    make_workspace,
    running_service,
    service_env,
    state_settled,
)
from tests.support.uploads import download, oob_url
from tests.support.xmpp_client import ClientPool

pytestmark = [pytest.mark.usefixtures("component_free"), pytest.mark.timeout(600)]


@dataclass(frozen=True)
class Family:
    """One ACP agent family as the tests drive it."""

    key: str  # agents.types name
    label: str  # menu text
    binary: Path
    make_api: Callable[[], ss.ScriptedServer]
    env: Callable[[Path, Any], dict[str, str]]
    write: Callable[[Path], ss.Reply]  # a reply that makes the agent create a file
    restart_wait: Callable[[float], Any]  # before session/load may succeed (Gemini's minutes)
    sessions: str  # where its session files are, in the agent's own home (a glob)
    own_env: tuple[str, ...] = ()  # variables pointing into the agent's own home
    start: float = 30  # seconds its start may take (creation, restart)


async def _no_wait(_since: float) -> None:
    return None


GEMINI_FAMILY = Family("gemini", "Gemini CLI", GEMINI, sg.ScriptedGemini, gemini_env,
                       sg.write_file, gemini_minute_passed, ".gemini/tmp/*/chats/*")
CODEX_FAMILY = Family("codex", "Codex", CODEX, so.ScriptedOpenAI, codex_env, so.write_file,
                      _no_wait, ".codex/sessions/**/*.jsonl", ("CODEX_HOME",))
OPENCODE_FAMILY = Family("opencode", "OpenCode", OPENCODE, sc.ScriptedChatCompletions,
                         opencode_env, sc.write_file, _no_wait,
                         ".local/share/opencode/opencode.db", start=180)
CLAUDE_ACP_FAMILY = Family("claude-acp", "Claude Code (ACP)", CLAUDE_ACP, sa.ScriptedAnthropic,
                           claude_env, sa.write_file, _no_wait, ".claude/projects/*/*.jsonl",
                           ("CLAUDE_CONFIG_DIR",), start=60)
FAMILIES = [GEMINI_FAMILY, CODEX_FAMILY, OPENCODE_FAMILY, CLAUDE_ACP_FAMILY]


@pytest.fixture(params=FAMILIES, ids=lambda f: f.key)
def family(request: pytest.FixtureRequest) -> Family:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def model_api(family: Family) -> AsyncIterator[Any]:
    async with family.make_api() as server:
        yield server


def types_env(family: Family) -> dict[str, str]:
    """agents.types with Claude Code and this family, its command given as an absolute path."""
    return {"AGENTS_TYPES": json.dumps({"claude-code": {},
                                        family.key: {"command": pinned(family.binary)}})}


@pytest.fixture
async def acp_service(
    prosody: EmbeddedProsody, tmp_path: Path, family: Family, model_api: Any
) -> AsyncIterator[Service]:
    async with running_service(prosody, tmp_path, model_api, env_overrides=types_env(family),
                               agent_env=family.env(tmp_path, model_api)) as svc:
        yield svc


def typed(api: Any) -> list[str]:
    """What the person typed, as the last request's conversation holds it (Anthropic's tool
    results are user messages without text)."""
    return [t for t in api.all_user_texts() if t]


def repo(tmp_path: Path) -> Path:
    return tmp_path / "work" / "my-project"


async def test_created_from_new_allowed_write_then_a_turn_that_remembers(
    acp_service: Service, family: Family, model_api: Any, make_user,
    connect_client: ClientPool, tmp_path: Path,
) -> None:
    target = repo(tmp_path) / "hello.txt"
    client = await connect_client(make_user())
    agent, pid, prompt = await asking_to_write(model_api, family.write(target), client, target,
                                               "create hello.txt", kind=family.label,
                                               timeout=family.start)
    body = str(prompt["body"])  # type: ignore[index]
    assert "Action: Write File" in body and "File: hello.txt" in body
    assert body.endswith("Reply: yes / no / always")
    assert not target.exists()
    client.send(agent, "yes")
    assert (await correction_of(client, agent, prompt)).endswith("✅ allowed")
    await client.expect(agent, f"✅ allowed #{pid}")
    await reply(client, agent, "done: ")
    assert target.read_text() == "hello\n"
    assert_sandboxed_in_own_home(acp_service, family, agent, tmp_path)

    client.send(agent, "what did I ask you first?")
    await reply(client, agent, "echo: what did I ask you first?")
    assert typed(model_api) == ["create hello.txt", "what did I ask you first?"]
    record = acp_service.agents[agent.split("@")[0]].record
    assert record.agent_type == family.key and record.turns == 2
    decisions = [e for e in read_audit(acp_service.config.audit_path) if e["event"] == "decision"]
    assert [(d["id"], d["decision"], d["how"]) for d in decisions] == [(pid, "allow", "yes")]


def assert_sandboxed_in_own_home(service: Service, family: Family, agent: str,
                                 tmp_path: Path) -> None:
    """The agent runs under bwrap (auto, where it works: here), with its own HOME and config
    dirs, where its session is kept (not in the configured, shared one)."""
    name = agent.split("@")[0]
    adapter = service.agents[name].adapter
    assert service.sandbox.bwrap is not None and adapter is not None and adapter.pid
    assert Path(argv_of(adapter.pid)[0]).name == "bwrap"
    home = service.agent_home(name)
    env = environ_of(adapter.pid)
    assert env["HOME"] == str(home)
    for var in family.own_env:
        assert Path(env[var]).parent == home
    assert list(home.glob(family.sessions)), sorted(str(p) for p in home.rglob("*"))
    shared = tmp_path / "agent-home"  # the configured HOME / CODEX_HOME: a template only
    assert not list(shared.glob(family.sessions))


async def test_denied_with_a_reason_no_file_and_the_agent_hears_the_reason(
    acp_service: Service, family: Family, model_api: Any, make_user,
    connect_client: ClientPool, tmp_path: Path,
) -> None:
    target = repo(tmp_path) / "hello.txt"
    client = await connect_client(make_user())
    agent, pid, prompt = await asking_to_write(model_api, family.write(target), client, target,
                                               "create hello.txt", kind=family.label,
                                               timeout=family.start)
    asked = len(model_api.requests)
    client.send(agent, "no, call it greeting.txt")
    assert (await correction_of(client, agent, prompt)).endswith("❌ denied: call it greeting.txt")
    await client.expect(agent, f"❌ denied #{pid}: call it greeting.txt")
    await client.expect_eventually(agent, re.compile(r"call it greeting\.txt"), timeout=60)
    assert not target.exists()
    later = [model_api.last_user_text(i) for i in range(asked, len(model_api.requests))]
    assert any("They said: call it greeting.txt" in t for t in later), later
    decision = [e for e in read_audit(acp_service.config.audit_path) if e["event"] == "decision"]
    assert decision[-1]["decision"] == "deny" and decision[-1]["how"] == "no"
    assert decision[-1]["note"] == "call it greeting.txt"


async def test_stop_mid_turn_then_a_normal_turn(
    acp_service: Service, family: Family, model_api: Any, make_user,
    connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    agent = await create_agent(client, "hello", kind=family.label, timeout=family.start)
    await reply(client, agent, "echo: hello")
    gate = asyncio.Event()
    try:
        model_api.push(ss.text("you should never see this", gate=gate))
        client.send(agent, "think slowly")
        await model_api.wait_requests(2)
        client.send(agent, "stop")
        await client.expect(agent, "⏹ Interrupting the current turn…")
        await client.expect(agent, "⏹ Interrupted. I'm ready for your next message.")
        client.send(agent, "hello again")
        # Claude Code keeps the interrupted prompt in the next user message: the echo of that
        # message ends with the new text
        await reply(client, agent, re.compile(r"^echo: (.*\n)?hello again$", re.DOTALL))
    finally:
        gate.set()


async def test_agentchat_killed_and_restarted_continues_the_session(
    prosody: EmbeddedProsody, tmp_path: Path, family: Family, model_api: Any, make_user,
    connect_client: ClientPool,
) -> None:
    env = service_env(prosody, tmp_path / "home", make_workspace(tmp_path), **types_env(family))
    env.update(family.env(tmp_path, model_api))
    first, second = ServiceProcess(env), ServiceProcess(env)
    await first.start()
    try:
        client = await connect_client(make_user())
        agent = await create_agent(client, "remember the word banana", kind=family.label,
                                   timeout=family.start)
        name = agent.split("@")[0]
        await reply(client, agent, "echo: remember the word banana")
        answered = time.time()  # the agent's session file exists by now
        await state_settled(tmp_path / "home")  # saved as answered: nothing to answer again
        first.kill(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        await family.restart_wait(answered)

        await second.start()
        await client.expect(MANAGER, f"agentchat restarted: {name} stopped; send a message "
                                     "to resume.")
        client.send(agent, "what was the word?")
        # no "new session" notice first
        await reply(client, agent, "echo: what was the word?", family.start)
        assert typed(model_api) == ["remember the word banana", "what was the word?"]
        state = json.loads((tmp_path / "home" / "state.json").read_text())
        [saved] = state["agents"]
        assert saved["agent_type"] == family.key and saved["status"] == "running"
    finally:
        await first.ensure_stopped()
        await second.ensure_stopped()


@pytest.mark.parametrize("family", [CODEX_FAMILY], ids=["codex"])
async def test_send_file_over_agentchats_mcp_server_reaches_the_owner(
    acp_service: Service, family: Family, model_api: Any, make_user,
    connect_client: ClientPool, tmp_path: Path,
) -> None:
    """Codex takes HTTP MCP servers: it gets agentchat's (``send_file`` under its namespace
    ``mcp__agentchat``), asks before the call (answered over ACP), and the owner downloads the
    file's bytes. ``permission_prompt`` is not offered to it (refused if called: MCP app tests)."""
    report = repo(tmp_path) / "report.txt"
    report.write_bytes(b"all 12 tests pass\n\x00\x01binary tail\xff\xfe")
    client = await connect_client(make_user())
    model_api.push(ss.tool_use("mcp__agentchat__send_file",
                               {"path": "report.txt", "caption": "the test report"}))
    agent = await create_agent(client, "send me the report", kind=family.label)
    pid, prompt = await wait_prompt(client, agent, "🔧 Tool: agentchat/send_file")
    declared = [t for t in model_api.requests[0]["tools"] if t.get("name") == "mcp__agentchat"]
    assert [f["name"] for f in declared[0]["tools"]] == ["send_file"]  # no permission_prompt
    client.send(agent, "yes")
    assert (await correction_of(client, agent, prompt)).endswith("✅ allowed")
    await client.expect(agent, f"✅ allowed #{pid}")
    await client.expect(agent, f"📎 report.txt ({report.stat().st_size} B)\nthe test report")
    link = await client.next_message(agent)
    url = oob_url(link)
    assert url is not None and link["body"] == url
    assert await download(url) == report.read_bytes()
    await reply(client, agent, "done: ")
    assert "Sent report.txt" in str(model_api.last_tool_results()[0]["output"])


@pytest.mark.parametrize("family", [CODEX_FAMILY], ids=["codex"])
async def test_codex_mode_and_model_reach_the_agent(
    acp_service: Service, family: Family, model_api: Any, make_user,
    connect_client: ClientPool,
) -> None:
    """``mode`` lists Codex's own modes; ``mode auto`` (session/set_mode) changes the sandbox
    Codex tells its model about; ``model <name>`` (the session's model config option) is the
    model the scripted API is asked for next."""
    client = await connect_client(make_user())
    agent = await create_agent(client, "hello", kind=family.label)
    await reply(client, agent, "echo: hello")
    client.send(agent, "mode")
    listing = str((await client.expect(agent, "Mode: ask (read-only). Codex offers"))["body"])
    assert "  auto – Codex can read and edit files" in listing, listing
    assert "bypass (full-access) – Codex can edit files outside" in listing
    assert listing.endswith("(not allowed here: agents.allowBypass)")
    client.send(agent, "mode full-access")
    await client.expect(agent, "the operator has not allowed that here (agents.allowBypass)")
    client.send(agent, "mode edits")  # Codex has no edits-only mode: its list comes back
    await client.expect(agent, "Unknown mode 'edits'.\nMode: ask (read-only). Codex offers")
    client.send(agent, "mode auto")
    await client.expect(agent, "Mode: auto – Codex can read and edit files")

    client.send(agent, "model")
    models = str((await client.expect(agent, "Model: gpt-5.5. Codex offers"))["body"])
    assert "gpt-5.4-mini" in models, models
    client.send(agent, "model gpt-4-turbo")
    await client.expect(agent, "Unknown model 'gpt-4-turbo'.\nModel: gpt-5.5.")
    client.send(agent, "model gpt-5.4")
    await client.expect(agent, "Model: gpt-5.4 from the next turn on.")
    client.send(agent, "which model?")
    await reply(client, agent, "echo: which model?")
    first, last = model_api.requests[0], model_api.requests[-1]
    assert (first["model"], last["model"]) == ("gpt-5.5", "gpt-5.4")
    assert "`sandbox_mode` is `read-only`" in json.dumps(first)
    assert "`sandbox_mode` is `workspace-write`" in json.dumps(last)
    record = acp_service.agents[agent.split("@")[0]].record
    assert (record.mode, record.model) == ("auto", "gpt-5.4")


@pytest.mark.parametrize("family", [GEMINI_FAMILY], ids=["gemini"])
async def test_gemini_modes_its_refusal_and_plan_mode(
    acp_service: Service, family: Family, model_api: Any, make_user,
    connect_client: ClientPool, tmp_path: Path,
) -> None:
    """Gemini CLI's own modes are listed; what it refuses (autoEdit outside a trusted folder)
    is said with its reason; in ``mode plan`` (session/set_mode) its write_file is refused by
    Gemini itself, with no prompt (in its default mode it asks: the tests above). It offers no
    model choice over ACP: said so."""
    client = await connect_client(make_user())
    agent = await create_agent(client, "hello", kind=family.label)
    await reply(client, agent, "echo: hello")
    client.send(agent, "mode")
    listing = str((await client.expect(agent, "Mode: ask (default). Gemini CLI offers"))["body"])
    for line in ("edits (autoEdit) – Auto-approves edit tools", "bypass (yolo)",
                 "plan – Read-only mode"):
        assert line in listing, listing
    client.send(agent, "mode edits")
    await client.expect(agent, "⚠️ The mode was not changed: Cannot enable privileged approval "
                               "modes in an untrusted folder.")
    client.send(agent, "mode plan")
    await client.expect(agent, "Mode: plan – Read-only mode.")
    client.send(agent, "model")
    await client.expect(agent, "Gemini CLI offers no model choice.")

    target = repo(tmp_path) / "planned.txt"
    model_api.push(family.write(target))
    client.send(agent, "create planned.txt")
    await client.expect_eventually(agent, "done: ", timeout=60)
    assert not target.exists()
    assert not [e for e in read_audit(acp_service.config.audit_path) if e["event"] == "request"]
    [result] = model_api.last_tool_results()
    assert "must be within the designated plans directory" in str(result["response"]), result
