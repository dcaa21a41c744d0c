"""Faults with the real Prosody and the real CLI: kills, restarts, interrupts, corrupt state."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support.chat_flows import MANAGER, create_agent, reply, turn_ended
from tests.support.claude_env import claude_env
from tests.support.client_view import shown_messages
from tests.support.service_harness import (
    ServiceProcess,
    make_workspace,
    running_service,
    service_env,
    state_settled,
    until_state,
)
from tests.support.xmpp_client import ClientPool

pytestmark = [pytest.mark.usefixtures("component_free"), pytest.mark.timeout(240)]


def process_env(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic
) -> dict[str, str]:
    env = service_env(prosody, tmp_path / "home", make_workspace(tmp_path))
    env.update(claude_env(tmp_path, api))
    return env


async def test_service_killed_mid_turn_then_restarted_answers_the_cut_message_and_resumes(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    env = process_env(prosody, tmp_path, api)
    first = ServiceProcess(env)
    await first.start()
    second = ServiceProcess(env)
    gate = asyncio.Event()
    try:
        client = await connect_client(make_user())
        agent = await create_agent(client, "remember the word banana")
        name = agent.split("@")[0]
        await reply(client, agent, "echo: remember the word banana")
        await state_settled(tmp_path / "home")
        api.push(sa.text("this answer is never delivered", gate=gate))
        client.send(agent, "now think slowly")
        await api.wait_requests(2)  # the CLI is in the middle of the turn
        await until_state(tmp_path / "home", lambda agents: [
            p["text"] for p in agents[0]["unanswered"]] == ["now think slowly"], "saved")
        first.kill(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        gate.set()

        await second.start()
        await client.expect(MANAGER, f"agentchat restarted: {name} was interrupted and now "
                                     "answers what you sent last.")
        # the message the kill cut short is answered after the restart, in the same session
        answer = await client.expect(agent, "echo: now think slowly")
        assert answer.xml.find("{urn:xmpp:message-correct:0}replace") is not None
        await turn_ended(client, agent)
        client.send(agent, "what was the word?")
        await reply(client, agent, "echo: what was the word?")
        texts = api.all_user_texts()
        assert "remember the word banana" in texts and texts[-1] == "what was the word?"
        state = json.loads((tmp_path / "home" / "state.json").read_text())
        assert [a["status"] for a in state["agents"]] == ["running"]
    finally:
        gate.set()
        await first.ensure_stopped()
        await second.ensure_stopped()


async def test_sigterm_tells_owners_goes_offline_and_exits_0_within_10s(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    svc = ServiceProcess(process_env(prosody, tmp_path, api))
    await svc.start()
    try:
        client = await connect_client(make_user())
        agent = await create_agent(client, "hello")
        await reply(client, agent, "echo: hello")
        started = time.monotonic()
        svc.kill(signal.SIGTERM)
        assert await svc.wait() == 0
        assert time.monotonic() - started < 10
        await client.expect(agent, "agentchat is shutting down")
        gone = await client.next_presence(agent, "unavailable")
        assert gone["status"] == "agentchat stopped"
        await client.next_presence(MANAGER, "unavailable")
        state = json.loads((tmp_path / "home" / "state.json").read_text())
        assert [a["status"] for a in state["agents"]] == ["stopped"]
        assert not any("Traceback" in line for line in svc.log)
    finally:
        await svc.ensure_stopped()


async def test_prosody_restart_while_the_agent_talks_loses_and_repeats_nothing(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    user = make_user()
    gate = asyncio.Event()
    async with running_service(prosody, tmp_path, api) as svc:
        client = await connect_client(user)
        agent = await create_agent(client, "hello")
        await reply(client, agent, "echo: hello")
        api.push(sa.text("part 1"))
        client.send(agent, "talk")
        await reply(client, agent, "part 1")
        api.push(sa.text("part 2, written while Prosody was down", gate=gate))
        api.push(sa.text("part 3"))
        client.send(agent, "more")
        await api.wait_requests(3)  # the answer is held by the API while Prosody restarts
        prosody.restart()
        gate.set()
        await asyncio.wait_for(svc.component.connected_event.wait(), 30)
        again = await connect_client(user, resource="again")
        await reply(again, agent, "part 2, written while Prosody was down")
        again.send(agent, "go on")
        await reply(again, agent, "part 3")
        again.send(agent, "still there?")
        await reply(again, agent, "echo: still there?")
        # As the owner's client shows the chat (both sessions): the latest message before the
        # loss is sent again as a correction of itself (Prosody may not have read it), which
        # changes nothing; everything else arrives once, in order.
        shown = [m.body for m in shown_messages(client.history + again.history, agent)]
        assert shown == ["echo: hello", "part 1", "part 2, written while Prosody was down",
                         "part 3", "echo: still there?"]


async def test_killed_cli_is_reported_and_the_next_message_resumes(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    agent = await create_agent(client, "remember 42")
    await reply(client, agent, "echo: remember 42")
    runtime = service.agents[agent.split("@")[0]]
    assert runtime.adapter is not None and runtime.adapter.pid is not None
    os.kill(runtime.adapter.pid, signal.SIGKILL)
    crash = await client.expect(agent, "💥 The agent process exited unexpectedly")
    assert "exit code -9" in crash["body"]
    assert "send a message to restart it" in crash["body"].lower()
    client.send(agent, "which number?")
    await reply(client, agent, "echo: which number?")
    assert "remember 42" in api.all_user_texts()


async def test_stop_interrupts_a_slow_turn_and_the_agent_stays_alive(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    agent = await create_agent(client, "hi")
    await reply(client, agent, "echo: hi")
    gate = asyncio.Event()
    try:
        api.push(sa.text("too late", gate=gate))
        client.send(agent, "write a novel")
        await api.wait_requests(2)
        client.send(agent, "stop")
        await client.expect(agent, "⏹ Interrupting the current turn…")
        await reply(client, agent, "⏹ Interrupted. I'm ready for your next message.")
        client.send(agent, "short answer please")
        # the CLI hands the interrupted request and the new message over together
        await reply(client, agent, re.compile(r"^echo: .*short answer please$", re.S))
        assert service.agents[agent.split("@")[0]].live
    finally:
        gate.set()


async def test_corrupt_state_is_recovered_from_the_backup(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    user = make_user()
    env = process_env(prosody, tmp_path, api)
    first = ServiceProcess(env)
    await first.start()
    client = await connect_client(user)
    agent = await create_agent(client, "one")
    await reply(client, agent, "echo: one")
    client.send(agent, "two")  # one more save: the previous state becomes the backup
    await reply(client, agent, "echo: two")
    first.kill(signal.SIGTERM)
    assert await first.wait() == 0
    state = tmp_path / "home" / "state.json"
    assert (tmp_path / "home" / "state.json.bak").exists()
    state.write_text('{"version": 1, "agents": [ {"name": ')

    second = ServiceProcess(env)
    try:
        await second.start()
        assert any("recovered from state.json.bak" in line for line in second.log)
        client.send(MANAGER, "list")
        listing = await client.expect_eventually(MANAGER, "Your agents:")
        assert agent.split("@")[0] in listing[-1]["body"]
    finally:
        await second.ensure_stopped()

    (tmp_path / "home" / "state.json.bak").write_text("also broken")
    state.write_text("garbage")
    third = ServiceProcess(env)
    await third.start_only()
    code = await third.wait()
    output = "\n".join(third.log)
    assert code == 2, output
    assert "state error" in output and "state.json" in output and "Traceback" not in output


async def test_a_frozen_prosody_is_detected_by_pings_and_the_link_comes_back(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    """SIGSTOP sends no FIN: only the keepalive ping can notice that Prosody stopped answering."""
    user = make_user()
    async with running_service(prosody, tmp_path, api) as svc:
        svc.component.set_keepalive(0.5, 1.0)
        assert prosody.pid is not None
        os.kill(prosody.pid, signal.SIGSTOP)
        try:
            await asyncio.wait_for(svc.component.disconnected_event.wait(), 10)
        finally:
            os.kill(prosody.pid, signal.SIGCONT)
        await asyncio.wait_for(svc.component.connected_event.wait(), 60)
        client = await connect_client(user, resource="after")
        client.send(MANAGER, "help")
        await client.expect(MANAGER, "Commands:")


async def test_megabytes_of_output_are_capped_without_holding_up_another_agent(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    quiet = await create_agent(client, "hi", repo_choice="1")
    await reply(client, quiet, "echo: hi")
    api.push(sa.text("\n".join(f"row {i:06d} " + "y" * 80 for i in range(25_000))))  # ~2.3 MB
    before = len(api.requests)
    loud = await create_agent(client, "dump everything", repo_choice="2")
    await api.wait_requests(before + 1)  # the big reply went to the loud agent
    client.send(quiet, "ping")
    await reply(client, quiet, "echo: ping")
    received = await client.expect_eventually(loud, "✂️ Output cut here", timeout=120)
    parts = [m["body"] for m in received]
    assert parts[0].startswith("row 000000")
    assert all(len(p) <= 3500 for p in parts)
    assert 50_000 < sum(len(p) for p in parts[:-1]) <= 61_000
    assert "more characters not shown" in parts[-1]
