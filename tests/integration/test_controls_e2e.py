"""Session controls from the chat (mode, model, context, compact) with the real Claude Code CLI.

Each test would fail if the control request were not sent or not obeyed: the scripted API sees
the model asked for, a Write in ``mode edits`` runs with no prompt while a Bash still asks, and
in ``mode plan`` the agent's first tool call is the plan approval.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentchat.permissions.audit import read_audit
from agentchat.service import Service
from agentchat.state.model import AgentStatus
from tests.support import scripted_api as sa
from tests.support.chat_flows import PROMPT, collect, correction_of, create_agent, reply
from tests.support.xmpp_client import ChatClient, ClientPool

pytestmark = pytest.mark.timeout(240)

PLAN_PROMPT = re.compile(r"^📋 Plan #([0-9a-f]{4}) — ready to start\?\n")


def repo(tmp_path: Path) -> Path:
    return tmp_path / "work" / "my-project"


async def new_agent(client: ChatClient, task: str = "hello") -> str:
    """A Claude Code agent that has answered its first task."""
    agent = await create_agent(client, task)
    await reply(client, agent, f"echo: {task}")
    return agent


async def test_model_switch_reaches_the_api_and_survives_an_idle_stop(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    agent = await new_agent(client)
    name = agent.split("@")[0]
    first_model = api.requests[0]["model"]

    client.send(agent, "model")
    listing = str((await client.expect(agent, f"Model: {first_model}. Claude Code offers"))
                  ["body"])
    assert "haiku" in listing and "sonnet" in listing, listing
    client.send(agent, "model gpt-17")
    unknown = str((await client.expect(agent, "Unknown model 'gpt-17'."))["body"])
    assert "haiku" in unknown  # the list comes back
    client.send(agent, "model haiku")
    switched = str((await client.expect(agent, re.compile(r"^Model: claude-haiku")))["body"])
    resolved = switched.split()[1]
    assert resolved != first_model and service.agents[name].record.model == "haiku"

    client.send(agent, "which model now?")
    await reply(client, agent, "which model now?")  # after the CLI's note of the /model
    assert api.requests[-1]["model"] == resolved
    assert {r["model"] for r in api.requests[:-1]} == {first_model}

    client.send(agent, "status")
    status = str((await client.expect(agent, f"{name}: "))["body"])
    assert f"model: {resolved}" in status and "Mode: ask (default)" in status, status
    context = re.search(r"Context: [\d.]+k? of [\d.]+[kM] tokens \((\d+)%\)", status)
    assert context is not None, status
    assert re.search(r"tokens used: [\d.]+k", status), status

    # An idle stop and a restart: the new process runs the chosen model again (--model).
    await service.agents[name].stop_process(AgentStatus.IDLE)
    client.send(agent, "still there?")
    await reply(client, agent, "echo: still there?")
    assert api.requests[-1]["model"] == resolved


async def test_mode_edits_lets_a_write_through_while_a_bash_still_asks(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    client = await connect_client(make_user())
    agent = await new_agent(client)
    name = agent.split("@")[0]
    client.send(agent, "mode")
    listing = str((await client.expect(agent, "Mode: ask (default). Claude Code offers"))["body"])
    assert "bypass (bypassPermissions)" in listing and "agents.allowBypass" in listing
    client.send(agent, "mode bypass")
    await client.expect(agent, "the operator has not allowed that here (agents.allowBypass)")
    client.send(agent, "mode edits")
    await client.expect(agent, "Mode: edits (acceptEdits) – file edits go through")
    ready = await client.next_presence(agent)
    while "edits" not in str(ready["status"]):
        ready = await client.next_presence(agent)
    assert str(ready["status"]).startswith("ready · my-project · edits")

    target = repo(tmp_path) / "edited.txt"
    api.push(sa.tool_use("Write", {"file_path": str(target), "content": "edited\n"}),
             sa.tool_use("Bash", {"command": "python3 -c 'print(6 * 7)'"}))
    client.send(agent, "write, then run")
    [prompt] = await collect(client, agent, PROMPT)
    body = str(prompt["body"])  # type: ignore[index]
    assert "Bash" in body or "Run Command" in body, body
    assert target.read_text() == "edited\n"  # written before anything was asked
    pid = PROMPT.match(body).group(1)  # type: ignore[union-attr]
    client.send(agent, "no")
    await correction_of(client, agent, prompt)
    await client.expect(agent, f"❌ denied #{pid}")
    await client.expect_eventually(agent, "done: ")
    asked = [e["tool"] for e in read_audit(service.config.audit_path) if e["event"] == "request"]
    assert asked == ["Bash"]
    assert service.agents[name].record.mode == "acceptEdits"


async def test_mode_plan_asks_to_approve_the_plan_first_then_yes_edits(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    client = await connect_client(make_user())
    agent = await new_agent(client)
    name = agent.split("@")[0]
    client.send(agent, "mode plan")
    await client.expect(agent, "Mode: plan – the agent plans, then asks to proceed.")

    target = repo(tmp_path) / "planned.txt"
    api.push(sa.tool_use("ExitPlanMode", {"plan": "1. Write planned.txt"}),
             sa.tool_use("Write", {"file_path": str(target), "content": "planned\n"}))
    client.send(agent, "plan the file")
    [prompt] = await collect(client, agent, PLAN_PROMPT)
    body = str(prompt["body"])  # type: ignore[index]
    assert "yes edits (start, let edits through)" in body, body
    requests = [e for e in read_audit(service.config.audit_path) if e["event"] == "request"]
    assert [e["tool"] for e in requests] == ["ExitPlanMode"]  # the first tool call asked
    pid = PLAN_PROMPT.match(body).group(1)  # type: ignore[union-attr]

    client.send(agent, "yes edits")
    await correction_of(client, agent, prompt)
    await client.expect(agent, f"✅ plan approved #{pid}; file edits go through from now on")
    await client.expect_eventually(agent, "done: ")
    assert target.read_text() == "planned\n"  # no prompt for the Write
    requests = [e for e in read_audit(service.config.audit_path) if e["event"] == "request"]
    assert [e["tool"] for e in requests] == ["ExitPlanMode"]
    assert service.agents[name].record.mode == "acceptEdits"


async def test_compact_runs_claudes_own_compaction(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    agent = await new_agent(client, "remember the word banana")
    client.send(agent, "compact")
    await client.expect(agent, "🗜 Compacting the context…")
    done = await client.expect_eventually(agent, re.compile(r"^🗜 Context compacted: "), 60)
    assert re.match(r"^🗜 Context compacted: [\d.]+k → [\d.]+k tokens\.$", done[-1]["body"])
