"""Decided prompts read right in clients that correct only the latest message of a full JID.

Each prompt comes from its own resource and is corrected before anything acknowledges the
answer; answers may come to the bare JID, to the prompt's full JID, or as a reaction. Chat
states follow the agent (typing, paused while it waits, typing again), the presence says what
is needed, and a prompt nobody has seen is mentioned once more.
"""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from agentchat.permissions.mcp_app import SECRET_HEADER
from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support.chat_flows import collect, create_agent, reactions, reply, wait_prompt
from tests.support.client_view import REPLACE, shown_messages
from tests.support.mcp_client import call_permission, only_json
from tests.support.xmpp_client import ChatClient, ClientPool, jid_matches

STATES = "http://jabber.org/protocol/chatstates"
MARKERS = "urn:xmpp:chat-markers:0"
DISCO_INFO = "http://jabber.org/protocol/disco#info"


def repo(tmp_path: Path) -> Path:
    return tmp_path / "work" / "my-project"


async def chat_state(client: ChatClient, agent: str, state: str) -> None:
    await client.next_stanza(
        "other",
        lambda m: jid_matches(m["from"], agent) and m.xml.find(f"{{{STATES}}}{state}") is not None,
        what=f"chat state {state!r} from {agent}",
    )


async def features(client: ChatClient, jid: str) -> set[str]:
    reply = await client.iq(client.xmpp.make_iq_get(queryxmlns=DISCO_INFO, ito=jid))
    assert reply["type"] == "result", reply
    return {f.get("var") for f in reply.xml.iter(f"{{{DISCO_INFO}}}feature")}


def ask_as_the_cli(service: Service, agent: str, name: str) -> asyncio.Task[Any]:
    """One more permission request of ``agent``, sent to the MCP tool with its own secret."""
    assert service.mcp is not None
    config = json.loads((service.config.home / "mcp" / f"{agent}.json").read_text())
    server = next(iter(config["mcpServers"].values()))
    args = {"tool_name": "Write", "input": {"file_path": str(name), "content": "x\n"},
            "tool_use_id": "toolu_second"}
    return asyncio.ensure_future(call_permission(
        server["url"], {SECRET_HEADER: server["headers"][SECRET_HEADER]}, args))


async def test_two_pending_prompts_each_end_in_place_and_acknowledged_after_correction(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    target = repo(tmp_path) / "hello.txt"
    api.push(sa.tool_use("Write", {"file_path": str(target), "content": "hello\n"}))
    client = await connect_client(make_user())
    agent = await create_agent(client, "create hello.txt")
    local = agent.split("@")[0]
    await chat_state(client, agent, "composing")
    id1, prompt1 = await wait_prompt(client, agent, "🔧 Write hello.txt")
    assert str(prompt1["from"]) == f"{agent}/prompt-{id1}"  # type: ignore[index]
    assert prompt1.xml.find(f"{{{MARKERS}}}markable") is not None  # type: ignore[attr-defined]
    await chat_state(client, agent, "paused")  # waiting for the owner is not typing
    # The prompt's full JID is the agent too: disco answers as for the agent itself.
    assert await features(client, f"{agent}/prompt-{id1}") == await features(client, agent)
    away = await client.next_presence(agent, "away")
    assert away["status"] == f"needs your answer: #{id1} Write hello.txt"

    second = ask_as_the_cli(service, local, str(repo(tmp_path) / "other.txt"))
    (prompt2,) = await collect(client, agent, re.compile(r"^🔐 Permission #(?!" + id1 + ")"))
    id2 = re.match(r"^🔐 Permission #([0-9a-f]{4})", str(prompt2["body"])).group(1)  # type: ignore[index, union-attr]
    assert str(prompt2["from"]) == f"{agent}/prompt-{id2}"  # type: ignore[index]
    status = (await client.next_presence(agent, "away"))["status"]
    assert status == f"needs your answer: #{id1} Write hello.txt (+1 more)"

    # Clients may reply to the full JID the prompt came from: same agent, same handling.
    client.send(f"{agent}/prompt-{id2}", f"{id2} yes")
    corrected = await client.next_message(agent)  # nothing before the correction
    assert corrected.xml.find(REPLACE).get("id") == prompt2["id"]  # type: ignore[index]
    assert str(corrected["from"]) == f"{agent}/prompt-{id2}"
    await client.expect(agent, f"✅ allowed #{id2}")
    assert only_json(await second)["behavior"] == "allow"

    # A 👍 reaction on the first prompt answers it; the correction again comes first.
    message = client.xmpp.make_message(mto=f"{agent}/prompt-{id1}", mtype="chat")
    message.xml.append(reactions(str(prompt1["id"]), ["👍"]))  # type: ignore[index]
    message.send()
    corrected = await client.next_message(agent)
    assert corrected.xml.find(REPLACE).get("id") == prompt1["id"]  # type: ignore[index]
    assert str(corrected["from"]) == f"{agent}/prompt-{id1}"
    await client.expect(agent, f"✅ allowed #{id1}")
    await chat_state(client, agent, "composing")  # it goes on
    await reply(client, agent, "done: ")  # ends with "active"
    assert target.read_text() == "hello\n"

    shown = [m.body for m in shown_messages(client.history, agent)]
    prompts = [b for b in shown if b.startswith("🔐 Permission #")]
    assert len(prompts) == 2, shown  # each prompt shown once, in place
    assert all(p.endswith("✅ allowed") and "Reply:" not in p for p in prompts), prompts
    assert not any("Reply: yes / no / always" in b for b in shown), shown


async def test_an_unseen_prompt_is_mentioned_once_a_displayed_one_is_not(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    service.sink.remind_after = 0.5
    api.push(sa.tool_use("Write", {"file_path": str(repo(tmp_path) / "a.txt"), "content": "a"}))
    client = await connect_client(make_user())
    agent = await create_agent(client, "create a.txt")
    pid, prompt = await wait_prompt(client, agent, "🔧 Write a.txt")
    await client.expect(agent, f"⏳ Permission #{pid} is waiting for your answer: Write a.txt")
    await client.expect_silence(agent, 1.5)  # once only

    client.send(agent, f"{pid} yes")
    await client.next_message(agent)  # the correction
    await client.expect(agent, f"✅ allowed #{pid}")

    await reply(client, agent, "done: ")
    api.push(sa.tool_use("Write", {"file_path": str(repo(tmp_path) / "b.txt"), "content": "b"}))
    client.send(agent, "and b.txt")
    pid, prompt = await wait_prompt(client, agent, "🔧 Write b.txt")
    marker = client.xmpp.make_message(mto=str(prompt["from"]), mtype="chat")  # type: ignore[index]
    marker.xml.append(_displayed(str(prompt["id"])))  # type: ignore[index]
    marker.send()
    await client.expect_silence(agent, 1.5)  # seen: no reminder
    client.send(agent, "no")
    await client.next_message(agent)
    await client.expect(agent, f"❌ denied #{pid}")


def _displayed(msg_id: str) -> ET.Element:
    return ET.Element(f"{{{MARKERS}}}displayed", {"id": msg_id})
