"""The command line: exit codes, one-line config errors, prosody-config, log redaction."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import agentchat as agentchat_pkg
from agentchat import cli, logging_setup
from agentchat.config.load import FIELDS, OBSOLETE_KEYS, LoadedConfig

OUR_ENV = {f.env for f in FIELDS} | set(OBSOLETE_KEYS.values()) | {"AGENT_CHAT_HOME"}


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OUR_ENV}
    return {**env, "AGENT_CHAT_HOME": str(home), "HOME": str(home), **extra}


def agentchat(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentchat", *args], env=env, capture_output=True, text=True,
        timeout=60, cwd=Path(__file__).resolve().parents[2],
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "repos"
    work.mkdir()
    return home, work


def write_config(path: Path, work: Path, **xmpp: object) -> Path:
    data = {"xmpp": {"domain": "chat.example.com", "componentSecret": "t0p-s3cret", **xmpp},
            "work": {"basePath": str(work)}}
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("command", ["run", "check", "prosody-config"])
def test_bad_file_value_exits_2_with_one_line(
    setup: tuple[Path, Path], tmp_path: Path, command: str
) -> None:
    home, work = setup
    cfg = write_config(tmp_path / "c.json", work, port="abc")
    result = agentchat(command, "--config", str(cfg), env=clean_env(home))
    assert result.returncode == 2
    assert result.stderr == (
        f'agentchat: config error: {cfg}: xmpp.port: expected an integer, got "abc"\n'
    )
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_env_value_exits_2(setup: tuple[Path, Path]) -> None:
    home, work = setup
    write_config(home / "config.json", work)
    result = agentchat("check", env=clean_env(home, AGENTS_MAX_CONCURRENT="0"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "agentchat: config error: env AGENTS_MAX_CONCURRENT: expected an integer >= 1, got 0"
    )


def test_invalid_json_and_unknown_key(setup: tuple[Path, Path], tmp_path: Path) -> None:
    home, _ = setup
    bad = tmp_path / "bad.json"
    bad.write_text('{"xmpp": {"port": 1,,}}')
    result = agentchat("check", "--config", str(bad), env=clean_env(home))
    assert result.returncode == 2
    assert f"{bad}: invalid JSON at line 1, column 21" in result.stderr
    assert "Traceback" not in result.stderr
    (home / "config.json").write_text(json.dumps({"mcp": {"timeout": 1}}))
    result = agentchat("prosody-config", env=clean_env(home))
    assert result.returncode == 2
    assert "mcp.timeout: unknown key" in result.stderr


def test_embedded_mode_still_validates_env(setup: tuple[Path, Path]) -> None:
    home, _ = setup
    result = agentchat("run", env=clean_env(home, MCP_PORT="70000"))
    assert result.returncode == 2
    assert "env MCP_PORT: expected a port number 1-65535, got 70000" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors(setup: tuple[Path, Path]) -> None:
    home, _ = setup
    assert agentchat(env=clean_env(home)).returncode == 2
    result = agentchat("run", "--log-level", "loud", env=clean_env(home))
    assert result.returncode == 2 and "--log-level" in result.stderr


def test_prosody_config_prints_component_block(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    home, work = setup
    cfg = write_config(tmp_path / "c.json", work, port=15347, componentDomain="bots.example.com")
    result = agentchat("prosody-config", "--config", str(cfg), env=clean_env(home))
    assert result.returncode == 0, result.stderr
    assert "bots.example.com" in result.stdout
    assert "t0p-s3cret" in result.stdout
    assert "15347" in result.stdout


def test_prosody_config_adds_the_web_client_block_unless_switched_off(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    home, work = setup
    cfg = write_config(tmp_path / "c.json", work)
    result = agentchat("prosody-config", "--config", str(cfg), "--web-root", "/srv/chat",
                       env=clean_env(home))
    assert result.returncode == 0, result.stderr
    assert "agentchat web-client /srv/chat" in result.stdout
    assert 'http_files_dir = "/srv/chat"' in result.stdout
    assert 'websocket = "/xmpp-websocket"' in result.stdout
    assert 'VirtualHost "chat.example.com"' in result.stdout
    off = agentchat("prosody-config", "--config", str(cfg), env=clean_env(home, WEB_CLIENT="0"))
    assert off.returncode == 0, off.stderr
    assert "http_files" not in off.stdout and "chat.example.com" in off.stdout


def test_web_client_writes_a_preconfigured_copy(setup: tuple[Path, Path], tmp_path: Path) -> None:
    home, work = setup
    cfg = write_config(tmp_path / "c.json", work)
    dest = tmp_path / "site"
    result = agentchat("web-client", str(dest), "--config", str(cfg),
                       "--jid", "me@chat.example.com", env=clean_env(home))
    assert result.returncode == 0, result.stderr
    assert f"wrote the web client for chat.example.com to {dest}" in result.stdout
    script = (dest / "agentchat-web.js").read_text()
    assert '"manager@agents.chat.example.com"' in script and '"me@chat.example.com"' in script
    assert (dest / "index.html").is_file()
    converse = dest / "converse"
    assert not converse.is_symlink() and (converse / "converse.min.js").is_file()
    assert not list(converse.rglob("*.map"))  # a copy without what browsers never load
    missing = agentchat("web-client", str(tmp_path / "x"), "--config", str(cfg),
                        env=clean_env(home, CONVERSE_DIST=str(tmp_path / "nowhere")))
    assert missing.returncode == 1 and "run scripts/bootstrap" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_notices_for_seed_keys_go_to_stderr(setup: tuple[Path, Path], tmp_path: Path) -> None:
    home, work = setup
    cfg = write_config(tmp_path / "c.json", work, adminPassword="pw")
    result = agentchat("prosody-config", "--config", str(cfg),
                       env=clean_env(home, MANAGER_PASSWORD="x"))
    assert result.returncode == 0, result.stderr
    notices = result.stderr.splitlines()
    assert len(notices) == 2
    assert all(n.startswith("agentchat: notice: ") for n in notices)


# --------------------------------------------------------------------------- run (in-process)


def test_run_passes_loaded_config_and_registers_secret(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work = setup
    cfg = write_config(tmp_path / "c.json", work)
    for name in OUR_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENT_CHAT_HOME", str(home))
    calls: list[tuple[LoadedConfig | None, str]] = []

    def fake_run(loaded: LoadedConfig | None, log_level: str) -> int:
        calls.append((loaded, log_level))
        logging.getLogger("test").info("secret is %s", "t0p-s3cret")
        return 7

    # A stand-in module: the real app needs Prosody and the whole service.
    fake_app = types.ModuleType("agentchat.app")
    fake_app.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "agentchat.app", fake_app)
    monkeypatch.setattr(agentchat_pkg, "app", fake_app, raising=False)
    stream = io.StringIO()
    real_setup = logging_setup.setup_logging
    monkeypatch.setattr(cli, "setup_logging",
                        lambda level: real_setup(level, stream=stream))
    try:
        assert cli.main(["run", "--config", str(cfg), "--log-level", "DEBUG"]) == 7
        assert cli.main(["run"]) == 7  # no file, no XMPP_* env: embedded mode
    finally:
        logging.getLogger().handlers.clear()
    (loaded, level), (embedded, _) = calls
    assert loaded is not None and loaded.config.xmpp.component_secret == "t0p-s3cret"
    assert level == "debug"
    assert embedded is None
    assert "t0p-s3cret" not in stream.getvalue()
    assert "secret is [redacted]" in stream.getvalue()


# --------------------------------------------------------------------------- logging


def test_redacting_filter_covers_args_exceptions_and_other_loggers() -> None:
    stream = io.StringIO()
    handler = logging_setup.setup_logging("info", stream=stream)
    try:
        logging_setup.register_secret("hunter2")
        logging_setup.register_secret("")
        logging.getLogger("slixmpp.xmlstream").warning("sent <handshake>%s</handshake>",
                                                       "hunter2")
        try:
            raise RuntimeError("bad secret hunter2")
        except RuntimeError:
            logging.getLogger("x").exception("failed with %r", {"s": "hunter2"})
        logging.getLogger("quiet").debug("hunter2 at debug is filtered by level")
    finally:
        logging.getLogger().removeHandler(handler)
    out = stream.getvalue()
    assert "hunter2" not in out
    assert out.count("[redacted]") >= 3
    first = out.splitlines()[0]
    assert " WARNING slixmpp.xmlstream: sent <handshake>[redacted]</handshake>" in first
    assert "RuntimeError: bad secret [redacted]" in out


def test_a_logged_value_cannot_forge_a_line_or_colour_the_terminal() -> None:
    stream = io.StringIO()
    handler = logging_setup.setup_logging("info", stream=stream)
    try:
        logging.getLogger("agentchat.x").warning(
            "tool %s", "Bash\n2026-01-01 00:00:00 INFO agentchat: FORGED\x1b[2J")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "tool Bash\\n2026-01-01 00:00:00 INFO agentchat: FORGED\\u001b[2J")


def test_parse_level() -> None:
    assert logging_setup.parse_level("Warning") == logging.WARNING
    with pytest.raises(ValueError, match="unknown log level"):
        logging_setup.parse_level("loud")
