"""Append-only JSON-lines audit of permission requests and decisions ("all grants are logged").

Each line is written with open/append/flush so a crash loses at most the line being written.
Agent secrets never reach this module; tool inputs are reduced to a short summary.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .model import Decision, PermissionRequest
from .prompt_text import summarize_input

log = logging.getLogger(__name__)

SUMMARY_CHARS = 200
TOOL_CHARS = 100  # a tool name comes from the caller: capped like everything else


class AuditLog:
    """One JSON object per line: events "request", "decision" and "unauthorized"."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._private = False  # mode checked since we opened it

    def append(self, event: dict[str, Any]) -> None:
        """Write one event; an unwritable log is reported but never blocks a decision."""
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **event}
        line = json.dumps(record, ensure_ascii=False, default=str)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # 0600: tool inputs and JIDs are nobody else's business (an older 0644 log too)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            # a lone surrogate (JSON "\ud800" from a caller) is written as that JSON escape
            with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as fh:
                if not self._private:
                    os.fchmod(fd, 0o600)
                    self._private = True
                fh.write(line + "\n")
                fh.flush()
        except OSError:
            log.exception("cannot write permission audit log %s", self.path)

    def request(self, req: PermissionRequest) -> None:
        self.append(
            {
                "event": "request",
                "id": req.id,
                "agent": req.agent,
                "owner": req.owner,
                "tool": req.tool_name[:TOOL_CHARS],
                "kind": req.kind,
                "tool_use_id": req.tool_use_id,
                "input": summarize_input(req.tool_name, req.input, req.cwd, SUMMARY_CHARS),
            }
        )

    def decision(self, req: PermissionRequest, decision: Decision, latency_ms: int) -> None:
        self.append(
            {
                "event": "decision",
                "id": req.id,
                "agent": req.agent,
                "owner": req.owner,
                "tool": req.tool_name[:TOOL_CHARS],
                "input": summarize_input(req.tool_name, req.input, req.cwd, SUMMARY_CHARS),
                "decision": decision.behavior,
                "answered_by": decision.answered_by,
                "by": decision.by_jid,
                "how": decision.how,
                **({"room": decision.room} if decision.room else {}),
                "note": decision.note[:SUMMARY_CHARS],
                "latency_ms": latency_ms,
            }
        )

    def unauthorized(self, reason: str) -> None:
        """A caller without a valid secret: one capped line, nothing of what it sent."""
        self.append(
            {
                "event": "unauthorized",
                "reason": reason[:SUMMARY_CHARS],
                "decision": "deny",
                "answered_by": "auth",
            }
        )


def read_audit(path: Path | str) -> list[dict[str, Any]]:
    """All events in a log file (for tests and diagnostics)."""
    p = Path(path)
    if not p.exists():
        return []
    out: list[dict[str, Any]] = []
    for line in p.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out
