"""Logging: one line per event, with registered secrets redacted from every record.

The filter sits on the root handler, so records from every logger (ours, slixmpp, uvicorn)
pass through it; the component secret and MCP tokens therefore never reach the log.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from agentchat.chat.textpolicy import one_log_line

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("debug", "info", "warning", "error", "critical")
REDACTED = "[redacted]"

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Redact ``secret`` from all log output from now on (empty strings are ignored)."""
    if secret:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """Replace every registered secret in ``text``; longest first so overlaps stay hidden."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Formats the message once, redacts it, and freezes it into the record.

    The message also becomes one line (newlines and control characters escaped): a value from
    an agent or a stranger cannot forge a log line or colour the operator's terminal.
    Tracebacks stay multi-line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = one_log_line(record.getMessage())
        record.msg = redact(message) if _secrets else message
        record.args = None
        if not _secrets:
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def parse_level(name: str) -> int:
    """Map a level name (any case) to its number; ValueError for unknown names."""
    if name.lower() not in LEVELS:
        raise ValueError(f"unknown log level {name!r} (use one of: {', '.join(LEVELS)})")
    return logging.getLevelName(name.upper())  # type: ignore[no-any-return]


def setup_logging(level: str = "info", stream: TextIO | None = None) -> logging.Handler:
    """Install a single redacting stderr handler on the root logger; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(parse_level(level))
    return handler
