"""The environment an agent process gets: an allow-list, never agentchat's own variables.

Why: the CLI and every command it runs inherit their environment, and whatever is in it can be
printed into the chat, sent to the model API and written into transcripts by one approved
``env``. agentchat's environment holds the component secret (``XMPP_COMPONENT_SECRET``) and
other operators' settings, so nothing is passed on unless it is named here: the basics a shell
needs, the model API's variables, proxies and certificates, and what the agent type declares.
Pure: the caller passes the environment in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

# What any program expects to find (locale, shell basics).
BASE_NAMES = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "USER", "LOGNAME", "SHELL",
    # who commits: agents have their own HOME, so the operator's ~/.gitconfig is not seen
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
})
BASE_PREFIXES = ("LC_",)
# The model API: endpoint, key, model choice, and Claude Code's own switches.
MODEL_API_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_")
# Reaching the model API from behind a proxy (with its own CA).
NETWORK_NAMES = frozenset({
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE",
})
# Set by agentchat for each process (its own home and config dirs, agents/cli_home.py); never
# taken from agentchat's environment, where they only name the templates.
OWN_NAMES = frozenset({"HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME"})


@attrs.frozen
class Declared:
    """What an agent type adds to the allow-list.

    ``when`` maps a switch variable to names or prefixes passed only while that switch is set
    to a true value (e.g. AWS credentials only when the CLI is told to use Bedrock), so that
    credentials meant for something else never reach an agent by accident.
    """

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    when: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)


# Claude Code's documented settings outside the ANTHROPIC_/CLAUDE_CODE_ prefixes.
CLAUDE_CODE = Declared(
    names=frozenset({
        "DISABLE_AUTOUPDATER", "DISABLE_TELEMETRY", "DISABLE_ERROR_REPORTING",
        "DISABLE_BUG_COMMAND", "DISABLE_COST_WARNINGS", "DISABLE_PROMPT_CACHING",
        "DISABLE_NON_ESSENTIAL_MODEL_CALLS", "MAX_THINKING_TOKENS", "MAX_MCP_OUTPUT_TOKENS",
        "MCP_TIMEOUT", "MCP_TOOL_TIMEOUT", "BASH_DEFAULT_TIMEOUT_MS", "BASH_MAX_TIMEOUT_MS",
        "BASH_MAX_OUTPUT_LENGTH",
    }),
    when={
        "CLAUDE_CODE_USE_BEDROCK": ("AWS_",),
        "CLAUDE_CODE_USE_VERTEX": ("CLOUD_ML_REGION", "VERTEX_REGION_",
                                   "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"),
    },
)

_FALSE = frozenset({"", "0", "false", "no", "off"})


def _matches(name: str, patterns: Iterable[str]) -> bool:
    """``patterns`` ending in ``_`` are prefixes, the others exact names."""
    return any(name.startswith(p) if p.endswith("_") else name == p for p in patterns)


def allowed(name: str, inherited: Mapping[str, str], declared: Declared = CLAUDE_CODE) -> bool:
    """Whether ``name`` may be passed on from ``inherited`` to an agent process."""
    if name in OWN_NAMES:
        return False
    if name in BASE_NAMES or name in NETWORK_NAMES or name in declared.names:
        return True
    if name.startswith(BASE_PREFIXES + MODEL_API_PREFIXES + declared.prefixes):
        return True
    for switch, patterns in declared.when.items():
        if inherited.get(switch, "").strip().lower() not in _FALSE and _matches(name, patterns):
            return True
    return False


def agent_environment(
    inherited: Mapping[str, str],
    *,
    declared: Declared = CLAUDE_CODE,
    own: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The allowed part of ``inherited``, plus ``own`` (HOME and the like, set by agentchat)."""
    env = {k: v for k, v in inherited.items() if allowed(k, inherited, declared)}
    env.update(own or {})
    return env
