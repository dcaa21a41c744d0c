"""The ``new`` conversation: type → repository → task, with numbered choices (pure)."""

from __future__ import annotations

import re
from typing import Literal

import attrs

from agentchat.chat.textpolicy import one_line

AGENT_TYPES: tuple[tuple[str, str], ...] = (("claude-code", "Claude Code"),)
"""(key, menu label) of each type offered; the service passes its own (``agents.types``)."""

Step = Literal["type", "repo", "task"]


@attrs.frozen
class CreateRequest:
    agent_type: str
    repo: str
    task: str
    worktree: bool | None = None  # a git worktree of its own; None: work.worktrees decides
    mode: str = ""  # the ad-hoc form's: "" (the backend's default), ask, edits or plan
    model: str = ""  # the ad-hoc form's: "" (the default) or a name the backend offers


@attrs.define
class CreationFlow:
    repos: list[str]
    types: tuple[tuple[str, str], ...] = AGENT_TYPES
    step: Step = "type"
    agent_type: str | None = None
    repo: str | None = None
    worktree: bool | None = None
    worktrees_default: bool = False  # work.worktrees: what the repo question offers to change


@attrs.frozen
class FlowReply:
    text: str | None = None
    done: CreateRequest | None = None
    finished: bool = False  # the flow is over (created, cancelled or impossible)


def _numbered(items: list[str]) -> str:
    return " ".join(f"[{i}] {one_line(item)}" for i, item in enumerate(items, 1))


def type_question(types: tuple[tuple[str, str], ...] = AGENT_TYPES) -> str:
    return "What type of agent? " + _numbered([label for _, label in types])


def repo_question(repos: list[str], worktrees_default: bool | None = None) -> str:
    """The repository menu; with ``worktrees_default`` (creation), how to choose a worktree."""
    question = "Available repos: " + _numbered(repos)
    if worktrees_default is None:
        return question
    hint = ("add 'nowt' to work in the repository itself instead of a git worktree of its own"
            if worktrees_default else "add 'wt' for a git worktree of its own")
    example = "nowt" if worktrees_default else "wt"
    return f"{question}\n({hint}, e.g. '1 {example}')"


# Words that choose the worktree option at creation: short and without symbols (phones).
WORKTREE_ON = frozenset({"wt", "worktree", "--worktree", "-w"})
WORKTREE_OFF = frozenset({"nowt", "no-wt", "noworktree", "no-worktree", "--no-worktree"})


def worktree_flag(word: str) -> bool | None:
    """True for 'wt' (and its spellings), False for 'nowt', None for any other word."""
    lowered = word.lower()
    return True if lowered in WORKTREE_ON else False if lowered in WORKTREE_OFF else None


def _split_flags(text: str) -> tuple[str, bool | None]:
    """A repository answer with worktree words in it: ('2', True) for '2 wt'."""
    flag: bool | None = None
    rest: list[str] = []
    for word in text.split():
        value = worktree_flag(word)
        if value is None:
            rest.append(word)
        else:
            flag = value
    return " ".join(rest), flag


TASK_QUESTION = "What's the initial task for the agent?"


def _choose(text: str, options: list[str]) -> int | None:
    """A 1-based number or an option typed out (case-insensitive)."""
    answer = text.strip().rstrip(".")
    if answer.isascii() and answer.isdigit():  # not "²" or "٣": int() fails or surprises
        index = int(answer)
        return index - 1 if 1 <= index <= len(options) else None
    lowered = [o.lower() for o in options]
    if answer.lower() in lowered:
        return lowered.index(answer.lower())
    return None


def advance(flow: CreationFlow, text: str) -> FlowReply:
    if text.strip().lower() in ("cancel", "abort", "stop"):
        return FlowReply("Cancelled. No agent was created.", finished=True)
    if flow.step == "type":
        types = flow.types
        index = _choose(text, [label for _, label in types])
        if index is None and not text.strip().isdigit():  # the key typed out: "gemini"
            index = _choose(text, [k for k, _ in types])
        if index is None:
            return FlowReply(
                f"Please answer with a number from 1 to {len(types)} (or 'cancel').\n"
                + type_question(types)
            )
        flow.agent_type = types[index][0]
        flow.step = "repo"
        return FlowReply(repo_question(flow.repos, flow.worktrees_default))
    if flow.step == "repo":
        answer, flag = _split_flags(text)
        index = _choose(answer, flow.repos)
        if index is None and text.strip() in flow.repos:  # a repository called 'wt'
            index, flag = flow.repos.index(text.strip()), None
        if index is None:
            return FlowReply(
                f"Please answer with a number from 1 to {len(flow.repos)} or a repository name "
                "(or 'cancel').\n" + repo_question(flow.repos, flow.worktrees_default)
            )
        flow.repo = flow.repos[index]
        flow.worktree = flag
        flow.step = "task"
        return FlowReply(TASK_QUESTION)
    assert flow.agent_type is not None and flow.repo is not None
    request = build_request(flow.agent_type, flow.repo, text, flow.repos, flow.types,
                            flow.worktree)
    if isinstance(request, str):
        return FlowReply(request + " " + TASK_QUESTION)
    return FlowReply(done=request, finished=True)


def build_request(
    agent_type: str, repo: str, task: str, repos: list[str],
    types: tuple[tuple[str, str], ...] = AGENT_TYPES, worktree: bool | None = None,
) -> CreateRequest | str:
    """Check a complete answer (the chat flow's last step, the ad-hoc form); str = what's wrong."""
    if agent_type not in dict(types):
        return f"Unknown agent type '{agent_type[:40]}'."
    if repo not in repos:
        return f"Unknown repository '{repo[:60]}'."
    task = task.strip()
    if not task:
        return "The task cannot be empty."
    return CreateRequest(agent_type, repo, task, worktree)


# ------------------------------------------------------------------ one line

@attrs.frozen
class OneLine:
    """``new …`` with words: what they chose. ``task`` empty: ask for it (the flow's last
    step); ``error``: nothing chosen, the text says why and lists the choices."""

    agent_type: str = ""
    repo: str = ""
    task: str = ""
    worktree: bool | None = None
    error: str | None = None


def _pick_type(word: str, types: tuple[tuple[str, str], ...]) -> str | None:
    """A type by number, key, one-word label, or a prefix of exactly one key ('claude')."""
    index = _choose(word, [label for _, label in types])
    if index is None and not word.isdigit():
        index = _choose(word, [k for k, _ in types])
    if index is not None:
        return types[index][0]
    lowered = word.lower()
    starts = [k for k, label in types
              if len(lowered) >= 3 and (k.lower().startswith(lowered)
                                        or label.lower().startswith(lowered))]
    return starts[0] if len(starts) == 1 else None


def _pick_repo(word: str, repos: list[str]) -> str | None:
    index = _choose(word, repos)
    return repos[index] if index is not None else None


def usage(repos: list[str], types: tuple[tuple[str, str], ...]) -> str:
    return ("Usage: new <repo> <task…> or new <type> <repo> <task…> (by number or name; "
            "add 'wt' for a git worktree of its own, 'nowt' for none), or just 'new' to be "
            "asked step by step.\nTypes: " + _numbered([label for _, label in types])
            + "\nRepos: " + _numbered(repos))


def parse_one_line(text: str, repos: list[str],
                   types: tuple[tuple[str, str], ...]) -> OneLine:
    """``new [type] <repo> <task…>``, worktree words ('wt', 'nowt') anywhere before the task.

    The type may be left out (the first one offered). Numbers are read as type and repository
    when both fit ('new 1 2 …'), else the first is the repository ('new 2 3 bugs to fix').
    The task is the rest of ``text`` as typed (line breaks kept).
    """
    spans = list(re.finditer(r"\S+", text))
    words = [m.group(0) for m in spans]

    def rest_from(i: int) -> str:
        return text[spans[i].start():].strip() if i < len(spans) else ""

    flag: bool | None = None

    def skip_flags(i: int) -> int:
        nonlocal flag
        while i < len(words) and words[i] not in repos and worktree_flag(words[i]) is not None:
            flag = worktree_flag(words[i])
            i += 1
        return i

    i = skip_flags(0)
    if i == len(words):
        return OneLine(error=usage(repos, types))
    first = words[i]
    i = skip_flags(i + 1)
    second = words[i] if i < len(words) else None
    kind = _pick_type(first, types)
    typed_repo = _pick_repo(second, repos) if second is not None else None
    if kind is not None and typed_repo is not None:
        rest = skip_flags(i + 1)
        return OneLine(kind, typed_repo, rest_from(rest), flag)
    repo = _pick_repo(first, repos)
    if repo is not None:
        return OneLine(types[0][0] if types else "", repo, rest_from(i), flag)
    if kind is not None:
        which = (f"Unknown repository '{one_line(second[:60])}'." if second is not None
                 else "Which repository?")
        return OneLine(error=f"{which} Repos: {_numbered(repos)}")
    return OneLine(error=_unknown(first, repos, types))


def _unknown(word: str, repos: list[str], types: tuple[tuple[str, str], ...]) -> str:
    return (f"'{one_line(word[:60])}' is neither a repository nor an agent type.\n"
            + usage(repos, types))
