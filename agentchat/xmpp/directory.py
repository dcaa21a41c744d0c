"""How the component learns who lives under its domain (implemented by the service)."""

from __future__ import annotations

from typing import Literal, Protocol

import attrs

Kind = Literal["manager", "agent"]


@attrs.frozen
class PresenceInfo:
    available: bool
    show: str | None = None  # None (available) / chat / away / xa / dnd
    status: str | None = None


@attrs.frozen
class Contact:
    """A virtual JID as the transport needs to know it."""

    local: str
    kind: Kind
    nick: str
    description: str = ""


def refusal(contact: Contact | None, local: str) -> tuple[str, str, str]:
    """(error type, condition, text) for a sender who may not reach ``local``.

    Agents: one answer whether the agent exists or belongs to someone else, so nobody can
    probe for agent names. The manager exists for everyone: not allowed means forbidden.
    """
    if contact is not None and contact.kind == "manager":
        return "auth", "forbidden", "You are not allowed to use this service."
    return "cancel", "item-not-found", f"There is no agent called {local[:64]}."


class Directory(Protocol):
    def lookup(self, local: str) -> Contact | None:
        """The contact at ``local@component`` (``""`` is the bare domain), or None."""

    def allowed(self, contact: Contact, sender_bare: str) -> bool:
        """May ``sender_bare`` talk to this contact at all?"""

    def presence_for(self, contact: Contact, viewer_bare: str) -> PresenceInfo:
        """What ``viewer_bare`` should see of this contact right now."""

    def contacts_of(self, viewer_bare: str) -> list[Contact]:
        """Every contact whose presence ``viewer_bare`` should get after a reconnect."""

    def known_users(self) -> list[str]:
        """Bare JIDs to send presence to after (re)connecting."""


class Inbound(Protocol):
    async def on_chat(self, contact: Contact, sender_bare: str, body: str, msg_id: str) -> None:
        """A chat message with a body, from an allowed sender, in arrival order per contact."""

    async def on_correction(self, contact: Contact, sender_bare: str, body: str, msg_id: str,
                            replaces: str) -> None:
        """A XEP-0308 correction of message ``replaces`` (its new full text in ``body``)."""

    async def on_file(
        self, contact: Contact, sender_bare: str, url: str, body: str, msg_id: str
    ) -> None:
        """A message carrying a XEP-0066 link (a shared file), from an allowed sender."""

    async def on_reaction(
        self, contact: Contact, sender_bare: str, target_id: str, emojis: list[str]
    ) -> None:
        """A XEP-0444 reaction from an allowed sender."""

    def on_displayed(self, contact: Contact, sender_bare: str, msg_id: str) -> None:
        """A XEP-0333 ``displayed`` marker: the owner's client showed message ``msg_id``."""

    async def durable(self) -> None:
        """Until what the messages handled so far changed is saved: a XEP-0184 receipt
        promises the message will not be lost, so it waits for this."""

    async def on_connected(self) -> None:
        """The component (re)connected: re-send presence, pending prompts…"""
