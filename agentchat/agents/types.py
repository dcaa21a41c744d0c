"""The registry of agent types ``new`` offers: built-in entries, ``agents.types`` overrides.

A type declares everything agentchat needs to know about one agent: its menu name, its backend
("claude": Claude Code's native stream-json; "acp": any Agent Client Protocol agent, see
``agents.backends``), how to launch it (command, arguments, environment, its own config
directories), how ``agentchat check`` finds it (the command in PATH, its version, the npm package
to install when it is missing) and what it can do (``Capabilities``: the README's table is
generated from these). docs/adding-an-agent.md walks through adding one. Without
``agents.types`` the menu is Claude Code alone, exactly as before types existed.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from agentchat.agents.cli_home import ConfigDir
from agentchat.agents.environment import CLAUDE_CODE, Declared
from agentchat.config.model import Config

CLAUDE = "claude-code"


@attrs.frozen
class Capabilities:
    """What agentchat can do with a type (checked against the real agents: interrupt with
    ``stop``; continue the conversation after an idle stop, a crash or a restart of agentchat;
    permission modes; a choice of models; images sent with a message)."""

    interrupt: bool = True
    resume: bool = False
    modes: bool = False
    models: bool = False
    images: bool = False


@attrs.frozen
class AgentType:
    name: str
    backend: str  # "claude" | "acp": agents.backends
    label: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = attrs.field(factory=dict)
    package: str = ""  # the npm package that ships it, pinned: "opencode-ai@1.18.33"
    # what it may inherit beyond the basics (agents/environment.py): its model API's variables
    declared: Declared = attrs.field(factory=Declared)
    # its config/state directories, each agent's own copy in its own home (agents/cli_home.py)
    config_dirs: tuple[ConfigDir, ...] = ()
    capabilities: Capabilities = attrs.field(factory=Capabilities)
    mode: str = ""  # ACP: the session mode set at every start (one that asks before edits)
    # the real program behind what was found in PATH (a node wrapper that hides it)
    native: Callable[[str], str] | None = attrs.field(default=None, eq=False)

    @property
    def install(self) -> str:
        """How to install it, for `agentchat check` and the README."""
        return f"npm install -g {self.package}" if self.package else ""

    def resolve(self) -> str | None:
        """The executable to run, or None when it is not installed."""
        found = find_command(self.command)
        if found is not None and self.native is not None:
            return self.native(found)
        return found


# ~/.gemini: settings, OAuth login; sessions under tmp/<project>/chats
GEMINI_DIR = ConfigDir(".gemini", files=("settings.json", "oauth_creds.json",
                                         "google_accounts.json"))
# $CODEX_HOME (~/.codex): model provider config, login; sessions under sessions/ as
# sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl (codex-acp 0.16.0 loads one copied there alone)
CODEX_DIR = ConfigDir(".codex", env="CODEX_HOME", files=("config.toml", "auth.json"),
                      sessions="sessions/*/*/*/rollout-*-{id}.jsonl")
# Claude Code's ~/.claude (as CLAUDE_CONFIG_DIR) for Claude Code over ACP: the login, settings
CLAUDE_DIR = ConfigDir(".claude", env="CLAUDE_CONFIG_DIR",
                       files=(".credentials.json", "settings.json"))
# OpenCode: ~/.config/opencode (providers, models, permissions), ~/.local/share/opencode (the
# provider logins in auth.json; sessions in opencode.db)
OPENCODE_CONFIG_DIR = ConfigDir(".config/opencode", files=("opencode.json", "opencode.jsonc"))
OPENCODE_DATA_DIR = ConfigDir(".local/share/opencode", files=("auth.json",))

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


# The built-in types. Each entry is the whole of what agentchat knows about that agent;
# docs/adding-an-agent.md says what each field is for. Capabilities as seen with the pinned
# versions (tools/package.json): ACP's loadSession (resume), promptCapabilities.image (images),
# session/new's modes and models (or a "model" config option).
_DEFAULTS: dict[str, AgentType] = {t.name: t for t in (
    AgentType(CLAUDE, "claude", "Claude Code", "claude",
              package="@anthropic-ai/claude-code@2.1.331",
              capabilities=Capabilities(resume=True, modes=True, models=True, images=True)),
    AgentType("gemini", "acp", "Gemini CLI", "gemini", ("--acp",),
              {"GEMINI_CLI_NO_RELAUNCH": "true"},  # else it re-spawns itself
              package="@google/gemini-cli@0.61.0",
              declared=Declared(prefixes=("GEMINI_", "GOOGLE_")),
              config_dirs=(GEMINI_DIR,),
              # modes default/autoEdit/yolo/plan; no models offered over ACP (0.61.0)
              capabilities=Capabilities(resume=True, modes=True, images=True)),
    AgentType("codex", "acp", "Codex", "codex-acp",
              package="@zed-industries/codex-acp@0.16.0",
              declared=Declared(prefixes=("CODEX_", "OPENAI_")),
              config_dirs=(CODEX_DIR,),
              capabilities=Capabilities(resume=True, modes=True, models=True, images=True),
              native=native_codex),
    AgentType("opencode", "acp", "OpenCode", "opencode", ("acp",),
              {"OPENCODE_DISABLE_AUTOUPDATE": "1",
               # its default is to edit and run commands without asking
               "OPENCODE_PERMISSION": '{"edit": "ask", "bash": "ask", "webfetch": "ask"}'},
              package="opencode-ai@1.18.33",
              # its own settings, and the keys of the providers it may be configured with
              declared=Declared(prefixes=("OPENCODE_", "OPENAI_", "GEMINI_", "GOOGLE_",
                                          "OPENROUTER_", "GROQ_", "MISTRAL_", "DEEPSEEK_")),
              config_dirs=(OPENCODE_CONFIG_DIR, OPENCODE_DATA_DIR),
              # modes build/plan and the models as session/new config options
              capabilities=Capabilities(resume=True, modes=True, models=True, images=True)),
    AgentType("claude-acp", "acp", "Claude Code (ACP)", "claude-agent-acp",
              package="@agentclientprotocol/claude-agent-acp@0.101.0",
              declared=CLAUDE_CODE, config_dirs=(CLAUDE_DIR,),
              mode="default",  # its default "auto" asks nothing; "default" (Manual) asks
              capabilities=Capabilities(resume=True, modes=True, models=True, images=True)),
)}


def builtin_types() -> list[AgentType]:
    """Every built-in type, in the registry's order (README, bench)."""
    return list(_DEFAULTS.values())


def configured_types(config: Config) -> list[AgentType]:
    """Every configured type (installed or not), defaults filled in, in the configured order."""
    agents = config.agents
    entries = agents.types or ()
    if not entries:
        return [claude_type(config)]
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


def claude_type(config: Config) -> AgentType:
    """Claude Code as configured (agents.claudePath): the type of agents whose type is gone."""
    return _claude(config, _DEFAULTS[CLAUDE])


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
