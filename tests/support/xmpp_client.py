"""A real XMPP user for integration tests: slixmpp ClientXMPP over plain TCP to the private Prosody.

Every incoming message, presence and IQ request is observed by an input filter (so slixmpp's own
handling is untouched) and put into exactly one inbox, in arrival order:

- ``message``: chat/normal messages with a body (what a person reads),
- ``error``: messages of type error (bounces, ``forbidden`` for strangers, ...),
- ``other``: every other message (chat states alone, receipts, headlines, ...),
- ``presence``: all presences,
- ``iq``: IQ requests (get/set) sent to us; replies to our own IQs go to :meth:`ChatClient.iq`.

Waits are event-driven and fail with an ``AssertionError`` that shows what did arrive.
Nothing is silently dropped: filtering by sender leaves other senders' stanzas in the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, Literal, TypeVar

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

Kind = Literal["message", "error", "other", "presence", "iq"]
CHATSTATES = "http://jabber.org/protocol/chatstates"
T = TypeVar("T")

DEFAULT_PLUGINS = (
    "xep_0030",  # disco: clients answer disco#info
    "xep_0004",  # data forms (ad-hoc commands)
    "xep_0050",  # ad-hoc commands
    "xep_0085",  # chat states
    "xep_0172",  # nick in subscription requests
    "xep_0199",  # ping
    "xep_0203",  # delayed delivery (offline messages carry <delay/>)
    "xep_0308",  # last message correction
    "xep_0444",  # reactions
)


class Inbox(Generic[T]):
    """Stanzas in arrival order; :meth:`take` removes the first one matching a predicate."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: list[T] = []
        self._waiters: set[asyncio.Future[None]] = set()

    def put(self, item: T) -> None:
        self._items.append(item)
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)

    def pending(self) -> list[T]:
        return list(self._items)

    def clear(self) -> list[T]:
        items, self._items = self._items, []
        return items

    async def take(self, match: Callable[[T], bool], timeout: float) -> T:
        """The first item matching ``match``; raises ``TimeoutError`` after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, item in enumerate(self._items):
                if match(item):
                    return self._items.pop(i)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.add(fut)
            try:
                async with asyncio.timeout(remaining):
                    await fut
            finally:
                self._waiters.discard(fut)


def jid_matches(jid: Any, wanted: str | None) -> bool:
    """``wanted`` None matches all; a bare JID matches any resource; a full JID only itself."""
    if wanted is None:
        return True
    if "/" in wanted:
        return str(jid) == wanted
    return str(jid.bare) == wanted


def describe(stanza: Any) -> str:
    """One line per stanza for assertion messages."""
    name = stanza.name
    if name == "message":
        text = stanza["body"] or ""
        if stanza["type"] == "error":
            cond = stanza["error"]["condition"]
            return f"message error {cond!r} from {stanza['from']} (id={stanza['id']})"
        return f"message[{stanza['type']}] from {stanza['from']}: {text[:300]!r}"
    if name == "presence":
        return f"presence[{stanza['type']}] from {stanza['from']} status={stanza['status']!r}"
    return str(stanza)[:300]


def _matches_text(body: str, contains: str | re.Pattern[str]) -> bool:
    if isinstance(contains, str):
        return contains in body
    return contains.search(body) is not None


class ChatClient:
    """One logged-in user. Build it with :meth:`connect`; ``xmpp`` is the slixmpp client."""

    def __init__(self, xmpp: slixmpp.ClientXMPP) -> None:
        self.xmpp = xmpp
        self.inboxes: dict[Kind, Inbox[Any]] = {
            kind: Inbox(kind) for kind in ("message", "error", "other", "presence", "iq")
        }
        self.history: list[Any] = []  # everything observed, consumed or not
        self._disconnected = asyncio.Event()
        self._session_started = False

    @property
    def jid(self) -> str:
        """The full JID the server bound for us."""
        return str(self.xmpp.boundjid.full)

    @property
    def bare_jid(self) -> str:
        return str(self.xmpp.boundjid.bare)

    @classmethod
    async def connect(
        cls,
        jid: str,
        password: str,
        host: str,
        port: int,
        timeout: float = 15,
        *,
        plugins: Iterable[str] = DEFAULT_PLUGINS,
        auto_authorize: bool | None = True,
        auto_subscribe: bool = True,
        initial_presence: bool = True,
    ) -> ChatClient:
        """Log in over plain TCP, fetch the roster and (by default) send initial presence.

        ``auto_authorize``/``auto_subscribe`` are the slixmpp roster defaults (accept and
        subscribe back, like a user who taps "accept"); pass ``None``/``False`` to answer by hand.
        """
        xmpp = slixmpp.ClientXMPP(jid, password)
        xmpp.enable_starttls = False
        xmpp.enable_direct_tls = False
        xmpp.enable_plaintext = True
        xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
        xmpp.plugin["feature_mechanisms"].unencrypted_scram = True
        xmpp.auto_reconnect = False
        xmpp.roster.auto_authorize = auto_authorize
        xmpp.roster.auto_subscribe = auto_subscribe
        for plugin in plugins:
            xmpp.register_plugin(plugin)
        client = cls(xmpp)
        xmpp.add_filter("in", client._observe)
        xmpp.add_event_handler("disconnected", lambda _: client._disconnected.set())

        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[str] = loop.create_future()
        failures: list[str] = []

        def settle(result: str) -> None:
            if not outcome.done():
                outcome.set_result(result)

        xmpp.add_event_handler("session_start", lambda _: settle("ok"))
        xmpp.add_event_handler("failed_all_auth", lambda _: settle("authentication failed"))
        xmpp.add_event_handler("stream_error", lambda e: failures.append(f"stream error: {e}"))
        xmpp.add_event_handler("connection_failed", lambda e: failures.append(f"failed: {e}"))
        xmpp.connect(host, port)
        try:
            async with asyncio.timeout(timeout):
                result = await outcome
        except TimeoutError:
            result = f"no session within {timeout}s"
        if result != "ok":
            xmpp.cancel_connection_attempt()
            xmpp.abort()
            await stop_send_task(xmpp)
            raise AssertionError(f"{jid} could not log in to {host}:{port}: {result} {failures}")
        client._session_started = True
        await xmpp.get_roster(timeout=timeout)
        if initial_presence:
            xmpp.send_presence()
        return client

    def _observe(self, stanza: Any) -> Any:
        """Input filter: record the stanza and file it into one inbox; never alters handling.

        A message with a body that carries a chat state (XEP-0085) goes into "message" and,
        as the chat state notification it also is, into "other"."""
        name = getattr(stanza, "name", None)
        kind: Kind | None = None
        if name == "message":
            if stanza["type"] == "error":
                kind = "error"
            elif stanza["type"] in ("chat", "normal", "") and stanza["body"]:
                kind = "message"
                if stanza.xml.find(f"{{{CHATSTATES}}}*") is not None:
                    self.inboxes["other"].put(stanza)
            else:
                kind = "other"
        elif name == "presence":
            kind = "presence"
        elif name == "iq" and stanza["type"] in ("get", "set"):
            kind = "iq"
        if kind is not None:
            self.history.append(stanza)
            self.inboxes[kind].put(stanza)
        return stanza

    # -- sending -----------------------------------------------------------------------------

    def send(self, to: str, body: str, *, mtype: str = "chat", **extra: Any) -> str:
        """Send a message; ``extra`` sets stanza interfaces (``thread=...``). Returns its id."""
        msg = self.xmpp.make_message(mto=to, mbody=body, mtype=mtype)
        for key, value in extra.items():
            msg[key] = value
        if not msg["id"]:
            msg["id"] = self.xmpp.new_id()
        msg.send()
        return str(msg["id"])

    async def iq(self, iq: Any, timeout: float = 15) -> Any:
        """Send an IQ; return the reply, whether ``result`` or ``error``."""
        try:
            return await iq.send(timeout=timeout)
        except IqError as err:
            return err.iq
        except IqTimeout as err:
            raise AssertionError(f"{self.jid}: no reply within {timeout}s to {iq}") from err

    # -- receiving ---------------------------------------------------------------------------

    async def next_stanza(
        self,
        kind: Kind,
        match: Callable[[Any], bool] | None = None,
        timeout: float = 30,
        what: str = "",
    ) -> Any:
        """The next stanza of ``kind`` (matching ``match``), in arrival order."""
        inbox = self.inboxes[kind]
        try:
            return await inbox.take(match or (lambda _: True), timeout)
        except TimeoutError:
            raise AssertionError(self._timeout_report(kind, what, timeout)) from None

    async def next_message(
        self, from_: str | None = None, timeout: float = 30
    ) -> slixmpp.Message:
        """The next chat/normal message with a body, optionally only from ``from_``."""
        return await self.next_stanza(
            "message",
            lambda m: jid_matches(m["from"], from_),
            timeout,
            what=f"a message from {from_ or 'anyone'}",
        )

    async def next_error(
        self,
        from_: str | None = None,
        condition: str | None = None,
        timeout: float = 30,
    ) -> slixmpp.Message:
        """The next message of type error (optionally from ``from_``); asserts ``condition``."""
        msg = await self.next_stanza(
            "error",
            lambda m: jid_matches(m["from"], from_),
            timeout,
            what=f"an error message from {from_ or 'anyone'}",
        )
        if condition is not None:
            got = msg["error"]["condition"]
            assert got == condition, f"{self.jid}: wanted error {condition!r}, got {describe(msg)}"
        return msg

    async def next_presence(
        self,
        from_: str | None = None,
        type_: str | None = None,
        timeout: float = 30,
    ) -> slixmpp.Presence:
        """The next presence from ``from_`` with ``type_`` (``available``, ``subscribe``, ...).

        Presences of other senders or types stay in the inbox.
        """
        return await self.next_stanza(
            "presence",
            lambda p: jid_matches(p["from"], from_) and (type_ is None or p["type"] == type_),
            timeout,
            what=f"presence[{type_ or 'any'}] from {from_ or 'anyone'}",
        )

    async def expect(
        self, from_: str, contains: str | re.Pattern[str], timeout: float = 30
    ) -> slixmpp.Message:
        """The next message from ``from_``, which must contain ``contains``.

        Deliberately does not skip: a different message from that sender fails the test.
        """
        msg = await self.next_message(from_, timeout)
        body = msg["body"]
        if not _matches_text(body, contains):
            raise AssertionError(
                f"{self.jid}: the next message from {from_} does not contain {contains!r}:\n"
                f"  got: {body!r}\n" + self._pending_report("message")
            )
        return msg

    async def expect_eventually(
        self, from_: str, contains: str | re.Pattern[str], timeout: float = 30
    ) -> list[slixmpp.Message]:
        """Messages from ``from_`` up to and including the first that contains ``contains``.

        For streams of output; every message passed over is returned, not dropped.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        collected: list[slixmpp.Message] = []
        while True:
            remaining = max(0.0, deadline - loop.time())
            try:
                msg = await self.inboxes["message"].take(
                    lambda m: jid_matches(m["from"], from_), remaining
                )
            except TimeoutError:
                bodies = "\n".join(f"  {m['body']!r}" for m in collected) or "  (none)"
                raise AssertionError(
                    f"{self.jid}: no message from {from_} containing {contains!r} within "
                    f"{timeout}s; from {from_} arrived:\n{bodies}\n"
                    + self._pending_report("message")
                ) from None
            collected.append(msg)
            if _matches_text(msg["body"], contains):
                return collected

    async def expect_silence(self, from_: str | None = None, seconds: float = 1.0) -> None:
        """Assert no message (body or error) arrives from ``from_`` for ``seconds``.

        This one waits on purpose: absence can only be observed over time.
        """
        await asyncio.sleep(seconds)
        stray = [
            s
            for kind in ("message", "error")
            for s in self.inboxes[kind].pending()
            if jid_matches(s["from"], from_)
        ]
        assert not stray, f"{self.jid}: unexpected: " + "; ".join(describe(s) for s in stray)

    async def wait_disconnected(self, timeout: float = 15) -> None:
        """Until the stream is gone (e.g. the server shut down)."""
        try:
            async with asyncio.timeout(timeout):
                await self._disconnected.wait()
        except TimeoutError:
            raise AssertionError(f"{self.jid}: still connected after {timeout}s") from None

    @property
    def connected(self) -> bool:
        return self._session_started and not self._disconnected.is_set()

    async def disconnect(self) -> None:
        """Close the stream and wait for the server to close it too; idempotent."""
        if not self._disconnected.is_set():
            await self.xmpp.disconnect(wait=5)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._disconnected.wait()
        await stop_send_task(self.xmpp)

    # -- reporting ---------------------------------------------------------------------------

    def _pending_report(self, kind: Kind) -> str:
        lines = [f"  {describe(s)}" for s in self.inboxes[kind].pending()]
        return f"still pending in {kind!r}:\n" + ("\n".join(lines) or "  (none)")

    def _timeout_report(self, kind: Kind, what: str, timeout: float) -> str:
        recent = "\n".join(f"  {describe(s)}" for s in self.history[-15:]) or "  (nothing)"
        state = "connected" if self.connected else "DISCONNECTED"
        return (
            f"{self.jid} ({state}): no {what or kind} within {timeout}s.\n"
            f"{self._pending_report(kind)}\nlast stanzas received (consumed or not):\n{recent}"
        )


async def stop_send_task(xmpp: Any) -> None:
    """Cancel slixmpp's send loop, which outlives ``disconnect()``.

    slixmpp only cancels it in ``XMLStream.__del__``; left alone, each closed client leaves a
    pending task behind ("Task was destroyed but it is pending!" when the test's loop closes).
    """
    task = getattr(xmpp, "_run_out_filters", None)
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_component_free(
    host: str, port: int, component_domain: str, secret: str, timeout: float = 15
) -> None:
    """Until Prosody accepts a component handshake for ``component_domain`` (then release it).

    Prosody allows one connection per component domain and refuses a second with ``conflict``;
    a test that starts the service right after the previous test's service stopped can call
    this first. It returns only after Prosody has closed the probe's own stream.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    last = ""
    while True:
        last = await _component_handshake(host, port, component_domain, secret)
        if last == "ok":
            return
        if time.monotonic() + delay > deadline:
            raise AssertionError(f"component {component_domain} still taken: {last}")
        await asyncio.sleep(delay)  # polling: Prosody announces no "component free" event
        delay = min(delay * 2, 0.2)


async def _component_handshake(host: str, port: int, domain: str, secret: str) -> str:
    """One XEP-0114 handshake; "ok" on success, else what went wrong."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        return f"connect: {exc}"
    try:
        async with asyncio.timeout(5):
            writer.write(
                b"<stream:stream xmlns='jabber:component:accept' "
                b"xmlns:stream='http://etherx.jabber.org/streams' to='"
                + domain.encode()
                + b"'>"
            )
            data = b""
            while (m := re.search(rb"\sid=['\"]([^'\"]+)['\"]", data)) is None:
                chunk = await reader.read(4096)
                if not chunk:
                    return f"closed before stream id: {data!r}"
                data += chunk
            token = hashlib.sha1(m.group(1) + secret.encode()).hexdigest()
            writer.write(f"<handshake>{token}</handshake>".encode())
            data = b""
            while b"<handshake" not in data and b"error" not in data:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                data += chunk
            if b"<handshake" not in data:
                return f"refused: {data.decode(errors='replace')}"
            writer.write(b"</stream:stream>")
            while await reader.read(4096):  # until Prosody closes: the component is released
                pass
            return "ok"
    except TimeoutError:
        return "handshake timed out"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class UserAccount:
    """A registered account of the private Prosody."""

    def __init__(self, name: str, domain: str, password: str) -> None:
        self.name = name
        self.domain = domain
        self.password = password

    @property
    def jid(self) -> str:
        return f"{self.name}@{self.domain}"

    def __repr__(self) -> str:
        return f"UserAccount({self.jid!r})"


class ClientPool:
    """Connects :class:`ChatClient` instances to one server and disconnects them all at the end."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.clients: list[ChatClient] = []

    async def connect(
        self, user: UserAccount, resource: str = "test", **kwargs: Any
    ) -> ChatClient:
        client = await ChatClient.connect(
            f"{user.jid}/{resource}", user.password, self.host, self.port, **kwargs
        )
        self.clients.append(client)
        return client

    __call__ = connect

    async def close(self) -> None:
        clients, self.clients = self.clients, []
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
