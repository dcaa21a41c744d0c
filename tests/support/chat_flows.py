"""Conversations the tests have with the manager and agents, as a user would type them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Protocol

from tests.support.xmpp_client import ChatClient, jid_matches

MANAGER = "manager@agents.example.com"


def created_reply(component_domain: str) -> re.Pattern[str]:
    """The manager's answer when an agent under ``component_domain`` was created."""
    domain = re.escape(component_domain)
    return re.compile(rf"^Agent ([a-z]+-[a-z]+) created\. Chat at \1@{domain}$")


CREATED = created_reply("agents.example.com")


async def turn_ended(client: ChatClient, agent: str) -> None:
    """The agent's XEP-0085 ``active`` state: its turn is over and it takes the next message."""
    await client.next_stanza(
        "other",
        lambda m: jid_matches(m["from"], agent)
        and m.xml.find("{http://jabber.org/protocol/chatstates}active") is not None,
        what=f"chat state 'active' from {agent}",
    )


async def reply(client: ChatClient, agent: str, contains: str | re.Pattern[str],
                timeout: float = 30) -> str:
    """The agent's next message (which must contain ``contains``) and the end of its turn."""
    msg = await client.expect(agent, contains, timeout)
    await turn_ended(client, agent)
    return str(msg["body"])


async def start_creation(
    client: ChatClient, task: str, repo_choice: str = "2", kind: str = "Claude Code",
    manager: str = MANAGER,
) -> None:
    """Walk the manager's creation flow up to sending ``task``, picking the type labelled
    ``kind`` from the menu; what the manager answers to the task is the caller's to check."""
    client.send(manager, "new")
    menu = await client.expect(manager, "What type of agent? [1] ")
    choice = re.search(rf"\[(\d+)\] {re.escape(kind)}(?: \[|$)", str(menu["body"]))
    assert choice is not None, f"{kind} is not offered: {menu['body']}"
    client.send(manager, choice.group(1))
    await client.expect(manager, "Available repos: [1] another-repo [2] my-project")
    client.send(manager, repo_choice)
    await client.expect(manager, "What's the initial task for the agent?")
    client.send(manager, task)


async def create_agent(
    client: ChatClient, task: str, repo_choice: str = "2", kind: str = "Claude Code",
    timeout: float = 30, manager: str = MANAGER,
) -> str:
    """The whole creation flow (``start_creation``) with ``manager`` (that of another
    agentchat instance, too); returns the agent's bare JID. ``timeout``: for the agent's
    start (OpenCode needs tens of seconds on a busy machine)."""
    await start_creation(client, task, repo_choice, kind, manager)
    domain = manager.split("@", 1)[1]
    pattern = created_reply(domain)
    created = await client.expect(manager, pattern, timeout)
    match = pattern.match(created["body"])
    assert match is not None
    return f"{match.group(1)}@{domain}"


class ScriptedModel(Protocol):
    """Any scripted model API of tests/support (Anthropic, Gemini, OpenAI Responses)."""

    def push(self, *steps: Any) -> None: ...


async def asking_to_write(
    api: ScriptedModel, write_step: Any, client: ChatClient, target: Path, task: str,
    kind: str = "Claude Code", timeout: float = 30,
) -> tuple[str, str, Any]:
    """A new agent whose first step (``write_step``, scripted) is a Write of ``target``:
    returns (agent, prompt id, prompt)."""
    api.push(write_step)
    agent = await create_agent(client, task, kind=kind, timeout=timeout)
    pid, prompt = await wait_prompt(client, agent, f"🔧 Write {target.name}")
    return agent, pid, prompt


PROMPT = re.compile(r"^🔐 Permission #([0-9a-f]{4})\n")


async def collect(
    client: ChatClient, agent: str, *patterns: str | re.Pattern[str], timeout: float = 60
) -> list[object]:
    """Messages from ``agent`` until every pattern matched one of them, in whatever order.

    For output whose order is not fixed (a tool line on stdout vs. a prompt over MCP).
    Returns the matching messages, one per pattern.
    """
    found: dict[int, object] = {}
    seen: list[str] = []
    while len(found) < len(patterns):
        try:
            msg = await client.next_message(agent, timeout)
        except AssertionError as exc:
            raise AssertionError(f"still waiting for {patterns}; got {seen}\n{exc}") from None
        body = str(msg["body"])
        seen.append(body)
        for i, pattern in enumerate(patterns):
            if i in found:
                continue
            if (pattern.search(body) if isinstance(pattern, re.Pattern) else pattern in body):
                found[i] = msg
                break
    return [found[i] for i in range(len(patterns))]


async def wait_prompt(client: ChatClient, agent: str, tool_line: str) -> tuple[str, object]:
    """The prompt (and the tool's one-line notice); returns (prompt id, prompt message)."""
    prompt, _line = await collect(client, agent, PROMPT, tool_line)
    match = PROMPT.match(str(prompt["body"]))  # type: ignore[index]
    assert match is not None
    return match.group(1), prompt


CORRECTION_NS = "{urn:xmpp:message-correct:0}replace"


async def correction_of(client: ChatClient, agent: str, prompt: Any) -> str:
    """The agent's next message: the XEP-0308 correction replacing ``prompt``, from the prompt's
    own full JID (so nothing can come between them there); returns its body.

    Before any acknowledgement: clients that correct only the latest message would otherwise
    show a second copy of the prompt.
    """
    msg = await client.next_message(agent)
    replace = msg.xml.find(CORRECTION_NS)
    assert replace is not None and replace.get("id") == prompt["id"], (
        f"wanted the correction of {prompt['id']} first, got {msg['body']!r}")
    assert msg["from"] == prompt["from"]
    return str(msg["body"])


def reactions(target_id: str, emojis: list[str]) -> ET.Element:
    """A XEP-0444 ``<reactions/>`` payload on message ``target_id``, to append to a message."""
    root = ET.Element("{urn:xmpp:reactions:0}reactions", {"id": target_id})
    for emoji in emojis:
        ET.SubElement(root, "{urn:xmpp:reactions:0}reaction").text = emoji
    return root


def send_correction(client: ChatClient, to: str, original_id: str, body: str) -> str:
    """The owner edits message ``original_id`` (XEP-0308 Last Message Correction), as
    Conversations and Gajim send it: the whole new text, ``<replace id=…/>``; returns its id."""
    msg = client.xmpp.make_message(mto=to, mbody=body, mtype="chat")
    msg["id"] = client.xmpp.new_id()
    ET.SubElement(msg.xml, CORRECTION_NS, {"id": original_id})
    msg.send()
    return str(msg["id"])
