"""How ``sessions`` and ``resume`` show sessions in the chat (pure: data in, text out).

Everything shown from a session (its first prompt, an agent's title, a repository name) was
written by someone else's CLI or typed or pasted into it: one line, control and invisible
characters made visible, shortened.
"""

from __future__ import annotations

import time

from agentchat.chat.format import format_duration
from agentchat.chat.textpolicy import one_line
from agentchat.files.media import human_size
from agentchat.sessions.model import SessionInfo, SessionListing

PROMPT_CHARS = 80


def preview(text: str, limit: int = PROMPT_CHARS) -> str:
    """One line of at most ``limit`` characters (white space runs collapsed)."""
    flat = one_line(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def when(modified: float, now: float) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(modified))
    return f"{stamp} ({format_duration(max(0.0, now - modified))} ago)"


def session_line(index: int, info: SessionInfo, now: float) -> str:
    parts = [info.label]
    if info.modified is not None:
        parts.append(when(info.modified, now))
    if info.size is not None:
        parts.append(human_size(info.size))
    parts.append(f"“{preview(info.first_prompt)}”" if info.first_prompt.strip()
                 else "(no prompt found)")
    line = f"[{index}] " + " · ".join(parts)
    if info.in_use:
        line += f"\n    ⚠️ may be in use in a terminal right now: {one_line(info.in_use)}"
    return line


def listing_text(listing: SessionListing, now: float | None = None) -> str:
    now = time.time() if now is None else now
    repo = one_line(listing.repo)
    if listing.sessions:
        lines = [f"Earlier sessions in {repo}, newest first:"]
        lines += [session_line(i, s, now) for i, s in enumerate(listing.sessions, 1)]
    else:
        lines = [f"No earlier sessions found in {repo}."]
    lines += [one_line(note) for note in listing.notes]
    if listing.sessions:
        lines.append("Send 'resume <n>' to continue one in a new agent.")
    return "\n".join(lines)


def in_use_warning(reason: str) -> str:
    """Said when an agent picks up a session that seems to be open in a terminal."""
    return (f"⚠️ This session seems to be in use in a terminal right now ({one_line(reason)}). "
            "The agent continues from a copy taken now: what is said in the terminal from "
            "here on does not reach the agent, and the agent's turns do not show up there.")
