"""A private Prosody run as a child process: for ``agentchat run`` without a configured server,
and for the tests.

Synchronous on purpose (plain subprocesses and sockets), so it works from session-scoped pytest
fixtures and before any event loop exists.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Self

from agentchat.prosody.config_text import ProsodySettings, render_prosody_config
from agentchat.prosody.ports import free_port

__all__ = ["EmbeddedProsody", "ProsodyError", "ProsodySettings"]

_CONNECT_HOSTS = {"*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
_BIND_FAILED = re.compile(rb"Failed to open server port")
# Prosody processes that must not outlive us, even if a caller forgets stop().
_LIVE: set[subprocess.Popen[bytes]] = set()


class ProsodyError(RuntimeError):
    """Prosody could not be started, stopped or asked to do something; the text says why."""


@atexit.register
def _terminate_leftovers() -> None:
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _LIVE.clear()


class EmbeddedProsody:
    """One private Prosody: its config, data, captured output and process, all under ``base_dir``.

    Layout: ``prosody.cfg.lua``, ``data/`` (accounts, rosters, offline messages), ``certs/``
    (empty; keeps certmanager quiet), ``prosody.pid`` and ``prosody.log`` (the server's console
    output, appended across restarts).
    """

    def __init__(
        self,
        base_dir: Path,
        settings: ProsodySettings,
        *,
        prosody_bin: str = "prosody",
        prosodyctl_bin: str = "prosodyctl",
    ) -> None:
        self._base_dir = Path(base_dir).absolute()
        self._settings = settings
        self._prosody_bin = prosody_bin
        self._prosodyctl_bin = prosodyctl_bin
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._run_log_offset = 0

    @classmethod
    def with_free_ports(
        cls,
        base_dir: Path,
        domain: str,
        component_domain: str,
        component_secret: str,
        *,
        c2s_interface: str = "127.0.0.1",
        extra_components: tuple[tuple[str, str], ...] = (),
        files: bool = True,
        web_root: Path | None = None,
        muc_domain: str | None = None,
    ) -> Self:
        """A server on ports that were free a moment ago (``start`` reports a lost race).

        ``files``: also the upload service ``upload.<domain>`` on an HTTP port; ``web_root``:
        also serve that directory (agentchat.web.site) and a websocket on the same port.
        """
        c2s_port = free_port()
        component_port = free_port()
        while component_port == c2s_port:
            component_port = free_port()
        wants_http = files or web_root is not None
        http_port = _files_port((c2s_port, component_port)) if wants_http else None
        settings = ProsodySettings(
            domain=domain,
            component_domain=component_domain,
            component_secret=component_secret,
            c2s_port=c2s_port,
            component_port=component_port,
            c2s_interface=c2s_interface,
            extra_components=extra_components,
            http_port=http_port,
            web_root=str(web_root) if web_root is not None else None,
            muc_domain=muc_domain,
        )
        return cls(base_dir, settings)

    # -- paths and state -------------------------------------------------------------------

    @property
    def settings(self) -> ProsodySettings:
        return self._settings

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @property
    def config_path(self) -> Path:
        return self._base_dir / "prosody.cfg.lua"

    @property
    def data_dir(self) -> Path:
        return self._base_dir / "data"

    @property
    def pidfile(self) -> Path:
        return self._base_dir / "prosody.pid"

    @property
    def log_path(self) -> Path:
        return self._base_dir / "prosody.log"

    @property
    def c2s_host(self) -> str:
        """Where a client connects: the c2s interface, or loopback if that is a wildcard."""
        iface = self._settings.c2s_interface
        return _CONNECT_HOSTS.get(iface, iface)

    @property
    def component_host(self) -> str:
        return "127.0.0.1"

    @property
    def web_url(self) -> str | None:
        """The web client's address, if this server serves it."""
        port = self._settings.http_port
        if port is None or self._settings.web_root is None:
            return None
        host = self.c2s_host
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines Prosody printed (all runs), for error messages."""
        return _tail(self._read_log(0), lines)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 20) -> None:
        """Write the config, start Prosody in the foreground and wait until both ports serve XMPP.

        Readiness is an XMPP probe, not just a TCP accept: the kernel accepts while Prosody is
        still loading hosts, and a port taken by another server must not count as ours.
        """
        if self.running:
            raise ProsodyError(f"Prosody is already running (pid {self.pid})")
        self._write_files()
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        log_file.write(f"--- agentchat: starting prosody at {time.ctime()}\n".encode())
        log_file.flush()
        self._run_log_offset = log_file.tell()
        self._log_file = log_file
        try:
            self._proc = subprocess.Popen(
                [self._prosody_bin, "--config", str(self.config_path), "-F"],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self._base_dir,
                # Its own session: a Ctrl-C meant for agentchat must not kill Prosody under it.
                start_new_session=True,
            )
        except OSError as exc:
            self._close_log()
            raise ProsodyError(f"cannot run {self._prosody_bin!r}: {exc}") from exc
        _LIVE.add(self._proc)
        try:
            self._wait_ready(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10, *, graceful: bool = True) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; idempotent.

        On SIGTERM Prosody closes every stream with ``system-shutdown`` (about 1 s when clients
        are connected). ``graceful=False`` sends SIGKILL at once: a crash, for reliability tests.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                if graceful:
                    proc.terminate()
                else:
                    proc.kill()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            _LIVE.discard(proc)
        self._close_log()

    def restart(self, timeout: float = 20, *, graceful: bool = True) -> None:
        """Stop and start again on the same ports, with the same accounts and stored data."""
        self.stop(graceful=graceful)
        self.start(timeout)

    def register(self, user: str, password: str) -> None:
        """Create (or re-password) ``user@domain`` with ``prosodyctl register``."""
        if not user or user != user.strip():
            raise ProsodyError(f"invalid user name {user!r}")
        if not password:
            raise ProsodyError(f"empty password for {user!r}")
        self._write_files()
        cmd = [self._prosodyctl_bin, "--config", str(self.config_path), "register"]
        try:
            result = subprocess.run(
                [*cmd, user, self._settings.domain, password],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
                cwd=self._base_dir,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProsodyError(f"prosodyctl register {user!r} failed: {exc}") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise ProsodyError(
                f"prosodyctl register {user!r} {self._settings.domain!r} exited with "
                f"{result.returncode}: {output}"
            )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _write_files(self) -> None:
        """Directories and config; private (0700/0600): the config holds the component secret."""
        for path in (self._base_dir, self.data_dir, self._base_dir / "certs"):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)
        text = render_prosody_config(
            self._settings, self.data_dir, self.pidfile, as_root=os.geteuid() == 0
        )
        tmp = self.config_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        tmp.replace(self.config_path)
        for binary in (self._prosody_bin, self._prosodyctl_bin):
            if shutil.which(binary) is None:
                raise ProsodyError(f"{binary!r} not found: install Prosody (apt install prosody)")

    def _wait_ready(self, deadline: float) -> None:
        """Until Prosody says it bound both ports, then until both answer an XMPP stream.

        The log lines prove the ports are bound by this process (a port already taken makes
        Prosody log an error and carry on, and a probe would reach the other server); the
        probes prove the hosts are loaded and the event loop is running.
        """
        s = self._settings
        services = [("c2s", s.c2s_interface, s.c2s_port),
                    ("component", "127.0.0.1", s.component_port)]
        if s.http_port is not None:
            services.append(("http", s.http_interface, s.http_port))
        bound = [
            re.compile(
                rb"Activated service '%s' on .*\[%s\]:%d\b"
                % (service.encode(), re.escape(iface.encode()), port)
            )
            for service, iface, port in services
        ]
        c2s_header = (
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' "
            f"to='{s.domain}' version='1.0'>"
        )
        component_header = (
            "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
            f"xmlns:stream='http://etherx.jabber.org/streams' to='{s.component_domain}'>"
        )
        probes = [
            (self.c2s_host, s.c2s_port, c2s_header, b"mechanisms"),
            (self.component_host, s.component_port, component_header, b" id="),
        ]
        delay = 0.01
        while probes:
            self._check_alive()
            output = self._read_log(self._run_log_offset)
            if all(pattern.search(output) for pattern in bound):
                host, port, header, marker = probes[0]
                budget = min(1.0, max(0.05, deadline - time.monotonic()))
                if _probe(host, port, header, marker, budget):
                    probes.pop(0)
                    continue
            else:
                host, port = "", 0
            if time.monotonic() >= deadline:
                what = f"serve {host}:{port}" if port else "bind its ports"
                raise ProsodyError(
                    f"Prosody did not {what} in time; its output:\n"
                    + _tail(self._read_log(self._run_log_offset), 40)
                )
            time.sleep(delay)  # polling a port: there is no event to await
            delay = min(delay * 2, 0.2)
        self._check_alive()

    def _check_alive(self) -> None:
        proc = self._proc
        output = self._read_log(self._run_log_offset)
        if proc is None or proc.poll() is not None:
            code = None if proc is None else proc.returncode
            raise ProsodyError(f"Prosody exited with {code}; its output:\n" + _tail(output, 40))
        if _BIND_FAILED.search(output):
            raise ProsodyError("Prosody reported an error at startup:\n" + _tail(output, 40))

    def _read_log(self, offset: int) -> bytes:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return b""

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _files_port(taken: tuple[int, ...]) -> int:
    """A free port for the upload service's HTTP server, other than ``taken``."""
    port = free_port()
    while port in taken:
        port = free_port()
    return port


def _probe(host: str, port: int, header: str, marker: bytes, timeout: float) -> bool:
    """Open an XMPP stream; True once the reply contains ``marker`` without a stream error."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(header.encode())
            received = b""
            while marker not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                received += chunk
            if b"stream:error" in received:
                raise ProsodyError(
                    f"{host}:{port} answered with a stream error (another server on the port?): "
                    + received.decode(errors="replace")[:500]
                )
            sock.sendall(b"</stream:stream>")
            return True
    except OSError:
        return False


def _tail(data: bytes, lines: int) -> str:
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])
