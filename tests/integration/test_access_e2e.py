"""Who reaches which agent: revoked users, and strangers who probe for agent names."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from tests.support import scripted_api as sa
from tests.support.chat_flows import MANAGER, create_agent, reply
from tests.support.service_harness import running_service
from tests.support.xmpp_client import ChatClient, ClientPool, jid_matches, wait_component_free

pytestmark = [pytest.mark.usefixtures("component_free"), pytest.mark.timeout(180)]

NOBODY = "nobody-here@agents.example.com"


async def answers_of(stranger: ChatClient, to: str) -> list[tuple[str, str, str]]:
    """(kind, error type, condition) of the answers to a message, a probe, disco#info, vCard."""
    out: list[tuple[str, str, str]] = []
    stranger.send(to, "hello?")
    msg = await stranger.next_error(to)
    local = to.split("@")[0]
    assert msg["error"]["text"] == f"There is no agent called {local}."
    out.append(("message", msg["error"]["type"], msg["error"]["condition"]))
    stranger.xmpp.make_presence(pto=to, ptype="probe").send()
    probe = await stranger.next_stanza(
        "presence", lambda p: jid_matches(p["from"], to) and p["type"] == "error")
    out.append(("probe", probe["error"]["type"], probe["error"]["condition"]))
    for ns in ("http://jabber.org/protocol/disco#info", "vcard-temp"):
        iq: Any = stranger.xmpp.make_iq_get(ito=to)
        iq.append(ET.Element(f"{{{ns}}}{'vCard' if ns == 'vcard-temp' else 'query'}"))
        answer = await stranger.iq(iq)
        assert answer["type"] == "error", answer
        out.append((ns, answer["error"]["type"], answer["error"]["condition"]))
    return out


async def test_strangers_cannot_tell_existing_agents_from_missing_ones(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool,
) -> None:
    async with running_service(prosody, tmp_path, api):
        owner = await connect_client(make_user())
        agent = await create_agent(owner, "hi")
        await reply(owner, agent, "echo: hi")
        stranger = await connect_client(make_user())  # allowed to use agentchat, not this agent
        existing = await answers_of(stranger, agent)
        missing = await answers_of(stranger, NOBODY)
        assert existing == missing
        assert {condition for _kind, _type, condition in existing} == {"item-not-found"}
        owner.send(agent, "still mine?")
        await reply(owner, agent, "echo: still mine?")


async def test_a_user_removed_from_allowed_jids_no_longer_reaches_their_agents(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, component_free: None,
) -> None:
    owner_account, colleague_account = make_user(), make_user()
    both = f"{owner_account.jid},{colleague_account.jid}"
    async with running_service(prosody, tmp_path, api, {"ALLOWED_JIDS": both}):
        owner = await connect_client(owner_account)
        agent = await create_agent(owner, "remember the word banana")
        await reply(owner, agent, "echo: remember the word banana")
    name = agent.split("@")[0]

    await component_free_again(prosody)
    env = {"ALLOWED_JIDS": colleague_account.jid}
    async with running_service(prosody, tmp_path, api, env) as svc:
        owner.send(agent, "are you there?")
        refused = await owner.next_error(agent, "item-not-found")
        assert refused["error"]["text"] == f"There is no agent called {name}."
        owner.send(MANAGER, "list")
        await owner.next_error(MANAGER, "forbidden")
        record = svc.agents[name].record
        assert record.owner == owner_account.jid and record.owner_revoked  # state kept
        assert len(api.all_user_texts()) == 1  # nothing reached the agent
    await component_free_again(prosody)
    owner.inboxes["message"].clear()
    async with running_service(prosody, tmp_path, api, {"ALLOWED_JIDS": both}):
        await owner.expect_eventually(MANAGER, "Your access to agentchat is back. Your agents "
                                               f"kept their state: {name}.")
        owner.send(agent, "what was the word?")
        await owner.expect_eventually(agent, "echo: what was the word?", timeout=60)
        assert "remember the word banana" in api.all_user_texts()


async def component_free_again(prosody: EmbeddedProsody) -> None:
    """The previous service's component connection is gone (Prosody allows one)."""
    s = prosody.settings
    await wait_component_free(prosody.component_host, s.component_port, s.component_domain,
                              s.component_secret)
