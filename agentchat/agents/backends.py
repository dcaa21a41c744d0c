"""The backends: how agentchat talks to an agent process, whatever the agent.

A type (``agents.types``) names one of these. "claude" is Claude Code's native stream-json
(``claude_code.ClaudeCodeAdapter``: permissions through agentchat's MCP permission tool, the
session continued with ``--resume``); "acp" is any Agent Client Protocol agent
(``acp.AcpAdapter``: permissions through ``session/request_permission``, continued with
``session/load``). Both sit on ``agents.process`` and give the runtime the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

from agentchat.agents.acp import AcpAdapter, PermissionAsker
from agentchat.agents.adapter import AgentAdapter, LaunchSpec
from agentchat.agents.claude_code import ClaudeCodeAdapter
from agentchat.agents.types import AgentType


@attrs.frozen
class Wiring:
    """What a backend may need from the service to build an adapter."""

    ask: Callable[[str], PermissionAsker]  # agent name → ask its owner (the broker)
    streaming: bool = True  # show the answer while it is being written


class Backend(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def adapter(self, kind: AgentType, spec: LaunchSpec, wiring: Wiring) -> AgentAdapter: ...


@attrs.frozen
class ClaudeBackend:
    name: str = "claude"
    description: str = "Claude Code's stream-json over stdin/stdout"

    def adapter(self, kind: AgentType, spec: LaunchSpec, wiring: Wiring) -> AgentAdapter:
        return ClaudeCodeAdapter(spec, kind.command)


@attrs.frozen
class AcpBackend:
    name: str = "acp"
    description: str = "Agent Client Protocol (JSON-RPC over stdin/stdout)"

    def adapter(self, kind: AgentType, spec: LaunchSpec, wiring: Wiring) -> AgentAdapter:
        return AcpAdapter(spec, [kind.resolve() or kind.command, *kind.args], label=kind.label,
                          ask=wiring.ask(spec.agent), declared=kind.declared, mode=kind.mode,
                          streaming=wiring.streaming)


BACKENDS: dict[str, Backend] = {b.name: b for b in (ClaudeBackend(), AcpBackend())}


def backend_of(kind: AgentType) -> Backend:
    """The backend a type names (config loading allows only these names)."""
    return BACKENDS[kind.backend]
