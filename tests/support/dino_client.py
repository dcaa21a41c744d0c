"""Dino (Debian's GTK desktop XMPP client) under Xvfb, driven from a test.

What Dino needs and how it gets it here, without touching the machine's configuration:
- It has no host/port setting and connects to port 5222 of the account's domain: it runs in its
  own network namespace (bubblewrap), where ``/etc/hosts`` says the domain is 127.0.0.1 and a
  bridge on 127.0.0.1:5222 leads, through a Unix socket, to the test's private Prosody.
- It accepts only certificates it trusts: the test makes a CA and a certificate for the domain,
  Prosody serves it, and the sandbox sees the CA as the system's CA bundle.
- The account is written into Dino's own database (created by a first start), so no dialog is
  needed; conversations are opened with ``xmpp:JID?message`` URIs (Dino's command line, passed
  to the running instance over D-Bus) and text is typed with xdotool.
- What Dino shows is read from its database (content items point at the latest correction of a
  message) and what it received from its XML log (``--print-xmpp=all``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

from agentchat.prosody.embedded import EmbeddedProsody
from tests.support.claude_env import REPO_ROOT
from tests.support.unix_bridge import unix_to_tcp

T = TypeVar("T")
STEP_TIMEOUT = 60.0
TOOLS = ("dino-im", "Xvfb", "xdotool", "bwrap", "dbus-daemon", "openssl")


class DinoError(RuntimeError):
    """Dino did not show what was expected; the message says what it showed."""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def make_certificates(directory: Path, domain: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for ``domain``, made with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (directory / n for n in
                                  ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    ext = directory / "server.ext"
    ext.write_text(f"subjectAltName=DNS:{domain},DNS:*.{domain}\n"
                   "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=agentchat test CA", "-keyout", str(ca_key), "-out", str(ca),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={domain}",
            "-keyout", str(key), "-out", str(csr))
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return ca, cert, key


def _read_line(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data.decode()


class TlsProsody(EmbeddedProsody):
    """The private Prosody with STARTTLS on c2s, serving a certificate from ``certs/``."""

    def __init__(self, base: EmbeddedProsody, cert: Path, key: Path) -> None:
        super().__init__(base.base_dir, base.settings)
        self._cert, self._key = cert, key

    def _write_files(self) -> None:
        super()._write_files()
        certs = self.base_dir / "certs"
        domain = self.settings.domain
        shutil.copyfile(self._cert, certs / f"{domain}.crt")
        shutil.copyfile(self._key, certs / f"{domain}.key")
        text = self.config_path.read_text()
        text = text.replace("modules_enabled = {\n", 'modules_enabled = {\n    "tls";\n', 1)
        self.config_path.write_text(text)


async def wait_until(check: Callable[[], T | None], what: str, report: Callable[[], str],
                     timeout: float = STEP_TIMEOUT) -> T:
    """Poll ``check`` until it returns something (a GUI can only be watched from outside)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise DinoError(f"not shown after {timeout:.0f}s: {what}\n{report()}")
        await asyncio.sleep(0.25)


class Dino:
    def __init__(self, root: Path, domain: str, jid: str, password: str, c2s_port: int,
                 ca: Path) -> None:
        self.root = root
        self.domain = domain
        self.jid = jid
        self.password = password
        self.c2s_port = c2s_port
        self.ca = ca
        self.home = root / "home"
        self.db_path = self.home / ".local" / "share" / "dino" / "dino.db"
        self.xml_log = root / "dino-xmpp.log"
        self.env: dict[str, str] = {}
        self._procs: list[subprocess.Popen[bytes]] = []
        self._dino: subprocess.Popen[bytes] | None = None
        self._keep_open: list[int] = []

    # ------------------------------------------------------------------ processes

    def _spawn(self, args: list[str], log: Path, **kw: object) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=self.env,
                                    start_new_session=True, **kw)  # type: ignore[call-overload]
        self._procs.append(proc)
        return proc

    async def _start_display_and_bus(self) -> None:
        read, write = os.pipe()
        self._spawn(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24",
                     "-nolisten", "tcp"], self.root / "xvfb.log", pass_fds=(write,))
        os.close(write)
        number = (await asyncio.to_thread(_read_line, read)).strip()
        self._keep_open.append(read)  # Xvfb fails when its second write gets EPIPE
        if not number:
            raise DinoError("Xvfb did not start: " + (self.root / "xvfb.log").read_text())
        bus = self.root / "bus"
        self.env["DISPLAY"] = f":{number}"
        self.env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={bus}"
        self._spawn(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                     f"--address=unix:path={bus}"], self.root / "dbus.log")
        await wait_until(lambda: True if bus.exists() else None, "the D-Bus socket",
                         lambda: (self.root / "dbus.log").read_text())

    def _sandbox_files(self) -> list[str]:
        """bwrap arguments: the domain is 127.0.0.1, no DNS, our CA is the system's."""
        hosts = self.root / "hosts"
        hosts.write_text(f"127.0.0.1 localhost {self.domain}\n")
        resolv = self.root / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        return ["--ro-bind", str(hosts), "/etc/hosts",
                "--ro-bind", str(resolv), "/etc/resolv.conf",
                "--ro-bind", str(self.ca), "/etc/ssl/certs/ca-certificates.crt"]

    def _start_dino(self, log: Path) -> subprocess.Popen[bytes]:
        sock = self.root / "c2s.sock"
        # A second loopback address: with 127.0.0.1 alone, getaddrinfo's AI_ADDRCONFIG (GLib
        # uses it) finds no IPv4 address and resolves no name, not even from /etc/hosts.
        inner = ("ip addr add 127.0.0.2/8 dev lo && "
                 f"{{ {sys.executable} -m tests.support.unix_bridge 5222 {sock} & }} && "
                 "exec dino-im --print-xmpp='no-ansi;all'")
        proc = self._spawn(
            ["bwrap", "--bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc",
             # its own pid namespace: when Dino ends, the bridge beside it ends too
             "--unshare-net", "--unshare-pid", "--cap-add", "CAP_NET_ADMIN", "--die-with-parent",
             *self._sandbox_files(),
             "--chdir", str(REPO_ROOT), "--", "sh", "-c", inner],
            log)
        self._dino = proc
        return proc

    async def _stop_dino(self) -> None:
        proc, self._dino = self._dino, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            await asyncio.to_thread(proc.wait)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Dino]:
        """Xvfb, D-Bus, the bridge and Dino logged in to the account; all stopped on exit."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_RUNTIME_DIR": str(self.root), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "GTK_A11Y": "none", "NO_AT_BRIDGE": "1", "GSETTINGS_BACKEND": "memory",
            "PYTHONPATH": str(REPO_ROOT),
        }
        try:
            await self._start_display_and_bus()
            async with unix_to_tcp(self.root / "c2s.sock", "127.0.0.1", self.c2s_port):
                # A first start creates Dino's database; the account is then added to it.
                self._start_dino(self.root / "dino-first.log")
                await wait_until(self._has_schema, "Dino's database",
                                 lambda: (self.root / "dino-first.log").read_text()[-3000:])
                await self._stop_dino()
                with sqlite3.connect(self.db_path) as db:
                    db.execute("INSERT INTO account (bare_jid, resourcepart, password, alias, "
                               "enabled) VALUES (?, 'dino', ?, 'me', 1)",
                               (self.jid, self.password))
                self._start_dino(self.xml_log)
                await wait_until(self._logged_in, "Dino logged in (its XML log)",
                                 self.log_tail)
                yield self
        finally:
            await self._stop_dino()
            for proc in reversed(self._procs):
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, 15)
                    await asyncio.to_thread(proc.wait)
            for fd in self._keep_open:
                os.close(fd)

    def _has_schema(self) -> bool | None:
        if not self.db_path.exists():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro",
                                                    uri=True)) as db:
                rows = db.execute("SELECT name FROM sqlite_master WHERE name='content_item'")
                return True if rows.fetchall() else None
        except sqlite3.Error:
            return None

    def _logged_in(self) -> bool | None:
        text = self.log_text()
        return True if f"to='{self.jid}/dino'" in text else None  # bound, stanzas arrive

    def log_text(self) -> str:
        return self.xml_log.read_text(errors="replace") if self.xml_log.exists() else ""

    def log_tail(self) -> str:
        return "--- Dino's log (tail) ---\n" + self.log_text()[-4000:]

    # ------------------------------------------------------------------ driving

    def _xdotool(self, *args: str) -> str:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True,
                              text=True, timeout=20, check=False)
        if done.returncode != 0:
            raise DinoError(f"xdotool {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    async def open_chat(self, jid: str) -> None:
        """Open (and select) the conversation with ``jid``, as a click on an xmpp: link would."""
        done = await asyncio.to_thread(
            subprocess.run, ["dino-im", f"xmpp:{jid}?message"], env=self.env,
            capture_output=True, timeout=30, check=False)
        if done.returncode != 0:
            raise DinoError(f"dino-im xmpp:{jid}?message failed: {done.stderr!r}")
        await wait_until(lambda: True if self.conversation_id(jid) is not None else None,
                         f"a conversation with {jid}", self.log_tail)

    async def type(self, text: str) -> None:
        """Type ``text`` into the selected conversation's input and press Enter."""
        windows = await asyncio.to_thread(self._xdotool, "search", "--onlyvisible",
                                          "--class", "dino")
        window = windows.split()[-1]
        await asyncio.to_thread(self._xdotool, "windowfocus", "--sync", window)
        await asyncio.to_thread(self._xdotool, "type", "--delay", "20", text)
        await asyncio.to_thread(self._xdotool, "key", "Return")

    # ------------------------------------------------------------------ what it shows

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        if not self.db_path.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            return db.execute(sql, args).fetchall()

    def conversation_id(self, jid: str) -> int | None:
        rows = self._query(
            "SELECT c.id FROM conversation c JOIN jid j ON j.id = c.jid_id WHERE j.bare_jid = ?",
            (jid,))
        return int(str(rows[0][0])) if rows else None

    def shown(self, jid: str) -> list[str]:
        """The message texts of the conversation with ``jid``, as Dino lists them: each content
        item shows the latest accepted correction of its message."""
        conversation = self.conversation_id(jid)
        if conversation is None:
            return []
        rows = self._query(
            "SELECT m.body FROM content_item ci JOIN message m ON m.id = ci.foreign_id "
            "WHERE ci.conversation_id = ? AND ci.content_type = 1 AND ci.hide = 0 "
            "ORDER BY ci.time, ci.id", (conversation,))
        return [str(r[0]) for r in rows]

    def report(self, jid: str) -> Callable[[], str]:
        def text() -> str:
            listed = "\n".join(f"  {body!r}" for body in self.shown(jid))
            return f"--- Dino shows for {jid} ---\n{listed}\n" + self.log_tail()
        return text

    async def wait_shown(self, jid: str, match: Callable[[list[str]], bool], what: str,
                         timeout: float = STEP_TIMEOUT) -> list[str]:
        def check() -> list[str] | None:
            shown = self.shown(jid)
            return shown if match(shown) else None
        return await wait_until(check, what, self.report(jid), timeout)
