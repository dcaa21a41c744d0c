"""The component's ``Directory``: the virtual contacts (the manager, each agent), who may talk
to them, and the presence each shows."""

from __future__ import annotations

from collections.abc import Mapping

from agentchat.agents.pool import ProcessPool
from agentchat.agents.runtime import Agent
from agentchat.chat.textpolicy import one_line
from agentchat.xmpp.access import AccessPolicy
from agentchat.xmpp.directory import Contact, PresenceInfo


class AgentDirectory:
    def __init__(self, manager: str, agents: Mapping[str, Agent], access: AccessPolicy,
                 pool: ProcessPool) -> None:
        self.manager = manager  # the manager's local part
        self._agents = agents
        self._access = access
        self._pool = pool
        self._contacts: dict[str, tuple[tuple[str, str, str], Contact]] = {}  # see lookup

    def manager_contact(self, local: str | None = None) -> Contact:
        return Contact(local=self.manager if local is None else local, kind="manager",
                       nick="agentchat manager",
                       description="Creates and manages AI coding agents")

    def lookup(self, local: str) -> Contact | None:
        """The contact at ``local`` (every stanza asks: built once per agent and kept)."""
        if local in ("", self.manager):
            return self.manager_contact(local)
        agent = self._agents.get(local)
        if agent is None:
            return None
        record = agent.record
        key = (record.agent_type, record.repo, record.task)
        cached = self._contacts.get(local)
        if cached is not None and cached[0] == key:
            return cached[1]
        contact = Contact(local=local, kind="agent", nick=local,
                          description=f"{record.agent_type} in {one_line(record.repo)}: "
                                      f"{record.task}")
        self._contacts[local] = (key, contact)
        return contact

    def allowed(self, contact: Contact, sender_bare: str) -> bool:
        if contact.kind == "manager":
            return self._access.allows(sender_bare)
        agent = self._agents.get(contact.local)
        return (agent is not None and agent.owner == sender_bare
                and not agent.record.owner_revoked and self._access.allows(sender_bare))

    def presence_for(self, contact: Contact, viewer_bare: str) -> PresenceInfo:
        if contact.kind == "manager":
            running = self._pool.live
            return PresenceInfo(True, None, f"{running} agent{'s' if running != 1 else ''} "
                                            "running · send help")
        agent = self._agents[contact.local]
        available, show, status = agent.presence()
        return PresenceInfo(available, show, status)

    def contacts_of(self, viewer_bare: str) -> list[Contact]:
        contacts = [self.manager_contact()]
        for agent in self._agents.values():
            if agent.owner == viewer_bare:
                contact = self.lookup(agent.name)
                if contact is not None:
                    contacts.append(contact)
        return contacts

    def known_users(self) -> list[str]:
        """Owners we send presence to (not those removed from access.allowedJids)."""
        return sorted({a.owner for a in self._agents.values() if not a.record.owner_revoked})
