"""The owner edits a message (XEP-0308) in an agent's chat: real Prosody, real Claude CLI.

Still queued: the queue holds the new text, and the model never sees the first version.
Already with the agent: the correction reaches it as a message saying what it corrects.
"""

from __future__ import annotations

import asyncio

import pytest

from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support.chat_flows import create_agent, reply, send_correction, turn_ended
from tests.support.xmpp_client import ClientPool

pytestmark = pytest.mark.timeout(120)


async def test_an_edit_while_queued_replaces_it_and_after_delivery_is_passed_on(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    gate = asyncio.Event()
    api.push(sa.text("first answer", gate=gate))  # the first turn runs until the gate opens
    agent = await create_agent(client, "look around")
    await api.wait_requests(1)
    typo = client.send(agent, "fix the tets")
    await client.expect(agent, "⏳ Queued")
    send_correction(client, agent, typo, "fix the tests")
    await client.expect(agent, "✏️ Corrected: your queued message goes to the agent as you "
                               "edited it.")
    gate.set()
    await client.expect(agent, "first answer")
    await turn_ended(client, agent)  # the first turn's end; the queued one starts at once
    await reply(client, agent, "echo: fix the tests")
    assert api.last_user_text() == "fix the tests"
    assert not any("tets" in text for i in range(len(api.requests))
                   for text in api.all_user_texts(i))  # the model never saw the typo

    send_correction(client, agent, typo, "fix the unit tests")  # it has reached the agent now
    answer = await reply(client, agent, "echo: [This corrects my previous message")
    assert answer == ('echo: [This corrects my previous message, which you already received. '
                      'Before: "fix the tests" Now: "fix the unit tests"]')
    assert "corrects my previous message" in api.last_user_text()
    await client.expect_silence(agent, 0.5)  # one answer to the edit, not one per version
