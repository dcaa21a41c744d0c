"""Two agentchat instances on one Prosody: each its own process, component domain, home and
repositories (how one grows past one machine: see the README's Scaling).

A user's roster holds agents of both; neither instance sees, lists or answers for the other's
agents, and one going away leaves the other working.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from tests.support import scripted_api as sa
from tests.support.chat_flows import create_agent, reply
from tests.support.claude_env import claude_env
from tests.support.service_harness import ServiceProcess, make_workspace, service_env
from tests.support.xmpp_client import ClientPool, UserAccount

pytestmark = pytest.mark.timeout(240)

DOMAIN = "example.com"
A, B = "agents-a.example.com", "agents-b.example.com"


@pytest.fixture
def shared_prosody(tmp_path: Path) -> AsyncIterator[EmbeddedProsody]:
    """A Prosody of its own with two component domains, one per instance."""
    server = EmbeddedProsody.with_free_ports(
        tmp_path / "prosody", DOMAIN, A, secrets.token_hex(16),
        extra_components=((B, secrets.token_hex(16)),), files=False,
    )
    server.start()
    yield server
    server.stop()


def instance_env(prosody: EmbeddedProsody, root: Path, api: sa.ScriptedAnthropic,
                 component: str) -> dict[str, str]:
    """One instance: its own home, repositories, MCP port, CLI home and component domain."""
    root.mkdir(parents=True)
    s = prosody.settings
    secret = s.component_secret if component == s.component_domain \
        else dict(s.extra_components)[component]
    env = service_env(prosody, root / "home", make_workspace(root),
                      XMPP_COMPONENT_DOMAIN=component, XMPP_COMPONENT_SECRET=secret)
    env.update(claude_env(root, api))
    return env


async def test_two_instances_on_one_prosody_keep_to_their_own_agents(
    shared_prosody: EmbeddedProsody, tmp_path: Path,
) -> None:
    prosody = shared_prosody
    alice = UserAccount("alice", DOMAIN, secrets.token_urlsafe(12))
    prosody.register(alice.name, alice.password)
    pool = ClientPool(prosody.c2s_host, prosody.settings.c2s_port)
    async with sa.ScriptedAnthropic() as api_a, sa.ScriptedAnthropic() as api_b:
        first = ServiceProcess(instance_env(prosody, tmp_path / "a", api_a, A))
        second = ServiceProcess(instance_env(prosody, tmp_path / "b", api_b, B))
        try:
            await asyncio.gather(first.start(90), second.start(90))
            client = await pool.connect(alice)
            agent_a = await create_agent(client, "task for a", manager=f"manager@{A}")
            await reply(client, agent_a, "echo: task for a")
            agent_b = await create_agent(client, "task for b", manager=f"manager@{B}")
            await reply(client, agent_b, "echo: task for b")
            assert agent_a.endswith("@" + A) and agent_b.endswith("@" + B)
            assert [api.all_user_texts(0)[-1] for api in (api_a, api_b)] == [
                "task for a", "task for b"]

            # both in the roster, both online
            for agent in (agent_a, agent_b):
                await client.next_presence(agent, "available")
            await client.xmpp.get_roster()
            roster = client.xmpp.client_roster
            assert {agent_a, agent_b} <= set(roster.keys())
            assert all(roster[j]["subscription"] == "both" for j in (agent_a, agent_b))

            # each manager lists only its own agent
            for manager, own, other in ((A, agent_a, agent_b), (B, agent_b, agent_a)):
                client.send(f"manager@{manager}", "list")
                listing = str((await client.expect(f"manager@{manager}", "Your agents:"))["body"])
                assert own.split("@")[0] in listing and other.split("@")[0] not in listing

            # a message to A's agent reaches A only; its name under B's domain is nobody there
            requests = (len(api_a.requests), len(api_b.requests))
            client.send(agent_a, "only for a")
            await reply(client, agent_a, "echo: only for a")
            client.send(f"{agent_a.split('@')[0]}@{B}", "hello?")
            await client.next_error(f"{agent_a.split('@')[0]}@{B}", "item-not-found")
            assert (len(api_a.requests), len(api_b.requests)) == (requests[0] + 1, requests[1])

            # separate homes: each state holds its own agent only
            for root, own in ((tmp_path / "a", agent_a), (tmp_path / "b", agent_b)):
                state = json.loads((root / "home" / "state.json").read_text())
                assert [a["name"] for a in state["agents"]] == [own.split("@")[0]]

            # B stops: its agent goes offline, A keeps answering
            second.kill(signal.SIGTERM)
            assert await second.wait() == 0
            gone = await client.next_presence(agent_b, "unavailable")
            assert gone["status"] == "agentchat stopped"
            client.send(agent_a, "still there?")
            await reply(client, agent_a, "echo: still there?")
            client.send(agent_b, "and you?")
            bounce = await client.next_error(agent_b)
            assert bounce["error"]["condition"] in ("remote-server-timeout",
                                                    "service-unavailable")
            assert len(api_b.requests) == requests[1]
        finally:
            await pool.close()
            await first.ensure_stopped()
            await second.ensure_stopped()
