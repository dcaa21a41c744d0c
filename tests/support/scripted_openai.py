"""A scripted OpenAI Responses API for Codex (``codex-acp``), served on 127.0.0.1.

Codex reads its provider from ``$CODEX_HOME/config.toml`` (``agent_envs.codex_env`` writes one
naming this server). Routes, checked with @zed-industries/codex-acp 0.16.0:

* ``POST /v1/responses`` (``"stream": true``) → the conversation, answered from the script as
  SSE events ``response.created``, ``response.output_item.added``,
  ``response.output_text.delta``, ``response.output_item.done``, ``response.completed``; every
  response and every output item has its own id;
* ``GET /v1/models`` → a one-model list.

Tool calls: a tool the request declares as ``"type": "custom"`` (``apply_patch``) gets a
``custom_tool_call`` whose ``input`` is the tool input's ``"input"`` text; any other a
``function_call`` with JSON ``arguments``; an MCP tool (Codex declares each server as a
``"type": "namespace"`` tool such as ``mcp__agentchat`` holding its functions), scripted as
``mcp__agentchat__send_file``, gets a ``function_call`` with that ``namespace`` and the bare
``name``. Results come back as ``function_call_output`` /
``custom_tool_call_output`` input items of the next request.
"""

from __future__ import annotations

import json
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
    ToolUseBlock,
    chunks,
    estimate_tokens,
    text,
    tool_use,
)

DEFAULT_MODEL = "gpt-5.5"  # a built-in Codex model name: others lose the apply_patch tool
_CONTEXT_MARKS = ("<environment_context>", "<user_instructions>", "<permissions instructions>",
                  "# AGENTS.md", "<INSTRUCTIONS>")
_OUTPUTS = ("function_call_output", "custom_tool_call_output")


def write_file(path: Path | str, content: str = "hello\n") -> Reply:
    """The model asks to create ``path`` with an ``apply_patch`` call (Codex asks first)."""
    lines = "".join(f"+{line}\n" for line in content.splitlines())
    patch = f"*** Begin Patch\n*** Add File: {path}\n{lines}*** End Patch\n"
    return tool_use("apply_patch", {"input": patch})


def shell(command: str) -> Reply:
    """A shell command through Codex's ``exec_command`` tool."""
    return tool_use("exec_command", {"cmd": command})


def _texts(item: dict[str, Any]) -> list[str]:
    content = item.get("content")
    if isinstance(content, str):
        return [content]
    return [str(c.get("text", "")) for c in content or [] if isinstance(c, dict)
            and c.get("type") in ("input_text", "output_text", "text")]


def _is_context(part: str) -> bool:
    return part.lstrip().startswith(_CONTEXT_MARKS)


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in body.get("input") or [] if isinstance(i, dict)]


def _user_messages(body: dict[str, Any]) -> list[str]:
    out = []
    for item in _items(body):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            typed = "\n".join(t for t in _texts(item) if not _is_context(t)).strip()
            if typed:
                out.append(typed)
    return out


def _custom_tools(body: dict[str, Any]) -> set[str]:
    return {str(t.get("name")) for t in body.get("tools") or []
            if isinstance(t, dict) and t.get("type") == "custom"}


def _namespaces(body: dict[str, Any]) -> set[str]:
    return {str(t.get("name")) for t in body.get("tools") or []
            if isinstance(t, dict) and t.get("type") == "namespace"}


def _sse(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


class ScriptedOpenAI(ScriptedServer):
    name = "ScriptedOpenAI"

    def __init__(self, *, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        super().__init__()

    def api_routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/responses", self._responses, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]

    # --- inspection ------------------------------------------------------------------------

    def all_user_texts(self, index: int = -1) -> list[str]:
        """Every typed user message in main request ``index`` (the remembered conversation)."""
        return _user_messages(self.requests[index])

    def last_user_text(self, index: int = -1) -> str:
        texts = _user_messages(self.requests[index])
        return texts[-1] if texts else ""

    def last_tool_results(self, index: int = -1) -> list[dict[str, Any]]:
        """Tool outputs after the last assistant turn of main request ``index``."""
        items = _items(self.requests[index])
        return [i for i in items if i.get("type") in _OUTPUTS][-1:]

    # --- handlers --------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        self.probes.append(f"{request.method} {request.url.path}")
        return JSONResponse({"object": "list", "data": [
            {"id": self.model, "object": "model", "owned_by": "scripted"}]})

    def _default_reply(self, body: dict[str, Any]) -> Reply:
        items = _items(body)
        if items and items[-1].get("type") in _OUTPUTS:
            return text("done: " + str(items[-1].get("output"))[:200])
        users = _user_messages(body)
        return text("echo: " + (users[-1] if users else ""))

    async def _responses(self, request: Request) -> Response:
        body = await self._json(request)
        reply = await self.take_reply(body, request, self._default_reply(body))
        if reply.error is not None:
            err = reply.error
            return JSONResponse({"error": {"type": err.type, "message": err.message}},
                                status_code=err.status)
        return StreamingResponse(
            self.tracked(self._stream(reply, str(body.get("model") or self.model),
                                      estimate_tokens(body), _custom_tools(body),
                                      _namespaces(body))),
            media_type="text/event-stream",
        )

    async def _stream(
        self, reply: Reply, model: str, tokens: int, custom: set[str],
        namespaces: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> AsyncIterator[bytes]:
        response: dict[str, Any] = {"id": "resp_" + uuid.uuid4().hex[:24], "object": "response",
                                    "model": model, "status": "in_progress", "output": []}
        yield _sse({"type": "response.created", "response": response})
        if not await self.held(reply):
            return
        output = []
        for index, block in enumerate(reply.blocks):
            if isinstance(block, TextBlock):
                item_id = "msg_" + uuid.uuid4().hex[:24]
                yield _sse({"type": "response.output_item.added", "output_index": index,
                            "item": {"type": "message", "id": item_id, "role": "assistant",
                                     "status": "in_progress", "content": []}})
                for i, piece in enumerate(chunks(block.text, reply.chunk_size)):
                    await self.pace(i, reply)
                    yield _sse({"type": "response.output_text.delta", "item_id": item_id,
                                "output_index": index, "content_index": 0, "delta": piece})
                item = {"type": "message", "id": item_id, "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": block.text,
                                     "annotations": []}]}
            else:
                item = self._tool_item(block, custom, namespaces)
                yield _sse({"type": "response.output_item.added", "output_index": index,
                            "item": item})
            output.append(item)
            yield _sse({"type": "response.output_item.done", "output_index": index,
                        "item": item})
        done = dict(response, status="completed", output=output,
                    usage={"input_tokens": tokens, "output_tokens": 5,
                           "total_tokens": tokens + 5,
                           "input_tokens_details": {"cached_tokens": 0},
                           "output_tokens_details": {"reasoning_tokens": 0}})
        yield _sse({"type": "response.completed", "response": done})

    def _tool_item(self, block: ToolUseBlock, custom: set[str],
                   namespaces: set[str]) -> dict[str, Any]:
        call_id = "call_" + block.id.removeprefix("toolu_")
        for namespace in namespaces:
            if block.name.startswith(namespace + "__"):
                return {"type": "function_call", "id": "fc_" + uuid.uuid4().hex[:24],
                        "call_id": call_id, "namespace": namespace,
                        "name": block.name.removeprefix(namespace + "__"),
                        "arguments": json.dumps(block.input), "status": "completed"}
        if block.name in custom:
            return {"type": "custom_tool_call", "id": "ctc_" + uuid.uuid4().hex[:24],
                    "call_id": call_id, "name": block.name,
                    "input": str(block.input.get("input", "")), "status": "completed"}
        return {"type": "function_call", "id": "fc_" + uuid.uuid4().hex[:24],
                "call_id": call_id, "name": block.name,
                "arguments": json.dumps(block.input), "status": "completed"}
