"""Session controls in the chat's words: permission mode, model, context fill (pure, no I/O).

Why: every backend names its modes its own way (Claude Code ``acceptEdits``, Gemini CLI
``autoEdit``, Codex ``read-only``/``auto``/``full-access``); the owner types ``mode ask``,
``mode edits``, ``mode plan`` everywhere, or the agent's own id from the list it is shown.
Models are the backend's own list. What the runtime knows about the live session (current
mode and model, what is offered, tokens) is one ``SessionControls``, fed by events.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from agentchat.agents.events import (
    Choice,
    Compacted,
    ModeChanged,
    ModelChanged,
    UsageReported,
)
from agentchat.chat.textpolicy import one_line

NEUTRAL: dict[str, str] = {
    "ask": "every edit and command asks",
    "edits": "file edits go through, commands still ask",
    "plan": "the agent plans, then asks to proceed",
    "bypass": "nothing asks",
}

# The backends' own mode ids for each neutral word, in order of preference.
_ALIASES: dict[str, tuple[str, ...]] = {
    "ask": ("default", "read-only", "ask"),
    "edits": ("acceptEdits", "autoEdit", "auto_edit", "auto-edit", "accept-edits"),
    "plan": ("plan",),
    "bypass": ("bypassPermissions", "yolo", "full-access", "dontAsk"),
}
_BYPASS_WORDS = ("yolo", "bypass", "full access", "auto-approves all", "without asking",
                 # Claude Code over ACP: its "auto" ("Claude handles permission decisions")
                 # wrote a file without asking in the e2e test
                 "handles permission decisions", "accepts all permissions")

# Claude Code's permission modes (the CLI does not list them; ``--permission-mode`` takes these)
CLAUDE_MODES: tuple[Choice, ...] = (
    Choice("default", "Ask", "every edit and command asks"),
    Choice("acceptEdits", "Edits", "file edits go through, commands still ask"),
    Choice("plan", "Plan", "the agent plans, then asks to proceed"),
    Choice("bypassPermissions", "Bypass", "nothing asks"),
)


def neutral_of(mode_id: str) -> str | None:
    """The chat's word for a backend's mode id ("acceptEdits" → "edits"), if there is one."""
    for word, ids in _ALIASES.items():
        if mode_id in ids:
            return word
    return None


def is_bypass(choice: Choice) -> bool:
    """Does this mode let everything through without asking? (Needs agents.allowBypass.)"""
    if neutral_of(choice.id) == "bypass":
        return True
    text = f"{choice.id} {choice.name} {choice.description}".lower()
    return any(word in text for word in _BYPASS_WORDS)


def resolve_mode(word: str, available: Sequence[Choice]) -> Choice | None:
    """The offered mode ``word`` names: the agent's own id or name, or a neutral word."""
    found = resolve_model(word, available)  # by id or name, as for models
    if found is not None:
        return found
    for alias in _ALIASES.get(word.strip().lower(), ()):
        for choice in available:
            if choice.id == alias:
                return choice
    return None


def resolve_model(word: str, available: Sequence[Choice]) -> Choice | None:
    """The offered model ``word`` names (its id or display name, any case)."""
    wanted = word.strip().lower()
    for choice in available:
        if wanted in (choice.id.lower(), choice.name.lower()):
            return choice
    return None


def mode_label(mode_id: str) -> str:
    """``edits (acceptEdits)``; the id alone where no neutral word fits."""
    word = neutral_of(mode_id)
    return f"{word} ({mode_id})" if word and word != mode_id else mode_id


def _choice_line(choice: Choice, current: str, note: str = "") -> str:
    mark = "▸" if choice.id == current else " "
    word = neutral_of(choice.id)
    head = mode_label(choice.id)
    about = one_line(choice.description or (NEUTRAL.get(word, "") if word else ""))
    if len(about) > 160:
        about = about[:159].rstrip() + "…"
    return f"{mark} {head}" + (f" – {about}" if about else "") + note


@attrs.define
class SessionControls:
    """What the runtime knows of the live session: mode, model, their choices, tokens."""

    mode: str = ""
    modes: tuple[Choice, ...] = ()
    model: str = ""
    models: tuple[Choice, ...] = ()
    context_tokens: int | None = None
    context_window: int | None = None

    def apply(self, event: ModeChanged | ModelChanged | UsageReported | Compacted) -> None:
        if isinstance(event, ModeChanged):
            self.mode = event.mode or self.mode
            self.modes = event.available or self.modes
        elif isinstance(event, ModelChanged):
            self.model = event.model or self.model
            self.models = event.available or self.models
        elif isinstance(event, UsageReported):
            if event.context_tokens is not None:
                self.context_tokens = event.context_tokens
            if event.context_window:
                self.context_window = event.context_window
        else:
            self.context_tokens = event.post_tokens

    def context_percent(self) -> int | None:
        if self.context_tokens is None or not self.context_window:
            return None
        return round(100 * self.context_tokens / self.context_window)

    def modes_text(self, label: str, allow_bypass: bool) -> str:
        current = mode_label(self.mode) if self.mode else "unknown"
        if not self.modes:
            return f"Mode: {current}. {label} offers no modes to switch to."
        lines = [f"Mode: {current}. {label} offers (mode <name>):"]
        for choice in self.modes:
            barred = is_bypass(choice) and not allow_bypass
            lines.append(_choice_line(choice, self.mode,
                                      " (not allowed here: agents.allowBypass)" if barred else ""))
        return "\n".join(lines)

    def models_text(self, label: str) -> str:
        current = self.model or "unknown"
        if not self.models:
            return f"Model: {current}. {label} offers no model choice."
        lines = [f"Model: {current}. {label} offers (model <name>):"]
        lines += [_choice_line(c, self.model) for c in self.models]
        return "\n".join(lines)

    def context_line(self) -> str | None:
        """``Context: 41.2k of 200k tokens (21%)`` where known."""
        if self.context_tokens is None:
            return None
        line = f"Context: {tokens_text(self.context_tokens)}"
        if self.context_window:
            line += f" of {tokens_text(self.context_window)} tokens ({self.context_percent()}%)"
        else:
            line += " tokens"
        return line


def tokens_text(n: int) -> str:
    """A token count as people read it: 950, 12.5k, 1.2M."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 1000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return str(n)

