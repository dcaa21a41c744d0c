"""The XEP-0004 forms of the ad-hoc commands (pure: data in, ``Form`` out)."""

from __future__ import annotations

from typing import Any

from agentchat.chat.textpolicy import one_line
from agentchat.manager.flow import TASK_QUESTION
from agentchat.permissions.model import PermissionRequest
from agentchat.permissions.prompt_text import summary
from agentchat.xmpp.forms import Field, Form, Option, single

LEAVE = ""  # an approvals choice that leaves the request pending
# the creation form's modes: "default" is the agent type's own; bypass only from the chat
FORM_MODES = (Option("default", "The agent's default"),
              Option("ask", "ask – every edit and command asks"),
              Option("edits", "edits – file edits go through, commands ask"),
              Option("plan", "plan – plans first, then asks to proceed"))


def new_agent(repos: list[str], types: tuple[tuple[str, str], ...], *,
              worktree: bool = False) -> Form:
    """``worktree``: the field's default (work.worktrees)."""
    return Form(
        title="New agent",
        instructions="Pick the agent type and the repository it works in, and give it "
                     "its first task.",
        fields=(
            Field("type", "list-single", "Type", values=(types[0][0],) if types else (),
                  options=tuple(Option(k, label) for k, label in types),
                  required=True),
            Field("repo", "list-single", "Repository",
                  options=tuple(Option(repo_value(i, r), one_line(r))
                                for i, r in enumerate(repos, 1)), required=True),
            Field("task", "text-multi", "Task", desc=TASK_QUESTION, required=True),
            Field("worktree", "boolean", "Own git worktree", values=("1" if worktree else "0",),
                  desc="Work on a new branch agentchat/<name> in a worktree of its own, "
                       "outside the repository (git repositories only)."),
            Field("mode", "list-single", "Permission mode", values=("default",),
                  options=FORM_MODES),
            Field("model", "text-single", "Model",
                  desc="Empty for the agent's default; the agent's 'model' command lists "
                       "the names it offers."),
        ),
    )


def new_agent_controls(values: dict[str, list[str]]) -> tuple[str, str] | str:
    """The form's (mode, model), "" for the agent's defaults; str = what's wrong."""
    mode, model = single(values, "mode").strip(), single(values, "model").strip()
    if mode not in {"", *(o.value for o in FORM_MODES)}:
        return f"Unknown mode '{one_line(mode)[:40]}'."
    if len(model.split()) > 1 or len(model) > 100:
        return "A model name is one word, as the agent's 'model' command lists them."
    return ("" if mode == "default" else mode), model


def agent_choice(title: str, instructions: str, names: list[str]) -> Form:
    return Form(title=title, instructions=instructions, fields=(
        Field("agent", "list-single", "Agent", options=tuple(Option(n, n) for n in names),
              required=True),
    ))


def _question_options(req: PermissionRequest) -> tuple[Option, ...] | None:
    """One single-choice question: its options; anything else is answered as text."""
    questions = [q for q in req.input.get("questions") or [] if isinstance(q, dict)]
    if len(questions) != 1 or questions[0].get("multiSelect"):
        return None
    options: list[Any] = questions[0].get("options") or []
    labels = [str(o.get("label", "")) if isinstance(o, dict) else str(o) for o in options]
    return tuple(Option(str(i), label) for i, label in enumerate(labels, 1))


def approvals(pending: list[PermissionRequest]) -> Form:
    fields: list[Field] = []
    for req in pending:
        label = f"#{req.id} {summary(req)}"
        if req.kind == "question":
            options = _question_options(req)
            if options is not None:
                fields.append(Field(f"req-{req.id}", "list-single", label, values=(LEAVE,),
                                    options=(Option(LEAVE, "Leave waiting"), *options,
                                             Option("no", "Skip the question"))))
            else:
                fields.append(Field(f"req-{req.id}", "text-single", label, desc=(
                    "Option numbers as in the chat prompt (e.g. '2; 1,3'), or 'no'.")))
            continue
        choices = [Option(LEAVE, "Leave waiting"), Option("yes", "Approve")]
        if req.kind == "plan":
            choices.append(Option("yes edits", "Approve, and let file edits through"))
        if req.kind == "tool":
            choices.append(Option("always", "Always approve"))
        choices.append(Option("no", "Deny"))
        fields.append(Field(f"req-{req.id}", "list-single", label, values=(LEAVE,),
                            options=tuple(choices)))
    return Form(title="Pending approvals",
                instructions="Approve or deny each request; the agent continues at once.",
                fields=tuple(fields))


def boolean(value: str) -> bool | None:
    """XEP-0004 boolean: '1'/'true', '0'/'false'; absent: None (the configured default)."""
    lowered = value.strip().lower()
    return True if lowered in ("1", "true") else False if lowered in ("0", "false") else None


def repo_value(index: int, repo: str) -> str:
    """A form value that survives the round trip: a name with characters the text policy
    changes (controls, line breaks) is sent as ``#<n>`` instead."""
    return repo if one_line(repo) == repo and not repo.startswith("#") else f"#{index}"


def repo_of(value: str, repos: list[str]) -> str:
    number = value[1:]
    if value.startswith("#") and number.isascii() and number.isdigit():
        index = int(number)
        if 1 <= index <= len(repos) and repo_value(index, repos[index - 1]) == value:
            return repos[index - 1]
    return value
