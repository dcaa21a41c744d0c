"""Pure text formatting for what agents and the manager say in the chat: the one place for
paths as shown (``display_path``), code blocks, durations, tool lines and message splitting."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from agentchat.chat.textpolicy import guard_agent_text, one_line

MAX_CHUNK = 3500  # characters per chat message: a few phone screens, far below stanza limits

_PATH_TOOLS = {"Read", "Write", "Edit", "MultiEdit", "NotebookEdit"}


def display_path(path: object, cwd: str | os.PathLike[str] | None) -> str:
    """Paths relative to the agent's working directory: shorter and no host layout leaks.

    Lexical (nothing is normalised or resolved): ``a/../b`` stays as the agent wrote it, and
    what it really leads to is the prompts' business (permissions.prompt_text.real_target).
    """
    text = str(path)
    if cwd is None or not text.startswith("/"):
        return text
    try:
        rel = PurePosixPath(text).relative_to(PurePosixPath(os.fspath(cwd)))
    except ValueError:
        return text
    return str(rel) if str(rel) != "." else text


def _clip(text: str, limit: int) -> str:
    text = one_line(re.sub(r"[ \t]+", " ", text.strip()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_line(name: str, tool_input: dict[str, Any], cwd: str | None = None) -> str:
    """One short line per tool call, e.g. ``🔧 Edit src/auth.ts``.

    Always one line whatever the agent put in it (line breaks as ⏎, controls visible), so a
    tool call cannot draw a fake prompt below itself.
    """
    name = _clip(name, 60)
    if name in _PATH_TOOLS:
        path = tool_input.get("file_path") or tool_input.get("notebook_path")
        if isinstance(path, str):
            return f"🔧 {name} {one_line(display_path(path, cwd))}"
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
    if name == "mcp__agentchat__send_file" and isinstance(tool_input.get("path"), str):
        return f"🔧 Send file {display_path(tool_input['path'], cwd)}"
    compact = json.dumps(tool_input, ensure_ascii=False, separators=(",", ":"))
    return f"🔧 {name} {_clip(compact, 80)}" if tool_input else f"🔧 {name}"


def split_message(text: str, limit: int = MAX_CHUNK) -> list[str]:
    """Split long text into chat-sized parts at paragraph or code-block boundaries.

    A block too long for one part is cut at line boundaries (a line longer than a part, hard);
    a code block cut in pieces gets each piece fenced with its opening line, so clients that
    render XEP-0393 styling keep showing code as code. Every part is at most ``limit`` chars.
    """
    text = text.strip("\n")
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for gap, block in _blocks(text):
        candidate = f"{current}{gap}{block}" if current else block
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        pieces = _cut_block(block, limit) if len(block) > limit else [block]
        parts.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        parts.append(current)
    return parts


def _is_fence(line: str) -> bool:
    return line.lstrip().startswith("```")


def _blocks(text: str) -> list[tuple[str, str]]:
    """(separator before it, block): paragraphs and whole code blocks, in order.

    A fenced block is one unit even with blank lines inside; an unclosed one runs to the end.
    """
    out: list[tuple[str, str]] = []
    buf: list[str] = []
    buf_gap = gap = ""
    code: list[str] | None = None
    code_gap = ""
    for line in text.split("\n"):
        if code is not None:
            code.append(line)
            if line.strip() == "```":
                out.append((code_gap, "\n".join(code)))
                code, gap = None, "\n"
            continue
        if _is_fence(line):
            if buf:
                out.append((buf_gap, "\n".join(buf)))
                buf, gap = [], "\n"
            code, code_gap = [line], gap
            continue
        if not line.strip():
            if buf:
                out.append((buf_gap, "\n".join(buf)))
                buf = []
            gap = "\n\n"
            continue
        if not buf:
            buf_gap = gap
        buf.append(line)
    if code is not None:
        out.append((code_gap, "\n".join(code)))
    if buf:
        out.append((buf_gap, "\n".join(buf)))
    return out


def _cut_block(block: str, limit: int) -> list[str]:
    lines = block.split("\n")
    if not _is_fence(lines[0]):
        return _cut_lines(block, limit)
    opener = lines[0].strip() if len(lines[0].strip()) <= 40 else "```"
    body = lines[1:-1] if len(lines) > 1 and lines[-1].strip() == "```" else lines[1:]
    budget = max(limit - len(opener) - len("\n\n```"), limit // 2)
    return [f"{opener}\n{piece}\n```" for piece in _cut_lines("\n".join(body), budget)]


def _cut_lines(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut < limit // 2:
            pieces.append(text[:limit])
            text = text[limit:]
        else:
            pieces.append(text[:cut])
            text = text[cut + 1:]
    if text or not pieces:
        pieces.append(text)
    return pieces


def code_block(text: str | Sequence[str]) -> str:
    """Text (or its lines) in a XEP-0393 preformatted block; a line that would close it early
    gets a space."""
    lines = text.split("\n") if isinstance(text, str) else text
    return "\n".join(["```", *(" " + ln if _is_fence(ln) else ln for ln in lines), "```"])


_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)(?:\s+#+)?\s*$")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_BOLD_UNDERSCORE = re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")


def _spans(line: str) -> str:
    """Markdown strong (``**x**``, ``__x__``) as XEP-0393 ``*x*``, leaving code spans alone."""
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(line):
        out.append(_BOLD_UNDERSCORE.sub(r"*\1*", _BOLD.sub(r"*\1*", line[pos:match.start()])))
        out.append(match.group(0))
        pos = match.end()
    out.append(_BOLD_UNDERSCORE.sub(r"*\1*", _BOLD.sub(r"*\1*", line[pos:])))
    return "".join(out)


def to_styling(text: str) -> str:
    """The agent's Markdown as XEP-0393 message styling, which XMPP clients render.

    Fences move to the start of their line (XEP-0393 only knows unindented ones), headings and
    ``**strong**`` become ``*strong*``; code is never touched. Lines imitating one of our
    prompts are quoted and bidi controls shown (textpolicy.guard_agent_text).
    """
    text = guard_agent_text(text)
    if "#" not in text and "*" not in text and "_" not in text and "`" not in text:
        return text  # nothing any rule below matches: most short answers
    out: list[str] = []
    in_code = False
    for line in text.split("\n"):
        stripped = line.strip()
        if in_code:
            if stripped == "```":
                in_code = False
                line = "```"
            out.append(line)
            continue
        if stripped.startswith("```"):
            in_code = True
            out.append(stripped)
            continue
        heading = _HEADING.match(line)
        if heading is not None:
            title = _spans(heading.group(1)).replace("*", "").strip()
            out.append(f"*{title}*" if title else line)
            continue
        out.append(_spans(line))
    return "\n".join(out)


def spoken_duration(seconds: float) -> str:
    """For sentences: "5 minutes", "1.5 minutes", "30 seconds"."""
    if seconds >= 60:
        minutes = round(seconds / 60, 1)
        return f"{minutes:g} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"


def format_duration(seconds: float) -> str:
    """Compact, for status lines: "5s", "2m 5s", "3h 1m", "3d 0h"."""
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
