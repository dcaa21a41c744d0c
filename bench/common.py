"""Shared pieces of the benchmarks: statistics, the result table, README writing, the private
Prosody with its raw echo baseline, the instant fake agent and the client-side load generator.

Clients run in a separate process (``bench.loadgen``) so the service's event loop is measured
alone, as in production where users' clients are elsewhere. Timestamps are
``time.monotonic_ns()`` (CLOCK_MONOTONIC): comparable across processes on one Linux machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import slixmpp

from agentchat.agents.adapter import Image, LaunchSpec
from agentchat.agents.events import AgentEvent, AssistantText, ProcessExited, TurnFinished
from agentchat.config.load import load_config
from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.prosody.ports import free_port
from agentchat.service import Service

log = logging.getLogger("bench")

REPO_ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "bench.localhost"
COMPONENT = f"agents.{DOMAIN}"
ECHO = f"echo.{DOMAIN}"  # the raw echo baseline: a bare slixmpp component
CLI = f"cli.{DOMAIN}"  # a second agentchat service with the real Claude CLI
MEMORY = f"mem.{DOMAIN}"  # the memory probes' service (a subprocess)
REPO = "bench-repo"
START_MARK = "<!-- bench:start -->"
END_MARK = "<!-- bench:end -->"


def ms(ns: float) -> float:
    return ns / 1e6


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for no data."""
    if not values:
        return float("nan")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def p50_p99(values_ns: Sequence[float]) -> tuple[float, float]:
    """Milliseconds."""
    return ms(percentile(values_ns, 50)), ms(percentile(values_ns, 99))


# ----------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the table: our figure, the baseline measured in the same run, the target."""

    bench: str
    metric: str
    ours: str
    baseline: str = ""
    diff: str = ""
    target: str = ""
    met: bool | None = None  # None: informational


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)


def fmt_ms(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def render_table(results: Results, header: str) -> str:
    lines = [
        header,
        "",
        "| Benchmark | Metric | agentchat | Baseline | Difference | Target | Met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results.rows:
        met = "" if r.met is None else ("✅" if r.met else "❌")
        lines.append(
            f"| {r.bench} | {r.metric} | {r.ours} | {r.baseline} | {r.diff} | {r.target} | {met} |"
        )
    if results.notes:
        lines.append("")
        lines.extend(f"- {n}" for n in results.notes)
    return "\n".join(lines)


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    prosody = "Prosody"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        about = subprocess.run(["prosodyctl", "about"], capture_output=True, text=True,
                               timeout=10).stdout
        # its first line, unless warnings come first (a missing optional Lua library)
        prosody = next((line.strip() for line in about.splitlines()
                        if re.match(r"Prosody \d", line)), prosody)
    return (
        f"{time.strftime('%Y-%m-%d')} · {cpu} · {os.cpu_count()} CPUs · "
        f"Python {platform.python_version()} · {prosody}"
    )


def write_readme(readme: Path, block: str) -> None:
    """Replace the text between the markers; add a ``## Performance`` section if absent."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    inner = f"{START_MARK}\n{block}\n{END_MARK}"
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        text = head + inner + tail
    else:
        if not text.endswith("\n"):
            text += "\n"
        text += (
            "\n## Performance\n\n"
            "Measured by `.venv/bin/python -m bench` (each baseline in the same run; see "
            "bench/ for what each figure means).\n\n" + inner + "\n"
        )
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(readme)


# ----------------------------------------------------------------------------- fake agent


class InstantAdapter:
    """A fake agent process: every message is answered at once with the same text."""

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self._events: asyncio.Queue[AgentEvent] = asyncio.Queue()

    @property
    def pid(self) -> int | None:
        return None

    @property
    def accepts_images(self) -> bool:
        return False

    async def start(self) -> None:
        return None

    async def send(self, text: str, images: Sequence[Image] = ()) -> None:
        self._events.put_nowait(AssistantText(text))
        self._events.put_nowait(TurnFinished("success", False))

    async def interrupt(self) -> str:
        return "interrupt"

    async def stop(self, grace: float = 3.0) -> None:
        self._events.put_nowait(ProcessExited(0, "", expected=True))

    async def events(self) -> AsyncIterator[AgentEvent]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, ProcessExited):
                return


# ----------------------------------------------------------------------------- raw echo


class EchoComponent(slixmpp.ComponentXMPP):
    """The baseline: the least a component can do, answer each chat message with its body."""

    def __init__(self, domain: str, secret: str, host: str, port: int) -> None:
        super().__init__(domain, secret, host, port)  # type: ignore[no-untyped-call]
        self.auto_authorize = None
        self.auto_subscribe = False
        self.ready = asyncio.Event()
        self.add_event_handler("session_start", lambda _: self.ready.set())
        self.add_event_handler("message", self._echo)
        self.stanzas_written = 0  # counted like AgentComponent's (after the handshake)
        self.bytes_written = 0

    def send_raw(self, data: str | bytes) -> None:
        if self.ready.is_set():
            self.stanzas_written += 1
            self.bytes_written += len(data.encode("utf-8") if isinstance(data, str) else data)
        super().send_raw(data)

    def _echo(self, msg: Any) -> None:
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.make_message(mto=msg["from"], mfrom=msg["to"], mbody=msg["body"],
                              mtype="chat").send()

    async def start(self, timeout: float = 15) -> None:
        self.connect()
        await asyncio.wait_for(self.ready.wait(), timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.disconnect(), 5)
        task = getattr(self, "_run_out_filters", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# ----------------------------------------------------------------------------- the world


@dataclass
class Account:
    user: str
    password: str

    @property
    def jid(self) -> str:
        return f"{self.user}@{DOMAIN}"

    def as_json(self) -> dict[str, str]:
        return {"jid": self.jid, "password": self.password}


class World:
    """One private Prosody (agentchat's component plus the extra ones) in a temp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.secrets = {d: secrets.token_hex(16) for d in (COMPONENT, ECHO, CLI, MEMORY)}
        extra = tuple((d, self.secrets[d]) for d in (ECHO, CLI, MEMORY))
        self.prosody = EmbeddedProsody.with_free_ports(
            root / "prosody", DOMAIN, COMPONENT, self.secrets[COMPONENT],
            extra_components=extra,
        )
        self.work = root / "work"
        (self.work / REPO).mkdir(parents=True, exist_ok=True)
        (self.work / REPO / "README.md").write_text("# bench\n")
        self._users = 0

    @property
    def c2s(self) -> tuple[str, int]:
        return self.prosody.c2s_host, self.prosody.settings.c2s_port

    def register(self, prefix: str = "u") -> Account:
        self._users += 1
        account = Account(f"{prefix}{self._users}", secrets.token_urlsafe(12))
        self.prosody.register(account.user, account.password)
        return account

    def service_env(self, domain: str, home: Path, **overrides: str) -> dict[str, str]:
        s = self.prosody.settings
        env = {
            "AGENT_CHAT_HOME": str(home),
            "XMPP_HOST": self.prosody.component_host,
            "XMPP_PORT": str(s.component_port),
            "XMPP_DOMAIN": DOMAIN,
            "XMPP_COMPONENT_DOMAIN": domain,
            "XMPP_COMPONENT_SECRET": self.secrets[domain],
            "WORK_BASE_PATH": str(self.work),
            "MCP_PORT": str(free_port()),
            "CLAUDE_PATH": claude_path(),
            "AGENTS_MAX_CONCURRENT": "2000",
        }
        env.update(overrides)
        return env

    def make_service(
        self, domain: str, name: str, *, adapter_factory: Any = InstantAdapter,
        agent_env: dict[str, str] | None = None, **overrides: str,
    ) -> Service:
        home = self.root / name
        config = load_config(None, self.service_env(domain, home, **overrides)).config
        service = Service(config, adapter_factory=adapter_factory, agent_env=agent_env)
        service.load_state()
        return service

    async def echo(self) -> EchoComponent:
        comp = EchoComponent(ECHO, self.secrets[ECHO], self.prosody.component_host,
                             self.prosody.settings.component_port)
        await comp.start()
        return comp


def claude_path() -> str:
    pinned = REPO_ROOT / "tools" / "node_modules" / ".bin" / "claude"
    return os.environ.get("CLAUDE_PATH") or (str(pinned) if pinned.exists() else
                                             shutil.which("claude") or "claude")


@contextlib.contextmanager
def world() -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix="agentchat-bench-"))
    w = World(root)
    w.prosody.start()
    try:
        yield w
    finally:
        w.prosody.stop()
        shutil.rmtree(root, ignore_errors=True)


# ----------------------------------------------------------------------------- load generator


async def loadgen(spec: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    """Run ``bench.loadgen`` in its own process with ``spec``; its JSON answer."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.loadgen",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=str(REPO_ROOT),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(spec).encode()), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"loadgen {spec.get('mode')} took over {timeout}s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen {spec.get('mode')} failed ({proc.returncode}):\n"
                           + err.decode(errors="replace")[-3000:])
    result: dict[str, Any] = json.loads(out)
    return result


def vmrss_kb(status: Path) -> int | None:
    """VmRSS of a /proc/<pid>/status file, in KB (None for a process without memory)."""
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def stamp_calls(obj: Any, attr: str, sink: list[tuple[int, tuple[Any, ...]]]) -> None:
    """Record ``(monotonic_ns(), args)`` at each call of ``obj.attr`` (an instance override).

    The wrapper is synchronous: for a coroutine function it stamps the call, not the first run.
    """
    original = getattr(obj, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sink.append((time.monotonic_ns(), args))
        return original(*args, **kwargs)

    setattr(obj, attr, wrapper)
