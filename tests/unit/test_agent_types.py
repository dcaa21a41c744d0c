"""Agent types (agents.types), the ACP ↔ chat mapping, and asking the broker by agent name."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from agentchat.agents.acp.mapping import choose_option, follow_up, tool_view
from agentchat.agents.adapter import LaunchSpec
from agentchat.agents.sandbox import SandboxStatus
from agentchat.agents.types import configured_types, native_codex, offered_types
from agentchat.config import ConfigError, load_config
from agentchat.diagnostics.check import check_agent_type
from agentchat.manager.flow import CreateRequest, CreationFlow, advance, type_question
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.model import Decision, PermissionRequest
from agentchat.service import Service
from agentchat.state.model import AgentRecord


@pytest.fixture(autouse=True)
def no_agents_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commands are looked up in PATH: here none of the agents is installed there."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "repos").mkdir(exist_ok=True)
    return {"AGENT_CHAT_HOME": str(tmp_path / "home"), "XMPP_COMPONENT_SECRET": "s",
            "WORK_BASE_PATH": str(tmp_path / "repos"), **extra}


def executable(path: Path, text: str = "#!/bin/sh\necho 9.8.7\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# --------------------------------------------------------------------------- config


def test_without_agents_types_claude_code_is_the_only_type(tmp_path: Path) -> None:
    config = load_config(None, env(tmp_path, CLAUDE_PATH="/opt/claude")).config
    [claude] = offered_types(config)  # offered even where the binary is missing, as before
    assert (claude.name, claude.backend, claude.label, claude.command) == (
        "claude-code", "claude", "Claude Code", "/opt/claude")


def test_types_from_the_env_as_names_get_the_builtin_defaults(tmp_path: Path) -> None:
    config = load_config(None, env(tmp_path, AGENTS_TYPES="gemini, codex")).config
    gemini, codex = configured_types(config)
    assert (gemini.command, gemini.args, dict(gemini.env)) == (
        "gemini", ("--acp",), {"GEMINI_CLI_NO_RELAUNCH": "true"})
    assert (codex.backend, codex.label, codex.command) == ("acp", "Codex", "codex-acp")
    assert offered_types(config) == []  # neither is installed (PATH is empty)


def test_types_in_config_json_override_and_only_found_commands_are_offered(
    tmp_path: Path,
) -> None:
    gemini = executable(tmp_path / "bin" / "gemini")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"agents": {"types": {
        "gemini": {"command": str(gemini), "env": {"GEMINI_API_KEY": "k"}},
        "codex": {},
        "mine": {"backend": "acp", "label": "My agent", "command": "mine", "args": ["--acp"]},
    }}}))
    config = load_config(path, env(tmp_path)).config
    kinds = {k.name: k for k in configured_types(config)}
    assert dict(kinds["gemini"].env) == {"GEMINI_CLI_NO_RELAUNCH": "true", "GEMINI_API_KEY": "k"}
    assert kinds["mine"].args == ("--acp",) and kinds["mine"].label == "My agent"
    assert [k.name for k in offered_types(config)] == ["gemini"]


@pytest.mark.parametrize(("value", "message"), [
    ('{"gemini": {"comand": "x"}}', 'gemini.comand: unknown key (did you mean "command"?)'),
    ('{"gemini": {"args": "--acp"}}', "gemini.args: expected a list of strings"),
    ('{"x": {"backend": "grpc"}}', 'x.backend: expected "claude" or "acp"'),
    ("[1]", "expected an object of agent types"),
    ("{nope", "invalid JSON"),
])
def test_bad_agent_types_are_one_line_errors(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^env AGENTS_TYPES: ") as err:
        load_config(None, env(tmp_path, AGENTS_TYPES=value))
    assert message in str(err.value)


def test_codex_runs_the_native_binary_behind_the_npm_wrapper(tmp_path: Path) -> None:
    modules = tmp_path / "node_modules" / "@zed-industries"
    wrapper = executable(modules / "codex-acp" / "bin" / "codex-acp.js")
    native = executable(modules / "codex-acp-linux-x64" / "bin" / "codex-acp")
    link = tmp_path / "node_modules" / ".bin" / "codex-acp"
    link.parent.mkdir()
    link.symlink_to(wrapper)
    assert native_codex(str(link)) == str(native)
    assert native_codex(str(native)) == str(native)


async def test_check_reports_found_with_version_or_how_to_install(tmp_path: Path) -> None:
    gemini = executable(tmp_path / "bin" / "gemini")
    config = load_config(None, env(tmp_path, AGENTS_TYPES=json.dumps(
        {"gemini": {"command": str(gemini)}, "codex": {}}))).config
    found, missing = [await check_agent_type(k) for k in configured_types(config)]
    assert found.ok and found.message == f"Gemini CLI 9.8.7 at {gemini}"
    assert not missing.ok and "npm install -g @zed-industries/codex-acp@0.16.0" in missing.message


# --------------------------------------------------------------------------- new


def test_the_new_flow_offers_the_given_types() -> None:
    types = (("claude-code", "Claude Code"), ("gemini", "Gemini CLI"))
    flow = CreationFlow(repos=["alpha"], types=types)
    assert type_question(types) == "What type of agent? [1] Claude Code [2] Gemini CLI"
    assert "from 1 to 2" in str(advance(flow, "3").text)
    advance(flow, "2")
    advance(flow, "alpha")
    assert advance(flow, "fix it").done == CreateRequest("gemini", "alpha", "fix it")


# --------------------------------------------------------------------------- mapping


def test_tool_calls_are_shown_in_the_chat_s_tool_shapes() -> None:
    diff = {"type": "diff", "path": "/r/a.txt", "newText": "hi\n"}
    assert tool_view({"kind": "edit", "title": "Write a.txt", "content": [diff]}) == tool_view(
        {"kind": "edit", "content": [dict(diff, oldText="")]})
    assert tool_view({"kind": "edit", "content": [diff]}).input == {
        "file_path": "/r/a.txt", "content": "hi\n"}
    edit = tool_view({"kind": "edit", "content": [dict(diff, oldText="ho\n")]})
    assert (edit.name, edit.input["old_string"]) == ("Edit", "ho\n")
    codex_shell = tool_view({"kind": "execute", "title": "Run ls",
                             "rawInput": {"command": ["bash", "-lc", "ls -la"]}})
    assert codex_shell.input == {"command": "ls -la", "description": "Run ls"}
    read = tool_view({"kind": "read", "title": "Read", "locations": [{"path": "/r/b"}]})
    assert (read.name, read.input) == ("Read", {"file_path": "/r/b"})
    assert tool_view({"kind": "fetch", "title": "Fetch x", "rawInput": {"url": "u"}}).input == {
        "url": "u"}
    # no diff: the agent's own input (OpenCode's write and edit tools)
    write = tool_view({"kind": "edit", "title": "write",
                       "rawInput": {"filePath": "/r/a", "content": "x"}})
    assert (write.name, write.input) == ("Write", {"file_path": "/r/a", "content": "x"})
    edit = tool_view({"kind": "edit", "title": "edit", "rawInput": {
        "filePath": "/r/a", "oldString": "x", "newString": "y"}})
    assert (edit.name, edit.input) == ("Edit", {"file_path": "/r/a", "old_string": "x",
                                               "new_string": "y"})


OPTIONS = [{"optionId": "always", "kind": "allow_always"}, {"optionId": "once",
           "kind": "allow_once"}, {"optionId": "reject", "kind": "reject_once"}]


@pytest.mark.parametrize(("decision", "option"), [
    (Decision("allow", how="yes"), "once"),
    (Decision("allow", how="reaction"), "once"),
    (Decision("allow", how="always"), "always"),
    (Decision("allow", answered_by="rule", how="rule"), "once"),
    (Decision("deny", how="no", note="why"), "reject"),
    (Decision("deny", answered_by="timeout", how="timeout"), "reject"),
    (Decision("deny", answered_by="cancelled", how="cancelled"), None),
    (Decision("deny", answered_by="shutdown", how="shutdown"), None),
])
def test_decisions_pick_the_offered_option(decision: Decision, option: str | None) -> None:
    assert choose_option(OPTIONS, decision) == option


def test_always_falls_back_to_once_and_a_missing_reject_cancels() -> None:
    once_only = [o for o in OPTIONS if o["kind"] != "allow_always"]
    assert choose_option(once_only, Decision("allow", how="always")) == "once"
    assert choose_option(OPTIONS[:2], Decision("deny", how="no")) is None


def test_only_an_owner_s_reason_becomes_a_follow_up() -> None:
    assert follow_up(Decision("deny", how="no", note="use b.txt"), "Write a.txt") == (
        "The user refused the permission for: Write a.txt. They said: use b.txt")
    assert follow_up(Decision("deny", how="no"), "Write a.txt") is None
    assert follow_up(Decision("deny", answered_by="timeout", note="x"), "t") is None


# --------------------------------------------------------------------------- broker


async def test_the_broker_asks_by_agent_name_without_a_secret() -> None:
    prompts: list[PermissionRequest] = []

    class Sink:
        async def prompt(self, req: PermissionRequest) -> None:
            prompts.append(req)

        async def resolved(self, req: PermissionRequest, decision: Decision) -> None:
            return None

    broker = PermissionBroker(Sink())
    broker.register_agent("fox", "me@example.com", "unused-secret", Path("/r"))
    args: dict[str, Any] = {"file_path": "/r/a.txt", "content": "x"}
    task = asyncio.create_task(broker.request_for("fox", "Write", args, "call-1"))
    while not prompts:
        await asyncio.sleep(0)
    assert prompts[0].agent == "fox" and prompts[0].tool_use_id == "call-1"
    assert broker.answer("fox", "no, not now", "me@example.com") == (
        f"❌ denied #{prompts[0].id}: not now")
    assert (await task).note == "not now"
    gone = await broker.request_for("owl", "Write", args)
    assert gone.behavior == "deny" and gone.answered_by == "shutdown"


# --------------------------------------------------------------------------- own homes


def test_an_acp_agent_runs_sandboxed_in_its_own_home_seeded_from_the_configured_one(
    tmp_path: Path,
) -> None:
    """The configured HOME / CODEX_HOME are templates: their login and settings are copied
    into each agent's own home at every start; CODEX_HOME is the agent's own copy."""
    operator = tmp_path / "operator"
    for name, text in {".codex/config.toml": "model = 'x'\n", ".codex/auth.json": "{}",
                       ".codex/history.jsonl": "secret history",
                       ".gemini/settings.json": "{}", ".gemini/oauth_creds.json": "{}"}.items():
        (operator / name).parent.mkdir(parents=True, exist_ok=True)
        (operator / name).write_text(text)
    gemini, codex = executable(tmp_path / "bin" / "gemini"), executable(tmp_path / "bin" / "cx")
    config = load_config(None, env(tmp_path, AGENTS_TYPES=json.dumps({
        "gemini": {"command": str(gemini), "env": {"HOME": str(operator)}},
        "codex": {"command": str(codex), "env": {"CODEX_HOME": str(operator / ".codex")}},
    }))).config
    service = Service(config, agent_env={"HOME": str(tmp_path / "elsewhere")})
    service.sandbox = SandboxStatus("/usr/bin/bwrap", "works", True)
    cwd = tmp_path / "repos" / "alpha"
    cwd.mkdir()

    def spec(name: str, kind: str) -> LaunchSpec:
        record = AgentRecord(name, "u@example.com", kind, "alpha", str(cwd), "t", "", 0, 0)
        return service.launcher.acp_spec(record, service.types[kind], cwd,
                                         service.agent_home(name), resume=False)

    fox, owl, cat = (service.agent_home(n) for n in ("fox", "owl", "cat"))
    codex_spec = spec("fox", "codex")
    assert codex_spec.env["HOME"] == str(fox)
    assert codex_spec.env["CODEX_HOME"] == str(fox / ".codex")
    assert (fox / ".codex" / "config.toml").read_text() == "model = 'x'\n"
    assert (fox / ".codex" / "auth.json").stat().st_mode & 0o777 == 0o600
    assert not (fox / ".codex" / "history.jsonl").exists()  # only the declared files
    policy = codex_spec.sandbox
    assert policy is not None and policy.bwrap == "/usr/bin/bwrap"
    # agentchat's home hidden; the templates (in /tmp here) too: the agent sees only its copy
    assert config.home in policy.hide and Path("/tmp") in policy.scratch
    assert policy.read_write == (cwd, fox)
    assert tmp_path / "bin" in policy.read_only  # the agent's command

    gemini_spec = spec("owl", "gemini")
    assert gemini_spec.env["HOME"] == str(owl) and "CODEX_HOME" not in gemini_spec.env
    assert (owl / ".gemini" / "oauth_creds.json").read_text() == "{}"
    assert not (owl / ".gemini" / "google_accounts.json").exists()  # the template has none
    assert gemini_spec.sandbox is not None and gemini_spec.sandbox.read_write == (cwd, owl)

    # refreshed at every start; what the agent wrote itself (its sessions) stays
    (operator / ".codex" / "config.toml").write_text("model = 'y'\n")
    (fox / ".codex" / "sessions").mkdir()
    spec("fox", "codex")
    assert (fox / ".codex" / "config.toml").read_text() == "model = 'y'\n"
    assert (fox / ".codex" / "sessions").is_dir()
    assert spec("cat", "codex").env["CODEX_HOME"] == str(cat / ".codex") != str(fox / ".codex")

    service.sandbox = SandboxStatus(None, "off", True)
    assert spec("fox", "codex").sandbox is None


# --------------------------------------------------------------------------- registry


def test_the_readme_table_is_the_registry_s() -> None:
    """README.md's table of agent types is generated from the declarations (run
    ``python -m agentchat.agents.readme`` after changing one)."""
    from agentchat.agents import readme

    assert readme.current() == readme.block()


def test_every_builtin_type_pins_the_package_the_tests_run() -> None:
    """`agentchat check`'s install hint names the version tools/package.json pins (and
    scripts/bootstrap installs for the tests)."""
    from agentchat.agents.types import builtin_types

    pins = json.loads((Path(__file__).resolve().parents[2] / "tools" / "package.json")
                      .read_text())["dependencies"]
    for kind in builtin_types():
        package, _, version = kind.package.rpartition("@")
        assert pins.get(package) == version, kind.name
        assert kind.install == f"npm install -g {package}@{version}"


def test_every_builtin_type_can_run_offline_for_the_bench() -> None:
    """bench/agent_types.py measures every installed type against its scripted model API."""
    from agentchat.agents.types import builtin_types
    from tests.support.agent_envs import OFFLINE

    assert sorted(OFFLINE) == sorted(k.name for k in builtin_types())


@pytest.mark.parametrize(("allow", "mode", "started"), [
    (False, "acceptEdits", "acceptEdits"), (False, "full-access", ""), (False, "yolo", ""),
    (False, "bypassPermissions", ""), (True, "full-access", "full-access"), (False, "", ""),
])
def test_an_agent_restarts_in_its_mode_unless_bypass_was_taken_back(
    tmp_path: Path, allow: bool, mode: str, started: str,
) -> None:
    config = load_config(None, env(tmp_path, AGENTS_TYPES="codex",
                                   AGENTS_ALLOW_BYPASS=str(allow).lower())).config
    service = Service(config)
    record = AgentRecord("fox", "u@example.com", "codex", "alpha", str(tmp_path), "t", "", 0, 0,
                         mode=mode, model="gpt-5.4")
    spec = service.launcher.acp_spec(record, service.types["codex"], tmp_path,
                                     service.agent_home("fox"), resume=True)
    assert (spec.mode, spec.model) == (started, "gpt-5.4")
