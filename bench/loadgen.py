"""The client side of the benchmarks, run in its own process: ``python -m bench.loadgen``.

Reads one JSON spec on stdin, logs in the XMPP users it names (plain TCP, SCRAM-SHA-1), runs
the requested measurement and prints one JSON object. Every wait has a timeout and every loop a
count and a deadline. Times are ``time.monotonic_ns()`` so the service process can line its
own stamps up with ours.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

now = time.monotonic_ns
REPLACE = "{urn:xmpp:message-correct:0}replace"
ACTIVE = "{http://jabber.org/protocol/chatstates}active"
PROMPT_PREFIX = "🔐 Permission #"

Match = Callable[[Any], bool]


class Conn:
    """One logged-in user; replies are matched by (sender bare JID, body) or by predicate."""

    def __init__(self, jid: str, password: str) -> None:
        xmpp = slixmpp.ClientXMPP(jid, password, sasl_mech="SCRAM-SHA-1")
        xmpp.enable_starttls = False
        xmpp.enable_direct_tls = False
        xmpp.enable_plaintext = True
        xmpp.plugin["feature_mechanisms"].unencrypted_plain = False
        xmpp.plugin["feature_mechanisms"].unencrypted_scram = True
        self.xmpp = xmpp
        self.exact: dict[tuple[str, str], asyncio.Future[int]] = {}
        self.watchers: list[tuple[str, Match, asyncio.Future[tuple[int, Any]]]] = []
        self.unmatched = 0
        self.recent: collections.deque[str] = collections.deque(maxlen=30)  # for error reports
        xmpp.add_event_handler("message", self._on_message)  # messages with a body
        xmpp.register_handler(Callback("chat state active", MatchXPath(
            f"{{jabber:client}}message/{ACTIVE}"), self._on_active))
        xmpp.add_event_handler("presence_subscribe", self._on_subscribe)

    async def login(self, host: str, port: int, timeout: float = 15) -> int:
        """Connect and wait for the session; returns the nanoseconds it took."""
        loop = asyncio.get_running_loop()
        started: asyncio.Future[str] = loop.create_future()

        def settle(result: str) -> None:
            if not started.done():
                started.set_result(result)

        self.xmpp.add_event_handler("session_start", lambda _: settle("ok"))
        self.xmpp.add_event_handler("failed_all_auth", lambda _: settle("auth failed"))
        t0 = now()
        self.xmpp.connect(host, port)
        result = await asyncio.wait_for(started, timeout)
        took = now() - t0
        if result != "ok":
            raise RuntimeError(f"{self.xmpp.boundjid}: {result}")
        mech = self.xmpp.plugin["feature_mechanisms"].mech
        if mech is None or mech.name != "SCRAM-SHA-1":
            raise RuntimeError(f"logged in with {mech and mech.name}, not SCRAM-SHA-1")
        return took

    async def ready(self, timeout: float = 15) -> None:
        """Roster and initial presence, as a real client does after login."""
        await self.xmpp.get_roster(timeout=timeout)
        self.xmpp.send_presence()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.xmpp.disconnect(wait=2), 5)
        task = getattr(self.xmpp, "_run_out_filters", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def send(self, to: str, body: str) -> None:
        self.xmpp.make_message(mto=to, mbody=body, mtype="chat").send()

    def expect(self, frm: str, body: str) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.exact[(frm, body)] = fut
        return fut

    def watch(self, kind: str, match: Match) -> asyncio.Future[tuple[int, Any]]:
        fut: asyncio.Future[tuple[int, Any]] = asyncio.get_running_loop().create_future()
        self.watchers.append((kind, match, fut))
        return fut

    def _fire(self, kind: str, stanza: Any, t: int) -> bool:
        for i, (k, match, fut) in enumerate(self.watchers):
            if k == kind and not fut.done() and match(stanza):
                del self.watchers[i]
                fut.set_result((t, stanza))
                return True
        return False

    def _on_message(self, msg: Any) -> None:
        t = now()
        body = msg["body"]
        self.recent.append(f"{t} {msg['from']}: {body[:80]!r}")
        if msg["type"] not in ("chat", "normal"):
            return
        fut = self.exact.pop((msg["from"].bare, body), None)
        if fut is not None:
            if not fut.done():
                fut.set_result(t)
            return
        if not self._fire("message", msg, t):
            self.unmatched += 1

    def _on_active(self, msg: Any) -> None:
        self.recent.append(f"{now()} {msg['from']}: (active)")
        self._fire("active", msg, now())

    def _on_subscribe(self, pres: Any) -> None:
        self._fire("subscribe", pres, now())


async def connect_all(spec: dict[str, Any]) -> list[Conn]:
    host, port = spec["host"], spec["port"]
    conns = [Conn(a["jid"] + "/loadgen", a["password"]) for a in spec["accounts"]]
    await asyncio.gather(*(c.login(host, port) for c in conns))
    await asyncio.gather(*(c.ready() for c in conns))
    return conns


async def round_trip(conn: Conn, to: str, body: str, timeout: float) -> int | None:
    fut = conn.expect(to, body)
    t0 = now()
    conn.send(to, body)
    try:
        t1 = await asyncio.wait_for(fut, timeout)
    except TimeoutError:
        conn.exact.pop((to, body), None)
        return None
    return t1 - t0


# ----------------------------------------------------------------------------- modes


async def pingpong(spec: dict[str, Any], conns: list[Conn]) -> dict[str, Any]:
    """Sequential round trips, alternating between the targets so drift hits all equally."""
    conn = conns[0]
    targets: dict[str, str] = spec["targets"]
    rtts: dict[str, list[int]] = {label: [] for label in targets}
    lost = dict.fromkeys(targets, 0)
    turns = dict.fromkeys(targets, 0)  # messages sent, warm-up included
    deadline = time.monotonic() + spec["max_s"]
    for i in range(spec["warmup"] + spec["count"]):
        if time.monotonic() > deadline:
            break
        for label, jid in targets.items():
            turns[label] += 1
            rtt = await round_trip(conn, jid, f"ping {i}", spec["timeout"])
            if rtt is None:
                lost[label] += 1
            elif i >= spec["warmup"]:
                rtts[label].append(rtt)
    return {"rtts": rtts, "lost": lost, "turns": turns, "unmatched": conn.unmatched}


async def throughput(spec: dict[str, Any], conns: list[Conn]) -> dict[str, Any]:
    """The phases one after the other, on the same connections.

    First one round trip with every target: what logging in starts (the users' clients
    accepting the agents' pending subscription requests, the presences that follows) is over
    before any phase measures."""
    targets = {(int(c[0]), str(c[1])) for phase in spec["phases"] for c in phase["convs"]}
    primed = await asyncio.gather(*(round_trip(conns[ci], jid, "prime", 60)
                                    for ci, jid in sorted(targets)))
    return {"phases": [await _phase(phase, conns) for phase in spec["phases"]],
            "unprimed": sorted(jid for (_, jid), rtt in zip(sorted(targets), primed,
                                                         strict=True) if rtt is None)}


async def _phase(phase: dict[str, Any], conns: list[Conn]) -> dict[str, Any]:
    """Closed-loop conversations (send, await the reply, send the next) all at once.

    Throughput counts replies received inside the measurement window, after a warm-up; every
    message sent is accounted for as answered or lost (no reply within the timeout).
    """
    convs: list[tuple[int, str]] = [(int(c[0]), str(c[1])) for c in phase["convs"]]
    unmatched_before = sum(c.unmatched for c in conns)
    t_begin = now()
    m0 = t_begin + int(phase["warmup_s"] * 1e9)
    m1 = m0 + int(phase["measure_s"] * 1e9)
    samples: list[tuple[int, int]] = []
    counts = {"sent": 0, "lost": 0}
    cpu: dict[str, float] = {}
    pids = {"service": phase["service_pid"], "prosody": phase["prosody_pid"], "client": 0}

    def sample_cpu(sign: int) -> None:
        for name, pid in pids.items():
            cpu[name] = cpu.get(name, 0.0) + sign * cpu_seconds(pid)

    loop = asyncio.get_running_loop()
    loop.call_later((m0 - now()) / 1e9, sample_cpu, -1)
    loop.call_later((m1 - now()) / 1e9, sample_cpu, 1)

    async def conversation(index: int, conn: Conn, jid: str) -> None:
        for i in range(phase["max_per_conv"]):
            if now() >= m1:
                return
            body = f"{phase['label']} {index} {i}"
            fut = conn.expect(jid, body)
            t0 = now()
            conn.send(jid, body)
            counts["sent"] += 1
            try:
                t1 = await asyncio.wait_for(fut, phase["timeout"])
            except TimeoutError:
                conn.exact.pop((jid, body), None)
                counts["lost"] += 1
                continue
            samples.append((t0, t1))

    await asyncio.gather(*(conversation(i, conns[ci], jid) for i, (ci, jid) in enumerate(convs)))
    in_window = [(a, b) for a, b in samples if m0 <= b <= m1]
    window_s = (min(m1, now()) - m0) / 1e9
    return {
        "label": phase["label"],
        "replies": len(in_window),
        "window_s": window_s,
        "latencies": [b - a for a, b in in_window if a >= m0],
        "sent": counts["sent"],
        "answered": len(samples),
        "lost": counts["lost"],
        "unmatched": sum(c.unmatched for c in conns) - unmatched_before,
        "cpu_s": cpu,  # CPU seconds each process used inside the window
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` (0: this process), from /proc."""
    if pid == 0:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def create(spec: dict[str, Any], conns: list[Conn]) -> dict[str, Any]:
    """The manager's creation flow; stamps the task message, the reply and the subscription."""
    conn = conns[0]
    manager: str = spec["manager"]
    agent_domain = "@" + manager.split("@", 1)[1]
    out: list[dict[str, int]] = []
    deadline = time.monotonic() + spec["max_s"]

    async def ask(text: str, reply_starts: str) -> tuple[int, Any]:
        fut = conn.watch("message", lambda m: m["from"].bare == manager
                         and m["body"].startswith(reply_starts))
        conn.send(manager, text)
        return await asyncio.wait_for(fut, spec["timeout"])

    for i in range(spec["count"]):
        if time.monotonic() > deadline:
            break
        await ask("new", "What type of agent?")
        await ask("1", "Available repos:")
        await ask("1", "What's the initial task")
        subscribed = conn.watch("subscribe", lambda p: str(p["from"].bare).endswith(agent_domain))
        t_task = now()
        t_created, created = await ask(f"task {i}", "Agent ")
        t_sub, pres = await asyncio.wait_for(subscribed, spec["timeout"])
        name = created["body"].split()[1]
        if pres["from"].user != name:
            raise RuntimeError(f"subscription from {pres['from']}, created {name}")
        out.append({"task": t_task, "created": t_created, "subscribe": t_sub})
    return {"creations": out}


async def accounts(spec: dict[str, Any]) -> dict[str, Any]:
    """The per-agent account design: register an account, then log it in (SCRAM)."""
    out: list[dict[str, int]] = []
    for account in spec["accounts"]:
        user = account["jid"].split("@", 1)[0]
        t0 = now()
        proc = await asyncio.create_subprocess_exec(
            *spec["register_argv"], user, spec["domain"], account["password"],
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, cwd=spec["cwd"],
        )
        output, _ = await asyncio.wait_for(proc.communicate(), 60)
        if proc.returncode != 0:
            raise RuntimeError(f"register {user}: {output.decode(errors='replace')}")
        t1 = now()
        conn = Conn(account["jid"] + "/agent", account["password"])
        login = await conn.login(spec["host"], spec["port"])
        out.append({"register": t1 - t0, "login": login})
        await conn.close()
    return {"accounts": out}


async def permission(spec: dict[str, Any], conns: list[Conn]) -> dict[str, Any]:
    """MCP permission calls answered in chat, interleaved with an echo ping and a no-op MCP call."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    conn = conns[0]
    agent, echo = spec["agent"], spec["echo"]
    rows: list[dict[str, int]] = []
    deadline = time.monotonic() + spec["max_s"]

    def is_prompt(m: Any) -> bool:
        return bool(m["from"].bare == agent and m["body"].startswith(PROMPT_PREFIX)
                    and m.xml.find(REPLACE) is None)

    async with (
        httpx2.AsyncClient(headers=spec["headers"], timeout=30) as http,
        Client(streamable_http_client(spec["url"], http_client=http)) as client,
        httpx2.AsyncClient(timeout=30) as noop_http,
        Client(streamable_http_client(spec["noop_url"], http_client=noop_http)) as noop,
    ):
        await client.list_tools()
        await noop.list_tools()
        for i in range(spec["warmup"] + spec["count"]):
            if time.monotonic() > deadline:
                break
            prompt = conn.watch("message", is_prompt)
            t_call = now()
            call = asyncio.ensure_future(client.call_tool("permission_prompt", spec["args"]))
            t_prompt, _ = await asyncio.wait_for(prompt, spec["timeout"])
            t_answer = now()
            conn.send(agent, "yes")
            result = await asyncio.wait_for(call, spec["timeout"])
            t_return = now()
            decision = json.loads(getattr(result.content[0], "text", "{}"))
            if decision.get("behavior") != "allow":
                raise RuntimeError(f"permission answer was {decision}")
            t0 = now()
            await noop.call_tool("noop", {})
            noop_ns = now() - t0
            echo_ns = await round_trip(conn, echo, f"echo {i}", spec["timeout"])
            if echo_ns is None:
                raise RuntimeError("echo lost")
            if i >= spec["warmup"]:
                rows.append({"call": t_call, "prompt": t_prompt, "answer": t_answer,
                             "return": t_return, "noop": noop_ns, "echo": echo_ns})
    return {"rows": rows, "skipped": spec["warmup"]}


async def cliturn(spec: dict[str, Any], conns: list[Conn]) -> dict[str, Any]:
    """Create an agent (its first turn starts the CLI), then one more turn on the warm CLI."""
    conn = conns[0]
    manager: str = spec["manager"]
    timeout = spec["timeout"]

    async def ask(text: str, reply_starts: str) -> tuple[int, Any]:
        fut = conn.watch("message", lambda m: m["from"].bare == manager
                         and m["body"].startswith(reply_starts))
        conn.send(manager, text)
        return await asyncio.wait_for(fut, timeout)

    turns: list[dict[str, int]] = []
    for i in range(spec["agents"]):
        await ask("new", "What type of agent?")
        await ask("1", "Available repos:")
        await ask("1", "What's the initial task")
        agent_reply = conn.watch("message", lambda m: m["from"].domain == spec["domain"]
                                 and m["from"].bare != manager)
        turn_over = conn.watch("active", lambda m: m["from"].domain == spec["domain"])
        t_send = now()
        await ask(f"first task {i}", "Agent ")
        t_reply, msg = await asyncio.wait_for(agent_reply, timeout)
        agent = str(msg["from"].bare)
        turns.append({"send": t_send, "reply": t_reply, "cold": 1})
        await asyncio.wait_for(turn_over, timeout)
        for j in range(spec["warm_turns"]):
            fut = conn.watch("message", sent_by(agent))
            turn_over = conn.watch("active", sent_by(agent))
            t_send = now()
            conn.send(agent, f"warm turn {i}.{j}")
            t_reply, _ = await asyncio.wait_for(fut, timeout)
            turns.append({"send": t_send, "reply": t_reply, "cold": 0})
            await asyncio.wait_for(turn_over, timeout)  # the next message must not queue
        goodbye = conn.watch("message", sent_by(agent, "👋"))
        conn.send(agent, "quit")
        await asyncio.wait_for(goodbye, timeout)  # nothing of it may be taken for the next
    return {"turns": turns}


def sent_by(bare: str, prefix: str = "") -> Match:
    def match(stanza: Any) -> bool:
        return bool(stanza["from"].bare == bare and stanza["body"].startswith(prefix))

    return match


MODES = {"pingpong": pingpong, "throughput": throughput, "create": create,
         "permission": permission, "cliturn": cliturn}


async def main() -> None:
    spec = json.loads(sys.stdin.read())
    if spec["mode"] == "accounts":
        result = await accounts(spec)
    else:
        conns = await connect_all(spec)
        try:
            result = await MODES[spec["mode"]](spec, conns)
        except BaseException:
            for c in conns:
                sys.stderr.write(f"{c.xmpp.boundjid} last stanzas:\n" + "\n".join(c.recent) + "\n")
            raise
        finally:
            await asyncio.gather(*(c.close() for c in conns))
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
