"""The contract between an agent runtime and the CLI process behind it.

One adapter instance is one process lifetime: ``start`` it, ``send`` user messages between turns,
read ``events()`` until ``ProcessExited``. A stopped agent gets a fresh adapter that resumes the
same session id, so the conversation survives idle stops and crashes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import attrs

from agentchat.agents.events import AgentEvent
from agentchat.agents.sandbox import SandboxPolicy


@attrs.frozen
class LaunchSpec:
    """Everything needed to start (or resume) one agent's CLI process."""

    cwd: Path
    session_id: str
    resume: bool = False  # True: --resume=<session_id>; False: --session-id=<session_id>
    mcp_config_path: Path | None = None  # permission tool config, written 0600 by the service
    permission_tool: str | None = None  # e.g. "mcp__agentchat__permission_prompt"
    partial_messages: bool = False  # --include-partial-messages
    allowed_tools: tuple[str, ...] = ()  # run without asking, e.g. our own send_file tool
    extra_args: tuple[str, ...] = ()
    # Set on top of the allow-listed part of the service's environment (agents/environment.py).
    env: Mapping[str, str] = attrs.field(factory=dict)
    sandbox: SandboxPolicy | None = None  # None: run without bubblewrap
    agent: str = ""  # the agent's name (backends that ask the permission broker themselves)
    agent_type: str = "claude-code"  # key of agents.types
    # ACP agents: agentchat's MCP server (send_file), offered in session/new and session/load
    mcp_url: str | None = None
    mcp_secret: str = attrs.field(default="", repr=False)  # its X-Agentchat-Secret header
    # the owner's choices (``mode``/``model`` in the chat), applied at every start: "" = the
    # backend's default; a mode is the backend's own id or a word of agents/controls.py
    mode: str = ""
    model: str = ""


@attrs.frozen
class Image:
    """An image handed to the agent with a message (PNG, JPEG, GIF or WebP, sniffed)."""

    media_type: str
    data: bytes = attrs.field(repr=False)


class AgentAdapter(Protocol):
    @property
    def pid(self) -> int | None: ...

    @property
    def accepts_images(self) -> bool:
        """Can ``send`` pass images to the model? (Claude Code: yes; an ACP agent: what its
        ``promptCapabilities.image`` says.) If not, the runtime sends only the text, which
        names the file's path in the working tree."""

    async def start(self) -> None:
        """Spawn the process; raises ``AgentStartError`` with a readable message on failure."""

    async def send(self, text: str, images: Sequence[Image] = ()) -> None:
        """Hand one user message to the agent (only between turns)."""

    async def interrupt(self) -> str:
        """Ask the running turn to stop; returns the control request id."""

    async def stop(self, grace: float = 3.0) -> None:
        """Close stdin, wait ``grace`` seconds, then SIGTERM, then SIGKILL."""

    def events(self) -> AsyncIterator[AgentEvent]:
        """Events in order; the last one is always ``ProcessExited``."""

    async def set_mode(self, mode: str) -> str:
        """Switch the permission mode (the backend's own id); returns the mode now in force.
        Raises ``ControlError`` when the backend refuses or cannot do it."""

    async def set_model(self, model: str) -> str:
        """Switch the model for the following turns; returns the model now in force (aliases
        resolved). Raises ``ControlError``."""

    @property
    def compact_prompt(self) -> str | None:
        """The message that makes the agent compact its context (Claude Code: ``/compact``),
        or None where the backend offers no way."""


class ControlError(Exception):
    """A mode or model switch that did not happen (the message says why, for the owner)."""


class AgentStartError(Exception):
    """The process could not be started (binary missing, cwd gone...)."""
