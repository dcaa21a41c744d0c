"""What each user was last sent by each of our contacts, so identical presences are not repeated.

Why: clients redraw the roster (and some notify) for every presence, and a client that asks
again (three ``subscribe``s, an ``available`` after a probe) must not get a copy per request.
"Identical" is per pair (our contact, the user's bare JID) and per slot: the contact's
availability (show/status) is one slot, the subscription answer another. What was sent is
forgotten when it may no longer be what the user's clients have:

- the component's stream dropped (Prosody may have restarted and lost everything): all;
- the user probes (a client of theirs came online and asks): that pair's availability;
- the user goes unavailable (their next session knows nothing): the user's availabilities;
- the user unsubscribes or cancels: that pair, so a new ``subscribe`` is answered again.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Literal

Slot = Literal["status", "subscription"]


class PresenceMemory:
    def __init__(self) -> None:
        self._sent: dict[tuple[str, str, Slot], Hashable] = {}

    def is_news(self, local: str, to: str, slot: Slot, value: Hashable) -> bool:
        """True (and remembered) unless ``to`` already got exactly ``value`` from ``local``."""
        key = (local, to, slot)
        if key in self._sent and self._sent[key] == value:
            return False
        self._sent[key] = value
        return True

    def forget(self, local: str, to: str, slot: Slot | None = None) -> None:
        for key in [k for k in self._sent if k[0] == local and k[1] == to
                    and (slot is None or k[2] == slot)]:
            del self._sent[key]

    def forget_user(self, to: str, slot: Slot = "status") -> None:
        for key in [k for k in self._sent if k[1] == to and k[2] == slot]:
            del self._sent[key]

    def clear(self) -> None:
        self._sent.clear()
