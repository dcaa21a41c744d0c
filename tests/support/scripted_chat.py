"""A scripted OpenAI Chat Completions API for OpenCode (``opencode acp``), served on 127.0.0.1.

OpenCode reaches it through a provider of ``~/.config/opencode/opencode.json`` built on
``@ai-sdk/openai-compatible`` (``agent_envs.opencode_env`` writes one). Routes, checked with
opencode-ai 1.18.33:

* ``POST /v1/chat/completions`` (``"stream": true``) → answered as SSE
  ``data: {chat.completion.chunk}`` lines, then ``data: [DONE]``; every completion has its own
  id. Requests that declare no ``tools`` (session titles, summaries) are side requests: they
  get a short text and never consume the script;
* ``GET /v1/models`` → a one-model list.

A tool call is a ``tool_calls`` delta (``write`` with ``filePath``/``content``, ``bash`` with
``command``/``description``); its result comes back as a ``"role": "tool"`` message of the
next request.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from tests.support.scripted_server import (
    Reply,
    ScriptedServer,
    TextBlock,
    chunks,
    estimate_tokens,
    text,
    tool_use,
)

DEFAULT_MODEL = "fake-model"


def write_file(path: Path | str, content: str = "hello\n") -> Reply:
    """The model asks to create ``path`` with OpenCode's ``write`` tool (asked first)."""
    return tool_use("write", {"filePath": str(path), "content": content})


def shell(command: str) -> Reply:
    return tool_use("bash", {"command": command, "description": "scripted"})


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content
                         if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body.get("messages") or [] if isinstance(m, dict)]


def _user_texts(body: dict[str, Any]) -> list[str]:
    """What the person typed, in order (OpenCode sends only their text as user content)."""
    out = []
    for message in _messages(body):
        if message.get("role") == "user":
            typed = _text_of(message.get("content")).strip()
            if typed:
                out.append(typed)
    return out


def _sse(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


class ScriptedChatCompletions(ScriptedServer):
    name = "ScriptedChatCompletions"

    def __init__(self, *, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        super().__init__()

    def api_routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/chat/completions", self._completions, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]

    # --- inspection ------------------------------------------------------------------------

    def all_user_texts(self, index: int = -1) -> list[str]:
        """Every typed user message in main request ``index`` (the remembered conversation)."""
        return _user_texts(self.requests[index])

    def last_user_text(self, index: int = -1) -> str:
        texts = _user_texts(self.requests[index])
        return texts[-1] if texts else ""

    def last_tool_results(self, index: int = -1) -> list[dict[str, Any]]:
        """The ``tool`` messages after the last assistant message of main request ``index``."""
        messages = _messages(self.requests[index])
        tail: list[dict[str, Any]] = []
        for message in reversed(messages):
            if message.get("role") != "tool":
                break
            tail.insert(0, message)
        return tail

    # --- handlers --------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        self.probes.append(f"{request.method} {request.url.path}")
        return JSONResponse({"object": "list", "data": [
            {"id": self.model, "object": "model", "owned_by": "scripted"}]})

    def _default_reply(self, body: dict[str, Any]) -> Reply:
        messages = _messages(body)
        if messages and messages[-1].get("role") == "tool":
            return text("done: " + _text_of(messages[-1].get("content"))[:200])
        users = _user_texts(body)
        return text("echo: " + (users[-1] if users else ""))

    async def _completions(self, request: Request) -> Response:
        body = await self._json(request)
        model = str(body.get("model") or self.model)
        if not body.get("tools"):
            await self.record_side(request, body)
            reply = text("Scripted title")
        else:
            reply = await self.take_reply(body, request, self._default_reply(body))
        if reply.error is not None:
            err = reply.error
            return JSONResponse({"error": {"type": err.type, "message": err.message}},
                                status_code=err.status)
        return StreamingResponse(self.tracked(self._stream(reply, model, estimate_tokens(body))),
                                 media_type="text/event-stream")

    async def _stream(self, reply: Reply, model: str, tokens: int) -> AsyncIterator[bytes]:
        base = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return _sse({**base, "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}]})

        yield chunk({"role": "assistant", "content": ""})
        if not await self.held(reply):
            return
        calls = 0
        for block in reply.blocks:
            if isinstance(block, TextBlock):
                for i, piece in enumerate(chunks(block.text, reply.chunk_size)):
                    await self.pace(i, reply)
                    yield chunk({"content": piece})
            else:
                arguments = json.dumps(block.input)
                call_id = "call_" + block.id.removeprefix("toolu_")
                for i, piece in enumerate(chunks(arguments, reply.chunk_size)):
                    await self.pace(i, reply)
                    head = {"id": call_id, "type": "function",
                            "function": {"name": block.name, "arguments": piece}}
                    delta = head if i == 0 else {"function": {"arguments": piece}}
                    yield chunk({"tool_calls": [{"index": calls, **delta}]})
                calls += 1
        yield chunk({}, "tool_calls" if calls else "stop")
        yield _sse({**base, "choices": [], "usage": {"prompt_tokens": tokens,
                                                     "completion_tokens": 5,
                                                     "total_tokens": tokens + 5}})
        yield _sse("[DONE]")
