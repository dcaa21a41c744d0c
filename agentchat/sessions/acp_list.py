"""The sessions an ACP agent lists itself (``session/list``), where it offers that.

Checked with the pinned agents: codex-acp 0.16.0 advertises ``sessionCapabilities.list`` and
answers ``session/list`` (filtered by ``cwd``) with ``sessionId``, ``cwd``, ``title`` (its
first prompt) and ``updatedAt``, from ``$CODEX_HOME``; Gemini CLI 0.61.0 advertises nothing
and answers "Method not found". The lister is the operator's own agent binary run on the
operator's own configuration, with no prompt and no model behind it: it is started, asked,
and stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import acp
from acp.schema import ClientCapabilities, Implementation

from agentchat.agents.process import AgentProcess
from agentchat.sessions.model import SessionInfo

LIST_TIMEOUT = 60.0  # start, initialize, the pages of session/list (Gemini CLI: seconds)
MAX_PAGES = 5
MAX_ID = 200  # longer session ids are not listed
MAX_TITLE = 2000  # characters of a title kept (shown shortened)


class NoSessionList(Exception):
    """The agent does not offer ``session/list``."""


class _Silent:
    """A client that takes nothing: the lister opens no session, so nothing should come."""

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        return None

    async def request_permission(self, *args: Any, **kwargs: Any) -> acp.RequestPermissionResponse:
        return acp.RequestPermissionResponse.model_validate({"outcome": {"outcome": "cancelled"}})


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        stamp = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return stamp.timestamp()


async def _ask(conn: acp.ClientSideConnection, cwd: Path, limit: int) -> list[Any]:
    init = await conn.initialize(
        protocol_version=acp.PROTOCOL_VERSION, client_capabilities=ClientCapabilities(),
        client_info=Implementation(name="agentchat", version="0.1.0"))
    caps = init.agent_capabilities
    sessions_caps = caps.session_capabilities if caps is not None else None
    if sessions_caps is None or sessions_caps.list is None:
        raise NoSessionList
    found: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await conn.list_sessions(cwd=str(cwd), cursor=cursor)
        found += page.sessions
        cursor = page.next_cursor
        if not cursor or len(found) >= limit:
            break
    return found


async def list_sessions(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, repo: str, *,
    agent_type: str, label: str, limit: int = 10, timeout: float = LIST_TIMEOUT,
) -> list[SessionInfo]:
    """The agent's sessions in ``cwd``, newest first. Raises ``NoSessionList`` when it does
    not offer ``session/list``; ``AgentStartError``, ``TimeoutError`` or the JSON-RPC error
    when it cannot answer."""
    process = AgentProcess(f"{label} ({argv[0]})")
    await process.spawn(argv, cwd, env)
    conn = acp.connect_to_agent(cast(acp.Client, _Silent()), process.stdin, process.stdout)
    try:
        found = await asyncio.wait_for(_ask(conn, cwd, limit), timeout)
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
        await process.stop(grace=1)
    out = []
    for item in found:
        if item.cwd and Path(item.cwd) != cwd:  # an agent that ignored the filter
            continue
        if not 0 < len(item.session_id) <= MAX_ID or not item.session_id.isprintable():
            continue  # not an id anything could be continued with
        title = (item.title or "")[:MAX_TITLE]
        out.append(SessionInfo(agent_type=agent_type, label=label, session_id=item.session_id,
                               repo=repo, modified=_timestamp(item.updated_at),
                               first_prompt=title))
    out.sort(key=lambda s: s.modified or 0.0, reverse=True)
    return out[:limit]
