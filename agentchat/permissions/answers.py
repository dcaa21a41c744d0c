"""Parsing the owner's chat replies to pending permission prompts (pure functions).

The rules follow the spec: yes/no/always with an optional prompt id, a reason after "no", and any
other text while exactly one prompt is pending denies with that text as the message to Claude
(as Claude Code's own terminal does). With several prompts pending, only an explicit id decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import attrs

from .model import Kind

Verb = Literal["allow", "always", "deny", "text"]


@attrs.frozen
class Allow:
    id: str


@attrs.frozen
class AllowEdits:
    """A plan approved with "yes edits": proceed and let file edits through."""

    id: str


@attrs.frozen
class AllowAlways:
    id: str


@attrs.frozen
class Deny:
    id: str
    reason: str | None = None
    explicit: bool = True  # False: free text taken as the reason (no "no" given)


@attrs.frozen
class Choice:
    """A reply to an AskUserQuestion prompt; resolved against the options by `resolve_question`."""

    id: str
    text: str


@attrs.frozen
class Ambiguous:
    """An answer that needs an id: several prompts pending, or an id given without a verb."""

    verb: Verb | None
    reason: str | None = None
    id: str | None = None


@attrs.frozen
class NotAnAnswer:
    """Ordinary chat text for the agent."""


Answer = Allow | AllowEdits | AllowAlways | Deny | Choice | Ambiguous | NotAnAnswer

YES_WORDS = frozenset(
    [
        "yes",
        "y",
        "yep",
        "yeah",
        "ok",
        "okay",
        "k",
        "allow",
        "allowed",
        "approve",
        "approved",
        "sure",
        "lgtm",
        "go",
    ]
)
NO_WORDS = ("no", "n", "nope", "deny", "denied", "reject", "rejected")
FILLER = frozenset(
    [
        "please",
        "pls",
        "go",
        "ahead",
        "do",
        "it",
        "sure",
        "thanks",
        "thank",
        "you",
        "proceed",
        "fine",
    ]
)
YES_EMOJI = frozenset("👍✅✔👌🆗")
NO_EMOJI = frozenset("👎❌✖🚫⛔")
_INVISIBLE = frozenset("\ufe0f\ufe0e\u200d") | {chr(c) for c in range(0x1F3FB, 0x1F400)}

_ALWAYS_RE = re.compile(r"^(?:(?:yes|y|ok|allow)[\s,]+)?always(?:[\s,]+(?:allow|yes|ok))?$")
_PLAN_EDITS_RE = re.compile(
    r"^(?:(?:yes|y|ok|okay|approve|approved|go)\s+)?(?:and\s+|with\s+|accept\s+|allow\s+)?"
    r"edits?(?:\s+(?:too|through|allowed|ok|please))?$")
_NO_RE = re.compile(
    r"^(?:" + "|".join(NO_WORDS) + r")\b[\s,:;.!\-—–]*(.*)$", re.IGNORECASE | re.DOTALL
)
_HASH_ID_RE = re.compile(r"^#(\w{1,16})\b[\s,:;.\-—–]*(.*)$", re.DOTALL)
_BARE_ID_RE = re.compile(r"^(\w{2,16})\b[\s,:;.\-—–]*(.*)$", re.DOTALL)
_SUFFIX_ID_RE = re.compile(r"^(.*?)[\s,]+(#?)(\w{2,16})[\s!.?]*$", re.DOTALL)
_ID_SHAPE_RE = re.compile(r"[0-9a-f]{4}")  # what the broker generates
_NUMBERS_RE = re.compile(r"\d+(?:\s*[,\s]\s*\d+)*")


def _is_decoration(ch: str) -> bool:
    """Punctuation, symbols (emoji) and emoji modifiers: tolerated around an answer."""
    return ch.isspace() or ch in _INVISIBLE or unicodedata.category(ch)[0] in "PS"


def trim(text: str) -> str:
    """Strip whitespace, punctuation and emoji from both ends ("Yes!! 👍" -> "Yes")."""
    start, end = 0, len(text)
    while start < end and _is_decoration(text[start]):
        start += 1
    while end > start and _is_decoration(text[end - 1]):
        end -= 1
    return text[start:end]


def reaction_verb(emoji: str) -> Literal["allow", "deny"] | None:
    """👍-style reactions allow, 👎-style deny; any other reaction is no answer."""
    chars = {c for c in emoji.strip() if c not in _INVISIBLE}
    if chars and chars <= YES_EMOJI:
        return "allow"
    if chars and chars <= NO_EMOJI:
        return "deny"
    return None


def classify(text: str) -> tuple[Verb, str | None]:
    """What a reply (without id) means on its own, and the deny reason if one was given."""
    stripped = text.strip()
    verb = reaction_verb(stripped)
    if verb is not None:
        return verb, None
    core = trim(stripped).lower()
    if not core:
        return "text", None
    tokens = _words(core)
    if _ALWAYS_RE.match(" ".join(tokens)):
        return "always", None
    if tokens and tokens[0] in YES_WORDS and all(t in FILLER for t in tokens[1:]):
        return "allow", None
    m = _NO_RE.match(stripped)
    if m:
        reason = m.group(1).strip()
        return "deny", (reason if trim(reason) else None)
    return "text", None


def _words(text: str) -> list[str]:
    """The words of an answer (trimmed, lower case) as the patterns read them."""
    return re.findall(r"[\w']+", text)


def _split_id(text: str, known: Collection[str]) -> tuple[str | None, str]:
    """Find a prompt id before ("a1b2 yes", "#a1b2: no") or after ("yes #a1b2") the answer.

    A bare word counts as an id if it is a known (pending or recently closed) id, or looks like
    one (4 hex digits) and is followed by yes/no/always, so "ok do it" never loses its first
    word; "#xyz" counts if known or followed by yes/no/always ("#include <x>" stays chat text).
    """
    m = _HASH_ID_RE.match(text)
    if m and (m.group(1).lower() in known or classify(m.group(2))[0] != "text"):
        return m.group(1).lower(), m.group(2).strip()
    m = _BARE_ID_RE.match(text)
    if m and (
        m.group(1).lower() in known
        or (_ID_SHAPE_RE.fullmatch(m.group(1).lower()) and classify(m.group(2))[0] != "text")
    ):
        return m.group(1).lower(), m.group(2).strip()
    m = _SUFFIX_ID_RE.match(text) if known or "#" in text else None  # else it cannot count
    if m and (m.group(2) or m.group(3).lower() in known):
        head = m.group(1).strip()
        verb, reason = classify(head)
        if verb != "text" and reason is None:
            return m.group(3).lower(), head
    return None, text


def parse_answer(
    text: str,
    pending_ids: Sequence[str],
    kinds: Mapping[str, Kind] | None = None,
    closed_ids: Collection[str] = (),
) -> Answer:
    """Interpret one chat message from the owner.

    `pending_ids` are this agent's open prompts (oldest first), `kinds` their kinds (questions
    take free-form answers), `closed_ids` recently answered/expired ones so that a late
    "a1b2 yes" is recognised (the caller replies "too late") instead of reaching the agent.
    Returned ids are lower-case; they may name a closed or unknown id when the text said so.
    """
    raw = text.strip()
    if not raw:
        return NotAnAnswer()
    by_lower = {i.lower(): i for i in pending_ids}
    known = set(by_lower) | {i.lower() for i in closed_ids}
    kinds_l = {k.lower(): v for k, v in (kinds or {}).items()}
    target, rest = _split_id(raw, known)
    if target is None:
        if not pending_ids:
            return NotAnAnswer()
        if len(pending_ids) > 1:
            verb, reason = classify(raw)
            if verb == "text":
                reason = raw
            return Ambiguous(verb, reason)
        target = pending_ids[0].lower()
        explicit = False
    else:
        explicit = True
    target = by_lower.get(target, target)
    kind = kinds_l.get(target.lower(), "tool")
    if explicit and not rest:
        return Ambiguous(None, None, target)
    if kind == "question":
        return Choice(target, rest)
    if kind == "plan" and _PLAN_EDITS_RE.match(" ".join(_words(trim(rest).lower()))):
        return AllowEdits(target)
    verb, reason = classify(rest)
    if verb == "allow":
        return Allow(target)
    if verb == "always":
        return AllowAlways(target) if kind == "tool" else Allow(target)
    if verb == "deny":
        return Deny(target, reason)
    return Deny(target, rest, explicit=False)


# --- AskUserQuestion -------------------------------------------------------------------------


@attrs.frozen
class Answered:
    answers: dict[str, str]


@attrs.frozen
class Skipped:
    reason: str | None = None


@attrs.frozen
class Invalid:
    message: str


QuestionResult = Answered | Skipped | Invalid


def _labels(question: Mapping[str, Any]) -> list[str]:
    opts = question.get("options") or []
    return [str(o.get("label", "")) for o in opts if isinstance(o, Mapping)]


def _answer_one(question: Mapping[str, Any], part: str) -> str | Invalid:
    """Option numbers ("2", "1,3"), option labels, or free text (Claude's "Other" answer)."""
    labels = _labels(question)
    multi = bool(question.get("multiSelect"))
    qtext = str(question.get("question", ""))
    core = trim(part)
    if _NUMBERS_RE.fullmatch(core):
        nums = [int(n) for n in re.findall(r"\d+", core)]
        bad = [n for n in nums if not 1 <= n <= len(labels)]
        if bad:
            rng = f"1–{len(labels)}" if labels else "none"
            return Invalid(f"There is no option {bad[0]} for “{qtext}” (options: {rng}).")
        if len(nums) > 1 and not multi:
            return Invalid(f"Choose only one option for “{qtext}”.")
        chosen = list(dict.fromkeys(labels[n - 1] for n in nums))
        return ", ".join(chosen)
    by_label = {trim(lb).lower(): lb for lb in labels}
    if core.lower() in by_label:
        return by_label[core.lower()]
    if multi and "," in part:
        items = [trim(p).lower() for p in part.split(",")]
        if all(i in by_label for i in items):
            return ", ".join(dict.fromkeys(by_label[i] for i in items))
    free = part.strip()
    if not free:
        return Invalid(f"No answer for “{qtext}”.")
    return free


def resolve_question(questions: Sequence[Mapping[str, Any]], text: str) -> QuestionResult:
    """Map a reply onto AskUserQuestion's `answers` ({question text: label(s) joined by ", "})."""
    if not questions:
        return Invalid("This question has no questions to answer.")
    stripped = text.strip()
    verb, reason = classify(stripped)
    if verb == "deny" and ";" not in stripped and "\n" not in stripped:
        core = trim(stripped).lower()
        if not any(core == trim(lb).lower() for q in questions for lb in _labels(q)):
            return Skipped(reason)
    n = len(questions)
    if n == 1:
        parts = [stripped]
    else:
        parts = [p for p in re.split(r"\s*[;\n]\s*", stripped) if p.strip()]
        if len(parts) == 1 and not any(q.get("multiSelect") for q in questions):
            tokens = [t for t in re.split(r"[\s,]+", trim(stripped)) if t]
            if len(tokens) == n and all(t.isdigit() for t in tokens):
                parts = tokens
        if len(parts) != n:
            example = "; ".join("1" for _ in questions)
            return Invalid(f"Please answer all {n} questions, separated by ';' (e.g. {example}).")
    answers: dict[str, str] = {}
    for question, part in zip(questions, parts, strict=True):
        result = _answer_one(question, part)
        if isinstance(result, Invalid):
            return result
        answers[str(question.get("question", ""))] = result
    return Answered(answers)
