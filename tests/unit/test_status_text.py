"""Presence status texts carry nothing that clients mangle (Gajim shows ' as &apos;)."""

from __future__ import annotations

from agentchat.chat.status import STATUS_CHARS, status_text


def test_quotes_ampersands_and_brackets_become_lookalikes_on_one_line() -> None:
    text = status_text("needs your answer: #a1b2 Bash: echo 'a' && cat <x> \"y\"\nnext")
    assert text == "needs your answer: #a1b2 Bash: echo ’a’ ++ cat ‹x› ”y” next"
    assert not set("'\"&<>\n") & set(text)


def test_none_stays_none_and_long_texts_are_cut() -> None:
    assert status_text(None) is None
    cut = status_text("x" * 500)
    assert cut is not None and len(cut) == STATUS_CHARS and cut.endswith("…")
