"""Thousands of random bodies and stanza shapes from the owner and a stranger.

Nothing may crash or log a traceback, the stranger gets errors and causes nothing, and the
service still answers its owner afterwards. Seeded, so a failure can be replayed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from tests.support import scripted_api as sa
from tests.support.chat_flows import MANAGER, create_agent, reactions, reply
from tests.support.service_harness import running_service
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
    future = iq.send(timeout=20)
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
        await client.next_error(MANAGER, "forbidden", timeout=120)
    else:
        await client.expect_eventually(MANAGER, "Commands:", timeout=120)


def _from_the_service(record: logging.LogRecord) -> bool:
    """agentchat's own records; a test client closing its stream (slixmpp's NotConnectedError
    while it still had stanzas queued) is the client's business, not the service's."""
    if record.name.startswith("agentchat"):
        return True
    exc = record.exc_info[1] if record.exc_info else None
    return type(exc).__name__ != "NotConnectedError"


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
        for _ in range(1500):
            stranger.send(random_target(rng, agent), random_body(rng))
            sent["stranger"] += 1
        for _ in range(300):
            shape = rng.choice([odd_message, odd_presence, odd_iq])
            shape(stranger, rng, random_target(rng, agent))
            sent["shapes"] += 1
        await barrier(stranger, stranger=True)
        assert len(api.requests) == requests_before, "a stranger reached the agent"
        assert all(a.owner != stranger.bare_jid for a in svc.agents.values())

        for _ in range(1200):
            body = random_body(rng)
            if body.strip().lower().startswith(("kill", "quit")):
                body = "help"  # keep the agent alive for the final check
            owner.send(rng.choice([MANAGER, MANAGER, agent]) if rng.random() < 0.9
                       else random_target(rng, agent), body)
            sent["owner"] += 1
        for _ in range(300):
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

        await asyncio.wait(IQ_FUTURES)  # each ends with an answer, or a timeout after 20 s
    assert IQ_FUTURES and not UNANSWERED, [str(iq) for iq in UNANSWERED[:5]]
    records = [r for r in caplog.records if _from_the_service(r)]
    tracebacks = [r for r in records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, [(r.name, r.getMessage()) for r in tracebacks[:5]]
    errors = [(r.name, r.getMessage()) for r in records if r.levelno >= logging.ERROR]
    assert not errors, errors[:5]
    assert sum(sent.values()) >= 3000
    print(f"fuzz: sent {sent}, total {sum(sent.values())}, "
          f"warnings logged {sum(r.levelno == logging.WARNING for r in caplog.records)}")
