"""The agent types ``new`` offers: built-in defaults, ``agents.types`` overrides, lookup.

A type names a backend ("claude": Claude Code's native stream-json; "acp": any Agent Client
Protocol agent), the command that starts it and what to tell the operator when it is missing.
Without ``agents.types`` the menu is Claude Code alone, exactly as before types existed.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Mapping
from pathlib import Path

import attrs

from agentchat.agents.cli_home import ConfigDir
from agentchat.agents.environment import Declared
from agentchat.config.model import Config

CLAUDE = "claude-code"


@attrs.frozen
class AgentType:
    name: str
    backend: str  # "claude" | "acp"
    label: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = attrs.field(factory=dict)
    install: str = ""  # how to install it, for `agentchat check` and the menu
    # what it may inherit beyond the basics (agents/environment.py): its model API's variables
    declared: Declared = attrs.field(factory=Declared)
    # its config/state directories, each agent's own copy in its own home (agents/cli_home.py)
    config_dirs: tuple[ConfigDir, ...] = ()

    def resolve(self) -> str | None:
        """The executable to run, or None when it is not installed."""
        found = find_command(self.command)
        if found is not None and self.name == "codex":
            return native_codex(found)
        return found


# ~/.gemini: settings, OAuth login; sessions under tmp/<project>/chats
GEMINI_DIR = ConfigDir(".gemini", files=("settings.json", "oauth_creds.json",
                                         "google_accounts.json"))
# $CODEX_HOME (~/.codex): model provider config, login; sessions under sessions/ as
# sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl (codex-acp 0.16.0 loads one copied there alone)
CODEX_DIR = ConfigDir(".codex", env="CODEX_HOME", files=("config.toml", "auth.json"),
                      sessions="sessions/*/*/*/rollout-*-{id}.jsonl")

_DEFAULTS: dict[str, AgentType] = {
    CLAUDE: AgentType(CLAUDE, "claude", "Claude Code", "claude",
                      install="npm install -g @anthropic-ai/claude-code@2.1.331"),
    "gemini": AgentType("gemini", "acp", "Gemini CLI", "gemini", ("--acp",),
                        {"GEMINI_CLI_NO_RELAUNCH": "true"},  # else it re-spawns itself
                        install="npm install -g @google/gemini-cli@0.61.0",
                        declared=Declared(prefixes=("GEMINI_", "GOOGLE_")),
                        config_dirs=(GEMINI_DIR,)),
    "codex": AgentType("codex", "acp", "Codex", "codex-acp",
                       install="npm install -g @zed-industries/codex-acp@0.16.0",
                       declared=Declared(prefixes=("CODEX_", "OPENAI_")),
                       config_dirs=(CODEX_DIR,)),
}


def find_command(command: str) -> str | None:
    """A path with a slash must exist and be executable; a bare name is looked up in PATH."""
    if not command:
        return None
    if "/" in command:
        path = Path(command).expanduser()
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(command)


def native_codex(found: str) -> str:
    """The platform binary behind npm's ``codex-acp`` node wrapper, which does not pass
    SIGTERM on and so orphans the real agent; the wrapper itself if there is none."""
    real = Path(found).resolve()
    if real.suffix != ".js":
        return found
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    system = platform.system().lower()
    native = real.parent.parent.parent / f"codex-acp-{system}-{arch}" / "bin" / "codex-acp"
    return str(native) if native.is_file() else found


def configured_types(config: Config) -> list[AgentType]:
    """Every configured type (installed or not), defaults filled in, in the configured order."""
    agents = config.agents
    entries = agents.types or ()
    if not entries:
        return [_claude(config, _DEFAULTS[CLAUDE])]
    out = []
    for entry in entries:
        base = _DEFAULTS.get(entry.name) or AgentType(entry.name, entry.backend or "acp",
                                                     entry.name, "")
        kind = attrs.evolve(
            base,
            backend=entry.backend or base.backend,
            label=entry.label or base.label,
            command=entry.command or base.command,
            args=base.args if entry.args is None else tuple(entry.args),
            env={**base.env, **entry.env},
        )
        out.append(_claude(config, kind) if kind.backend == "claude" and not entry.command
                   else kind)
    return out


def _claude(config: Config, kind: AgentType) -> AgentType:
    """Claude Code keeps agents.claudePath / claudeArgs (CLAUDE_PATH) as its command."""
    return attrs.evolve(kind, command=config.agents.claude_path,
                        args=tuple(config.agents.claude_args))


def offered_types(config: Config) -> list[AgentType]:
    """What ``new`` offers: without agents.types, Claude Code as always; with it, the
    configured types whose command is found."""
    kinds = configured_types(config)
    if not config.agents.types:
        return kinds
    return [k for k in kinds if k.resolve() is not None]


def package_version(executable: str) -> str | None:
    """The version in the npm package.json that ships ``executable`` (agents that have no
    ``--version``, like codex-acp), or None."""
    for parent in list(Path(executable).resolve().parents)[:3]:
        manifest = parent / "package.json"
        if manifest.is_file():
            try:
                version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
            except (OSError, ValueError):
                return None
            return str(version) if version else None
    return None
