#!/usr/bin/env python3
"""A stand-in for ``claude -p --input-format stream-json --output-format stream-json``.

Why: adapter unit tests need a process that speaks the protocol in milliseconds and
can misbehave on demand. Stdlib only; line shapes copied from the real CLI 2.1.331.

Per user line: ``system/init`` (like the real CLI, at the start of every turn), an
``assistant`` line ``echo: <text>`` and a ``result`` line. A user text starting with
``slow`` starts a turn that only ends when an interrupt control request arrives.
Exits 0 when stdin closes.

Environment switches:
  FAKE_CLI_EXIT_CODE=N, FAKE_CLI_STDERR=text  on the first user line: write text to
                                              stderr and exit N (a crash)
  FAKE_CLI_HUGE_LINE=N                        before the first reply print an assistant
                                              line carrying N bytes of text
  FAKE_CLI_GARBAGE=1                          print a non-JSON line before each init
  FAKE_CLI_STUBBORN=1                         ignore stdin EOF and SIGTERM (needs SIGKILL)
  FAKE_CLI_ARGV_FILE=path                     write argv as JSON to path at startup
  FAKE_CLI_GRANDCHILD=N                       start `sleep N` that inherits stdout/stderr
                                              and outlives this process
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from typing import Any


def _session_id(argv: list[str]) -> str:
    for arg in argv:
        for prefix in ("--session-id=", "--resume="):
            if arg.startswith(prefix):
                return arg[len(prefix) :]
    return str(uuid.uuid4())


SESSION = _session_id(sys.argv[1:])


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def init() -> None:
    if os.environ.get("FAKE_CLI_GARBAGE"):
        sys.stdout.write("this is not json\n")
    emit(
        {
            "type": "system",
            "subtype": "init",
            "cwd": os.getcwd(),
            "session_id": SESSION,
            "tools": ["Bash", "Read", "Write"],
            "mcp_servers": [],
            "model": "fake-model",
            "permissionMode": "default",
        }
    )


def assistant(body: str) -> None:
    emit(
        {
            "type": "assistant",
            "message": {
                "id": "msg_" + uuid.uuid4().hex[:24],
                "type": "message",
                "role": "assistant",
                "model": "fake-model",
                "content": [{"type": "text", "text": body}],
            },
            "parent_tool_use_id": None,
            "session_id": SESSION,
        }
    )


def result(body: str, *, error: bool = False) -> None:
    line: dict[str, Any] = {
        "type": "result",
        "subtype": "error_during_execution" if error else "success",
        "is_error": error,
        "duration_ms": 1,
        "num_turns": 1,
        "total_cost_usd": 0.0,
        "session_id": SESSION,
    }
    if not error:
        line["result"] = body
    emit(line)


def user_text(msg: dict[str, Any]) -> str:
    content = msg.get("message", {}).get("content", "")
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content if b.get("type") == "text")


def main() -> int:
    argv_file = os.environ.get("FAKE_CLI_ARGV_FILE")
    if argv_file:
        with open(argv_file, "w") as f:
            json.dump(sys.argv, f)
    grandchild = os.environ.get("FAKE_CLI_GRANDCHILD")
    if grandchild:
        subprocess.Popen(["sleep", grandchild], stdin=subprocess.DEVNULL)
    stubborn = bool(os.environ.get("FAKE_CLI_STUBBORN"))
    if stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    first = True
    slow_pending = False
    for raw in sys.stdin:
        if not raw.strip():
            continue
        msg = json.loads(raw)
        if msg.get("type") == "control_request":
            request_id = msg.get("request_id", "")
            if msg.get("request", {}).get("subtype") == "interrupt":
                emit(
                    {
                        "type": "control_response",
                        "response": {"subtype": "success", "request_id": request_id},
                    }
                )
                if slow_pending:
                    slow_pending = False
                    emit(
                        {
                            "type": "user",
                            "message": {
                                "role": "user",
                                "content": [
                                    {"type": "text", "text": "[Request interrupted by user]"}
                                ],
                            },
                            "parent_tool_use_id": None,
                            "session_id": SESSION,
                        }
                    )
                    result("", error=True)
            else:
                emit(
                    {
                        "type": "control_response",
                        "response": {
                            "subtype": "error",
                            "request_id": request_id,
                            "error": "unsupported control request",
                        },
                    }
                )
            continue
        if msg.get("type") != "user":
            continue
        if first:
            first = False
            code = os.environ.get("FAKE_CLI_EXIT_CODE")
            if code:
                sys.stderr.write(os.environ.get("FAKE_CLI_STDERR", "fake crash") + "\n")
                sys.stderr.flush()
                return int(code)
            huge = int(os.environ.get("FAKE_CLI_HUGE_LINE", "0") or 0)
            if huge:
                init()
                assistant("x" * huge)
        text = user_text(msg)
        init()
        if text.startswith("slow"):
            slow_pending = True
            continue
        assistant("echo: " + text)
        result("echo: " + text)
    if stubborn:
        threading.Event().wait()  # stdin closed: keep running until SIGKILL
    return 0


if __name__ == "__main__":
    sys.exit(main())
