"""``agentchat check`` against a real private Prosody and the real Claude CLI."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import socket
import stat
import sys
from pathlib import Path

import attrs
import pytest

from agentchat.config.model import AgentsConfig, Config, McpConfig, WorkConfig, XmppConfig
from agentchat.diagnostics.check import (
    MIN_CLAUDE_VERSION,
    CheckResult,
    check_claude,
    check_mcp_port,
    check_prosody,
    check_prosody_and_uploads,
    check_sandbox,
    check_work,
    format_result,
    run_checks,
)
from agentchat.prosody.embedded import EmbeddedProsody

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "tools" / "node_modules" / ".bin" / "claude"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.frozen
class Target:
    """Where the shared session Prosody (tests/conftest.py) listens, and its secret."""

    host: str
    component_port: int
    c2s_port: int
    domain: str
    component_domain: str
    secret: str


@pytest.fixture
async def target(prosody: EmbeddedProsody, component_free: None) -> Target:
    """The shared Prosody, with its component slot free (no service of another test on it)."""
    s = prosody.settings
    return Target(prosody.component_host, s.component_port, s.c2s_port, s.domain,
                  s.component_domain, s.component_secret)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    base = tmp_path / "repos"
    for name in ("alpha", "beta", ".hidden"):
        (base / name).mkdir(parents=True)
    (base / "README.txt").write_text("not a repo")
    return base


def make_config(port: int, *, target: Target | None = None, secret: str | None = None,
                component: str | None = None, claude: str = str(CLAUDE), work: Path = Path("/"),
                mcp_port: int = 0) -> Config:
    """A config aimed at ``target`` (or at ``port`` on loopback with dummy names)."""
    return Config(
        xmpp=XmppConfig(
            host=target.host if target else "127.0.0.1",
            port=port,
            domain=target.domain if target else "example.test",
            component_domain=component or (target.component_domain if target
                                           else "agents.example.test"),
            component_secret=secret or (target.secret if target else "x"),
        ),
        mcp=McpConfig(port=mcp_port or free_port()),
        work=WorkConfig(base_path=work),
        agents=AgentsConfig(claude_path=claude),
    )


# --------------------------------------------------------------------------- prosody


async def test_right_secret_is_accepted(target: Target) -> None:
    result = await check_prosody(make_config(target.component_port, target=target))
    expected = f"component handshake accepted for {target.component_domain}"
    assert result == CheckResult("prosody", True, expected)
    assert format_result(result) == f"ok   prosody: {expected}"
    # The check released the slot before returning: a component can connect right away.
    async with ComponentConnection(target):
        pass


async def test_wrong_secret_is_not_authorized(target: Target) -> None:
    result = await check_prosody(make_config(target.component_port, target=target,
                                             secret="nope"))
    assert not result.ok
    assert "rejected the component secret" in result.message
    assert "xmpp.componentSecret" in result.message
    assert format_result(result).startswith("FAIL prosody: ")


async def test_unknown_component_domain(target: Target) -> None:
    result = await check_prosody(make_config(target.component_port, target=target,
                                             component="x.other.test"))
    assert not result.ok
    assert "does not know the component domain x.other.test" in result.message
    assert 'Component "x.other.test"' in result.message


async def test_client_port_is_recognised(target: Target) -> None:
    result = await check_prosody(make_config(target.c2s_port, target=target))
    assert not result.ok
    assert "client (c2s) port, not its component port" in result.message


async def test_conflict_when_component_already_connected(target: Target) -> None:
    config = make_config(target.component_port, target=target)
    async with ComponentConnection(target):
        result = await check_prosody(config)
        assert not result.ok
        assert result.message == (f"component domain {target.component_domain} already "
                                  "connected (is agentchat already running?)")
    # Once the holder has left, the slot is free again (the refused check did not take it).
    for _ in range(50):
        result = await check_prosody(config)
        if result.ok:
            break
        await asyncio.sleep(0.1)
    assert result.ok, result.message


class ComponentConnection:
    """Hold the component slot, as a running agentchat would; leave cleanly on exit."""

    def __init__(self, target: Target) -> None:
        self.target = target

    async def __aenter__(self) -> None:
        t = self.target
        self.reader, self.writer = await asyncio.open_connection(t.host, t.component_port)
        self.writer.write(
            "<stream:stream xmlns='jabber:component:accept' "
            f"xmlns:stream='http://etherx.jabber.org/streams' to='{t.component_domain}'>"
            .encode()
        )
        header = await self.reader.readuntil(b">")
        while b"<stream:stream" not in header:
            header += await self.reader.readuntil(b">")
        m = re.search(rb"id=['\"]([^'\"]+)", header)
        assert m
        digest = hashlib.sha1(m[1] + t.secret.encode()).hexdigest()
        self.writer.write(f"<handshake>{digest}</handshake>".encode())
        answer = await asyncio.wait_for(self.reader.read(1000), 5)
        assert answer.startswith(b"<handshake"), answer

    async def __aexit__(self, *exc: object) -> None:
        self.writer.write(b"</stream:stream>")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                while await self.reader.read(1000):
                    pass
        self.writer.close()
        await self.writer.wait_closed()


async def test_nothing_listening_is_unreachable() -> None:
    port = free_port()
    result = await check_prosody(make_config(port))
    assert not result.ok
    assert result.message.startswith(f"cannot reach component port 127.0.0.1:{port}: ")
    assert "refused" in result.message.lower()


async def test_silent_server_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await check_prosody(make_config(port), timeout=0.5)
    assert not result.ok
    assert "did not answer" in result.message


# --------------------------------------------------------------------------- claude


@pytest.mark.skipif(not CLAUDE.exists(), reason="tools/node_modules/.bin/claude missing")
async def test_real_claude_version() -> None:
    result = await check_claude(make_config(1))
    assert result.ok, result.message
    m = re.match(r"claude (\d+)\.(\d+)\.(\d+) at ", result.message)
    assert m, result.message
    assert tuple(map(int, m.groups())) >= MIN_CLAUDE_VERSION


async def test_claude_missing(tmp_path: Path) -> None:
    result = await check_claude(make_config(1, claude=str(tmp_path / "no-claude")))
    assert not result.ok
    assert "claude binary not found" in result.message
    assert "CLAUDE_PATH" in result.message
    result = await check_claude(make_config(1, claude="definitely-not-on-path-claude"))
    assert not result.ok and "not found" in result.message


def fake_claude(tmp_path: Path, body: str) -> str:
    path = tmp_path / "claude"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize(("body", "expected"), [
    ("echo '2.0.9 (Claude Code)'", "claude 2.0.9 at {path} is too old; agentchat needs >= 2.1.0"),
    ("echo 'hello'", "cannot parse a version from {path} --version: hello"),
    ("echo 'boom' >&2; exit 3", "{path} --version exited with 3: boom"),
])
async def test_claude_bad_versions(tmp_path: Path, body: str, expected: str) -> None:
    path = fake_claude(tmp_path, body)
    result = await check_claude(make_config(1, claude=path))
    assert result == CheckResult("claude", False, expected.format(path=path))


async def test_claude_not_executable(tmp_path: Path) -> None:
    path = tmp_path / "claude"
    path.write_text("not a program")
    result = await check_claude(make_config(1, claude=str(path)))
    assert not result.ok and f"cannot run {path}" in result.message


# --------------------------------------------------------------------------- sandbox


def with_sandbox(config: Config, mode: str) -> Config:
    return attrs.evolve(config, agents=attrs.evolve(config.agents, sandbox=mode))


async def test_sandbox_works_here_and_runs_the_cli(work: Path) -> None:
    result = await check_sandbox(with_sandbox(make_config(1, work=work), "auto"))
    assert result.ok, result.message
    assert result.message.startswith("bubblewrap sandbox works (")


def fake_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str | None) -> None:
    """PATH with only a fake ``bwrap`` (``body``), or with no bwrap at all (None)."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    if body is not None:
        (bin_dir / "bwrap").write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


async def test_sandbox_without_user_namespaces_says_what_to_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What bwrap prints in a container that forbids namespaces (seccomp, no userns)."""
    fake_bwrap(tmp_path, monkeypatch, "echo 'bwrap: No permissions to creating new namespace, "
               "likely because the kernel does not allow non-privileged user namespaces' >&2; "
               "exit 1")
    result = await check_sandbox(with_sandbox(make_config(1), "auto"))
    assert not result.ok
    assert "agents run WITHOUT a sandbox" in result.message
    assert "No permissions to creating new namespace" in result.message
    assert "seccomp=unconfined" in result.message and 'agents.sandbox to "off"' in result.message
    on = await check_sandbox(with_sandbox(make_config(1), "on"))
    assert not on.ok and on.message.startswith('agents.sandbox is "on" but ')


async def test_sandbox_missing_bwrap_and_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_bwrap(tmp_path, monkeypatch, None)
    missing = await check_sandbox(with_sandbox(make_config(1), "auto"))
    assert not missing.ok and "apt-get install bubblewrap" in missing.message
    off = await check_sandbox(with_sandbox(make_config(1), "off"))
    assert off.ok and "without a sandbox" in off.message


# --------------------------------------------------------------------------- work, mcp


def test_work_counts_repositories(work: Path, tmp_path: Path) -> None:
    assert check_work(make_config(1, work=work)) == CheckResult(
        "work", True, f"{work} has 2 repositories"
    )
    missing = tmp_path / "gone"
    result = check_work(make_config(1, work=missing))
    assert not result.ok and str(missing) in result.message


def test_mcp_port_taken() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = check_mcp_port(make_config(1, mcp_port=port))
    assert not result.ok
    assert f"port {port} on 127.0.0.1 is taken" in result.message
    assert check_mcp_port(make_config(1, mcp_port=port)).ok


# --------------------------------------------------------------------------- everything


async def test_run_checks_all_ok(target: Target, work: Path) -> None:
    results = await run_checks(make_config(target.component_port, target=target, work=work),
                               config_source="/etc/x.json")
    assert [r.name for r in results] == ["config", "prosody", "uploads", "claude", "sandbox",
                                         "work", "mcp"]
    assert all(r.ok for r in results), [format_result(r) for r in results]
    assert results[0].message == "valid (/etc/x.json)"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XMPP_", "AGENTS_", "MCP_", "WORK_", "MANAGER_"))
           and k not in ("CLAUDE_PATH", "CLAUDE_ARGS", "ALLOWED_JIDS")}
    env["AGENT_CHAT_HOME"] = str(tmp_path / "home")
    return env


def write_cli_config(cfg: Path, target: Target, work: Path, secret: str) -> None:
    cfg.write_text(json.dumps({
        "xmpp": {"host": target.host, "port": target.component_port, "domain": target.domain,
                 "componentDomain": target.component_domain, "componentSecret": secret},
        "mcp": {"port": free_port()},
        "work": {"basePath": str(work)},
        "agents": {"claudePath": str(CLAUDE)},
    }))


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentchat", *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_check_exit_codes(
    target: Target, work: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    cfg = tmp_path / "config.json"
    write_cli_config(cfg, target, work, target.secret)
    code, out, err = await run_cli("check", "--config", str(cfg), env=cli_env)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0] == f"ok   config: valid ({cfg})"
    assert lines[1] == f"ok   prosody: component handshake accepted for {target.component_domain}"
    assert lines[2].startswith(f"ok   uploads: upload.{target.domain} gives "
                               f"{target.component_domain} upload slots, files up to ")
    assert lines[3].startswith("ok   claude: claude 2.")
    assert lines[4].startswith("ok   sandbox: bubblewrap sandbox works (")
    assert lines[5] == f"ok   work: {work} has 2 repositories"
    assert lines[6].startswith("ok   mcp: port ")
    assert len(lines) == 7

    write_cli_config(cfg, target, work, "wrong-secret-value")
    code, out, _ = await run_cli("check", "--config", str(cfg), env=cli_env)
    assert code == 1
    assert "FAIL prosody: Prosody rejected the component secret" in out
    assert "wrong-secret-value" not in out


async def test_uploads_fail_clearly_without_an_upload_service(tmp_path: Path) -> None:
    server = EmbeddedProsody.with_free_ports(tmp_path / "p", "example.test",
                                             "agents.example.test", "s3", files=False)
    server.start()
    try:
        config = make_config(server.settings.component_port, secret="s3")
        prosody, uploads = await check_prosody_and_uploads(config)
    finally:
        server.stop()
    assert prosody.ok, prosody
    assert not uploads.ok
    assert uploads.message.startswith("example.test announces no HTTP upload service")
    assert "agentchat prosody-config" in uploads.message
