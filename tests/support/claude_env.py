"""Environment and binary lookup for running the real Claude Code CLI offline in tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

REPO_ROOT = Path(__file__).resolve().parents[2]
PINNED_CLI = REPO_ROOT / "tools" / "node_modules" / ".bin" / "claude"


class _HasBaseUrl(Protocol):
    @property
    def base_url(self) -> str: ...


def claude_env(tmp_path: Path, api: _HasBaseUrl) -> dict[str, str]:
    """Variables that point the CLI at ``api`` and keep it offline, quiet and isolated.

    Set on top of the allow-listed part of the test process's environment (see
    ``agentchat/agents/environment.py``), so anything inherited that could route traffic
    elsewhere is overridden here. Given to a ``Service`` as ``agent_env``, these go through the
    allow-list too, and HOME / CLAUDE_CONFIG_DIR become each agent's own.
    """
    home = tmp_path / "claude-home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "ANTHROPIC_BASE_URL": api.base_url,
        "ANTHROPIC_API_KEY": "dummy",
        "ANTHROPIC_AUTH_TOKEN": "",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # no telemetry/updater/preconnect
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),  # an inherited one would beat HOME
        "XDG_CONFIG_HOME": str(home / ".config"),
        "CLAUDE_CODE_USE_BEDROCK": "",
        "CLAUDE_CODE_USE_VERTEX": "",
        "CLAUDE_CODE_USE_FOUNDRY": "",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "HTTP_PROXY": "",
        "HTTPS_PROXY": "",
        "http_proxy": "",
        "https_proxy": "",
    }


def claude_path() -> str:
    """The pinned CLI: $CLAUDE_PATH, else tools/node_modules/.bin/claude, else PATH.

    Raises ``FileNotFoundError`` with instructions (tests must fail, not skip).
    """
    env = os.environ.get("CLAUDE_PATH")
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"CLAUDE_PATH={env!r} does not exist")
        return env
    if PINNED_CLI.exists():
        return str(PINNED_CLI)
    found = shutil.which("claude")
    if found:
        return found
    raise FileNotFoundError(
        f"Claude Code CLI not found: set CLAUDE_PATH, or run "
        f"`npm install @anthropic-ai/claude-code@2.1.331` in {REPO_ROOT / 'tools'}"
    )
