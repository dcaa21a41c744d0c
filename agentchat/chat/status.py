"""Presence status texts as every client shows them.

Why: status texts reach rosters and tooltips that treat them as markup one way or another; Gajim
1.7 shows ``send 'help'`` as ``send &apos;help&apos;`` (it escapes an already escaped text). A
status line is a short hint, so the characters that get mangled are replaced by look-alikes that
no client escapes, and line breaks become spaces (rosters show one line).
"""

from __future__ import annotations

STATUS_CHARS = 200

_LOOKALIKE = str.maketrans({
    "'": "’", '"': "”", "&": "+", "<": "‹", ">": "›",
    "\n": " ", "\r": " ", "\t": " ",
})


def status_text(text: str | None) -> str | None:
    """``text`` without characters clients escape twice, on one line, at most STATUS_CHARS."""
    if text is None:
        return None
    cleaned = " ".join(text.translate(_LOOKALIKE).split())
    if len(cleaned) > STATUS_CHARS:
        cleaned = cleaned[:STATUS_CHARS - 1].rstrip() + "…"
    return cleaned
