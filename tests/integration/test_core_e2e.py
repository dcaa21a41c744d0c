"""The seed's behaviour end to end: a real XMPP client, the real Prosody, the real Claude CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support.chat_flows import MANAGER, create_agent, reply
from tests.support.service_harness import running_service
from tests.support.xmpp_client import ClientPool, UserAccount

pytestmark = pytest.mark.usefixtures("component_free")


async def test_seed_transcript(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool
) -> None:
    user: UserAccount = make_user()
    client = await connect_client(user)
    api.push(sa.text("I'll look at the login bug in src/auth.ts."))
    agent = await create_agent(client, "Fix the login bug in src/auth.ts")

    subscribe = await client.next_presence(agent, "subscribe")
    nick = subscribe.xml.find("{http://jabber.org/protocol/nick}nick")
    assert nick is not None and nick.text == agent.split("@")[0]
    await reply(client, agent, "I'll look at the login bug in src/auth.ts.")
    assert api.last_user_text() == "Fix the login bug in src/auth.ts"
    assert "my-project" in str(api.requests[-1])  # the CLI runs in the chosen repository

    api.push(sa.text("Here is the current auth implementation: …"))
    client.send(agent, "Can you show me the current auth implementation?")
    await reply(client, agent, "Here is the current auth implementation")
    assert api.last_user_text() == "Can you show me the current auth implementation?"


async def test_list_status_kill(
    service: Service, make_user, connect_client: ClientPool
) -> None:
    client = await connect_client(make_user())
    client.send(MANAGER, "list")
    await client.expect(MANAGER, "You have no agents.")
    agent = await create_agent(client, "Say hi", repo_choice="1")
    name = agent.split("@")[0]
    await reply(client, agent, "echo: Say hi")
    client.send(MANAGER, "list")
    listing = await client.expect(MANAGER, "Your agents:")
    assert name in listing["body"]
    client.send(MANAGER, f"status {name}")
    status = await client.expect(MANAGER, f"{name}: ")
    assert "Repository: another-repo" in status["body"] and "Turns: 1" in status["body"]
    client.send(MANAGER, "status nobody-here")
    await client.expect(MANAGER, f"No agent named 'nobody-here'. Your agents: {name}.")
    client.send(MANAGER, f"kill {name}")
    await client.expect(MANAGER, f"Killed {name}.")
    await client.expect(agent, "was killed from the manager")
    gone = await client.next_presence(agent, "unavailable")
    assert gone["type"] == "unavailable"
    client.send(MANAGER, "list")
    await client.expect(MANAGER, "You have no agents.")
    client.send(MANAGER, "kill")
    await client.expect(MANAGER, "Usage: kill <agent-name>")
    client.send(MANAGER, "frobnicate now")
    await client.expect(MANAGER, "Unknown command 'frobnicate'. Send 'help' for the commands.")
    client.send(MANAGER, "repos")
    await client.expect(MANAGER, re.compile(r"\[1\] another-repo\n\[2\] my-project$"))


async def test_quit_and_agent_commands(
    service: Service, make_user, connect_client: ClientPool
) -> None:
    client = await connect_client(make_user())
    agent = await create_agent(client, "hello")
    await reply(client, agent, "echo: hello")
    client.send(agent, "help")
    await client.expect(agent, "quit (or exit)")
    client.send(agent, "quit")
    await client.expect(agent, "Shutting down")
    assert not service.agents[agent.split("@")[0]].live
    client.send(agent, "are you there?")
    await client.expect(agent, "has ended")


async def test_two_agents_at_once(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool
) -> None:
    client = await connect_client(make_user())
    one = await create_agent(client, "task one", repo_choice="1")
    await reply(client, one, "echo: task one")
    two = await create_agent(client, "task two", repo_choice="2")
    await reply(client, two, "echo: task two")
    assert one != two
    client.send(one, "to one")
    client.send(two, "to two")
    await reply(client, one, "echo: to one")
    await reply(client, two, "echo: to two")
    assert {a.name for a in service.agents.values() if a.live} == {
        one.split("@")[0], two.split("@")[0]}


async def test_max_concurrent_refusal(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    async with running_service(prosody, tmp_path, api, {"AGENTS_MAX_CONCURRENT": "1"}):
        client = await connect_client(make_user())
        agent = await create_agent(client, "first")
        await reply(client, agent, "echo: first")
        client.send(MANAGER, "new")
        await client.expect(
            MANAGER,
            "Cannot create an agent now: 1 agents are already running "
            "(agents.maxConcurrent = 1). Quit or kill one first ('list' shows them).",
        )


async def test_idle_timeout_then_resume_continues_the_conversation(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    async with running_service(prosody, tmp_path, api, {"AGENTS_IDLE_TIMEOUT": "1500"}) as svc:
        client = await connect_client(make_user())
        agent = await create_agent(client, "remember the word banana")
        await reply(client, agent, "echo: remember the word banana")
        idle = await client.next_presence(agent, "xa")
        assert idle["status"] == "idle – send a message to resume"
        name = agent.split("@")[0]
        assert not svc.agents[name].live
        client.send(agent, "what was the word?")
        await reply(client, agent, "echo: what was the word?")
        texts = api.all_user_texts()
        assert "remember the word banana" in texts and "what was the word?" in texts


async def test_stranger_refused_and_agent_deaf_to_non_owner(
    service: Service, make_user, connect_client: ClientPool, prosody: EmbeddedProsody
) -> None:
    owner = await connect_client(make_user())
    agent = await create_agent(owner, "hi")
    await reply(owner, agent, "echo: hi")

    other = await connect_client(make_user())
    other.send(agent, "do something for me")
    error = await other.next_error(agent, "item-not-found")  # as if it did not exist
    assert error["error"]["text"] == f"There is no agent called {agent.split('@')[0]}."
    # the owner still gets answers, and nothing the other user sent reached the agent
    owner.send(agent, "still there?")
    await reply(owner, agent, "echo: still there?")


async def test_unknown_jid_and_foreign_server(
    service: Service, make_user, connect_client: ClientPool
) -> None:
    client = await connect_client(make_user())
    client.send("no-such-agent@agents.example.com", "hello?")
    error = await client.next_error("no-such-agent@agents.example.com", "item-not-found")
    assert "no agent called no-such-agent" in error["error"]["text"]


async def test_manager_refuses_users_not_allowed(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    allowed, stranger = make_user(), make_user()
    async with running_service(prosody, tmp_path, api, {"ALLOWED_JIDS": allowed.jid}):
        intruder = await connect_client(stranger)
        intruder.send(MANAGER, "new")
        error = await intruder.next_error(MANAGER, "forbidden")
        assert error["error"]["type"] == "auth"
        friend = await connect_client(allowed)
        friend.send(MANAGER, "help")
        await friend.expect(MANAGER, "Commands:")


async def test_huge_messages_are_refused_with_the_limit_named(
    service: Service, make_user, connect_client: ClientPool
) -> None:
    client = await connect_client(make_user())
    client.send(MANAGER, "n" * 40_000)
    await client.expect(MANAGER, "⚠️ Message not delivered: it has 40,000 characters and the "
                                 "limit is 32,000.")
    agent = await create_agent(client, "hi")
    await reply(client, agent, "echo: hi")
    client.send(agent, "z" * 40_000)
    await client.expect(agent, "⚠️ Message not delivered: it has 40,000 characters")
    client.send(agent, "short")
    await reply(client, agent, "echo: short")
