"""Parsing of the owner's replies to permission prompts."""

from __future__ import annotations

from typing import Any

import pytest

from agentchat.permissions.answers import (
    Allow,
    AllowAlways,
    Ambiguous,
    Answered,
    Choice,
    Deny,
    Invalid,
    NotAnAnswer,
    Skipped,
    classify,
    parse_answer,
    reaction_verb,
    resolve_question,
    trim,
)

ONE = ["a1b2"]
TWO = ["a1b2", "c3d4"]


@pytest.mark.parametrize(
    "text",
    [
        "yes", "Yes", "YES", "y", "Y", "ok", "OK", "okay", "allow", "Allow", "approve",
        "approved", "yep", "sure", "lgtm", "yes!", "yes.", "Yes!!", "ok 👍", "yes 🙂",
        "  yes  ", "yes please", "yes, go ahead", "ok do it", "👍", "👍🏽", "✅", "✔️", "yes\n",
    ],
)  # fmt: skip
def test_yes_forms_allow_the_single_pending(text: str) -> None:
    assert parse_answer(text, ONE) == Allow("a1b2")


@pytest.mark.parametrize(
    "text",
    ["no", "No", "NO", "n", "N", "deny", "Deny", "nope", "reject", "no.", "no!", "👎", "❌",
     "no 👎", "  no  "],
)  # fmt: skip
def test_no_forms_deny_without_reason(text: str) -> None:
    assert parse_answer(text, ONE) == Deny("a1b2", None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no, use the other file", "use the other file"),
        ("no: too risky", "too risky"),
        ("no - run the tests first", "run the tests first"),
        ("No run the tests first", "run the tests first"),
        ("deny, not now", "not now"),
        ("no,  Keep It   ", "Keep It"),
        ("no\nuse make instead", "use make instead"),
    ],
)
def test_no_with_reason(text: str, reason: str) -> None:
    assert parse_answer(text, ONE) == Deny("a1b2", reason)


@pytest.mark.parametrize(
    "text", ["always", "Always", "always!", "always allow", "allow always", "yes always",
             "yes, always", "ok always"]
)  # fmt: skip
def test_always(text: str) -> None:
    assert parse_answer(text, ONE) == AllowAlways("a1b2")


@pytest.mark.parametrize(
    "text",
    ["a1b2 yes", "A1B2 yes", "#a1b2 yes", "#a1b2: yes", "a1b2: ok", "a1b2, yes", "yes a1b2",
     "yes #a1b2", "#A1B2 Yes!", "c3d4 no"],
)  # fmt: skip
def test_explicit_id(text: str) -> None:
    result = parse_answer(text, TWO)
    if "c3d4" in text:
        assert result == Deny("c3d4", None)
    else:
        assert result == Allow("a1b2")


def test_explicit_id_variants_with_several_pending() -> None:
    assert parse_answer("c3d4 always", TWO) == AllowAlways("c3d4")
    assert parse_answer("#c3d4 no, wrong dir", TWO) == Deny("c3d4", "wrong dir")
    assert parse_answer("c3d4 use make instead", TWO) == Deny(
        "c3d4", "use make instead", explicit=False
    )
    assert parse_answer("no #c3d4", TWO) == Deny("c3d4", None)


def test_explicit_id_works_with_one_pending_too() -> None:
    assert parse_answer("a1b2 yes", ONE) == Allow("a1b2")


def test_id_without_verb_is_ambiguous() -> None:
    assert parse_answer("a1b2", TWO) == Ambiguous(None, None, "a1b2")
    assert parse_answer("#a1b2", ONE) == Ambiguous(None, None, "a1b2")


@pytest.mark.parametrize(
    ("text", "verb", "reason"),
    [
        ("yes", "allow", None),
        ("👍", "allow", None),
        ("no", "deny", None),
        ("no, wait", "deny", "wait"),
        ("always", "always", None),
        ("what does this do?", "text", "what does this do?"),
    ],
)
def test_bare_answer_with_several_pending_is_ambiguous(
    text: str, verb: str, reason: str | None
) -> None:
    assert parse_answer(text, TWO) == Ambiguous(verb, reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["please use pnpm", "why?", "yes but only in src/", "hmm, what is this", "nothing"]
)
def test_free_text_with_one_pending_denies_with_the_text(text: str) -> None:
    assert parse_answer(text, ONE) == Deny("a1b2", text, explicit=False)


@pytest.mark.parametrize("text", ["yes", "no", "hello there", "👍", "always", "#include <x>"])
def test_nothing_pending_is_not_an_answer(text: str) -> None:
    assert parse_answer(text, []) == NotAnAnswer()


def test_empty_text_is_not_an_answer() -> None:
    assert parse_answer("   ", ONE) == NotAnAnswer()


def test_closed_id_is_recognised_for_too_late() -> None:
    assert parse_answer("a1b2 yes", [], closed_ids=["a1b2"]) == Allow("a1b2")
    assert parse_answer("a1b2 yes", ["c3d4"], closed_ids=["a1b2"]) == Allow("a1b2")


def test_unknown_hash_id_with_verb_is_an_id_reference() -> None:
    assert parse_answer("#ffff yes", ONE) == Allow("ffff")


def test_unknown_bare_word_is_not_taken_as_id() -> None:
    assert parse_answer("sure yes", ONE) == Deny("a1b2", "sure yes", explicit=False)
    assert parse_answer("abcde yes", ONE) == Deny("a1b2", "abcde yes", explicit=False)


def test_id_shaped_word_with_verb_is_an_id_reference() -> None:
    # Looks like a prompt id (e.g. one from another agent's chat): never a silent deny.
    assert parse_answer("beef yes", ONE) == Allow("beef")
    assert parse_answer("beef tastes good", ONE) == Deny("a1b2", "beef tastes good", explicit=False)


def test_hash_text_is_not_an_id_reference() -> None:
    assert parse_answer("#include <x>", ONE) == Deny("a1b2", "#include <x>", explicit=False)


def test_questions_get_choices() -> None:
    kinds: Any = {"a1b2": "question"}
    assert parse_answer("2", ONE, kinds) == Choice("a1b2", "2")
    assert parse_answer("no", ONE, kinds) == Choice("a1b2", "no")
    assert parse_answer("a1b2 1,3", TWO, kinds) == Choice("a1b2", "1,3")
    assert parse_answer("2", TWO, kinds) == Ambiguous("text", "2")


def test_plans_never_produce_always() -> None:
    kinds: Any = {"a1b2": "plan"}
    assert parse_answer("always", ONE, kinds) == Allow("a1b2")
    assert parse_answer("yes", ONE, kinds) == Allow("a1b2")
    assert parse_answer("no, add tests", ONE, kinds) == Deny("a1b2", "add tests")


def test_pending_ids_case_preserved() -> None:
    assert parse_answer("ab12 yes", ["AB12"]) == Allow("AB12")


def test_classify_and_trim_helpers() -> None:
    assert trim("  Yes!! 👍  ") == "Yes"
    assert trim("👍") == ""
    assert classify("nothing to add") == ("text", None)
    assert classify("no") == ("deny", None)


@pytest.mark.parametrize(
    ("emoji", "verb"),
    [("👍", "allow"), ("👍🏻", "allow"), ("✅", "allow"), ("👎", "deny"), ("👎🏿", "deny"),
     ("❌", "deny"), ("❤️", None), ("😂", None), ("", None)],
)  # fmt: skip
def test_reaction_verb(emoji: str, verb: str | None) -> None:
    assert reaction_verb(emoji) == verb


# --- AskUserQuestion -------------------------------------------------------------------------

Q_AUTH = {
    "question": "Which auth method?",
    "header": "Auth",
    "options": [
        {"label": "OAuth", "description": "Standard"},
        {"label": "JWT", "description": "Tokens"},
        {"label": "No", "description": "None at all"},
    ],
    "multiSelect": False,
}
Q_FEATURES = {
    "question": "Which features?",
    "header": "Features",
    "options": [{"label": "Login"}, {"label": "Signup"}, {"label": "Reset"}],
    "multiSelect": True,
}


def test_question_by_number() -> None:
    assert resolve_question([Q_AUTH], "2") == Answered({"Which auth method?": "JWT"})
    assert resolve_question([Q_AUTH], " 1. ") == Answered({"Which auth method?": "OAuth"})


def test_question_by_label_case_insensitive() -> None:
    assert resolve_question([Q_AUTH], "jwt") == Answered({"Which auth method?": "JWT"})


def test_option_label_no_beats_skip() -> None:
    assert resolve_question([Q_AUTH], "no") == Answered({"Which auth method?": "No"})


def test_question_skip() -> None:
    assert resolve_question([Q_FEATURES], "no") == Skipped(None)
    assert resolve_question([Q_FEATURES], "no, later") == Skipped("later")


def test_question_free_text_is_other_answer() -> None:
    assert resolve_question([Q_AUTH], "Basic auth for now") == Answered(
        {"Which auth method?": "Basic auth for now"}
    )


def test_question_out_of_range_and_multiple_for_single() -> None:
    assert isinstance(resolve_question([Q_AUTH], "7"), Invalid)
    assert isinstance(resolve_question([Q_AUTH], "1,2"), Invalid)


def test_multiselect() -> None:
    assert resolve_question([Q_FEATURES], "1,3") == Answered({"Which features?": "Login, Reset"})
    assert resolve_question([Q_FEATURES], "3 1 3") == Answered({"Which features?": "Reset, Login"})
    assert resolve_question([Q_FEATURES], "login, signup") == Answered(
        {"Which features?": "Login, Signup"}
    )


def test_several_questions() -> None:
    assert resolve_question([Q_AUTH, Q_FEATURES], "2; 1,2") == Answered(
        {"Which auth method?": "JWT", "Which features?": "Login, Signup"}
    )
    assert resolve_question([Q_AUTH, Q_FEATURES], "oauth\nreset") == Answered(
        {"Which auth method?": "OAuth", "Which features?": "Reset"}
    )
    assert isinstance(resolve_question([Q_AUTH, Q_FEATURES], "2"), Invalid)


def test_several_single_choice_questions_space_separated() -> None:
    q2 = dict(Q_AUTH, question="Second?")
    assert resolve_question([Q_AUTH, q2], "1 2") == Answered(
        {"Which auth method?": "OAuth", "Second?": "JWT"}
    )


def test_no_questions_is_invalid() -> None:
    assert isinstance(resolve_question([], "1"), Invalid)
