"""The ``new`` conversation: type → repository → task, with numbered choices (pure)."""

from __future__ import annotations

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


@attrs.define
class CreationFlow:
    repos: list[str]
    types: tuple[tuple[str, str], ...] = AGENT_TYPES
    step: Step = "type"
    agent_type: str | None = None
    repo: str | None = None


@attrs.frozen
class FlowReply:
    text: str | None = None
    done: CreateRequest | None = None
    finished: bool = False  # the flow is over (created, cancelled or impossible)


def _numbered(items: list[str]) -> str:
    return " ".join(f"[{i}] {one_line(item)}" for i, item in enumerate(items, 1))


def type_question(types: tuple[tuple[str, str], ...] = AGENT_TYPES) -> str:
    return "What type of agent? " + _numbered([label for _, label in types])


def repo_question(repos: list[str]) -> str:
    return "Available repos: " + _numbered(repos)


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
        return FlowReply(repo_question(flow.repos))
    if flow.step == "repo":
        index = _choose(text, flow.repos)
        if index is None:
            return FlowReply(
                f"Please answer with a number from 1 to {len(flow.repos)} or a repository name "
                "(or 'cancel').\n" + repo_question(flow.repos)
            )
        flow.repo = flow.repos[index]
        flow.step = "task"
        return FlowReply(TASK_QUESTION)
    assert flow.agent_type is not None and flow.repo is not None
    request = build_request(flow.agent_type, flow.repo, text, flow.repos, flow.types)
    if isinstance(request, str):
        return FlowReply(request + " " + TASK_QUESTION)
    return FlowReply(done=request, finished=True)


def build_request(
    agent_type: str, repo: str, task: str, repos: list[str],
    types: tuple[tuple[str, str], ...] = AGENT_TYPES,
) -> CreateRequest | str:
    """Check a complete answer (the chat flow's last step, the ad-hoc form); str = what's wrong."""
    if agent_type not in dict(types):
        return f"Unknown agent type '{agent_type[:40]}'."
    if repo not in repos:
        return f"Unknown repository '{repo[:60]}'."
    task = task.strip()
    if not task:
        return "The task cannot be empty."
    return CreateRequest(agent_type, repo, task)
