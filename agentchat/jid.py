"""JID normalisation, the one place: how two spellings of an address are compared.

JIDs compare case-insensitively in their local and domain parts (we lowercase both), a trailing
dot on the domain does not count, and the resource never matters for who someone is.
Everything that stores or compares a user's, room's or agent's address goes through here.
"""

from __future__ import annotations


def normalize_domain(domain: str) -> str:
    """Domain parts compare case-insensitively and ignore a trailing dot."""
    return domain.rstrip(".").lower()


def normalize_jid(jid: str) -> str:
    """A bare JID or ``*@domain`` pattern as compared: lowercase, no trailing dot."""
    local, at, domain = jid.strip().partition("@")
    if not at:
        return normalize_domain(local)
    return f"{local.lower()}@{normalize_domain(domain)}"


def bare_jid(jid: str) -> str:
    """The bare JID of a full or bare one (also of an ``xmpp:room@service?join`` URI, as
    clients share rooms), normalised."""
    jid = jid.strip()
    if jid.lower().startswith("xmpp:"):
        jid = jid[5:].split("?", 1)[0]
    return normalize_jid(jid.split("/", 1)[0])


def split_jid(jid: str) -> tuple[str, str]:
    """(bare JID normalised, resource as sent)."""
    bare, _, resource = jid.strip().partition("/")
    return normalize_jid(bare), resource


def local_part(jid: str) -> str:
    """``swift-fox`` of ``swift-fox``, ``Swift-Fox`` or ``swift-fox@agents.example.com``."""
    return jid.split("@", 1)[0].strip().lower()
