"""Environment and binaries for running the real ACP agents (Gemini CLI, Codex, …) offline."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tests.support.claude_env import REPO_ROOT, claude_env
from tests.support.scripted_api import ScriptedAnthropic
from tests.support.scripted_chat import ScriptedChatCompletions
from tests.support.scripted_gemini import ScriptedGemini
from tests.support.scripted_openai import ScriptedOpenAI
from tests.support.scripted_server import ScriptedServer

NODE_BIN = REPO_ROOT / "tools" / "node_modules" / ".bin"
GEMINI = NODE_BIN / "gemini"
CODEX = NODE_BIN / "codex-acp"  # the npm wrapper; agents.types runs the native binary behind it
OPENCODE = NODE_BIN / "opencode"
CLAUDE_ACP = NODE_BIN / "claude-agent-acp"


class _HasBaseUrl(Protocol):
    @property
    def base_url(self) -> str: ...


def pinned(binary: Path) -> str:
    """The pinned CLI under tools/; raises with instructions (tests must fail, not skip)."""
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `bash scripts/bootstrap`")
    return str(binary)


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "agent-home"
    home.mkdir(parents=True, exist_ok=True)
    return home


def gemini_env(tmp_path: Path, api: _HasBaseUrl) -> dict[str, str]:
    """Gemini CLI against ``api`` (a ScriptedGemini), with its own HOME (~/.gemini sessions)."""
    return {
        "HOME": str(_home(tmp_path)),
        "GOOGLE_GEMINI_BASE_URL": api.base_url,
        "GEMINI_API_KEY": "dummy",
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "GOOGLE_CLOUD_PROJECT": "",
        "GOOGLE_GENAI_USE_VERTEXAI": "",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "HTTP_PROXY": "",
        "HTTPS_PROXY": "",
    }


async def gemini_minute_passed(since: float) -> None:
    """Wait until the UTC minute of ``since`` (a ``time.time()`` taken after the session's
    first answer) is over.

    Gemini CLI 0.61.0 names session files by the minute its recording started and the session
    id's first 8 characters; a process loading a session opens its own recording under the
    name of the current minute, so a ``session/load`` in that same minute collides with the
    original file and fails ("Internal error"). No event says "the clock moved on": this sleeps.
    """
    remaining = 60 - (since % 60) + 0.5 - (time.time() - since)
    if remaining > 0:
        await asyncio.sleep(remaining)


def codex_env(tmp_path: Path, api: _HasBaseUrl) -> dict[str, str]:
    """Codex against ``api`` (a ScriptedOpenAI): a CODEX_HOME whose config.toml names it."""
    codex_home = _home(tmp_path) / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        'model = "gpt-5.5"\n'
        'model_provider = "fake"\n'
        "[model_providers.fake]\n"
        'name = "fake"\n'
        f'base_url = "{api.base_url}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "OPENAI_API_KEY"\n'
    )
    return {
        "HOME": str(_home(tmp_path)),
        "CODEX_HOME": str(codex_home),
        "OPENAI_API_KEY": "dummy",
        "OPENAI_BASE_URL": "",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "HTTP_PROXY": "",
        "HTTPS_PROXY": "",
    }


def opencode_env(tmp_path: Path, api: _HasBaseUrl) -> dict[str, str]:
    """OpenCode against ``api`` (a ScriptedChatCompletions): a provider of its own in
    ``~/.config/opencode/opencode.json`` (the template each agent's copy is made from), nothing
    fetched from the network."""
    config = _home(tmp_path) / ".config" / "opencode"
    config.mkdir(parents=True, exist_ok=True)
    (config / "opencode.json").write_text(json.dumps({
        "$schema": "https://opencode.ai/config.json",
        "provider": {"fake": {
            "npm": "@ai-sdk/openai-compatible",  # built in: nothing to install
            "name": "Scripted",
            "options": {"baseURL": f"{api.base_url}/v1", "apiKey": "dummy"},
            "models": {"fake-model": {"name": "Scripted model"}},
        }},
        "model": "fake/fake-model",
        "small_model": "fake/fake-model",
        "share": "disabled",
        "autoupdate": False,
    }))
    return {
        "HOME": str(_home(tmp_path)),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "HTTP_PROXY": "",
        "HTTPS_PROXY": "",
    }



@dataclass(frozen=True)
class Offline:
    """How to run one agent type offline: its scripted model API and the environment that
    points the agent at it (bench/agent_types.py runs every installed type this way)."""

    api: Callable[[], ScriptedServer]
    env: Callable[[Path, Any], dict[str, str]]


OFFLINE: dict[str, Offline] = {
    "claude-code": Offline(ScriptedAnthropic, claude_env),
    "gemini": Offline(ScriptedGemini, gemini_env),
    "codex": Offline(ScriptedOpenAI, codex_env),
    "opencode": Offline(ScriptedChatCompletions, opencode_env),
    "claude-acp": Offline(ScriptedAnthropic, claude_env),
}
