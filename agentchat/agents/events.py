"""What an agent process tells us, independent of which CLI produced it."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class SessionStarted:
    """The CLI is up (stream-json ``system``/``init``)."""

    session_id: str
    model: str = ""
    tools: tuple[str, ...] = ()
    mcp_servers: tuple[tuple[str, str], ...] = ()  # (name, status)


@attrs.frozen
class AssistantText:
    """A complete text block the assistant produced."""

    text: str


@attrs.frozen
class PartialText:
    """The assistant's text so far in the current message (``--include-partial-messages``)."""

    text: str


@attrs.frozen
class ToolCall:
    """The assistant asked to run a tool (shown to the owner as one short line).

    ``name``/``input`` are in the terms the permission prompts and rules use; ``line`` is the
    chat's one-line notice, worded by the backend that knows the tool's shape."""

    tool_use_id: str
    name: str
    input: dict[str, Any]
    line: str = ""  # e.g. "🔧 Edit src/auth.ts"; empty: "🔧 <name>"


@attrs.frozen
class ToolOutcome:
    """The result of a tool call, as the CLI fed it back to the model."""

    tool_use_id: str
    content: str
    is_error: bool = False


@attrs.frozen
class TurnFinished:
    """One ``result`` line: the turn is over, successfully or not."""

    subtype: str
    is_error: bool
    result: str = ""
    duration_ms: int = 0
    num_turns: int = 0
    cost_usd: float = 0.0  # what this turn cost, where the agent says (0.0 where not)
    session_id: str = ""


@attrs.frozen
class Plan:
    """The agent's current plan: its ``text``, or the file it keeps it in (``path``, read when
    the plan is asked about: Claude Code's plan mode names the file, not the plan)."""

    text: str = ""
    path: str | None = None


@attrs.frozen
class ControlAnswered:
    """The CLI answered a control request (e.g. an interrupt)."""

    request_id: str
    ok: bool
    error: str = ""
    payload: dict[str, Any] = attrs.field(factory=dict, eq=False)  # the answer's "response"


@attrs.frozen
class Notice:
    """Something the owner must be told about the agent itself (e.g. a session not continued)."""

    text: str


@attrs.frozen
class Choice:
    """One mode or model the backend offers: its own id, a display name, what it does."""

    id: str
    name: str = ""
    description: str = ""


@attrs.frozen
class ModeChanged:
    """The agent's permission mode (its own id), and the modes it offers when it says so
    (an empty ``available`` leaves the known list as it is)."""

    mode: str
    available: tuple[Choice, ...] = ()


@attrs.frozen
class ModelChanged:
    """The model the agent uses now ("" if it does not say), and the models it offers."""

    model: str
    available: tuple[Choice, ...] = ()


@attrs.frozen
class UsageReported:
    """Tokens and cost as the backend reports them; None where it reports nothing.

    ``context_tokens``: what the conversation fills of the model's context window now;
    ``total_tokens``: tokens used by this process so far (input + output); ``cost_usd``: its
    running total.
    """

    context_tokens: int | None = None
    context_window: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None


@attrs.frozen
class Compacted:
    """The agent compacted its context (Claude Code's /compact): tokens before and after."""

    pre_tokens: int = 0
    post_tokens: int = 0


@attrs.frozen
class ProcessExited:
    """The process is gone; ``expected`` is False for crashes."""

    returncode: int | None
    stderr_tail: str
    expected: bool


AgentEvent = (
    SessionStarted
    | AssistantText
    | PartialText
    | ToolCall
    | ToolOutcome
    | TurnFinished
    | Plan
    | ControlAnswered
    | Notice
    | ModeChanged
    | ModelChanged
    | UsageReported
    | Compacted
    | ProcessExited
)
