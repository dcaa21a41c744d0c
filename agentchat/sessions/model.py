"""One earlier session that ``sessions <repo>`` lists and ``resume <n>`` continues."""

from __future__ import annotations

from pathlib import Path

import attrs


@attrs.frozen
class SessionInfo:
    """A session found in a CLI's own store (Claude Code) or listed by an ACP agent.

    Everything but ``session_id`` and ``agent_type`` is for showing; text fields are raw data
    from files the operator's CLIs wrote (and whatever was typed or pasted into them), so they
    are sanitised where they are shown (``agentchat.sessions.view``).
    """

    agent_type: str  # key of agents.types: "claude-code", "codex"
    label: str  # "Claude Code"
    session_id: str
    repo: str  # the repository's name under work.basePath
    modified: float | None = None  # unix time of the last write
    size: int | None = None  # bytes on disk (Claude Code's transcript)
    first_prompt: str = ""  # the first thing the user asked (Claude), or the agent's title
    path: Path | None = None  # Claude Code: the transcript in the operator's config dir
    in_use: str | None = None  # why it seems to be open in a terminal right now, or None


@attrs.frozen
class SessionListing:
    """What ``sessions <repo>`` found: the sessions, newest first, and what could not be
    listed (an agent type without ``session/list``, an agent that failed to answer)."""

    repo: str
    sessions: tuple[SessionInfo, ...] = ()
    notes: tuple[str, ...] = ()
