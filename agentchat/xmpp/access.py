"""Who may talk to agentchat: a pure allow-list check on bare JIDs.

The component receives stanzas from anyone Prosody routes to it (including other servers
when s2s is on), so every inbound stanza is checked here before it reaches a bot.
"""

from __future__ import annotations

import attrs

from agentchat.config.load import resolve_allowed_jids
from agentchat.config.model import Config
from agentchat.jid import bare_jid, normalize_domain


def _split(jid: str) -> tuple[str, str] | None:
    """(local, domain) of a normalized bare JID, or None without a local part/domain."""
    local, at, domain = bare_jid(jid).partition("@")  # a full JID too: the resource never matters
    if not at or not local or not domain:
        return None
    return local, domain


@attrs.frozen
class AccessPolicy:
    """Exact bare JIDs plus ``*@domain`` patterns; the component domain is never allowed."""

    jids: frozenset[str]
    domains: frozenset[str]
    component_domain: str

    @classmethod
    def from_config(cls, config: Config) -> AccessPolicy:
        return cls.from_entries(
            resolve_allowed_jids(config),
            component_domain=config.xmpp.component_domain or f"agents.{config.xmpp.domain}",
        )

    @classmethod
    def from_entries(cls, entries: tuple[str, ...], *, component_domain: str) -> AccessPolicy:
        jids: set[str] = set()
        domains: set[str] = set()
        for entry in entries:
            parts = _split(entry)
            if parts is None:
                continue  # the loader rejects these; ignore rather than widen access
            local, domain = parts
            if local == "*":
                domains.add(domain)
            else:
                jids.add(f"{local}@{domain}")
        return cls(frozenset(jids), frozenset(domains), normalize_domain(component_domain))

    def allows(self, bare_jid: str) -> bool:
        """True if ``bare_jid`` may use agentchat (compared case-insensitively)."""
        parts = _split(bare_jid)
        if parts is None:
            return False
        local, domain = parts
        if domain == self.component_domain or local == "*":
            return False
        return domain in self.domains or f"{local}@{domain}" in self.jids
