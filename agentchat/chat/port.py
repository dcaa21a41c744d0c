"""What the domain needs from the chat transport (implemented by the XMPP component)."""

from __future__ import annotations

from typing import Literal, Protocol

Show = Literal["chat", "away", "xa", "dnd"]
ChatState = Literal["active", "composing", "paused", "inactive", "gone"]


class ChatPort(Protocol):
    def send_chat(self, from_local: str, to: str, body: str, *,
                  resource: str | None = None, msg_id: str | None = None) -> str:
        """Send a chat message from ``from_local@component`` to a bare JID; returns its id
        (``msg_id`` if given, else a new one).

        ``resource``: send from that resource instead of the contact's usual one (a permission
        prompt gets its own, so its correction is always of the latest message from its full
        JID; such messages are also XEP-0333 markable). Never loses the message: while the
        component is disconnected it is queued.
        """

    def send_link(self, from_local: str, to: str, url: str) -> str:
        """Send a file's download URL with XEP-0066 out-of-band data; returns the id."""

    def correct(self, from_local: str, to: str, original_id: str, body: str, *,
                resource: str | None = None, msg_id: str | None = None) -> str:
        """XEP-0308: replace message ``original_id`` (sent from ``resource``) with ``body``;
        the correction's own id is ``msg_id`` if given (see Presenter.anchor), else new."""

    def set_presence(
        self, local: str, to: str, *, show: Show | None, status: str | None, available: bool = True
    ) -> None:
        """Remember and send the presence of a virtual JID to its contact."""

    def subscribe(self, local: str, to: str, nick: str) -> None:
        """Ask ``to`` to add ``local@component`` as a contact (with a XEP-0172 nick)."""

    def chat_state(self, from_local: str, to: str, state: ChatState) -> None:
        """XEP-0085 chat state notification."""
