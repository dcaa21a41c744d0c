"""The test support itself, against the real Prosody: users, a raw component, restarts."""

from __future__ import annotations

import asyncio
import re
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import slixmpp

from agentchat.prosody.embedded import EmbeddedProsody, ProsodyError
from tests.support.xmpp_client import (
    ChatClient,
    ClientPool,
    UserAccount,
    stop_send_task,
    wait_component_free,
)

ECHO = "echo@agents.example.com"


class EchoComponent(slixmpp.ComponentXMPP):  # type: ignore[misc]
    """The smallest XEP-0114 component: answers every chat message with "echo: <body>"."""

    def __init__(self, prosody: EmbeddedProsody) -> None:
        s = prosody.settings
        super().__init__(s.component_domain, s.component_secret)
        self.roster.auto_authorize = False
        self.roster.auto_subscribe = False
        self.started = asyncio.Event()
        self.add_event_handler("session_start", lambda _: self.started.set())
        self.add_event_handler("message", self._echo)
        self._address = (prosody.component_host, s.component_port)

    def _echo(self, msg: slixmpp.Message) -> None:
        if msg["type"] in ("chat", "normal") and msg["body"]:
            msg.reply(f"echo: {msg['body']}").send()

    async def start(self) -> None:
        self.started.clear()
        self.connect(*self._address)
        async with asyncio.timeout(10):
            await self.started.wait()

    async def stop(self) -> None:
        await self.disconnect()
        await stop_send_task(self)


@pytest.fixture
async def echo(prosody: EmbeddedProsody, component_free: None) -> AsyncIterator[EchoComponent]:
    component = EchoComponent(prosody)
    await component.start()
    yield component
    await component.stop()


async def test_two_users_message_each_other(
    make_user: Callable[[], UserAccount], connect_client: ClientPool
) -> None:
    alice_user, bob_user = make_user(), make_user()
    alice = await connect_client(alice_user)
    bob = await connect_client(bob_user)

    msg_id = alice.send(bob_user.jid, "hi bob")
    got = await bob.expect(alice_user.jid, "hi bob")
    assert got["id"] == msg_id
    bob.send(alice_user.jid, "hi alice")
    await alice.expect(bob_user.jid, re.compile(r"^hi alice$"))


async def test_expect_reports_what_arrived(
    make_user: Callable[[], UserAccount], connect_client: ClientPool
) -> None:
    alice_user, bob_user = make_user(), make_user()
    alice = await connect_client(alice_user)
    bob = await connect_client(bob_user)
    alice.send(bob_user.jid, "first")
    alice.send(bob_user.jid, "second")
    with pytest.raises(AssertionError, match="'first'"):
        await bob.expect(alice_user.jid, "second", timeout=5)
    # The non-matching message was consumed and reported; the next one is still there.
    await bob.expect(alice_user.jid, "second", timeout=5)
    with pytest.raises(AssertionError, match="no a message from"):
        await bob.next_message(alice_user.jid, timeout=0.2)


async def test_component_echoes(
    echo: EchoComponent, make_user: Callable[[], UserAccount], connect_client: ClientPool
) -> None:
    alice = await connect_client(make_user())
    alice.send(ECHO, "hello")
    reply = await alice.expect(ECHO, "echo: hello")
    assert str(reply["to"]) == alice.jid

    alice.send(ECHO, "one")
    alice.send(ECHO, "two")
    alice.send(ECHO, "three")
    seen = await alice.expect_eventually(ECHO, "three")
    assert [m["body"] for m in seen] == ["echo: one", "echo: two", "echo: three"]


async def test_second_component_is_refused_then_free_after_disconnect(
    prosody: EmbeddedProsody, echo: EchoComponent
) -> None:
    s = prosody.settings
    with pytest.raises(AssertionError, match="conflict"):
        await wait_component_free(
            prosody.component_host,
            s.component_port,
            s.component_domain,
            s.component_secret,
            timeout=0.3,
        )
    await echo.stop()
    await wait_component_free(
        prosody.component_host, s.component_port, s.component_domain, s.component_secret
    )
    await echo.start()  # and the same component may connect again


async def test_stanzas_to_a_missing_component_bounce(
    prosody: EmbeddedProsody,
    component_free: None,
    make_user: Callable[[], UserAccount],
    connect_client: ClientPool,
) -> None:
    alice = await connect_client(make_user())
    alice.send(ECHO, "anyone there?")
    err = await alice.next_error(ECHO, condition="remote-server-timeout")
    assert err["error"]["type"] == "wait"


async def test_offline_messages_are_stored_for_the_user(
    echo: EchoComponent, make_user: Callable[[], UserAccount], connect_client: ClientPool
) -> None:
    user = make_user()
    echo.send_message(mto=user.jid, mbody="while you were away", mtype="chat", mfrom=ECHO)
    # Prosody stored it (mod_offline) and delivers it after the first available presence.
    alice = await connect_client(user)
    msg = await alice.expect(ECHO, "while you were away")
    assert msg["delay"]["stamp"] is not None


async def test_presence_is_observable(
    make_user: Callable[[], UserAccount], connect_client: ClientPool
) -> None:
    alice_user, bob_user = make_user(), make_user()
    alice = await connect_client(alice_user)
    bob = await connect_client(bob_user)
    alice.xmpp.send_presence(pto=bob_user.jid, ptype="subscribe")
    # bob's client accepts (slixmpp's auto_authorize) and subscribes back.
    await alice.next_presence(bob_user.jid, "subscribed")
    await bob.next_presence(alice_user.jid, "subscribe")


async def test_wrong_password_fails_fast(
    prosody: EmbeddedProsody, make_user: Callable[[], UserAccount]
) -> None:
    user = make_user()
    with pytest.raises(AssertionError, match="authentication failed"):
        await ChatClient.connect(
            user.jid, "wrong", prosody.c2s_host, prosody.settings.c2s_port, timeout=10
        )


def test_register_rejects_bad_user_names(prosody: EmbeddedProsody) -> None:
    with pytest.raises(ProsodyError, match="invalid in a Jabber ID"):
        prosody.register("bad user", "pw")
    with pytest.raises(ProsodyError, match="invalid in a Jabber ID"):
        prosody.register("a@b", "pw")
    with pytest.raises(ProsodyError, match="invalid user name"):
        prosody.register("", "pw")


async def test_restart_keeps_accounts_and_clients_can_reconnect(tmp_path: Path) -> None:
    """A separate server: restarting the session's one would cut other fixtures' clients."""
    server = EmbeddedProsody.with_free_ports(
        tmp_path / "p", "example.com", "agents.example.com", secrets.token_hex(8)
    )
    t0 = time.perf_counter()
    server.start()
    started = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        server.register("carol", "pw1")
        registered = time.perf_counter() - t0
        host, port = server.c2s_host, server.settings.c2s_port
        carol = await ChatClient.connect("carol@example.com/a", "pw1", host, port)

        t0 = time.perf_counter()
        server.restart()
        restarted = time.perf_counter() - t0
        await carol.wait_disconnected()
        await carol.disconnect()

        carol = await ChatClient.connect("carol@example.com/a", "pw1", host, port)
        carol.send("carol@example.com/a", "note to self")
        await carol.expect("carol@example.com/a", "note to self")

        server.restart(graceful=False)  # a crash: SIGKILL, no stream close
        await carol.wait_disconnected()
        await carol.disconnect()
        carol = await ChatClient.connect("carol@example.com/b", "pw1", host, port)
        await carol.disconnect()
        print(
            f"\nprosody start {started * 1000:.0f} ms, register {registered * 1000:.0f} ms,"
            f" restart {restarted * 1000:.0f} ms"
        )
    finally:
        server.stop()
    assert not server.running
    server.stop()  # idempotent


def test_start_fails_clearly_when_the_port_is_taken(
    tmp_path: Path, prosody: EmbeddedProsody
) -> None:
    clash = EmbeddedProsody(tmp_path / "p", prosody.settings)
    with pytest.raises(ProsodyError, match="Failed to open server port"):
        clash.start(timeout=10)
    assert not clash.running


async def test_component_round_trip_latency(
    echo: EchoComponent, make_user: Callable[[], UserAccount], connect_client: ClientPool
) -> None:
    alice = await connect_client(make_user())
    rounds = []
    for i in range(200):
        t0 = time.perf_counter()
        alice.send(ECHO, f"m{i}")
        await alice.expect(ECHO, f"echo: m{i}")
        rounds.append(time.perf_counter() - t0)
    p50 = statistics.median(rounds)
    p95 = statistics.quantiles(rounds, n=20)[-1]
    print(f"\ncomponent echo round trip over 200: p50 {p50 * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms")
    assert p50 < 0.25
