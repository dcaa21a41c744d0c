"""A scripted Anthropic Messages API for tests, served in-process on 127.0.0.1.

Why: the real Claude Code CLI must run offline in tests, so it is pointed
(``ANTHROPIC_BASE_URL``) at this server, which answers from a FIFO script.

Telling main-conversation requests from side requests
-----------------------------------------------------
Observed with the pinned CLI (2.1.331, ``-p`` stream-json, see docs/claude-cli-notes.md):
with ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` it sends nothing but
``POST /v1/messages?beta=true`` conversation requests (no title/topic generation, no
quota probe, no count_tokens); without that variable it also sends ``HEAD /api/hello``
(a preconnect). Every conversation request carries the agent's tool list (Bash, Read,
Write, ...), which the side requests older/interactive CLIs send (quota probe with
``max_tokens: 1``, topic/title with the small model, count_tokens) never do. So:

* ``POST /v1/messages`` whose body has a non-empty ``tools`` list → main request:
  recorded in ``requests`` and answered from the script (else the default reply).
  Sub-agent (Agent/Task tool) requests also carry tools, so they count as main
  requests and consume the script too;
* any other ``POST /v1/messages`` → side request: recorded in ``side_requests`` and
  answered with a short canned text, never consuming the script;
* ``POST /v1/messages/count_tokens`` → ``{"input_tokens": <estimate>}`` (side request);
* ``HEAD``/``GET`` ``/`` and ``/api/hello`` → 200, recorded in ``probes``;
* anything else → 404 JSON error, recorded in ``other_requests``.

Pass ``is_main=`` to override the rule (e.g. for a CLI run with ``--tools ""``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from tests.support.scripted_server import (
    ApiError,
    Block,
    Reply,
    ScriptedServer,
    TextBlock,
    ToolUseBlock,
    chunks,
    error,
    estimate_tokens,
    text,
    text_and_tool_use,
    tool_use,
)

__all__ = [
    "ApiError",
    "Block",
    "Reply",
    "ScriptedAnthropic",
    "TextBlock",
    "ToolUseBlock",
    "error",
    "text",
    "text_and_tool_use",
    "tool_use",
]

_DEFAULT_MODEL = "claude-sonnet-4-5"


# --- helpers over request bodies -------------------------------------------------------------


def write_file(path: Path | str, content: str = "hello\n") -> Reply:
    """The model asks to create ``path`` with Claude Code's ``Write`` tool."""
    return tool_use("Write", {"file_path": str(path), "content": content})


def _is_reminder(txt: str) -> bool:
    return txt.lstrip().startswith("<system-reminder>")


def _block_text(content: Any) -> str:
    """Flatten message/tool_result content (string or list of blocks) to text."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def user_text(message: dict[str, Any]) -> str:
    """The human-written text of a user message, without ``<system-reminder>`` blocks."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") == "text":
            t = str(block.get("text", ""))
            if not _is_reminder(t):
                parts.append(t)
    return "\n".join(parts)


def tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a message."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def last_user_message(body: dict[str, Any]) -> dict[str, Any] | None:
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return msg
    return None


def is_main_request(body: dict[str, Any]) -> bool:
    """Main conversation requests always carry the agent's tool list; side requests don't."""
    tools = body.get("tools")
    return isinstance(tools, list) and len(tools) > 0


# --- SSE encoding ----------------------------------------------------------------------------


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _message_json(reply: Reply, model: str, input_tokens: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for b in reply.blocks:
        if isinstance(b, TextBlock):
            content.append({"type": "text", "text": b.text})
        else:
            content.append({"type": "tool_use", "id": b.id, "name": b.name, "input": b.input})
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": max(1, sum(len(json.dumps(c)) for c in content) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


class ScriptedAnthropic(ScriptedServer):
    """The scripted API server. Start with ``await api.start()`` or ``async with``."""

    name = "ScriptedAnthropic"

    def __init__(
        self,
        *,
        model: str = _DEFAULT_MODEL,
        is_main: Callable[[dict[str, Any]], bool] = is_main_request,
    ) -> None:
        self.model = model
        self.is_main = is_main
        super().__init__()

    def api_routes(self) -> list[BaseRoute]:
        return [
            Route("/", self._root, methods=["GET", "HEAD"]),
            Route("/api/hello", self._root, methods=["GET", "HEAD"]),
            Route("/v1/messages", self._messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
        ]

    # --- inspection ------------------------------------------------------------------------

    def last_user_text(self, index: int = -1) -> str:
        """Human text of the last user message of main request ``index``."""
        msg = last_user_message(self.requests[index])
        return user_text(msg) if msg else ""

    def last_tool_results(self, index: int = -1) -> list[dict[str, Any]]:
        """tool_result blocks in the last user message of main request ``index``."""
        msg = last_user_message(self.requests[index])
        return tool_results(msg) if msg else []

    def all_user_texts(self, index: int = -1) -> list[str]:
        """Human text of every user message in main request ``index`` (for resume checks)."""
        return [
            user_text(m)
            for m in self.requests[index].get("messages") or []
            if isinstance(m, dict) and m.get("role") == "user"
        ]

    # --- handlers --------------------------------------------------------------------------

    async def _count_tokens(self, request: Request) -> Response:
        body = await self._json(request)
        await self.record_side(request, body)
        return JSONResponse({"input_tokens": estimate_tokens(body)})

    def _default_reply(self, body: dict[str, Any]) -> Reply:
        msg = last_user_message(body)
        if msg is None:
            return text("echo: ")
        results = tool_results(msg)
        if results:
            return text("done: " + _block_text(results[-1].get("content"))[:200])
        return text("echo: " + user_text(msg))

    async def _messages(self, request: Request) -> Response:
        body = await self._json(request)
        model = str(body.get("model") or self.model)
        if not self.is_main(body):
            await self.record_side(request, body)
            reply = text(self._side_answer(body))
        else:
            reply = await self.take_reply(body, request, self._default_reply(body))
        if reply.error is not None:
            err = reply.error
            return JSONResponse(
                {"type": "error", "error": {"type": err.type, "message": err.message}},
                status_code=err.status,
            )
        tokens = estimate_tokens(body)
        if not body.get("stream"):
            if reply.gate is not None:
                await self._hold(reply.gate)
            return JSONResponse(_message_json(reply, model, tokens))
        return StreamingResponse(
            self.tracked(self._stream(reply, model, tokens)),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "request-id": "req_" + uuid.uuid4().hex[:20]},
        )

    def _side_answer(self, body: dict[str, Any]) -> str:
        """Something plausible for side requests (titles/topics expect short JSON-ish text)."""
        system = json.dumps(body.get("system", ""))
        if "isNewTopic" in system:
            return '{"isNewTopic": false, "title": null}'
        if "title" in system.lower():
            return '{"title": "Scripted session"}'
        return "ok"

    async def _stream(self, reply: Reply, model: str, tokens: int) -> AsyncIterator[bytes]:
        msg = _message_json(reply, model, tokens)
        start = dict(msg, content=[], stop_reason=None)
        start["usage"] = dict(msg["usage"], output_tokens=1)
        yield _sse("message_start", {"type": "message_start", "message": start})
        if reply.gate is not None:
            yield _sse("ping", {"type": "ping"})
            if not await self.held(reply):
                return
        for index, block in enumerate(reply.blocks):
            async for chunk in self._block_events(index, block, reply):
                yield chunk
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": msg["usage"]["output_tokens"]},
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})

    async def _block_events(self, index: int, block: Block, reply: Reply) -> AsyncIterator[bytes]:
        if isinstance(block, TextBlock):
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            pieces = chunks(block.text, reply.chunk_size)
            delta_type, key = "text_delta", "text"
        else:
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block.id,
                        "name": block.name,
                        "input": {},
                    },
                },
            )
            pieces = chunks(json.dumps(block.input), reply.chunk_size)
            delta_type, key = "input_json_delta", "partial_json"
        for i, piece in enumerate(pieces):
            await self.pace(i, reply)
            yield _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": delta_type, key: piece},
                },
            )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
