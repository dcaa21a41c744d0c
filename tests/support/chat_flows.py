"""Conversations the tests have with the manager and agents, as a user would type them."""

from __future__ import annotations

import re

from tests.support.xmpp_client import ChatClient, jid_matches

MANAGER = "manager@agents.example.com"
CREATED = re.compile(r"^Agent ([a-z]+-[a-z]+) created\. Chat at \1@agents\.example\.com$")


async def turn_ended(client: ChatClient, agent: str) -> None:
    """The agent's XEP-0085 ``active`` state: its turn is over and it takes the next message."""
    await client.next_stanza(
        "other",
        lambda m: jid_matches(m["from"], agent)
        and m.xml.find("{http://jabber.org/protocol/chatstates}active") is not None,
        what=f"chat state 'active' from {agent}",
    )


async def reply(client: ChatClient, agent: str, contains: str | re.Pattern[str]) -> str:
    """The agent's next message (which must contain ``contains``) and the end of its turn."""
    msg = await client.expect(agent, contains)
    await turn_ended(client, agent)
    return str(msg["body"])


async def create_agent(client: ChatClient, task: str, repo_choice: str = "2") -> str:
    """Walk the manager's creation flow; returns the agent's bare JID."""
    client.send(MANAGER, "new")
    await client.expect(MANAGER, "What type of agent? [1] Claude Code")
    client.send(MANAGER, "1")
    await client.expect(MANAGER, "Available repos: [1] another-repo [2] my-project")
    client.send(MANAGER, repo_choice)
    await client.expect(MANAGER, "What's the initial task for the agent?")
    client.send(MANAGER, task)
    created = await client.expect(MANAGER, CREATED)
    match = CREATED.match(created["body"])
    assert match is not None
    return f"{match.group(1)}@agents.example.com"
