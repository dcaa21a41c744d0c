"""Config loading: defaults, file keys, env overrides, and one precise line per error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentchat.config import Config, ConfigError, LoadedConfig, load_config
from agentchat.config.load import check_env, is_configured, resolve_allowed_jids


@pytest.fixture
def work(tmp_path: Path) -> Path:
    base = tmp_path / "repos"
    base.mkdir()
    return base


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def minimal_env(home: Path, work: Path, **extra: str) -> dict[str, str]:
    return {
        "AGENT_CHAT_HOME": str(home),
        "XMPP_COMPONENT_SECRET": "s3cret",
        "WORK_BASE_PATH": str(work),
        **extra,
    }


def write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def file_with(tmp_path: Path, base: Path, **sections: dict[str, Any]) -> Path:
    data: dict[str, Any] = {
        "xmpp": {"domain": "chat.example.com", "componentSecret": "file-secret"},
        "work": {"basePath": str(base)},
    }
    for name, body in sections.items():
        data.setdefault(name, {}).update(body)
    return write(tmp_path / "config.json", data)


def error_of(path: Path | None, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env)
    line = str(info.value)
    assert "\n" not in line
    return line


# --------------------------------------------------------------------------- defaults


def test_defaults_from_env_only(home: Path, work: Path) -> None:
    loaded = load_config(None, minimal_env(home, work))
    assert isinstance(loaded, LoadedConfig)
    c = loaded.config
    assert isinstance(c, Config)
    assert loaded.config_file is None
    assert loaded.notices == ()
    assert (c.xmpp.host, c.xmpp.port, c.xmpp.domain) == ("localhost", 5347, "localhost")
    assert c.xmpp.component_domain == "agents.localhost"
    assert c.xmpp.component_secret == "s3cret"
    assert c.manager.username == "manager"
    assert (c.mcp.port, c.mcp.permission_timeout) == (3001, 300_000)
    assert c.work.base_path == work.resolve()
    a = c.agents
    assert (a.max_concurrent, a.idle_timeout, a.claude_path) == (5, 3_600_000, "claude")
    assert a.claude_args == ()
    assert a.streaming is True
    assert c.access.allowed_jids == ()
    assert c.home == home.resolve()
    assert c.manager_jid == "manager@agents.localhost"


def test_home_defaults_to_dot_agent_chat(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, work: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    env = {"XMPP_COMPONENT_SECRET": "x", "WORK_BASE_PATH": str(work)}
    assert load_config(None, env).config.home == tmp_path / ".agent-chat"


def test_default_config_file_in_home_is_used(home: Path, work: Path) -> None:
    write(home / "config.json", {"xmpp": {"domain": "example.org"}})
    loaded = load_config(None, minimal_env(home, work))
    assert loaded.config_file == home / "config.json"
    assert loaded.config.xmpp.component_domain == "agents.example.org"


# --------------------------------------------------------------------------- file keys


def test_every_file_key(tmp_path: Path, work: Path, home: Path) -> None:
    path = write(tmp_path / "c.json", {
        "xmpp": {"host": "xmpp.internal", "port": 15347, "domain": "Chat.Example.COM",
                 "componentDomain": "bots.example.com", "componentSecret": "abc"},
        "manager": {"username": "boss"},
        "mcp": {"port": 4000, "permissionTimeout": 1000},
        "work": {"basePath": str(work)},
        "agents": {"maxConcurrent": 2, "idleTimeout": 60000, "claudePath": "/opt/claude",
                   "claudeArgs": ["--model", "opus"], "streaming": False},
        "access": {"allowedJids": ["Alice@Example.com", "*@friends.org"]},
    })
    c = load_config(path, {"AGENT_CHAT_HOME": str(home)}).config
    assert (c.xmpp.host, c.xmpp.port) == ("xmpp.internal", 15347)
    assert c.xmpp.domain == "chat.example.com"  # domains are case-insensitive: normalized
    assert c.xmpp.component_domain == "bots.example.com"
    assert c.xmpp.component_secret == "abc"
    assert c.manager.username == "boss"
    assert (c.mcp.port, c.mcp.permission_timeout) == (4000, 1000)
    assert c.mcp.permission_timeout_s == 1.0
    assert c.agents.max_concurrent == 2
    assert c.agents.idle_timeout_s == 60.0
    assert c.agents.claude_path == "/opt/claude"
    assert c.agents.claude_args == ("--model", "opus")
    assert c.agents.streaming is False
    assert c.access.allowed_jids == ("alice@example.com", "*@friends.org")


def test_base_path_tilde_and_relative(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "code").mkdir()
    path = write(tmp_path / "c.json", {"xmpp": {"componentSecret": "x"},
                                       "work": {"basePath": "~/code"}})
    env = {"AGENT_CHAT_HOME": str(home)}
    assert load_config(path, env).config.work.base_path == tmp_path / "code"
    # A relative path in the file is relative to the file's directory.
    sub = tmp_path / "etc"
    sub.mkdir()
    (sub / "repos").mkdir()
    path2 = write(sub / "c.json", {"xmpp": {"componentSecret": "x"},
                                   "work": {"basePath": "repos"}})
    assert load_config(path2, env).config.work.base_path == sub / "repos"


# --------------------------------------------------------------------------- env


def test_every_env_var(home: Path, work: Path) -> None:
    env = minimal_env(
        home, work,
        XMPP_HOST="10.0.0.5", XMPP_PORT="6000", XMPP_DOMAIN="example.net",
        XMPP_COMPONENT_DOMAIN="ai.example.net", MANAGER_USERNAME="boss", MCP_PORT="3999",
        MCP_PERMISSION_TIMEOUT="5000", AGENTS_MAX_CONCURRENT="9", AGENTS_IDLE_TIMEOUT="10",
        CLAUDE_PATH="/usr/local/bin/claude", CLAUDE_ARGS="--model 'claude x' --debug",
        AGENTS_STREAMING="off", ALLOWED_JIDS=" a@example.net, *@Other.org ,, ",
    )
    c = load_config(None, env).config
    assert (c.xmpp.host, c.xmpp.port, c.xmpp.domain) == ("10.0.0.5", 6000, "example.net")
    assert c.xmpp.component_domain == "ai.example.net"
    assert c.manager.username == "boss"
    assert (c.mcp.port, c.mcp.permission_timeout) == (3999, 5000)
    assert (c.agents.max_concurrent, c.agents.idle_timeout) == (9, 10)
    assert c.agents.claude_path == "/usr/local/bin/claude"
    assert c.agents.claude_args == ("--model", "claude x", "--debug")
    assert c.agents.streaming is False
    assert c.access.allowed_jids == ("a@example.net", "*@other.org")


@pytest.mark.parametrize(("raw", "expected"), [
    ("true", True), ("1", True), ("YES", True), ("on", True),
    ("false", False), ("0", False), ("No", False), ("off", False),
])
def test_streaming_env_words(home: Path, work: Path, raw: str, expected: bool) -> None:
    env = minimal_env(home, work, AGENTS_STREAMING=raw)
    assert load_config(None, env).config.agents.streaming is expected


def test_env_wins_over_file(tmp_path: Path, work: Path, home: Path) -> None:
    path = file_with(tmp_path, work, xmpp={"port": 1111, "domain": "file.org"},
                     agents={"streaming": True})
    env = {"AGENT_CHAT_HOME": str(home), "XMPP_PORT": "2222", "AGENTS_STREAMING": "false",
           "XMPP_COMPONENT_SECRET": "env-secret"}
    c = load_config(path, env).config
    assert c.xmpp.port == 2222
    assert c.xmpp.domain == "file.org"  # not overridden
    assert c.xmpp.component_domain == "agents.file.org"
    assert c.xmpp.component_secret == "env-secret"
    assert c.agents.streaming is False


def test_component_domain_follows_env_domain(tmp_path: Path, work: Path, home: Path) -> None:
    path = file_with(tmp_path, work)
    c = load_config(path, {"AGENT_CHAT_HOME": str(home), "XMPP_DOMAIN": "env.org"}).config
    assert c.xmpp.component_domain == "agents.env.org"


def test_empty_env_values_count_as_unset(tmp_path: Path, work: Path, home: Path) -> None:
    path = file_with(tmp_path, work, xmpp={"port": 1111})
    c = load_config(path, {"AGENT_CHAT_HOME": str(home), "XMPP_PORT": ""}).config
    assert c.xmpp.port == 1111


def test_defaults_layer_is_below_file_and_env(tmp_path: Path, work: Path, home: Path) -> None:
    path = file_with(tmp_path, work, xmpp={"port": 1111})
    defaults = {"xmpp": {"port": 9, "host": "127.0.0.1"}, "mcp": {"port": 4444}}
    c = load_config(path, {"AGENT_CHAT_HOME": str(home), "MCP_PORT": "5555"},
                    defaults=defaults).config
    assert (c.xmpp.port, c.xmpp.host, c.mcp.port) == (1111, "127.0.0.1", 5555)


def test_allowed_jids_default_resolution(home: Path, work: Path) -> None:
    c = load_config(None, minimal_env(home, work, XMPP_DOMAIN="example.com")).config
    assert resolve_allowed_jids(c) == ("*@example.com",)
    c2 = load_config(None, minimal_env(home, work, ALLOWED_JIDS="bob@x.org")).config
    assert resolve_allowed_jids(c2) == ("bob@x.org",)


# --------------------------------------------------------------------------- seed compat


def test_seed_config_is_accepted_with_notices(tmp_path: Path, work: Path, home: Path) -> None:
    seed = {
        "xmpp": {"host": "localhost", "port": 5347, "domain": "chat.example.com",
                 "adminUsername": "admin", "adminPassword": "your-admin-password"},
        "manager": {"username": "manager", "password": "manager-password"},
        "mcp": {"port": 3001, "permissionTimeout": 300000},
        "work": {"basePath": str(work)},
        "agents": {"maxConcurrent": 5, "idleTimeout": 3600000},
    }
    path = write(tmp_path / "config.json", seed)
    env = {"AGENT_CHAT_HOME": str(home), "XMPP_COMPONENT_SECRET": "x",
           "XMPP_ADMIN_USERNAME": "admin", "XMPP_ADMIN_PASSWORD": "pw",
           "MANAGER_PASSWORD": "pw"}
    loaded = load_config(path, env)
    assert len(loaded.notices) == 6
    assert all("\n" not in n for n in loaded.notices)
    joined = "\n".join(loaded.notices)
    for key in ("xmpp.adminUsername", "xmpp.adminPassword", "manager.password",
                "env XMPP_ADMIN_USERNAME", "env XMPP_ADMIN_PASSWORD", "env MANAGER_PASSWORD"):
        assert key in joined
    assert "your-admin-password" not in joined and "pw" not in joined.split()


def test_client_port_5222_gets_a_notice(tmp_path: Path, work: Path, home: Path) -> None:
    path = file_with(tmp_path, work, xmpp={"port": 5222})
    loaded = load_config(path, {"AGENT_CHAT_HOME": str(home)})
    assert any("5222" in n and "component" in n for n in loaded.notices)


# --------------------------------------------------------------------------- errors: file


@pytest.mark.parametrize(("sections", "expected"), [
    ({"xmpp": {"port": "abc"}}, 'xmpp.port: expected an integer, got "abc"'),
    ({"xmpp": {"port": 0}}, "xmpp.port: expected a port number 1-65535, got 0"),
    ({"xmpp": {"port": 70000}}, "xmpp.port: expected a port number 1-65535, got 70000"),
    ({"xmpp": {"port": True}}, "xmpp.port: expected an integer, got true"),
    ({"xmpp": {"port": 5.5}}, "xmpp.port: expected an integer, got 5.5"),
    ({"xmpp": {"host": 5}}, "xmpp.host: expected a string, got 5"),
    ({"xmpp": {"domain": "bad domain"}}, 'xmpp.domain: expected a domain name, got "bad domain"'),
    ({"xmpp": {"componentDomain": "chat.example.com"}},
     "xmpp.componentDomain: must differ from xmpp.domain"),
    ({"xmpp": {"componentSecret": ""}}, "xmpp.componentSecret: must not be empty"),
    ({"xmpp": {"componentSecret": 12345}}, "xmpp.componentSecret: expected a string, got a number"),
    ({"manager": {"username": "a@b"}}, "manager.username: expected a JID local part"),
    ({"mcp": {"port": 70000}}, "mcp.port: expected a port number 1-65535, got 70000"),
    ({"mcp": {"permissionTimeout": 0}},
     "mcp.permissionTimeout: expected a positive number of milliseconds, got 0"),
    ({"agents": {"maxConcurrent": 0}}, "agents.maxConcurrent: expected an integer >= 1, got 0"),
    ({"agents": {"idleTimeout": -5}},
     "agents.idleTimeout: expected a positive number of milliseconds, got -5"),
    ({"agents": {"streaming": "yes"}}, 'agents.streaming: expected true or false, got "yes"'),
    ({"agents": {"claudeArgs": "--debug"}},
     'agents.claudeArgs: expected a list of strings, got "--debug"'),
    ({"agents": {"claudeArgs": ["--x", 3]}}, "agents.claudeArgs[1]: expected a string, got 3"),
    ({"agents": {"claudePath": ""}}, "agents.claudePath: must not be empty"),
    ({"access": {"allowedJids": "a@b.c"}},
     'access.allowedJids: expected a list of strings, got "a@b.c"'),
    ({"access": {"allowedJids": ["a@b.c", "nodomain"]}},
     'access.allowedJids[1]: expected a bare JID like "user@example.com"'),
    ({"access": {"allowedJids": ["a@b.c/res"]}},
     "access.allowedJids[0]: expected a bare JID (without /resource)"),
    ({"xmpp": {"prot": 1}}, 'xmpp.prot: unknown key (did you mean "port"?)'),
    ({"xmpp": {"component_secret": "x"}},
     'xmpp.component_secret: unknown key (did you mean "componentSecret"?)'),
    ({"agent": {}}, 'agent: unknown key (did you mean "agents"?)'),
    ({"xmpp": "localhost"}, 'xmpp: expected an object, got "localhost"'),
    ({"work": {"basePath": 7}}, "work.basePath: expected a string, got 7"),
])
def test_file_errors_name_key_and_file(
    tmp_path: Path, work: Path, home: Path, sections: dict[str, Any], expected: str
) -> None:
    data: dict[str, Any] = {"xmpp": {"domain": "chat.example.com", "componentSecret": "x"},
                            "work": {"basePath": str(work)}}
    for name, body in sections.items():
        if isinstance(body, dict) and isinstance(data.get(name), dict):
            data[name] = {**data[name], **body}
        else:
            data[name] = body
    path = write(tmp_path / "config.json", data)
    line = error_of(path, {"AGENT_CHAT_HOME": str(home)})
    assert line.startswith(f"{path}: {expected}"), line


def test_secret_value_never_echoed(tmp_path: Path, work: Path, home: Path) -> None:
    path = file_with(tmp_path, work, xmpp={"componentSecret": ["hunter2"]})
    line = error_of(path, {"AGENT_CHAT_HOME": str(home)})
    assert "xmpp.componentSecret: expected a string, got a list" in line
    assert "hunter2" not in line


def test_error_attributes(tmp_path: Path, work: Path, home: Path) -> None:
    path = file_with(tmp_path, work, xmpp={"port": "abc"})
    with pytest.raises(ConfigError) as info:
        load_config(path, {"AGENT_CHAT_HOME": str(home)})
    assert info.value.key == "xmpp.port"
    assert info.value.source == str(path)
    with pytest.raises(ConfigError) as info2:
        load_config(file_with(tmp_path, work), {"AGENT_CHAT_HOME": str(home), "XMPP_PORT": "x"})
    assert info2.value.key == "xmpp.port"
    assert info2.value.source == "env XMPP_PORT"


def test_invalid_json_has_line_and_column(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "config.json", '{\n  "xmpp": {\n    "port": 5347,\n  }\n}\n')
    line = error_of(path, {"AGENT_CHAT_HOME": str(home)})
    assert line.startswith(f"{path}: invalid JSON at line 4, column 3: "), line


def test_empty_file_is_invalid_json(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "config.json", "")
    assert "invalid JSON at line 1, column 1" in error_of(path, {"AGENT_CHAT_HOME": str(home)})


def test_top_level_must_be_object(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path / "config.json", "[1, 2]")
    line = error_of(path, {"AGENT_CHAT_HOME": str(home)})
    assert line == f"{path}: expected a JSON object at the top level, got [1, 2]"


def test_unreadable_file(tmp_path: Path, home: Path) -> None:
    a_dir = tmp_path / "dir.json"
    a_dir.mkdir()
    line = error_of(a_dir, {"AGENT_CHAT_HOME": str(home)})
    assert line == f"{a_dir}: cannot read: is a directory"
    missing = tmp_path / "missing.json"
    line = error_of(missing, {"AGENT_CHAT_HOME": str(home)})
    assert line == f"{missing}: cannot read: no such file"
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe{}")
    assert error_of(binary, {"AGENT_CHAT_HOME": str(home)}).startswith(f"{binary}: not UTF-8")


def test_missing_secret(home: Path, work: Path) -> None:
    env = minimal_env(home, work)
    del env["XMPP_COMPONENT_SECRET"]
    line = error_of(None, env)
    assert line.startswith("config: xmpp.componentSecret: missing")
    assert "XMPP_COMPONENT_SECRET" in line and str(home / "config.json") in line


def test_missing_secret_names_the_file(tmp_path: Path, work: Path, home: Path) -> None:
    path = write(tmp_path / "c.json", {"work": {"basePath": str(work)}})
    line = error_of(path, {"AGENT_CHAT_HOME": str(home)})
    assert line.startswith(f"{path}: xmpp.componentSecret: missing")


def test_missing_base_path(home: Path, work: Path) -> None:
    env = minimal_env(home, work)
    del env["WORK_BASE_PATH"]
    line = error_of(None, env)
    assert line.startswith("config: work.basePath: missing") and "WORK_BASE_PATH" in line


def test_base_path_not_a_directory(tmp_path: Path, work: Path, home: Path) -> None:
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    path = file_with(tmp_path, work, work={"basePath": str(afile)})
    line = error_of(path, {"AGENT_CHAT_HOME": str(home)})
    assert line == f"{path}: work.basePath: not a directory: {afile}"
    line = error_of(None, minimal_env(home, tmp_path / "nope"))
    assert line == f"env WORK_BASE_PATH: directory does not exist: {tmp_path / 'nope'}"


# --------------------------------------------------------------------------- errors: env


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("XMPP_PORT", "abc", 'env XMPP_PORT: expected an integer, got "abc"'),
    ("XMPP_PORT", "0", "env XMPP_PORT: expected a port number 1-65535, got 0"),
    ("XMPP_PORT", "70000", "env XMPP_PORT: expected a port number 1-65535, got 70000"),
    ("MCP_PORT", "1.5", 'env MCP_PORT: expected an integer, got "1.5"'),
    ("MCP_PERMISSION_TIMEOUT", "0",
     "env MCP_PERMISSION_TIMEOUT: expected a positive number of milliseconds, got 0"),
    ("AGENTS_MAX_CONCURRENT", "0", "env AGENTS_MAX_CONCURRENT: expected an integer >= 1, got 0"),
    ("AGENTS_IDLE_TIMEOUT", "soon", 'env AGENTS_IDLE_TIMEOUT: expected an integer, got "soon"'),
    ("AGENTS_STREAMING", "maybe", "env AGENTS_STREAMING: expected true or false"),
    ("AGENTS_ALLOW_BYPASS", "perhaps", "env AGENTS_ALLOW_BYPASS: expected true or false"),
    ("CLAUDE_ARGS", "--x 'unterminated", "env CLAUDE_ARGS: cannot split into arguments"),
    ("ALLOWED_JIDS", "a@b.c, nope", 'env ALLOWED_JIDS: item 2: expected a bare JID'),
    ("XMPP_DOMAIN", "a b", 'env XMPP_DOMAIN: expected a domain name, got "a b"'),
    ("XMPP_COMPONENT_DOMAIN", "localhost", "env XMPP_COMPONENT_DOMAIN: must differ"),
    ("MANAGER_USERNAME", "x/y", "env MANAGER_USERNAME: expected a JID local part"),
    ("FILES_MAX_SIZE", "0", "env FILES_MAX_SIZE: expected an integer >= 1, got 0"),
    ("FILES_DOWNLOAD_HOSTS", "ok.org, https://x.org/",
     'env FILES_DOWNLOAD_HOSTS: item 2: expected a host name like "files.example.com"'),
    ("FILES_DOWNLOAD_HOSTS", "x.org:99999", "env FILES_DOWNLOAD_HOSTS: item 1: expected a host"),
])
def test_env_errors_name_the_variable(
    home: Path, work: Path, name: str, raw: str, expected: str
) -> None:
    line = error_of(None, minimal_env(home, work, **{name: raw}))
    assert line.startswith(expected), line


def test_env_error_wins_even_if_file_is_fine(tmp_path: Path, work: Path, home: Path) -> None:
    path = file_with(tmp_path, work, xmpp={"port": 5347})
    line = error_of(path, {"AGENT_CHAT_HOME": str(home), "XMPP_PORT": "abc"})
    assert line == 'env XMPP_PORT: expected an integer, got "abc"'


def test_check_env_validates_without_requiring_secret() -> None:
    assert check_env({"AGENTS_MAX_CONCURRENT": "3"}) == ()
    assert check_env({"MANAGER_PASSWORD": "x"})[0].startswith("env MANAGER_PASSWORD")
    with pytest.raises(ConfigError, match="env AGENTS_MAX_CONCURRENT"):
        check_env({"AGENTS_MAX_CONCURRENT": "many"})


# --------------------------------------------------------------------------- is_configured


def test_is_configured(tmp_path: Path, home: Path) -> None:
    env = {"AGENT_CHAT_HOME": str(home)}
    assert not is_configured(None, env)
    assert not is_configured(None, {**env, "WORK_BASE_PATH": "/x", "MCP_PORT": "1"})
    assert not is_configured(None, {**env, "XMPP_DOMAIN": ""})
    for name in ("XMPP_HOST", "XMPP_PORT", "XMPP_DOMAIN", "XMPP_COMPONENT_DOMAIN",
                 "XMPP_COMPONENT_SECRET"):
        assert is_configured(None, {**env, name: "v"}), name
    assert is_configured(tmp_path / "explicit.json", env)  # even if missing: load reports it
    write(home / "config.json", {})
    assert is_configured(None, env)


def test_files_section_defaults_and_values(tmp_path: Path, work: Path, home: Path) -> None:
    assert load_config(None, minimal_env(home, work)).config.files.max_size == 10 * 1024 * 1024
    path = file_with(tmp_path, work, files={"maxSize": 5000,
                                            "downloadHosts": ["Files.Example.org:8443"]})
    c = load_config(path, {"AGENT_CHAT_HOME": str(home)}).config
    assert (c.files.max_size, c.files.download_hosts) == (5000, ("files.example.org:8443",))


def test_work_worktrees_from_file_and_env_with_errors_naming_the_key(
        tmp_path: Path, work: Path, home: Path) -> None:
    assert load_config(None, minimal_env(home, work)).config.work.worktrees is False
    path = file_with(tmp_path, work, work={"worktrees": True})
    assert load_config(path, {"AGENT_CHAT_HOME": str(home)}).config.work.worktrees is True
    env = minimal_env(home, work, WORK_WORKTREES="no")
    assert load_config(path, env).config.work.worktrees is False
    line = error_of(file_with(tmp_path, work, work={"worktrees": "sometimes"}),
                    {"AGENT_CHAT_HOME": str(home)})
    assert "work.worktrees: expected true or false, got \"sometimes\"" in line
    with pytest.raises(ConfigError) as info:
        load_config(None, minimal_env(home, work, WORK_WORKTREES="maybe"))
    assert info.value.source == "env WORK_WORKTREES" and info.value.key == "work.worktrees"


def test_allow_bypass_is_off_unless_the_operator_says_so(
    tmp_path: Path, home: Path, work: Path
) -> None:
    assert load_config(None, minimal_env(home, work)).config.agents.allow_bypass is False
    env = minimal_env(home, work, AGENTS_ALLOW_BYPASS="yes")
    assert load_config(None, env).config.agents.allow_bypass is True
    path = file_with(tmp_path, work, agents={"allowBypass": True})
    assert load_config(path, {"AGENT_CHAT_HOME": str(home)}).config.agents.allow_bypass is True
    bad = file_with(tmp_path, work, agents={"allowBypass": "yes"})
    assert "agents.allowBypass: expected true or false" in error_of(
        bad, {"AGENT_CHAT_HOME": str(home)})
