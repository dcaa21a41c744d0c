"""A scripted Gemini API (``generativelanguage``) for the real Gemini CLI, on 127.0.0.1.

Point the CLI at it with ``GOOGLE_GEMINI_BASE_URL`` (see ``agent_envs.gemini_env``). Routes
(checked with @google/gemini-cli 0.61.0, ``gemini --acp``):

* ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` → the conversation. Answered from
  the script as SSE ``data: {GenerateContentResponse}`` lines; each response has its own
  ``responseId``;
* ``POST …:generateContent`` → the same object as JSON. Requests whose
  ``generationConfig.responseMimeType`` is ``application/json`` (routing, next-speaker checks)
  are side requests on either route: answered with an object built from their schema, never
  consuming the script;
* ``POST …:countTokens`` → ``{"totalTokens": n}`` (side request).

A tool call is a ``functionCall`` part (``write_file`` with ``file_path``/``content``,
``run_shell_command`` with ``command``); its result comes back in the next request as a
``functionResponse`` part of a user turn.
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
    chunks,
    estimate_tokens,
    text,
    tool_use,
)

DEFAULT_MODEL = "gemini-2.5-pro"


def write_file(path: Path | str, content: str = "hello\n") -> Reply:
    """The model asks to create ``path`` (the CLI asks the client for permission first)."""
    return tool_use("write_file", {"file_path": str(path), "content": content})


def shell(command: str) -> Reply:
    return tool_use("run_shell_command", {"command": command, "description": "scripted"})


def is_json_mode(body: dict[str, Any]) -> bool:
    config = body.get("generationConfig") or {}
    return isinstance(config, dict) and config.get("responseMimeType") == "application/json"


def fill_schema(schema: Any) -> Any:
    """A value that fits a (Gemini-dialect) JSON schema: enough for the CLI's side calls."""
    if not isinstance(schema, dict):
        return None
    kind = str(schema.get("type", "object")).lower()
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        # next-speaker checks: "user" means "the model is done", which is what a script wants
        return "user" if "user" in enum else enum[0]
    if kind == "object":
        props = schema.get("properties") or {}
        return {key: fill_schema(sub) for key, sub in props.items()}
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        low = schema.get("minimum", 0)
        return max(low, 1) if kind == "integer" else float(max(low, 1))
    if kind == "boolean":
        return False
    return "scripted"


def user_texts_of(content: dict[str, Any]) -> list[str]:
    return [str(p["text"]) for p in content.get("parts") or [] if isinstance(p, dict)
            and isinstance(p.get("text"), str)]


def function_responses(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [p["functionResponse"] for p in content.get("parts") or []
            if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)]


def _contents(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in body.get("contents") or [] if isinstance(c, dict)]


def _user_turns(body: dict[str, Any]) -> list[dict[str, Any]]:
    """User contents the person typed (not tool results, not the CLI's context preamble)."""
    turns = []
    for content in _contents(body):
        if content.get("role") != "user" or function_responses(content):
            continue
        texts = [t for t in user_texts_of(content) if not _is_context(t)]
        if texts:
            turns.append(content)
    return turns


def _is_context(part: str) -> bool:
    """The CLI's first user turn starts with its environment context (workspace, date…)."""
    return "<session_context>" in part or part.startswith("This is the Gemini CLI")


def human_text(content: dict[str, Any]) -> str:
    return "\n".join(t for t in user_texts_of(content) if not _is_context(t)).strip()


class ScriptedGemini(ScriptedServer):
    name = "ScriptedGemini"

    def __init__(self, *, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        super().__init__()

    def api_routes(self) -> list[BaseRoute]:
        return [Route("/v1beta/models/{call:path}", self._call, methods=["POST"])]

    # --- inspection ------------------------------------------------------------------------

    def last_user_text(self, index: int = -1) -> str:
        """What the person typed last, as seen by main request ``index``."""
        turns = _user_turns(self.requests[index])
        return human_text(turns[-1]) if turns else ""

    def all_user_texts(self, index: int = -1) -> list[str]:
        """Every typed user turn in main request ``index`` (the remembered conversation)."""
        return [human_text(c) for c in _user_turns(self.requests[index])]

    def last_tool_results(self, index: int = -1) -> list[dict[str, Any]]:
        """``functionResponse`` parts of the last content of main request ``index``."""
        contents = _contents(self.requests[index])
        return function_responses(contents[-1]) if contents else []

    def request_text(self, index: int = -1) -> str:
        return json.dumps(self.requests[index], ensure_ascii=False)

    # --- handlers --------------------------------------------------------------------------

    def _default_reply(self, body: dict[str, Any]) -> Reply:
        contents = _contents(body)
        if contents and function_responses(contents[-1]):
            result = json.dumps(function_responses(contents[-1])[-1].get("response"))
            return text("done: " + result[:200])
        turns = _user_turns(body)
        return text("echo: " + (human_text(turns[-1]) if turns else ""))

    async def _call(self, request: Request) -> Response:
        model, _, method = request.path_params["call"].rpartition(":")
        body = await self._json(request)
        if method == "countTokens":
            await self.record_side(request, body)
            return JSONResponse({"totalTokens": estimate_tokens(body)})
        if method not in ("streamGenerateContent", "generateContent"):
            return await self._unknown(request)
        if is_json_mode(body):
            await self.record_side(request, body)
            schema = (body.get("generationConfig") or {}).get("responseJsonSchema") or (
                body.get("generationConfig") or {}).get("responseSchema")
            answer = json.dumps(fill_schema(schema or {"type": "object"}))
            reply = text(answer)
        else:
            reply = await self.take_reply(body, request, self._default_reply(body))
        if reply.error is not None:
            err = reply.error
            return JSONResponse(
                {"error": {"code": err.status, "message": err.message, "status": err.type}},
                status_code=err.status,
            )
        model = model or self.model
        tokens = estimate_tokens(body)
        if method == "generateContent":
            if not await self.held(reply):
                return Response(status_code=503)
            return JSONResponse(self._response(reply, model, tokens, list(reply.blocks), True))
        return StreamingResponse(
            self.tracked(self._stream(reply, model, tokens)),
            media_type="text/event-stream",
        )

    def _response(
        self, reply: Reply, model: str, tokens: int, parts: list[Any], last: bool,
        response_id: str = "",
    ) -> dict[str, Any]:
        encoded = []
        for part in parts:
            if isinstance(part, str):
                encoded.append({"text": part})
            elif isinstance(part, TextBlock):
                encoded.append({"text": part.text})
            else:
                encoded.append({"functionCall": {"name": part.name, "args": part.input,
                                                 "id": part.id}})
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": encoded}, "index": 0}
        out: dict[str, Any] = {
            "candidates": [candidate],
            "modelVersion": model,
            "responseId": response_id or "resp_" + uuid.uuid4().hex[:20],
        }
        if last:
            candidate["finishReason"] = "STOP"
            out["usageMetadata"] = {"promptTokenCount": tokens, "candidatesTokenCount": 5,
                                    "totalTokenCount": tokens + 5}
        return out

    async def _stream(self, reply: Reply, model: str, tokens: int) -> AsyncIterator[bytes]:
        response_id = "resp_" + uuid.uuid4().hex[:20]  # one per response, shared by its chunks
        if not await self.held(reply):
            return
        pieces: list[Any] = []
        for block in reply.blocks:
            if isinstance(block, TextBlock):
                pieces += chunks(block.text, reply.chunk_size)
            else:
                pieces.append(block)
        if not pieces:
            pieces = [""]
        for i, piece in enumerate(pieces):
            await self.pace(i, reply)
            data = self._response(reply, model, tokens, [piece], i == len(pieces) - 1,
                                  response_id)
            yield f"data: {json.dumps(data)}\r\n\r\n".encode()
