"""Append-only JSON-lines audit of permission requests and decisions ("all grants are logged").

Each line is written with open/append/flush so a crash loses at most the line being written.
Agent secrets never reach this module; tool inputs are reduced to a short summary.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .model import Decision, PermissionRequest
from .prompt_text import summarize_input

log = logging.getLogger(__name__)

SUMMARY_CHARS = 200


class AuditLog:
    """One JSON object per line: events "request", "decision" and "unauthorized"."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, event: dict[str, Any]) -> None:
        """Write one event; an unwritable log is reported but never blocks a decision."""
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **event}
        line = json.dumps(record, ensure_ascii=False, default=str)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
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
                "tool": req.tool_name,
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
                "tool": req.tool_name,
                "input": summarize_input(req.tool_name, req.input, req.cwd, SUMMARY_CHARS),
                "decision": decision.behavior,
                "answered_by": decision.answered_by,
                "by": decision.by_jid,
                "how": decision.how,
                "note": decision.note[:SUMMARY_CHARS],
                "latency_ms": latency_ms,
            }
        )

    def unauthorized(self, tool_name: str, tool_input: dict[str, Any]) -> None:
        """A call without a valid secret: recorded without any agent or owner information."""
        self.append(
            {
                "event": "unauthorized",
                "tool": tool_name,
                "input": summarize_input(tool_name, tool_input, None, SUMMARY_CHARS),
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
