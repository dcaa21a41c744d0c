"""What an agent process is given: the environment allow-list and the bubblewrap command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentchat.agents import cli_home
from agentchat.agents.environment import CLAUDE_CODE, Declared, agent_environment, allowed
from agentchat.agents.sandbox import SandboxPolicy, agent_policy, bwrap_argv, cli_install_paths
from agentchat.config.load import FIELDS, HOME_ENV
from agentchat.workspace import WorkspaceError, recheck_repo

SERVICE_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/root",
    "XMPP_COMPONENT_SECRET": "s3cret",
    "AGENT_CHAT_HOME": "/root/.agent-chat",
    "CLAUDE_PATH": "/opt/claude",
    "CLAUDE_CONFIG_DIR": "/root/.claude",
    "ANTHROPIC_API_KEY": "sk-ant-x",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "HTTPS_PROXY": "http://proxy:3128",
    "no_proxy": "localhost",
    "NODE_EXTRA_CA_CERTS": "/etc/ssl/proxy.pem",
    "DISABLE_AUTOUPDATER": "1",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "GOOGLE_APPLICATION_CREDENTIALS": "/root/gcp.json",
    "DATABASE_URL": "postgres://u:p@db/x",
    "SSH_AUTH_SOCK": "/run/user/0/ssh",
    "XDG_RUNTIME_DIR": "/run/user/0",
    "PYTHONPATH": "/opt/agentchat",
    "LD_PRELOAD": "/tmp/evil.so",
}


def test_only_allowed_variables_pass_and_ours_are_set_last() -> None:
    env = agent_environment(SERVICE_ENV, own={"HOME": "/h/agent", "CLAUDE_CONFIG_DIR": "/h/c"})
    assert env == {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "HOME": "/h/agent", "CLAUDE_CONFIG_DIR": "/h/c",
        "ANTHROPIC_API_KEY": "sk-ant-x", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "HTTPS_PROXY": "http://proxy:3128", "no_proxy": "localhost",
        "NODE_EXTRA_CA_CERTS": "/etc/ssl/proxy.pem", "DISABLE_AUTOUPDATER": "1",
    }


def test_no_agentchat_setting_ever_passes() -> None:
    """Every variable agentchat's config reads (the component secret among them) stays out."""
    env = {f.env: "x" for f in FIELDS} | {HOME_ENV: "/x"}
    assert agent_environment(env) == {}
    assert not allowed("XMPP_COMPONENT_SECRET", env)


def test_home_and_config_dir_are_never_inherited() -> None:
    """The operator's HOME and CLI config dir hold their login and sessions of every agent."""
    assert "HOME" not in agent_environment({"HOME": "/root", "CLAUDE_CONFIG_DIR": "/root/.c"})


@pytest.mark.parametrize(("switch", "name"), [
    ("CLAUDE_CODE_USE_BEDROCK", "AWS_SECRET_ACCESS_KEY"),
    ("CLAUDE_CODE_USE_VERTEX", "GOOGLE_APPLICATION_CREDENTIALS"),
])
def test_cloud_credentials_only_when_the_cli_is_told_to_use_that_cloud(
    switch: str, name: str
) -> None:
    assert name not in agent_environment(SERVICE_ENV)
    assert name not in agent_environment(SERVICE_ENV | {switch: "0"})
    assert agent_environment(SERVICE_ENV | {switch: "1"})[name] == SERVICE_ENV[name]


def test_an_agent_type_declares_more() -> None:
    declared = Declared(names=frozenset({"GOOSE_MODEL"}), prefixes=("OPENAI_",))
    env = agent_environment({"GOOSE_MODEL": "m", "OPENAI_API_KEY": "k", "X": "y"},
                            declared=declared)
    assert env == {"GOOSE_MODEL": "m", "OPENAI_API_KEY": "k"}
    assert not allowed("GOOSE_MODEL", {}, CLAUDE_CODE)


# --------------------------------------------------------------------------- bwrap argv


def test_bwrap_argv_hides_then_binds_back_then_runs_in_its_own_pid_namespace() -> None:
    policy = SandboxPolicy(
        "/usr/bin/bwrap",
        hide=(Path("/srv/work"), Path("/root/.agent-chat"), Path("/root")),
        scratch=(Path("/tmp"),),
        read_only=(Path("/opt/cli/node_modules"), Path("/root/.agent-chat/mcp/a.json")),
        read_write=(Path("/srv/work/repo"), Path("/root/.agent-chat/agents/a")),
    )
    argv = bwrap_argv(policy, ["claude", "-p"], Path("/srv/work/repo"))
    assert argv == [
        "/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
        # a directory before what is inside it
        "--tmpfs", "/root", "--tmpfs", "/tmp", "--tmpfs", "/root/.agent-chat",
        "--tmpfs", "/srv/work",
        "--ro-bind", "/opt/cli/node_modules", "/opt/cli/node_modules",
        "--ro-bind", "/root/.agent-chat/mcp/a.json", "/root/.agent-chat/mcp/a.json",
        "--bind", "/srv/work/repo", "/srv/work/repo",
        "--bind", "/root/.agent-chat/agents/a", "/root/.agent-chat/agents/a",
        # hidden areas read-only once the binds are in place; /tmp stays a writable scratch
        "--remount-ro", "/root", "--remount-ro", "/root/.agent-chat", "--remount-ro", "/srv/work",
        "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--chdir", "/srv/work/repo",
        "--", "claude", "-p",
    ]  # fmt: skip


def test_root_is_never_hidden() -> None:
    """A service user whose HOME is / must not get an empty root file system."""
    argv = bwrap_argv(SandboxPolicy("bwrap", hide=(Path("/"), Path("/tmp"))), ["x"], Path("/"))
    assert argv.count("--tmpfs") == 1 and argv.count("--remount-ro") == 1 and "/tmp" in argv


def test_agent_policy_hides_agentchat_home_repositories_and_tmp(tmp_path: Path) -> None:
    home, base = tmp_path / "state", tmp_path / "work"
    home.mkdir()
    (base / "repo").mkdir(parents=True)
    policy = agent_policy("bwrap", agentchat_home=home, base_path=base, command="/bin/sh",
                          read_only=(home / "mcp.json",), read_write=(base / "repo",))
    assert {home, base} <= set(policy.hide) and policy.scratch == (Path("/tmp"),)
    assert policy.read_write == (base / "repo",)
    assert policy.read_only[-1] == home / "mcp.json"


def test_cli_install_paths_bind_the_whole_node_modules(tmp_path: Path) -> None:
    """The npm layout: .bin/claude is a link into the package; both must stay visible."""
    package = tmp_path / "tools" / "node_modules" / "@anthropic-ai" / "claude-code" / "bin"
    package.mkdir(parents=True)
    (package / "claude.exe").write_text("")
    link = tmp_path / "tools" / "node_modules" / ".bin" / "claude"
    link.parent.mkdir()
    link.symlink_to("../@anthropic-ai/claude-code/bin/claude.exe")
    paths = cli_install_paths(str(link))
    assert tmp_path / "tools" / "node_modules" in paths
    assert package in paths
    assert cli_install_paths(str(tmp_path / "missing-dir" / "claude")) == ()


# --------------------------------------------------------------------------- working directory


def test_recheck_refuses_a_repository_swapped_for_a_symlink(tmp_path: Path) -> None:
    base = tmp_path / "work"
    repo = base / "repo"
    repo.mkdir(parents=True)
    assert recheck_repo(base, "repo", repo) == repo
    repo.rmdir()
    repo.symlink_to("/")
    with pytest.raises(WorkspaceError, match=r"'repo' leads outside .* \(to /\)"):
        recheck_repo(base, "repo", repo)
    repo.unlink()
    (base / "other").mkdir()
    repo.symlink_to(base / "other")
    with pytest.raises(WorkspaceError, match=r"now leads to .*other, not to .*repo"):
        recheck_repo(base, "repo", repo)
    repo.unlink()
    with pytest.raises(WorkspaceError, match="no repository 'repo'"):
        recheck_repo(base, "repo", repo)


# --------------------------------------------------------------------------- the agent's CLI home


def test_cli_home_is_private_and_carries_the_login_and_old_sessions(tmp_path: Path) -> None:
    operator = tmp_path / "operator-claude"
    (operator / "projects" / "-w-proj").mkdir(parents=True)
    (operator / "projects" / "-w-proj" / "sid.jsonl").write_text("{}\n")
    (operator / ".credentials.json").write_text('{"token": "t"}')
    home, env = tmp_path / "agents" / "swift-fox", {"CLAUDE_CONFIG_DIR": str(operator)}
    config_dir = cli_home.prepare(home, "sid", resume=True, env=env)
    assert config_dir == home / ".claude" and (config_dir.stat().st_mode & 0o777) == 0o700
    assert (config_dir / ".credentials.json").read_text() == '{"token": "t"}'
    assert (config_dir / ".credentials.json").stat().st_mode & 0o777 == 0o600
    assert (config_dir / "projects" / "-w-proj" / "sid.jsonl").read_text() == "{}\n"
    # the agent's own session is never overwritten by the operator's copy
    (config_dir / "projects" / "-w-proj" / "sid.jsonl").write_text("newer\n")
    cli_home.prepare(home, "sid", resume=True, env=env)
    assert (config_dir / "projects" / "-w-proj" / "sid.jsonl").read_text() == "newer\n"


def test_cli_home_without_an_operator_login(tmp_path: Path) -> None:
    config_dir = cli_home.prepare(tmp_path / "a", "sid", resume=False,
                                  env={"CLAUDE_CONFIG_DIR": str(tmp_path / "none")})
    assert list(config_dir.iterdir()) == []
