"""Claude Code's own session store: which sessions a repository has, and whether one is open.

Checked against the pinned CLI (2.1.331):

* A session is ``<config dir>/projects/<project>/<session id>.jsonl``, ``<config dir>`` being
  ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``. ``<project>`` is the working directory with every
  character but ``[a-zA-Z0-9]`` replaced by ``-`` (per UTF-16 unit, as JavaScript counts); a
  name longer than 200 characters is cut to 200 and ``-<hash>`` appended, the hash being
  JavaScript's ``(h << 5) - h + c | 0`` over the path's UTF-16 units, ``abs``, in base 36.
* Each line is one JSON object. The user's prompts are ``"type": "user"`` lines whose
  ``message.content`` is a string or a list of blocks (``text``, ``tool_result``, ``image``);
  ``isSidechain`` marks a sub-agent's, ``isMeta`` the CLI's own (caveats, command output).
  A ``queue-operation`` line with ``operation: enqueue`` and ``content`` comes first in
  ``-p`` mode. Lines can be megabytes long (pasted text, images).
* An interactive CLI registers itself in ``<config dir>/sessions/<pid>.json`` (``pid``,
  ``sessionId``, ``cwd``, ``startedAt``) and deletes the file when it exits; ``-p`` runs do not.

Why bounded reads: a transcript can be hundreds of MB; the listing needs only its first
prompt, so at most ``HEAD_BUDGET`` bytes of each file are read.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISREG
from typing import Any

from agentchat.sessions.model import SessionInfo

HEAD_BUDGET = 1 << 20  # bytes read from the start of a transcript to find its first prompt
LINE_LIMIT = 256 << 10  # a longer line is not parsed as JSON; its prompt is salvaged
PID_FILE_LIMIT = 64 << 10
RECENT_WRITE_S = 120.0  # a transcript written this recently may be open in a terminal
LIMIT = 10  # sessions listed per repository and agent type
_NAME_LIMIT = 200
_SESSION_FILE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                           r"[0-9a-fA-F]{12}\.jsonl$")
# What the CLI writes as a "user" message that the user did not type as a prompt.
_NOT_A_PROMPT = ("<command-", "<local-command-", "<system-reminder>", "Caveat: ")


def _utf16_units(text: str) -> Iterator[int]:
    for char in text:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            yield 0xD800 + (code >> 10)
            yield 0xDC00 + (code & 0x3FF)
        else:
            yield code


def _js_hash(text: str) -> int:
    value = 0
    for unit in _utf16_units(text):
        value = ((value << 5) - value + unit) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def project_dir_name(cwd: str) -> str:
    """The directory under ``projects/`` where the CLI keeps the sessions run in ``cwd``."""
    name = "".join(chr(u) if chr(u).isascii() and chr(u).isalnum() else "-"
                   for u in _utf16_units(cwd))
    if len(name) <= _NAME_LIMIT:
        return name
    return f"{name[:_NAME_LIMIT]}-{_base36(abs(_js_hash(cwd)))}"


def project_dirs(config_dir: Path, cwd: Path) -> list[Path]:
    """The project directories of ``cwd`` as given and as resolved (a terminal may have
    started the CLI through a symlink), existing ones only."""
    names = dict.fromkeys([project_dir_name(str(cwd)), project_dir_name(str(cwd.resolve()))])
    found = []
    for name in names:
        path = config_dir / "projects" / name
        if path.is_dir():
            found.append(path)
    return found


# ----------------------------------------------------------------------- first prompt


def _text_of(content: Any) -> str | None:
    """The text the user typed, from a message's content (string or blocks)."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = [b.get("text") for b in content
                 if isinstance(b, dict) and b.get("type") == "text"]
        text = "\n".join(p for p in parts if isinstance(p, str))
    else:
        return None
    text = text.strip()
    if not text or text.startswith(_NOT_A_PROMPT):
        return None
    return text


def prompt_of(record: Any) -> str | None:
    """The user's prompt in one transcript line (a parsed object), or None."""
    if not isinstance(record, dict):
        return None
    kind = record.get("type")
    if kind == "queue-operation" and record.get("operation") == "enqueue":
        return _text_of(record.get("content"))
    if kind != "user" or record.get("isSidechain") or record.get("isMeta"):
        return None
    message = record.get("message")
    if not isinstance(message, dict) or message.get("role", "user") != "user":
        return None
    return _text_of(message.get("content"))


_SALVAGE_MARKERS = (b'"type":"text","text":"', b'"content":"')
_SALVAGE_CHARS = 2000


def _salvage(head: bytes) -> str | None:
    """The start of the prompt in a line too long to parse (a huge paste): the first string
    after a text marker, decoded as far as it goes."""
    if b'"type":"user"' not in head and b'"operation":"enqueue"' not in head:
        return None
    if b'"isSidechain":true' in head or b'"isMeta":true' in head:
        return None
    for marker in _SALVAGE_MARKERS:
        start = head.find(marker)
        if start < 0:
            continue
        raw = head[start + len(marker):start + len(marker) + _SALVAGE_CHARS * 6]
        text = raw.decode("utf-8", "replace")
        end = re.search(r'(?<!\\)(?:\\\\)*"', text)
        if end is not None:
            text = text[:end.end() - 1]
        text = re.sub(r"\\(u[0-9a-fA-F]{0,3})?$", "", text)  # an escape cut in the middle
        try:
            decoded = json.loads(f'"{text}"', strict=False)
        except ValueError:
            continue
        found = _text_of(decoded[:_SALVAGE_CHARS])
        if found is not None:
            return found
    return None


def first_prompt(path: Path, budget: int = HEAD_BUDGET) -> tuple[str | None, bool]:
    """(the first prompt, whether the whole file was read) from at most ``budget`` bytes.

    Bad lines (not JSON, not UTF-8, cut off) are skipped; raises ``OSError`` only when the
    file cannot be opened or read.
    """
    read = 0
    with path.open("rb") as handle:
        while read < budget:
            line = handle.readline(min(LINE_LIMIT, budget - read))
            if not line:
                return None, True
            read += len(line)
            if not line.endswith(b"\n") and len(line) >= LINE_LIMIT:
                salvaged = _salvage(line)
                if salvaged is not None:
                    return salvaged, False
                while read < budget:  # skip the rest of the long line
                    rest = handle.readline(min(LINE_LIMIT, budget - read))
                    read += len(rest)
                    if not rest or rest.endswith(b"\n"):
                        break
                continue
            try:
                record = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue
            found = prompt_of(record)
            if found is not None:
                return found, False
    return None, False


# ----------------------------------------------------------------------- in use


def _alive_cli(pid: int) -> bool:
    """``pid`` is a live process, and (where /proc shows it) one running Claude Code: a pid
    file left behind by a crash must not make a reused pid look like a terminal session."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()[:4096]
    except OSError:
        return True  # no /proc (or not ours to read): trust the CLI's registry
    return b"claude" in cmdline.lower()


def open_sessions(config_dir: Path) -> dict[str, int]:
    """Session id → pid of each interactive CLI registered in the config dir and alive."""
    out: dict[str, int] = {}
    try:
        files = list((config_dir / "sessions").glob("*.json"))
    except OSError:
        return out
    for file in files:
        try:
            if file.is_symlink() or file.stat().st_size > PID_FILE_LIMIT:
                continue
            data = json.loads(file.read_bytes().decode("utf-8", "replace"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        pid, session = data.get("pid"), data.get("sessionId")
        if isinstance(pid, int) and isinstance(session, str) and _alive_cli(pid):
            out[session] = pid
    return out


def in_use_reason(session_id: str, modified: float, open_now: dict[str, int],
                  now: float) -> str | None:
    """Why the session seems to be open in a terminal, or None.

    Two signs: the CLI's own registry of running interactive sessions names it (a live
    ``claude`` process); or its transcript was written within ``RECENT_WRITE_S`` (a ``-p``
    run, or a CLI that does not register itself, busy with it right now).
    """
    pid = open_now.get(session_id)
    if pid is not None:
        return f"a claude process (pid {pid}) has it open"
    age = now - modified
    if age < RECENT_WRITE_S:
        return f"its transcript was written {max(0, int(age))} s ago"
    return None


# ----------------------------------------------------------------------- listing


def list_sessions(config_dir: Path, cwd: Path, repo: str, *, agent_type: str = "claude-code",
                  label: str = "Claude Code", limit: int = LIMIT,
                  now: float | None = None) -> list[SessionInfo]:
    """The newest ``limit`` sessions run in ``cwd``, newest first (blocking file I/O).

    Sessions with no prompt in a file read to its end (nothing to continue) are left out;
    unreadable files are skipped.
    """
    now = time.time() if now is None else now
    candidates: list[tuple[float, int, Path]] = []
    for folder in project_dirs(config_dir, cwd):
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if not _SESSION_FILE.match(entry.name):
                continue
            try:
                found = entry.lstat()
            except OSError:
                continue
            if not S_ISREG(found.st_mode):  # (lstat: never a link) a regular file only
                continue
            candidates.append((found.st_mtime, found.st_size, entry))
    candidates.sort(key=lambda c: c[0], reverse=True)
    open_now = open_sessions(config_dir)
    out: list[SessionInfo] = []
    seen: set[str] = set()
    for modified, size, path in candidates:
        if len(out) >= limit:
            break
        session_id = path.name[:-len(".jsonl")]
        if session_id in seen:
            continue
        try:
            prompt, whole = first_prompt(path)
        except OSError:
            continue
        if prompt is None and whole:
            continue
        seen.add(session_id)
        out.append(SessionInfo(
            agent_type=agent_type, label=label, session_id=session_id, repo=repo,
            modified=modified, size=size, first_prompt=prompt or "", path=path,
            in_use=in_use_reason(session_id, modified, open_now, now)))
    return out


def check_in_use(config_dir: Path, info: SessionInfo, now: float | None = None) -> str | None:
    """``in_use_reason`` again, as things are now (at ``resume``, the listing may be old)."""
    if info.path is None:
        return None
    try:
        modified = info.path.stat().st_mtime
    except OSError:
        return None
    now = time.time() if now is None else now
    return in_use_reason(info.session_id, modified, open_sessions(config_dir), now)
