"""Start the real agentchat service in-process against the test Prosody and scripted API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from agentchat.config.load import load_config
from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.prosody.ports import free_port
from agentchat.service import Service
from tests.support.claude_env import claude_env, claude_path
from tests.support.fakes import FakeAdapter
from tests.support.scripted_api import ScriptedAnthropic

REPOS = ("my-project", "another-repo")


def make_workspace(root: Path, repos: tuple[str, ...] = REPOS) -> Path:
    base = root / "work"
    for name in repos:
        (base / name).mkdir(parents=True, exist_ok=True)
        (base / name / "README.md").write_text(f"# {name}\n")
    return base


def service_env(prosody: EmbeddedProsody, home: Path, base: Path,
                **overrides: str) -> dict[str, str]:
    s = prosody.settings
    env = {
        "AGENT_CHAT_HOME": str(home),
        "XMPP_HOST": prosody.component_host,
        "XMPP_PORT": str(s.component_port),
        "XMPP_DOMAIN": s.domain,
        "XMPP_COMPONENT_DOMAIN": s.component_domain,
        "XMPP_COMPONENT_SECRET": s.component_secret,
        "WORK_BASE_PATH": str(base),
        "MCP_PORT": str(free_port()),
        "CLAUDE_PATH": claude_path(),
    }
    env.update(overrides)
    return env


@contextlib.asynccontextmanager
async def running_service(
    prosody: EmbeddedProsody,
    tmp_path: Path,
    api: ScriptedAnthropic,
    env_overrides: Mapping[str, str] | None = None,
    agent_env: Mapping[str, str] | None = None,
) -> AsyncIterator[Service]:
    """The service connected as the component; stopped (and disconnected) on exit.

    ``agent_env`` (default: Claude Code against ``api``) is added to every agent's environment.
    """
    home = tmp_path / "home"
    base = make_workspace(tmp_path)
    env = service_env(prosody, home, base, **dict(env_overrides or {}))
    loaded = load_config(None, env)
    extra = claude_env(tmp_path, api) if agent_env is None else dict(agent_env)
    service = Service(loaded.config, agent_env=extra)
    service.load_state()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@contextlib.asynccontextmanager
async def fake_cli_service(
    prosody: EmbeddedProsody, tmp_path: Path, env_overrides: Mapping[str, str] | None = None,
) -> AsyncIterator[Service]:
    """The service with in-memory agents whose events the test emits (exact timing)."""
    env = service_env(prosody, tmp_path / "home", make_workspace(tmp_path),
                      **dict(env_overrides or {}))
    svc = Service(load_config(None, env).config, adapter_factory=FakeAdapter)
    svc.load_state()
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


async def until_state(home: Path, check: Callable[[list[dict[str, Any]]], bool], what: str,
                      timeout: float = 15) -> None:
    """Until the state saved by a service in another process passes ``check`` (its agents).
    Polls the file: there is no event to await across processes."""
    deadline = asyncio.get_running_loop().time() + timeout
    path = home / "state.json"
    while True:
        try:
            agents = json.loads(path.read_text())["agents"]
        except (OSError, ValueError, KeyError):
            agents = None
        if agents is not None and check(agents):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path}: not {what} after {timeout}s")
        await asyncio.sleep(0.02)


async def state_settled(home: Path) -> None:
    """Until no owner message is saved as waiting for its answer (the state is written behind
    the turn): a kill after this finds nothing to answer again."""
    await until_state(home, lambda agents: not any(a.get("unanswered") for a in agents),
                      "settled (no unanswered messages)")


class ServiceProcess:
    """``python -m agentchat run`` as a real process (for kill -9 and SIGTERM tests)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.proc: asyncio.subprocess.Process | None = None
        self.log: list[str] = []
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 30) -> None:
        await self.start_only()
        await self.wait_connected(timeout)

    async def start_only(self) -> None:
        """Spawn without waiting for the connection (for start-up failures)."""
        env = {**os.environ, **self.env}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agentchat", "run", "--log-level", "debug",
            env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        self._connected.clear()
        self._reader = asyncio.create_task(self._read(self.proc))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.log.append(line)
            if "component " in line and " connected" in line:
                self._connected.set()

    def reset_connected(self) -> None:
        """Forget the last "connected" line: ``wait_connected`` then waits for the next one."""
        self._connected.clear()

    async def wait_connected(self, timeout: float = 30) -> None:
        """Until the service logs that its component is connected (again)."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise AssertionError("service did not connect:\n" + "\n".join(self.log[-40:])) from None

    async def wait(self, timeout: float = 15) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout)
        return code

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.wait()
