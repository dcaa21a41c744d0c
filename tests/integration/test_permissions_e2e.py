"""Permission prompts answered in the chat, with the real Claude CLI calling our MCP tool."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentchat.permissions.audit import read_audit
from agentchat.permissions.mcp_app import SECRET_HEADER
from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support import chat_flows as flows
from tests.support import scripted_api as sa
from tests.support.chat_flows import (
    correction_of,
    create_agent,
    reactions,
    reply,
    wait_prompt,
)
from tests.support.mcp_client import post_tool_call
from tests.support.service_harness import running_service
from tests.support.xmpp_client import ChatClient, ClientPool


def write(path: Path, content: str = "hello\n") -> sa.Reply:
    return sa.tool_use("Write", {"file_path": str(path), "content": content})


def repo(tmp_path: Path, name: str = "my-project") -> Path:
    return tmp_path / "work" / name


async def asking_to_write(
    api: sa.ScriptedAnthropic, client: ChatClient, target: Path, task: str
) -> tuple[str, str, Any]:
    """A new agent whose first step is Claude's Write of ``target``."""
    return await flows.asking_to_write(api, write(target), client, target, task)


async def test_write_allowed_creates_the_file_and_prompt_is_corrected(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    target = repo(tmp_path) / "hello.txt"
    client = await connect_client(make_user())
    agent, pid, prompt = await asking_to_write(api, client, target, "create hello.txt")
    body = prompt["body"]  # type: ignore[index]
    assert "Action: Write File" in body and "File: hello.txt" in body
    assert body.endswith("Reply: yes / no / always")
    away = await client.next_presence(agent, "away")
    assert away["status"] == f"needs your answer: #{pid} Write hello.txt"
    assert not target.exists()

    client.send(agent, "yes")
    corrected = await correction_of(client, agent, prompt)
    await client.expect(agent, f"✅ allowed #{pid}")
    assert corrected.startswith(f"🔐 Permission #{pid}") and corrected.endswith("✅ allowed")
    await reply(client, agent, "done: ")
    assert target.read_text() == "hello\n"
    results = api.last_tool_results()
    assert results and not results[0].get("is_error")

    events = read_audit(service.config.audit_path)
    decisions = [e for e in events if e["event"] == "decision"]
    assert [(d["id"], d["decision"], d["answered_by"]) for d in decisions] == [
        (pid, "allow", "owner")]
    assert decisions[0]["agent"] == agent.split("@")[0] and decisions[0]["tool"] == "Write"
    assert isinstance(decisions[0]["latency_ms"], int)


async def test_denied_with_a_reason_leaves_no_file_and_claude_gets_the_reason(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    target = repo(tmp_path) / "hello.txt"
    client = await connect_client(make_user())
    agent, pid, prompt = await asking_to_write(api, client, target, "create hello.txt")
    client.send(agent, "no, call it greeting.txt")
    assert (await correction_of(client, agent, prompt)).endswith("❌ denied: call it greeting.txt")
    await client.expect(agent, f"❌ denied #{pid}: call it greeting.txt")
    await reply(client, agent, "done: ")
    assert not target.exists()
    result = api.last_tool_results()[0]
    assert result.get("is_error") is True
    assert "They said: call it greeting.txt" in str(result["content"])
    decision = [e for e in read_audit(service.config.audit_path) if e["event"] == "decision"]
    assert decision[-1]["decision"] == "deny" and decision[-1]["how"] == "no"


async def test_free_text_while_one_prompt_is_pending_denies_with_that_text(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    api.push(sa.tool_use("Bash", {"command": "rm -rf build", "description": "Clean"}))
    client = await connect_client(make_user())
    agent = await create_agent(client, "clean up")
    pid, prompt = await wait_prompt(client, agent, "🔧 Bash: rm -rf build")
    assert "rm -rf build" in prompt["body"]  # type: ignore[index]
    client.send(agent, "please keep the build directory")
    await correction_of(client, agent, prompt)
    await client.expect(agent, f"❌ denied #{pid}: please keep the build directory")
    await reply(client, agent, "done: ")
    assert "They said: please keep the build directory" in str(api.last_tool_results()[0])


async def test_unanswered_prompt_expires_and_late_answer_is_too_late(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, component_free: None,
) -> None:
    target = repo(tmp_path) / "late.txt"
    async with running_service(prosody, tmp_path, api, {"MCP_PERMISSION_TIMEOUT": "1500"}) as svc:
        client = await connect_client(make_user())
        agent, pid, prompt = await asking_to_write(api, client, target, "create late.txt")
        assert (await correction_of(client, agent, prompt)).endswith("⏱ expired (denied)")
        await client.expect(agent, f"⏱ Permission #{pid} expired without an answer")
        await reply(client, agent, "done: ")
        assert "did not answer the permission request" in str(api.last_tool_results()[0])
        client.send(agent, f"{pid} yes")
        await client.expect(agent, f"Too late: #{pid} already expired")
        assert not target.exists()
        audit = [e for e in read_audit(svc.config.audit_path) if e["event"] == "decision"]
        assert audit[-1]["answered_by"] == "timeout"


async def test_two_agents_with_simultaneous_prompts_answered_by_id(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    client = await connect_client(make_user())
    api.push(write(repo(tmp_path, "another-repo") / "one.txt"))
    first = await create_agent(client, "write one", repo_choice="1")
    id1, prompt1 = await wait_prompt(client, first, "🔧 Write one.txt")
    api.push(write(repo(tmp_path) / "two.txt"))
    second = await create_agent(client, "write two", repo_choice="2")
    id2, prompt2 = await wait_prompt(client, second, "🔧 Write two.txt")
    assert id1 != id2 or first != second

    client.send(second, f"{id1} yes")  # an id of the other agent means nothing here
    await client.expect(second, f"No pending permission #{id1}")
    client.send(second, f"{id2} no")
    await correction_of(client, second, prompt2)
    await client.expect(second, f"❌ denied #{id2}")
    client.send(first, f"{id1} yes")
    await correction_of(client, first, prompt1)
    await client.expect(first, f"✅ allowed #{id1}")
    await reply(client, first, "done: ")
    await reply(client, second, "done: ")
    assert (repo(tmp_path, "another-repo") / "one.txt").exists()
    assert not (repo(tmp_path) / "two.txt").exists()


async def test_wrong_or_missing_secret_cannot_answer_or_see_anything(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    target = repo(tmp_path) / "guarded.txt"
    client = await connect_client(make_user())
    agent, pid, prompt = await asking_to_write(api, client, target, "write guarded")
    assert service.mcp is not None
    url = service.mcp.url + "/mcp"
    args = {"tool_name": "Bash", "input": {"command": "id"}, "tool_use_id": "x"}
    for headers in ({}, {SECRET_HEADER: "not-the-secret"}):
        denied = await post_tool_call(url, headers, "permission_prompt", args)
        assert denied.status_code == 401
        assert pid not in denied.text and "guarded" not in denied.text
    # no prompt reached the owner for the rogue calls; the real one is still pending and works
    client.send(agent, "yes")
    await correction_of(client, agent, prompt)
    await client.expect(agent, f"✅ allowed #{pid}")
    await reply(client, agent, "done: ")
    assert target.exists()
    unauthorized = [e for e in read_audit(service.config.audit_path)
                    if e["event"] == "unauthorized"]
    assert len(unauthorized) == 2


async def test_always_skips_the_next_prompt_and_can_be_revoked(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    base = repo(tmp_path)
    client = await connect_client(make_user())
    agent, pid, prompt = await asking_to_write(api, client, base / "a.txt", "write a")
    client.send(agent, "always")
    assert (await correction_of(client, agent, prompt)).endswith("✅ always allowed: Write")
    await client.expect(agent, f"✅ allowed #{pid}; from now on always allowing Write")
    await reply(client, agent, "done: ")

    api.push(write(base / "b.txt"))
    client.send(agent, "and b")
    await client.expect(agent, "🔧 Write b.txt")
    await reply(client, agent, "done: ")  # no prompt in between
    assert (base / "b.txt").exists()
    client.send(agent, "status")
    await client.expect(agent, re.compile(r"Always allowed: Write$", re.M))
    client.send(agent, "revoke 1")
    await client.expect(agent, "Revoked. No 'always' rules")
    api.push(write(base / "c.txt"))
    client.send(agent, "and c")
    await wait_prompt(client, agent, "🔧 Write c.txt")
    rules = service.state.agents[-1].rules
    assert rules == []


async def test_a_thumbs_up_reaction_answers_the_prompt(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    target = repo(tmp_path) / "liked.txt"
    client = await connect_client(make_user())
    agent, pid, prompt = await asking_to_write(api, client, target, "write liked")
    msg = client.xmpp.make_message(mto=agent, mtype="chat")
    msg.xml.append(reactions(str(prompt["id"]), ["👍"]))  # type: ignore[index]
    msg.send()
    await correction_of(client, agent, prompt)
    await client.expect(agent, f"✅ allowed #{pid}")
    await reply(client, agent, "done: ")
    assert target.exists()
    audit = [e for e in read_audit(service.config.audit_path) if e["event"] == "decision"]
    assert audit[-1]["how"] == "reaction"




async def test_ask_user_question_round_trip(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    question = {
        "questions": [{
            "question": "Which greeting should I use?",
            "header": "Greeting",
            "multiSelect": False,
            "options": [
                {"label": "Hello", "description": "classic"},
                {"label": "Howdy", "description": "friendly"},
            ],
        }]
    }
    api.push(sa.tool_use("AskUserQuestion", question))
    client = await connect_client(make_user())
    agent = await create_agent(client, "greet someone")
    asked = await client.expect_eventually(agent, "❓ Question")
    question_msg = asked[-1]
    text = question_msg["body"]
    assert "Which greeting should I use?" in text and "1. Hello" in text and "2. Howdy" in text
    client.send(agent, "2")
    assert "→ Howdy" in await correction_of(client, agent, question_msg)
    await client.expect(agent, "✅ answered #")
    await reply(client, agent, "done: ")
    result = str(api.last_tool_results()[0]["content"])
    assert "Howdy" in result and "Which greeting should I use?" in result


pytestmark = pytest.mark.timeout(180)


async def test_a_pending_prompt_is_asked_again_after_prosody_restarts(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, component_free: None,
) -> None:
    user = make_user()
    target = repo(tmp_path) / "after-restart.txt"
    async with running_service(prosody, tmp_path, api) as svc:
        client = await connect_client(user)
        agent, pid, _ = await asking_to_write(api, client, target, "write after restart")
        prosody.restart()
        await asyncio.wait_for(svc.component.disconnected_event.wait(), 30)
        await asyncio.wait_for(svc.component.connected_event.wait(), 60)
        again = await connect_client(user, resource="again")
        asked = await again.expect_eventually(agent, f"🔐 Permission #{pid}")
        assert asked[-1]["body"].endswith("Reply: yes / no / always")
        again.send(agent, "yes")
        await again.expect_eventually(agent, f"✅ allowed #{pid}")
        await again.expect_eventually(agent, "done: ")
        assert target.exists()


async def test_plan_approval_shows_the_plan_file_and_takes_yes(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, component_free: None,
) -> None:
    """In plan mode the CLI writes the plan to a file and sends ExitPlanMode with no input."""
    plan = "# Plan\n1. Read src/auth.ts\n2. Add input validation\n3. Run the tests\n"
    env = {"CLAUDE_ARGS": "--permission-mode plan"}
    async with running_service(prosody, tmp_path, api, env) as svc:
        gate = asyncio.Event()
        write_plan = sa.tool_use("Write", {"file_path": "?", "content": plan}, gate=gate)
        api.push(write_plan, sa.tool_use("ExitPlanMode", {}))
        client = await connect_client(make_user())
        agent = await create_agent(client, "plan the validation work")
        first = await api.wait_requests(1)  # held: the path is only known from the request
        match = re.search(r"create your plan at (\S+\.md)", json.dumps(first))
        assert match is not None, "the CLI no longer names its plan file"
        write_plan.blocks[0].input["file_path"] = match.group(1)  # type: ignore[union-attr]
        gate.set()
        asked = await client.expect_eventually(agent, "📋 Plan #", timeout=60)
        text = asked[-1]["body"]
        assert "ready to start?" in text and "2. Add input validation" in text
        pid = re.search(r"#([0-9a-f]{4})", text).group(1)  # type: ignore[union-attr]
        client.send(agent, "yes")
        await client.expect_eventually(agent, f"✅ plan approved #{pid}")
        await client.expect_eventually(agent, "done: ")
        assert not api.last_tool_results()[0].get("is_error")
        audit = [e for e in read_audit(svc.config.audit_path) if e["event"] == "decision"]
        assert audit[-1]["tool"] == "ExitPlanMode" and audit[-1]["decision"] == "allow"
