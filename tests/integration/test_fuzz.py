"""Thousands of random bodies and stanza shapes from the owner and a stranger.

Nothing may crash or log a traceback, the stranger gets errors and causes nothing, and the
service still answers its owner afterwards. Seeded, so a failure can be replayed. The 10,000
stanza run is marked ``slow``: scripts/test runs it in its own step after the main suite.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from agentchat.agents.events import AssistantText, PartialText, ToolCall, TurnFinished
from agentchat.chat.textpolicy import scrub
from agentchat.permissions.mcp_app import SECRET_HEADER, decide
from agentchat.prosody.embedded import EmbeddedProsody
from tests.support import scripted_api as sa
from tests.support.chat_flows import CREATED, MANAGER, create_agent, reactions, reply
from tests.support.fakes import FakeAdapter
from tests.support.service_harness import fake_cli_service, make_workspace, running_service
from tests.support.xmpp_client import ChatClient, ClientPool

pytestmark = [pytest.mark.usefixtures("component_free"), pytest.mark.timeout(300)]

WORDS = ["new", "create", "list", "agents", "status", "kill", "repos", "help", "cancel", "1",
         "2", "3", "yes", "no", "always", "stop", "quit", "no, because", "#a1b2 yes", "0", "-1",
         "💥", "👍", "revoke 1", "rules", "status nobody", "kill nobody", "new new", "   "]
ODD = ["\u2028", "\u202e", "\t", "\r\n", "&amp;", "<b>", "]]>", "'\"", "\\", "\ufeff", "ß",
       "日本語", "🧑‍💻", "\U0001f600", "%s%n", "{}", "null", "\u00a0"]


def random_body(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
    if roll < 0.8:
        return "".join(rng.choice(ODD + WORDS) for _ in range(rng.randint(1, 12)))
    if roll < 0.95:
        return "".join(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0xd7ff),
                                       rng.randint(0xe000, 0xfffd)]))
                       for _ in range(rng.randint(1, 300)))
    return "x" * rng.choice([31_999, 32_001, 40_000])


def random_target(rng: random.Random, agent: str) -> str:
    return rng.choice([MANAGER, agent, "agents.example.com", "nobody@agents.example.com",
                       f"{agent}/other", f"{MANAGER}/x", "MANAGER@AGENTS.EXAMPLE.COM",
                       "a@agents.example.com/b"])


def odd_message(client: ChatClient, rng: random.Random, to: str) -> None:
    msg = client.xmpp.make_message(mto=to, mtype=rng.choice(
        ["chat", "normal", "groupchat", "headline", "error"]))
    if rng.random() < 0.5:
        msg["body"] = random_body(rng)
    child: Any = rng.choice([
        ET.Element("{http://jabber.org/protocol/chatstates}composing"),
        ET.Element("{urn:xmpp:receipts}request"),
        ET.Element("{urn:xmpp:receipts}received", {"id": "x"}),
        ET.Element("{urn:xmpp:message-correct:0}replace", {"id": "nope"}),
        ET.Element("{urn:example:unknown}thing"),
        _reactions(rng),
    ])
    msg.xml.append(child)
    msg.send()


def _reactions(rng: random.Random) -> ET.Element:
    return reactions(rng.choice(["", "x", "1" * 80]),
                     [rng.choice(["👍", "👎", "x"]) for _ in range(rng.randint(0, 3))])


def odd_presence(client: ChatClient, rng: random.Random, to: str) -> None:
    ptype = rng.choice(["subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe",
                        "available", "unavailable"])
    pres = client.xmpp.make_presence(pto=to, ptype=None if ptype == "available" else ptype)
    if rng.random() < 0.3:
        pres["status"] = random_body(rng)[:200]
    pres.send()


UNANSWERED: list[Any] = []
IQ_TIMEOUT = 300  # seconds
IQ_FUTURES: list[Any] = []


def odd_iq(client: ChatClient, rng: random.Random, to: str) -> None:
    iq = client.xmpp.make_iq(ito=to, itype=rng.choice(["get", "set"]))
    iq.append(ET.Element(rng.choice([
        "{http://jabber.org/protocol/disco#info}query",
        "{http://jabber.org/protocol/disco#items}query",
        "{vcard-temp}vCard",
        "{urn:xmpp:ping}ping",
        "{http://jabber.org/protocol/commands}command",
        "{urn:example:unknown}query",
    ])))
    # The clock starts when the IQ is queued in the client, behind up to 5,400 other stanzas: on a
    # loaded 2-core machine the client alone can take longer than 20 s to write them all out.
    future = iq.send(timeout=IQ_TIMEOUT)
    future.add_done_callback(_note_timeout)
    IQ_FUTURES.append(future)


def _note_timeout(future: Any) -> None:
    """Every IQ must be answered (RFC 6120), with a result or an error: a timeout is a bug."""
    exc = future.exception()
    if exc is not None and type(exc).__name__ == "IqTimeout":
        UNANSWERED.append(exc.iq)


async def barrier(client: ChatClient, stranger: bool) -> None:
    """Everything sent before is handled: the manager answers (or refuses) in order."""
    client.send(MANAGER, "help")
    if stranger:
        await client.next_error(MANAGER, "forbidden", timeout=IQ_TIMEOUT)
    else:
        await client.expect_eventually(MANAGER, "Commands:", timeout=IQ_TIMEOUT)


def _from_the_service(record: logging.LogRecord) -> bool:
    """agentchat's own records; a test client closing its stream (slixmpp's NotConnectedError
    while it still had stanzas queued) is the client's business, not the service's."""
    if record.name.startswith("agentchat"):
        return True
    exc = record.exc_info[1] if record.exc_info else None
    return type(exc).__name__ != "NotConnectedError"


# How many of each the first fuzz test sends: 10,000 stanzas in all.
STRANGER_BODIES, STRANGER_SHAPES, OWNER_BODIES, OWNER_SHAPES = 4_500, 900, 3_700, 900


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_fuzz_owner_and_stranger(
    prosody: EmbeddedProsody, tmp_path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    rng = random.Random(20261125)
    owner_account, stranger_account = make_user(), make_user()
    env = {"AGENTS_MAX_CONCURRENT": "2", "ALLOWED_JIDS": owner_account.jid}
    async with running_service(prosody, tmp_path, api, env) as svc:
        owner = await connect_client(owner_account)
        stranger = await connect_client(stranger_account)
        agent = await create_agent(owner, "fuzz target")
        await reply(owner, agent, "echo: fuzz target")
        name = agent.split("@")[0]
        requests_before = len(api.requests)

        sent = {"stranger": 0, "owner": 0, "shapes": 0}
        for _ in range(STRANGER_BODIES):
            stranger.send(random_target(rng, agent), random_body(rng))
            sent["stranger"] += 1
        for _ in range(STRANGER_SHAPES):
            shape = rng.choice([odd_message, odd_presence, odd_iq])
            shape(stranger, rng, random_target(rng, agent))
            sent["shapes"] += 1
        await barrier(stranger, stranger=True)
        assert len(api.requests) == requests_before, "a stranger reached the agent"
        assert all(a.owner != stranger.bare_jid for a in svc.agents.values())

        for _ in range(OWNER_BODIES):
            body = random_body(rng)
            if body.strip().lower().startswith(("kill", "quit")):
                body = "help"  # keep the agent alive for the final check
            owner.send(rng.choice([MANAGER, MANAGER, agent]) if rng.random() < 0.9
                       else random_target(rng, agent), body)
            sent["owner"] += 1
        for _ in range(OWNER_SHAPES):
            shape = rng.choice([odd_message, odd_presence, odd_iq])
            shape(owner, rng, random_target(rng, agent))
            sent["shapes"] += 1
        owner.send(MANAGER, "cancel")  # leave any creation flow the fuzz started
        await barrier(owner, stranger=False)

        # the owner's agent still works after all that
        runtime = svc.agents[name]
        await runtime.turn_done.wait()
        owner.inboxes["message"].clear()
        owner.send(agent, "final check")
        await owner.expect_eventually(agent, "final check", timeout=120)

        await asyncio.wait(IQ_FUTURES)  # each ends with an answer, or a timeout (IQ_TIMEOUT)
    assert IQ_FUTURES and not UNANSWERED, [str(iq) for iq in UNANSWERED[:5]]
    records = [r for r in caplog.records if _from_the_service(r)]
    tracebacks = [r for r in records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, [(r.name, r.getMessage()) for r in tracebacks[:5]]
    errors = [(r.name, r.getMessage()) for r in records if r.levelno >= logging.ERROR]
    assert not errors, errors[:5]
    assert sum(sent.values()) == 10_000
    print(f"fuzz: sent {sent}, total {sum(sent.values())}, "
          f"warnings logged {sum(r.levelno == logging.WARNING for r in caplog.records)}")


# ---------------------------------------------------------------------- agent output

ANSI = ["\x1b[31m", "\x1b[0m", "\x1b[2J", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x1b(B",
        "\x1bM", "\x9b1m", "\x1b[", "\x1b"]
TRICKY = ["<", ">", "&", "&amp;", "]]>", "'", '"', "\n", "\r\n", "```", "🔐 Permission #0000",
          "\nReply: yes / no / always", "\u202e", "\u2066", "\u200b", "\ufeff", "🧑‍💻"]


def random_code_point(rng: random.Random) -> str:
    """Any code point, weighted towards the ones XML, terminals and bidi care about."""
    roll = rng.random()
    if roll < 0.25:
        return chr(rng.choice([rng.randint(0, 0x1f), rng.randint(0x7f, 0x9f)]))
    if roll < 0.3:
        return chr(rng.randint(0xd800, 0xdfff))  # lone surrogates (JSON "\ud800" gives them)
    if roll < 0.35:
        return chr(rng.choice([0xfffe, 0xffff, 0xfdd0, 0x1fffe, 0x10ffff, 0xfffd]))
    if roll < 0.4:
        return chr(rng.choice([0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2069,
                               0x200e, 0x200f, 0x061c]))
    return chr(rng.randint(0, 0x10ffff))


def random_text(rng: random.Random, longest: int = 200) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(0, longest)):
        roll = rng.random()
        parts.append(rng.choice(ANSI) if roll < 0.05 else rng.choice(TRICKY) if roll < 0.1
                     else random_code_point(rng) if roll < 0.7 else chr(rng.randint(0x20, 0x7e)))
    return "".join(parts)


def random_dir_name(rng: random.Random) -> bytes:
    """A directory name as the file system allows it: any bytes but '/' and NUL."""
    while True:
        if rng.random() < 0.5:
            raw = bytes(rng.choice([b for b in range(1, 256) if b != 0x2F])
                        for _ in range(rng.randint(1, 40)))
        else:
            raw = random_text(rng, 30).encode("utf-8", "ignore")
            raw = raw.replace(b"/", b"").replace(b"\x00", b"")[:200]
        if raw and not raw.startswith(b".") and raw.strip():
            return raw


def random_tool(rng: random.Random) -> tuple[str, dict[str, Any]]:
    name = rng.choice(["Write", "Edit", "Bash", "Read", "Grep", "WebFetch", "MultiEdit",
                       "AskUserQuestion", "mcp__x__" + random_text(rng, 10), random_text(rng, 20)])
    keys = ["file_path", "content", "command", "description", "old_string", "new_string",
            "pattern", "url", "prompt", random_text(rng, 5)]
    tool_input: dict[str, Any] = {k: random_text(rng) for k in rng.sample(keys, rng.randint(0, 5))}
    if name == "AskUserQuestion":
        tool_input["questions"] = [{"question": random_text(rng, 40), "header": random_text(rng, 9),
                                    "options": [{"label": random_text(rng, 10),
                                                 "description": random_text(rng, 30)}]}]
    return name, tool_input


async def test_fuzz_agent_output_and_repository_names(
    prosody: EmbeddedProsody, tmp_path: Path, make_user, connect_client: ClientPool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Random text in every place an agent or a directory name reaches a stanza: answers
    (streamed and final), tool lines, permission prompts, turn errors, repository names in
    listings, presence and vCards. Prosody must never close the stream."""
    caplog.set_level(logging.WARNING)
    rng = random.Random(20261130)
    base = make_workspace(tmp_path)
    names = {random_dir_name(rng) for _ in range(40)}
    for raw in names:
        os.mkdir(os.path.join(os.fsencode(base), raw))
    async with fake_cli_service(prosody, tmp_path, {"AGENTS_MAX_CONCURRENT": "5"}) as svc:
        owner = await connect_client(make_user())
        owner.send(MANAGER, "repos")
        await owner.expect(MANAGER, "Repositories under")
        repos = svc.repos()
        decodable = [n for n in names if _utf8(n)]
        assert len(repos) == len(decodable) + 2 and len(decodable) >= 15
        agents: list[tuple[str, FakeAdapter]] = []
        odd = [i for i, repo in enumerate(repos, 1) if repo not in ("my-project", "another-repo")]
        for choice in rng.sample(odd, 3):
            owner.send(MANAGER, "new")
            await owner.expect(MANAGER, "What type of agent?")
            owner.send(MANAGER, "1")
            await owner.expect_eventually(MANAGER, "Available repos: [1] ")
            owner.send(MANAGER, str(choice))
            await owner.expect_eventually(MANAGER, "What's the initial task")
            # what a user sends must be XML itself (else Prosody closes *their* stream)
            owner.send(MANAGER, scrub(random_text(rng, 50)) + " task")
            created = await owner.expect_eventually(MANAGER, CREATED)
            match = CREATED.match(created[-1]["body"])
            assert match is not None
            agents.append((f"{match.group(1)}@agents.example.com", FakeAdapter.instances[-1]))
            owner.send(f"{match.group(1)}@agents.example.com", "status")  # repo name, task
        emitted = prompts = 0
        requests: list[asyncio.Future[Any]] = []
        for _ in range(600):
            agent, adapter = rng.choice(agents)
            roll = rng.random()
            if roll < 0.3:
                adapter.emit(PartialText(random_text(rng)))
            elif roll < 0.55:
                adapter.emit(AssistantText(random_text(rng, 400)))
            elif roll < 0.8:
                adapter.emit(ToolCall("t", *random_tool(rng)))
            elif roll < 0.9:
                adapter.emit(TurnFinished("error_during_execution", rng.random() < 0.5,
                                          random_text(rng)))
            else:
                requests.append(asyncio.ensure_future(decide(svc.broker,
                    agent_secret(adapter), *random_tool(rng))))
                prompts += 1
            emitted += 1
        for agent, adapter in agents:
            adapter.emit(AssistantText("fuzz output done"))
            adapter.emit(TurnFinished("success", False))
            await owner.expect_eventually(agent, "fuzz output done", timeout=120)
            svc.broker.cancel_agent(agent.split("@")[0], "fuzz over")
        await asyncio.gather(*requests)
        other = await connect_client(make_user())
        other.send(MANAGER, "help")
        await other.expect(MANAGER, "Commands:")
        assert svc.component.stream_errors == [], svc.component.stream_errors
        assert svc.component.losses == 0, f"{svc.component.losses} reconnects"
    records = [r for r in caplog.records if _from_the_service(r)]
    errors = [(r.name, r.getMessage()) for r in records
              if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, errors[:5]
    print(f"fuzz output: {emitted} agent events ({prompts} prompts), {len(names)} odd repos")


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def agent_secret(adapter: FakeAdapter) -> str:
    """The agent's MCP secret, from the config file the service wrote for its process."""
    assert adapter.spec.mcp_config_path is not None
    config = json.loads(Path(adapter.spec.mcp_config_path).read_text())
    return str(config["mcpServers"]["agentchat"]["headers"][SECRET_HEADER])
