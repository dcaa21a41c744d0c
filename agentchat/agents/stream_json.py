"""Claude Code's stream-json protocol, as pure functions (no I/O).

Why separate: the adapter only moves bytes; everything about what a line means lives
here, so it can be tested against real CLI output without spawning anything.

Output lines we turn into events (everything else, e.g. ``system/status``,
``system/permission_denied``, ``rate_limit_event``, yields nothing):

* ``system``/``init`` → ``SessionStarted`` (the CLI prints it again at the start of
  every turn, not once per process), ``ModeChanged`` and ``ModelChanged``;
* ``system``/``status`` with ``permissionMode`` (after ``set_permission_mode``, and when
  an approved plan ends plan mode) → ``ModeChanged``;
* ``system``/``compact_boundary`` (after ``/compact``) → ``Compacted``;
* ``assistant`` → ``AssistantText`` per text block, ``ToolCall`` per tool_use block, and
  ``UsageReported`` with the tokens the conversation fills (the message's ``usage``);
* ``user`` with ``tool_result`` blocks → ``ToolOutcome``;
* ``result`` → ``TurnFinished`` (and ``UsageReported``: tokens so far, the model's
  context window, from ``modelUsage``);
* ``control_response`` → ``ControlAnswered``;
* ``stream_event`` (``--include-partial-messages``) → ``PartialText`` when a
  ``PartialAccumulator`` is passed.

Messages from sub-agents (``parent_tool_use_id`` set) produce ``ToolCall`` and
``ToolOutcome`` (activity worth showing) but no text: the sub-agent's answer reaches
the main agent as a tool_result and the main agent reports it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from agentchat.agents.controls import CLAUDE_MODES
from agentchat.agents.events import (
    AgentEvent,
    AssistantText,
    Choice,
    Compacted,
    ControlAnswered,
    ModeChanged,
    ModelChanged,
    PartialText,
    SessionStarted,
    ToolCall,
    ToolOutcome,
    TurnFinished,
    UsageReported,
)

__all__ = [
    "PartialAccumulator",
    "StreamJsonError",
    "encode_control",
    "encode_interrupt",
    "encode_user_message",
    "flatten_content",
    "parse_line",
]


class StreamJsonError(ValueError):
    """A stdout line that is not a JSON object (the adapter logs and skips it)."""

    def __init__(self, message: str, line: str) -> None:
        super().__init__(f"{message}: {line[:200]!r}")
        self.line = line


class PartialAccumulator:
    """Accumulates streamed text deltas of the current assistant message.

    Why a class: partial text is stateful (deltas must be summed per message) while
    ``parse_line`` stays a pure function of (line, accumulator).
    """

    def __init__(self) -> None:
        self._blocks: dict[int, str] = {}

    @property
    def text(self) -> str:
        """The text so far; separate text blocks are joined by a blank line."""
        return "\n\n".join(t for _, t in sorted(self._blocks.items()) if t)

    def reset(self) -> None:
        self._blocks.clear()

    def feed(self, event: dict[str, Any]) -> str | None:
        """Feed one Anthropic stream event; return the new text if it changed."""
        etype = event.get("type")
        if etype == "message_start":
            self.reset()
            return None
        if etype != "content_block_delta":
            return None
        delta = event.get("delta")
        if not isinstance(delta, dict) or delta.get("type") != "text_delta":
            return None
        piece = delta.get("text")
        if not isinstance(piece, str) or not piece:
            return None
        index = event.get("index")
        key = index if isinstance(index, int) else 0
        self._blocks[key] = self._blocks.get(key, "") + piece
        return self.text


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: Any) -> float:
    if isinstance(value, bool):
        return 0.0
    return float(value) if isinstance(value, int | float) else 0.0


def flatten_content(content: Any) -> str:
    """Tool result content (a string or a list of blocks) as plain text."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else json.dumps(content)
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict):
            btype = block.get("type")
            if btype == "text":
                parts.append(_str(block.get("text")))
            elif btype == "image":
                parts.append("[image]")
            elif btype == "document":
                parts.append("[document]")
            else:
                parts.append(f"[{_str(btype, 'unknown')}]")
    return "\n".join(parts)


def _content_blocks(obj: dict[str, Any]) -> list[dict[str, Any]]:
    message = obj.get("message")
    if not isinstance(message, dict):
        return []
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict)]


def _init(obj: dict[str, Any]) -> list[AgentEvent]:
    tools = obj.get("tools")
    servers = obj.get("mcp_servers")
    controls: list[AgentEvent] = []
    if isinstance(obj.get("permissionMode"), str):
        controls.append(ModeChanged(obj["permissionMode"], CLAUDE_MODES))
    if isinstance(obj.get("model"), str):
        controls.append(ModelChanged(obj["model"]))
    return [
        SessionStarted(
            session_id=_str(obj.get("session_id")),
            model=_str(obj.get("model")),
            tools=tuple(t for t in tools if isinstance(t, str)) if isinstance(tools, list) else (),
            mcp_servers=tuple(
                (_str(s.get("name")), _str(s.get("status")))
                for s in (servers if isinstance(servers, list) else [])
                if isinstance(s, dict)
            ),
        ),
        *controls,
    ]


def _status(obj: dict[str, Any]) -> list[AgentEvent]:
    mode = obj.get("permissionMode")
    return [ModeChanged(mode, CLAUDE_MODES)] if isinstance(mode, str) and mode else []


def _compact_boundary(obj: dict[str, Any]) -> list[AgentEvent]:
    meta = obj.get("compact_metadata")
    meta = meta if isinstance(meta, dict) else {}
    return [Compacted(_int(meta.get("pre_tokens")), _int(meta.get("post_tokens")))]


def _message_usage(obj: dict[str, Any]) -> list[AgentEvent]:
    """What the conversation fills of the context: the last request's input plus its answer."""
    message = obj.get("message")
    usage = message.get("usage") if isinstance(message, dict) else None
    if not isinstance(usage, dict):
        return []
    filled = sum(_int(usage.get(k)) for k in ("input_tokens", "cache_read_input_tokens",
                                               "cache_creation_input_tokens", "output_tokens"))
    return [UsageReported(context_tokens=filled)] if filled else []


def _result_usage(obj: dict[str, Any]) -> list[AgentEvent]:
    """Tokens of this process so far and the context window, from ``modelUsage``."""
    per_model = obj.get("modelUsage")
    if not isinstance(per_model, dict) or not per_model:
        return []
    total, window = 0, 0
    for usage in per_model.values():
        if isinstance(usage, dict):
            total += sum(_int(usage.get(k)) for k in ("inputTokens", "outputTokens",
                                                       "cacheReadInputTokens",
                                                       "cacheCreationInputTokens"))
            window = max(window, _int(usage.get("contextWindow")))
    return [UsageReported(context_window=window or None, total_tokens=total)]


def initialize_events(payload: dict[str, Any]) -> list[AgentEvent]:
    """The answer to the ``initialize`` control request: the models offered, the mode."""
    models = payload.get("models")
    choices = tuple(
        Choice(_str(m.get("value")), _str(m.get("displayName")),
               _str(m.get("description")))
        for m in (models if isinstance(models, list) else [])
        if isinstance(m, dict) and _str(m.get("value"))
    )
    events: list[AgentEvent] = []
    if choices:
        events.append(ModelChanged("", choices))
    mode = payload.get("current_permission_mode")
    if isinstance(mode, str) and mode:
        events.append(ModeChanged(mode, CLAUDE_MODES))
    return events


def _assistant(obj: dict[str, Any]) -> list[AgentEvent]:
    from_subagent = obj.get("parent_tool_use_id") is not None
    events: list[AgentEvent] = [] if from_subagent else _message_usage(obj)
    for block in _content_blocks(obj):
        btype = block.get("type")
        if btype == "text" and not from_subagent:
            body = _str(block.get("text"))
            if body:
                events.append(AssistantText(body))
        elif btype == "tool_use":
            tool_input = block.get("input")
            events.append(
                ToolCall(
                    tool_use_id=_str(block.get("id")),
                    name=_str(block.get("name")),
                    input=tool_input if isinstance(tool_input, dict) else {},
                )
            )
    return events


def _user(obj: dict[str, Any]) -> list[AgentEvent]:
    return [
        ToolOutcome(
            tool_use_id=_str(block.get("tool_use_id")),
            content=flatten_content(block.get("content")),
            is_error=block.get("is_error") is True,
        )
        for block in _content_blocks(obj)
        if block.get("type") == "tool_result"
    ]


def _result(obj: dict[str, Any]) -> list[AgentEvent]:
    result = obj.get("result")
    if not isinstance(result, str):
        errors = obj.get("errors")
        errors = errors if isinstance(errors, list) else []
        result = "; ".join(e for e in errors if isinstance(e, str))
    return [
        *_result_usage(obj),  # first: the turn's end shows the context fill
        TurnFinished(
            subtype=_str(obj.get("subtype")),
            is_error=obj.get("is_error") is True,
            result=result,
            duration_ms=_int(obj.get("duration_ms")),
            num_turns=_int(obj.get("num_turns")),
            # the process's running total: ClaudeCodeAdapter turns it into this turn's
            cost_usd=_float(obj.get("total_cost_usd")),
            session_id=_str(obj.get("session_id")),
        ),
    ]


def _control_response(obj: dict[str, Any]) -> list[AgentEvent]:
    response = obj.get("response")
    if not isinstance(response, dict):
        return []
    ok = response.get("subtype") == "success"
    err = response.get("error")
    payload = response.get("response")
    return [
        ControlAnswered(
            request_id=_str(response.get("request_id")),
            ok=ok,
            error="" if ok else (err if isinstance(err, str) else json.dumps(err)),
            payload=payload if isinstance(payload, dict) else {},
        )
    ]


def _stream_event(obj: dict[str, Any], partial: PartialAccumulator | None) -> list[AgentEvent]:
    if partial is None or obj.get("parent_tool_use_id") is not None:
        return []
    event = obj.get("event")
    if not isinstance(event, dict):
        return []
    new_text = partial.feed(event)
    return [PartialText(new_text)] if new_text is not None else []


def parse_line(line: str | bytes, partial: PartialAccumulator | None = None) -> list[AgentEvent]:
    """Events carried by one stdout line; ``[]`` for blank lines and unknown types.

    ``partial`` (optional) turns ``stream_event`` text deltas into ``PartialText``.
    Raises ``StreamJsonError`` if the line is not a JSON object.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    stripped = line.strip()
    if not stripped:
        return []
    try:
        obj = json.loads(stripped)
    except ValueError as exc:
        raise StreamJsonError(f"invalid JSON ({exc})", stripped) from None
    if not isinstance(obj, dict):
        raise StreamJsonError("not a JSON object", stripped)
    ltype = obj.get("type")
    if ltype == "system":
        subtype = obj.get("subtype")
        if subtype == "init":
            return _init(obj)
        if subtype == "status":
            return _status(obj)
        if subtype == "compact_boundary":
            return _compact_boundary(obj)
        return []
    if ltype == "assistant":
        return _assistant(obj)
    if ltype == "user":
        return _user(obj)
    if ltype == "result":
        return _result(obj)
    if ltype == "control_response":
        return _control_response(obj)
    if ltype == "stream_event":
        return _stream_event(obj, partial)
    return []


def _line(obj: dict[str, Any]) -> bytes:
    # ensure_ascii: every non-ASCII char (incl. U+2028/U+2029) and every control char is
    # escaped, so the encoded message can never contain a raw line break.
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def encode_user_message(text: str, images: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """One stdin line carrying a user message; ``images`` as (media type, bytes) become
    base64 image blocks after the text (the content is then a list of blocks)."""
    if not images:
        return _line({"type": "user", "message": {"role": "user", "content": text}})
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for media_type, data in images:
        content.append({"type": "image", "source": {
            "type": "base64", "media_type": media_type,
            "data": base64.b64encode(data).decode("ascii")}})
    return _line({"type": "user", "message": {"role": "user", "content": content}})


def encode_control(request_id: str, subtype: str, **fields: Any) -> bytes:
    """One stdin control request (``set_permission_mode`` with ``mode``, ``set_model`` with
    ``model``, ``initialize``); the answer is a ``control_response`` with the same id."""
    return _line({"type": "control_request", "request_id": request_id,
                  "request": {"subtype": subtype, **fields}})


def encode_interrupt(request_id: str) -> bytes:
    """One stdin line asking the CLI to interrupt the running turn."""
    return _line(
        {"type": "control_request", "request_id": request_id, "request": {"subtype": "interrupt"}}
    )
