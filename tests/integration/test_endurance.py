"""Endurance: 20 agents stream answers while Prosody restarts 10 times and agentchat is killed
with SIGKILL (a real process) and restarted 5 times.

The owners behave like a demanding client (Conversations, Dino, Gajim): stream management
(XEP-0198), so what Prosody had routed to them when it stopped is kept for them in offline
storage; each message has an id and asks for a receipt (XEP-0184); a message that bounced, or
that has no receipt when the connection or the service comes back, is sent again with the SAME
id. Every message must then be
answered exactly once and in order, nothing may reach an owner twice (judged as a client shows
the chat: corrections replace what they correct, see tests/support/client_view.py), and every
agent's CLI must resume its conversation: the scripted API checks that each request carries all
of that agent's earlier messages.

The agents are the real Claude Code CLI (20 of them) against the scripted Anthropic API.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from tests.support import scripted_api as sa
from tests.support.chat_flows import create_agent
from tests.support.claude_env import claude_env
from tests.support.client_view import shown_messages
from tests.support.scripted_api import last_user_message, user_text
from tests.support.service_harness import ServiceProcess, make_workspace, service_env
from tests.support.xmpp_client import (
    DEFAULT_PLUGINS,
    ChatClient,
    ClientPool,
    UserAccount,
    stop_send_task,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("component_free"),
              pytest.mark.timeout(1800)]

OWNERS, AGENTS_EACH = 5, 4  # 20 agents
PROSODY_RESTARTS, SERVICE_KILLS = 10, 5
ANSWERS_BETWEEN_FAULTS = 10  # answers the owners get between two faults
ROUNDS_AFTER_FAULTS = 2  # messages each agent still answers once the faults are over
ANSWER_TIMEOUT = 180.0  # seconds for one answer (a restart of 20 CLIs on 2 busy cores)

RECEIPTS_NS = "urn:xmpp:receipts"
TAG = re.compile(r"\be(\d\d)-m(\d+)\b")
FILLER = " ".join(f"word{i}" for i in range(24))


def answer_to(tag: str) -> str:
    return f"answer to {tag}: {FILLER}"


def brief(body: str) -> str:
    """An answer as its tag and how much of it there is; other messages cut short."""
    match = TAG.search(body)
    if body.startswith("answer to ") and match:
        whole = len(answer_to(match.group(0)))
        return f"answer {match.group(0)} {len(body)}/{whole}"
    return repr(body[:40])


class StreamingAPI(sa.ScriptedAnthropic):
    """Answers each tagged message with a text streamed in pieces, and notes any request that
    lacks one of that agent's earlier messages (a conversation that was not resumed)."""

    def __init__(self) -> None:
        super().__init__()
        self.not_resumed: list[str] = []
        self.answered_tags: list[str] = []

    def _default_reply(self, body: dict[str, Any]) -> sa.Reply:
        last = last_user_message(body)
        tags = TAG.findall(user_text(last)) if last else []
        if not tags:
            return super()._default_reply(body)
        agent, k = tags[-1][0], int(tags[-1][1])
        history = "\n".join(user_text(m) for m in body.get("messages") or []
                            if isinstance(m, dict) and m.get("role") == "user")
        missing = [j for j in range(k) if f"e{agent}-m{j}" not in history]
        if missing:
            self.not_resumed.append(f"e{agent}-m{k}: request lacks earlier messages {missing}")
        tag = f"e{agent}-m{k}"
        self.answered_tags.append(tag)
        return sa.text(answer_to(tag), chunk_size=24, chunk_delay=0.05)


class Conversation:
    """One owner's chat with one agent: what was sent, and the signal that it was answered."""

    def __init__(self, index: int, jid: str) -> None:
        self.index = index
        self.jid = jid
        self.sent: list[str] = []  # tags, in order
        self.current: tuple[str, str] | None = None  # (tag, message id) awaiting its answer
        self.receipted = False
        self.answered = asyncio.Event()
        self.stanzas: list[Any] = []  # messages with a body from the agent, as received
        self.trace: list[str] = []  # what happened in this chat, for failure reports
        self.received: set[tuple[str, str, str]] = set()  # (from, id, body) of each stanza
        self.resends = 0

    def shown_answer(self, tag: str) -> bool:
        wanted = answer_to(tag)
        return any(s.body == wanted for s in shown_messages(self.stanzas, self.jid))


class Owner:
    """A user with several agents; survives its connection being cut (Prosody restarts)."""

    def __init__(self, account: UserAccount, pool: ClientPool) -> None:
        self.account = account
        self.pool = pool
        self.client: ChatClient | None = None
        self.chats: dict[str, Conversation] = {}
        self.bounces = 0
        self.service_up: asyncio.Event | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    async def connect(self) -> ChatClient:
        for attempt in itertools.count():
            try:
                client = await self.pool.connect(self.account, resource="phone",
                                                 initial_presence=False,
                                                 plugins=(*DEFAULT_PLUGINS, "xep_0198"))
                break
            except AssertionError:
                if attempt >= 20:
                    raise
                await asyncio.sleep(0.5)  # Prosody refuses during a restart: try again
        client.xmpp.add_filter("in", self._observe)
        client.xmpp.send_presence()
        self.client = client
        return client

    async def reconnect(self) -> None:
        old = self.client
        if old is not None:
            await old.disconnect()
            if old in self.pool.clients:
                self.pool.clients.remove(old)
        await self.connect()
        self.resend_unconfirmed()

    def _observe(self, stanza: Any) -> Any:
        if getattr(stanza, "name", None) != "message":
            return stanza
        chat = self.chats.get(str(stanza["from"].bare))
        if chat is None:
            return stanza
        if stanza["type"] == "error":
            current = chat.current
            if current is not None and stanza["id"] == current[1]:
                self.bounces += 1
                task = asyncio.ensure_future(self._resend_when_up(chat, current[1]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return stanza
        received = stanza.xml.find(f"{{{RECEIPTS_NS}}}received")
        if received is not None and chat.current is not None \
                and received.get("id") == chat.current[1]:
            chat.receipted = True
        if stanza["body"]:
            seen = (str(stanza["from"]), stanza["id"], stanza["body"])
            if seen in chat.received:
                # The same stanza again: with stream management Prosody keeps what the client
                # had not acknowledged when it stopped, and delivers it again; clients drop
                # such copies (Conversations: Conversation.hasDuplicateMessage).
                chat.trace.append(f"{time.monotonic():.1f} again id={stanza['id'][:14]}")
                return stanza
            chat.received.add(seen)
            chat.stanzas.append(stanza)
            replace = stanza.xml.find("{urn:xmpp:message-correct:0}replace")
            delay = stanza.xml.find("{urn:xmpp:delay}delay")
            chat.trace.append(
                f"{time.monotonic():.1f} got id={stanza['id'][:14]} "
                f"replace={'' if replace is None else replace.get('id', '')[:14]} "
                f"{'(offline) ' if delay is not None else ''}{brief(stanza['body'])}")
            if chat.current is not None and chat.shown_answer(chat.current[0]):
                chat.answered.set()
        return stanza

    async def _resend_when_up(self, chat: Conversation, msg_id: str) -> None:
        assert self.service_up is not None
        await self.service_up.wait()
        if chat.current is not None and chat.current[1] == msg_id:
            self._send(chat)
            chat.resends += 1

    def _send(self, chat: Conversation) -> None:
        assert chat.current is not None and self.client is not None
        tag, msg_id = chat.current
        chat.trace.append(f"{time.monotonic():.1f} sent {tag} id={msg_id[:8]}")
        msg = self.client.xmpp.make_message(mto=chat.jid, mbody=tag, mtype="chat")
        msg["id"] = msg_id
        ET.SubElement(msg.xml, f"{{{RECEIPTS_NS}}}request")
        msg.send()

    def resend_unconfirmed(self) -> None:
        """What a client does when it comes back: messages with no receipt go again."""
        for chat in self.chats.values():
            if chat.current is not None and not chat.receipted and not chat.answered.is_set():
                self._send(chat)
                chat.resends += 1

    async def ask(self, chat: Conversation, k: int) -> None:
        tag = f"e{chat.index:02d}-m{k}"
        chat.sent.append(tag)
        chat.current = (tag, uuid.uuid4().hex)
        chat.receipted = False
        chat.answered.clear()
        assert self.service_up is not None
        await self.service_up.wait()
        self._send(chat)
        await self.answered(chat, tag)

    async def answered(self, chat: Conversation, tag: str) -> None:
        try:
            await asyncio.wait_for(chat.answered.wait(), ANSWER_TIMEOUT)
        except TimeoutError:
            shown = [s.body for s in shown_messages(chat.stanzas, chat.jid)][-4:]
            raise AssertionError(
                f"{chat.jid}: no answer to {tag} within {ANSWER_TIMEOUT}s (receipt: "
                f"{chat.receipted}, re-sent {chat.resends} times); the chat shows (last 4): "
                f"{shown}") from None
        chat.current = None


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return ""


def descendants_pss_kb(root: int) -> tuple[int, int]:
    """(processes, total PSS in KB) of every process under ``root`` (not ``root`` itself):
    what the live agents take (the CLIs and their sandboxes), shared pages counted once."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc(int(entry.name), "stat")
            if stat:
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    todo, found = list(children.get(root, [])), []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    total = 0
    for pid in found:
        for line in _proc(pid, "smaps_rollup").splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return len(found), total


def tally(chats: list[Conversation], troubled: list[Conversation]) -> dict[str, int]:
    """Messages sent, answered (as the client shows them), duplicated, reordered, and
    streamed answers cut short and never completed; chats with a problem go to ``troubled``."""
    counts = {"sent": 0, "answered": 0, "duplicated": 0, "reordered": 0, "fragments": 0}
    for chat in chats:
        before = dict(counts)
        counts["sent"] += len(chat.sent)
        expected = {answer_to(tag): i for i, tag in enumerate(chat.sent)}
        shown = [s.body for s in shown_messages(chat.stanzas, chat.jid)]
        answers = [body for body in shown if body in expected]
        counts["answered"] += len(set(answers))
        counts["duplicated"] += len(answers) - len(set(answers))
        order = [expected[body] for body in answers]
        counts["reordered"] += sum(1 for a, b in itertools.pairwise(order) if b < a)
        # a streamed answer cut short and never completed in place
        counts["fragments"] += sum(1 for body in shown if body not in expected
                                   and body.startswith("answer to "))
        if any(counts[k] - before[k] for k in ("duplicated", "reordered", "fragments")):
            troubled.append(chat)
    return counts


async def run_faults(
    prosody: EmbeddedProsody, service: list[ServiceProcess], env: dict[str, str],
    owners: list[Owner], progress: Callable[[], int], service_up: asyncio.Event,
    log: list[str],
) -> None:
    """Ten Prosody restarts and five SIGKILLs of agentchat, interleaved, each once the owners
    got ANSWERS_BETWEEN_FAULTS more answers (so answers are streaming when it hits)."""
    faults = ["prosody"] * PROSODY_RESTARTS
    for i in range(SERVICE_KILLS):
        faults.insert(i * 3 + 1, "kill")
    for fault in faults:
        target = progress() + ANSWERS_BETWEEN_FAULTS
        while progress() < target:
            await asyncio.sleep(0.2)  # polling a counter the owners' tasks advance
        started = time.monotonic()
        service_up.clear()
        svc = service[-1]
        if fault == "prosody":
            svc.reset_connected()
            await asyncio.to_thread(prosody.restart)
            await svc.wait_connected(60)
            service_up.set()
            await asyncio.gather(*(owner.reconnect() for owner in owners))
        else:
            svc.kill(signal.SIGKILL)
            assert await svc.wait() == -signal.SIGKILL
            again = ServiceProcess(env)
            service.append(again)
            await again.start(120)
            service_up.set()
            for owner in owners:
                owner.resend_unconfirmed()
        log.append(f"{fault} at {progress()} answers, at {started:.1f}, back in "
                   f"{time.monotonic() - started:.1f}s")


async def test_twenty_agents_survive_prosody_restarts_and_sigkills(
    prosody: EmbeddedProsody, tmp_path: Path, make_user: Callable[[], UserAccount],
    connect_client: ClientPool,
) -> None:
    started = time.monotonic()
    async with StreamingAPI() as api:
        env = service_env(prosody, tmp_path / "home", make_workspace(tmp_path),
                          AGENTS_MAX_CONCURRENT=str(OWNERS * AGENTS_EACH))
        env.update(claude_env(tmp_path, api))
        service = [ServiceProcess(env)]
        await service[0].start(120)
        service_up = asyncio.Event()
        service_up.set()
        owners = [Owner(make_user(), connect_client) for _ in range(OWNERS)]
        try:
            for owner in owners:
                owner.service_up = service_up
                await owner.connect()

            async def create(owner: Owner, first: int) -> None:
                assert owner.client is not None
                for index in range(first, first + AGENTS_EACH):
                    tag = f"e{index:02d}-m0"
                    jid = await create_agent(owner.client, tag)
                    chat = owner.chats[jid] = Conversation(index, jid)
                    chat.sent.append(tag)
                    chat.current = (tag, "")
                    chat.stanzas.extend(m for m in owner.client.history
                                        if m.name == "message" and m["body"]
                                        and str(m["from"].bare) == jid)
                    chat.received.update((str(m["from"]), m["id"], m["body"])
                                         for m in chat.stanzas)
                    if chat.shown_answer(tag):
                        chat.answered.set()

            await asyncio.gather(*(create(o, i * AGENTS_EACH) for i, o in enumerate(owners)))
            created = time.monotonic()
            chats = [(o, c) for o in owners for c in o.chats.values()]
            for owner, chat in chats:
                await owner.answered(chat, chat.sent[0])

            answered = [0]
            faults_done = asyncio.Event()

            async def converse(owner: Owner, chat: Conversation) -> None:
                k, after = 1, 0
                while after < ROUNDS_AFTER_FAULTS:
                    if faults_done.is_set():
                        after += 1
                    await owner.ask(chat, k)
                    answered[0] += 1
                    k += 1

            fault_log: list[str] = []

            async def faults() -> None:
                try:
                    await run_faults(prosody, service, env, owners, lambda: answered[0],
                                     service_up, fault_log)
                finally:
                    faults_done.set()

            talks = [asyncio.ensure_future(converse(o, c)) for o, c in chats]
            try:
                await asyncio.gather(faults(), *talks)
            except BaseException:
                for task in talks:
                    task.cancel()
                print("\n".join(["endurance: faults so far:", *fault_log, "service log:",
                                 *[line for svc in service for line in svc.log
                                   if "WARNING" in line or "ERROR" in line][-60:]]))
                raise

            proc = service[-1].proc
            assert proc is not None
            processes, agents_kb = descendants_pss_kb(proc.pid)
            service_kb = int(next((line.split()[1] for line in _proc(proc.pid, "smaps_rollup")
                                   .splitlines() if line.startswith("Pss:")), "0"))
            troubled: list[Conversation] = []
            counts = tally([c for _, c in chats], troubled)
            elapsed = time.monotonic() - started
            logs = [line for svc in service for line in svc.log]
            print(f"\nendurance: {len(chats)} agents (real Claude Code CLI), "
                  f"{PROSODY_RESTARTS} Prosody restarts, {SERVICE_KILLS} SIGKILLs of agentchat")
            for line in fault_log:
                print(f"endurance:   {line}")
            print(f"endurance: messages sent {counts['sent']}, answered {counts['answered']}, "
                  f"duplicated {counts['duplicated']}, reordered {counts['reordered']}, "
                  f"cut-short fragments {counts['fragments']}")
            print(f"endurance: owners re-sent {sum(c.resends for _, c in chats)} messages "
                  f"(same id; {sum(o.bounces for o in owners)} bounced while agentchat was "
                  f"down); the API answered {len(api.answered_tags)} requests; "
                  f"creation took {created - started:.0f}s, the whole test {elapsed:.0f}s")
            print(f"endurance: memory with {len(chats)} live agents: their {processes} "
                  f"processes {agents_kb / 1024:.0f} MB PSS ({agents_kb / 1024 / len(chats):.0f} "
                  f"MB each: {len(chats) * 1024 * 1024 / agents_kb:.1f} per GB), agentchat "
                  f"{service_kb / 1024:.0f} MB")
            for chat in troubled[:3]:
                shown = [brief(m.body) for m in shown_messages(chat.stanzas, chat.jid)]
                print(f"endurance: trouble in {chat.jid}:\n  " + "\n  ".join(chat.trace)
                      + "\n shown:\n  " + "\n  ".join(shown))
            if troubled:
                print("\n".join(line for svc in service for line in svc.log
                                if "again" in line or "WARNING" in line or "ERROR" in line))
            assert counts["answered"] == counts["sent"], counts
            # as the owners' clients show them: each answer once, in order, none cut short
            assert counts["duplicated"] == counts["reordered"] == counts["fragments"] == 0, \
                counts
            assert not api.not_resumed, api.not_resumed[:5]
            assert not [line for line in logs if "Traceback" in line], \
                [line for line in logs if "Traceback" in line][:3]
        finally:
            service_up.set()
            for svc in service:
                await svc.ensure_stopped()
            for owner in owners:
                if owner.client is not None:
                    await stop_send_task(owner.client.xmpp)
