"""Start the real agentchat service in-process against the test Prosody and scripted API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from agentchat.config.load import load_config
from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.prosody.ports import free_port
from agentchat.service import Service
from tests.support.claude_env import claude_env, claude_path
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
) -> AsyncIterator[Service]:
    """The service connected as the component; stopped (and disconnected) on exit."""
    home = tmp_path / "home"
    base = make_workspace(tmp_path)
    env = service_env(prosody, home, base, **dict(env_overrides or {}))
    loaded = load_config(None, env)
    service = Service(loaded.config, agent_env=claude_env(tmp_path, api))
    service.load_state()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
