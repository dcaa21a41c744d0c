"""Pure text formatting for what agents and the manager say in the chat."""

from __future__ import annotations

import json
import os
from typing import Any

MAX_CHUNK = 3500  # characters per chat message: readable on a phone, far below stanza limits

_PATH_TOOLS = {"Read", "Write", "Edit", "MultiEdit", "NotebookEdit"}


def short_path(path: str, cwd: str | None) -> str:
    """A path relative to the repository when it lies inside it."""
    if cwd and os.path.isabs(path):
        try:
            rel = os.path.relpath(path, cwd)
        except ValueError:
            return path
        if not rel.startswith(".."):
            return rel
    return path


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_line(name: str, tool_input: dict[str, Any], cwd: str | None = None) -> str:
    """One short line per tool call, e.g. ``🔧 Edit src/auth.ts``."""
    if name in _PATH_TOOLS:
        path = tool_input.get("file_path") or tool_input.get("notebook_path")
        if isinstance(path, str):
            return f"🔧 {name} {short_path(path, cwd)}"
    if name == "Bash" and isinstance(tool_input.get("command"), str):
        return f"🔧 Bash: {_clip(tool_input['command'], 120)}"
    if name in ("Glob", "Grep") and isinstance(tool_input.get("pattern"), str):
        return f"🔧 {name} {_clip(tool_input['pattern'], 80)}"
    if name in ("WebFetch",) and isinstance(tool_input.get("url"), str):
        return f"🔧 WebFetch {_clip(tool_input['url'], 120)}"
    if name == "WebSearch" and isinstance(tool_input.get("query"), str):
        return f"🔧 WebSearch {_clip(tool_input['query'], 80)}"
    if name == "TodoWrite":
        return "🔧 Updated the todo list"
    compact = json.dumps(tool_input, ensure_ascii=False, separators=(",", ":"))
    return f"🔧 {name} {_clip(compact, 80)}" if tool_input else f"🔧 {name}"


def split_message(text: str, limit: int = MAX_CHUNK) -> list[str]:
    """Split long text into chat-sized parts at paragraph, then line, then hard boundaries.

    A code block cut in two is closed at the end of one part and reopened in the next, so
    clients that render XEP-0393 styling keep showing code as code.
    """
    text = text.strip("\n")
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for para in _paragraphs(text):
        candidate = f"{current}\n\n{para}" if current else para
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = ""
        while len(para) > limit:
            cut = para.rfind("\n", 0, limit)
            if cut < limit // 2:
                cut = limit
            parts.append(para[:cut])
            para = para[cut:].lstrip("\n")
        current = para
    if current:
        parts.append(current)
    return _balance_fences(parts)


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, but a fenced code block is never split by blank lines."""
    out: list[str] = []
    buf: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
        if not line.strip() and not in_code:
            if buf:
                out.append("\n".join(buf))
                buf = []
            continue
        buf.append(line)
    if buf:
        out.append("\n".join(buf))
    return out


def _balance_fences(parts: list[str]) -> list[str]:
    out: list[str] = []
    reopen = False
    for part in parts:
        if reopen:
            part = "```\n" + part
        fences = sum(1 for line in part.split("\n") if line.strip().startswith("```"))
        reopen = fences % 2 == 1
        if reopen:
            part = part + "\n```"
        out.append(part)
    return out


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
