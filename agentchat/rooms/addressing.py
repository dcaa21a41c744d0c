"""Is a group-chat message meant for this agent, and what does it say (pure functions).

A message is addressed to an agent when it starts with the agent's nickname in the room
(``swift-fox: …``, ``swift-fox, …``, ``@swift-fox …``) or carries a XEP-0372 mention of it (the
occupant JID ``room@service/nick`` or the agent's own JID). Un-addressed, it may still answer one
of the agent's prompts by id (``a1b2 yes``): prompt ids are unique across agents, so the agent
that owns the id is the one meant.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

_ID = re.compile(r"^\s*#?([0-9A-Za-z]+)\b")


def _prefix(nick: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*(@)?{re.escape(nick)}(\s*[:,]|\s|$)", re.IGNORECASE)


def addressed_text(
    body: str, nick: str, mention_uris: Iterable[str], own_uris: Collection[str]
) -> str | None:
    """The text for the agent (its nickname taken off), or None when not addressed to it.

    ``swift-fox is slow`` is talk about the agent, not to it: a bare nickname followed by a space
    counts only with ``@`` or a mention reference.
    """
    mentioned = any(uri.lower() in own_uris for uri in mention_uris)
    match = _prefix(nick).match(body)
    if match is not None:
        at, sep = match.group(1), match.group(2)
        if at or sep.strip() or not sep or mentioned:
            return body[match.end():].strip()
    if mentioned:
        return body.strip()
    return None


def mention_uris(room: str, nick: str, agent_jid: str) -> frozenset[str]:
    """The XEP-0372 ``uri`` values that mean this agent (compared lower-cased)."""
    return frozenset(u.lower() for u in (f"xmpp:{room}/{nick}", f"xmpp:{agent_jid}"))


def prompt_id_of(text: str, pending: Collection[str]) -> str | None:
    """The id a message starts with, when it is one of ``pending`` (``a1b2 yes``, ``#a1b2 no``)."""
    match = _ID.match(text)
    if match is None:
        return None
    pid = match.group(1).lower()
    return pid if pid in pending else None
