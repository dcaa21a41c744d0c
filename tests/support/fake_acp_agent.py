#!/usr/bin/env python3
"""A stand-in ACP agent (JSON-RPC 2.0 over stdio) for AcpAdapter unit tests.

Why: the rarer paths (an agent without ``session/load``, a crash mid-turn, a permission
cancelled by an interrupt) need an agent that misbehaves on demand in milliseconds. Stdlib
only; message shapes as Gemini CLI and codex-acp send them.

Prompts: ``ask`` sends ``session/request_permission`` and answers with what came back;
``write`` announces a bare call (a title only, as OpenCode does) and says what it writes in an
update; ``slow`` ends only on ``session/cancel`` (stopReason ``cancelled``); ``crash`` writes
to stderr and exits 3; ``mcp`` answers with the ``mcpServers`` its session was opened with (JSON);
anything else is answered ``echo: <text>``. Exits 0 when stdin closes.

Environment: FAKE_ACP_NO_LOAD=1 → no ``loadSession`` capability; FAKE_ACP_MCP_HTTP=1 →
``mcpCapabilities.http``; FAKE_ACP_SESSIONS=<JSON list> → ``sessionCapabilities.list``, and
``session/list`` answers those (``sessionId``, ``cwd``, ``title``, ``updatedAt``) two a page,
unfiltered.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

_lock = threading.Lock()
_waiting: dict[int, threading.Event] = {}
_answers: dict[int, Any] = {}
_cancelled = threading.Event()
_mcp_servers: list[Any] = []  # as the last session/new or session/load gave them


def send(message: dict[str, Any]) -> None:
    with _lock:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        sys.stdout.flush()


def update(session: str, body: dict[str, Any]) -> None:
    send({"method": "session/update", "params": {"sessionId": session, "update": body}})


def chunk(session: str, text: str) -> None:
    update(session, {"sessionUpdate": "agent_message_chunk",
                     "content": {"type": "text", "text": text}})


def ask(session: str) -> Any:
    event = threading.Event()
    _waiting[900] = event
    call = {"toolCallId": "call-1", "kind": "execute", "title": "Run rm -rf build",
            "status": "pending", "rawInput": {"command": "rm -rf build"}}
    send({"id": 900, "method": "session/request_permission", "params": {
        "sessionId": session, "toolCall": call,
        "options": [{"optionId": "yes", "name": "Yes", "kind": "allow_once"},
                    {"optionId": "no", "name": "No", "kind": "reject_once"}]}})
    event.wait()
    return _answers.pop(900)


def prompt(request_id: int, params: dict[str, Any]) -> None:
    session = params["sessionId"]
    text = "".join(b.get("text", "") for b in params.get("prompt") or [])
    stop = "end_turn"
    if text == "crash":
        sys.stderr.write("fake agent: out of cheese\n")
        sys.stderr.flush()
        os._exit(3)
    elif text == "ask":
        outcome = ask(session).get("outcome", {})
        chunk(session, f"outcome: {outcome.get('optionId') or outcome.get('outcome')}")
    elif text == "write":
        update(session, {"sessionUpdate": "tool_call", "toolCallId": "call-2", "kind": "edit",
                         "title": "write", "status": "pending", "locations": [], "rawInput": {}})
        update(session, {"sessionUpdate": "tool_call_update", "toolCallId": "call-2",
                         "status": "in_progress", "rawInput": {"filePath": "/w/a.txt",
                                                               "content": "hi\n"}})
        update(session, {"sessionUpdate": "tool_call_update", "toolCallId": "call-2",
                         "status": "completed", "rawOutput": {"output": "Wrote file"}})
        chunk(session, "written")
    elif text == "mcp":
        chunk(session, json.dumps(_mcp_servers))
    elif text == "slow":
        _cancelled.wait()
        stop = "cancelled"
    else:
        chunk(session, "echo: ")
        chunk(session, text)
    send({"id": request_id, "result": {"stopReason": stop}})


def main() -> None:
    load = os.environ.get("FAKE_ACP_NO_LOAD") != "1"
    mcp = {"http": os.environ.get("FAKE_ACP_MCP_HTTP") == "1"}
    listed = os.environ.get("FAKE_ACP_SESSIONS")
    sessions = json.loads(listed) if listed else None
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if method in ("session/new", "session/load"):
            _mcp_servers[:] = params.get("mcpServers") or []
        if method is None:  # an answer to our request
            _answers[request_id] = message.get("result")
            _waiting.pop(request_id).set()
        elif method == "initialize":
            caps: dict[str, Any] = {"loadSession": load, "mcpCapabilities": mcp}
            if sessions is not None:
                caps["sessionCapabilities"] = {"list": {}}
            send({"id": request_id, "result": {"protocolVersion": 1, "agentCapabilities": caps}})
        elif method == "session/list" and sessions is not None:
            start = int(params.get("cursor") or 0)
            page: dict[str, Any] = {"sessions": sessions[start:start + 2]}
            if start + 2 < len(sessions):
                page["nextCursor"] = str(start + 2)
            send({"id": request_id, "result": page})
        elif method == "session/new":
            send({"id": request_id, "result": {"sessionId": "fake-session-1"}})
        elif method == "session/load":
            if params.get("sessionId") == "fake-session-1":
                update("fake-session-1", {"sessionUpdate": "agent_message_chunk",
                                          "content": {"type": "text", "text": "old answer"}})
                send({"id": request_id, "result": {}})
            else:
                send({"id": request_id, "error": {"code": -32603, "message": "no such session"}})
        elif method == "session/prompt":
            _cancelled.clear()  # here, not in the thread: a cancel read next must count
            threading.Thread(target=prompt, args=(request_id, params), daemon=True).start()
        elif method == "session/cancel":
            _cancelled.set()
        elif request_id is not None:
            send({"id": request_id, "error": {"code": -32601, "message": "method not found"}})


if __name__ == "__main__":
    main()
