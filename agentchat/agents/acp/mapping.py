"""ACP shapes ↔ what agentchat shows and decides (pure: no I/O, unit-tested).

An ACP tool call says what it does with a ``kind`` (edit, execute, read…), a ``title``, its
``content`` (a ``diff`` with path/oldText/newText, text) and ``rawInput``. The chat prompt, the
``🔧`` line, the always-rules and the audit log already know Claude Code's tool shapes (Write,
Edit, Bash with their inputs), so a call is described in those terms: one prompt format and one
rule matcher for every backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from agentchat.agents.events import Choice, UsageReported
from agentchat.permissions.model import Decision


@attrs.frozen
class ToolView:
    """A tool call as the chat shows it: a tool name and its input (Claude's shapes)."""

    name: str
    input: dict[str, Any]


def _diff(content: Iterable[Any]) -> dict[str, Any] | None:
    for item in content:
        if isinstance(item, dict) and item.get("type") == "diff":
            return item
    return None


def _first_path(locations: Iterable[Any]) -> str | None:
    for loc in locations:
        if isinstance(loc, dict) and isinstance(loc.get("path"), str):
            return str(loc["path"])
    return None


_PATHS = ("file_path", "filePath", "filepath", "path")
_OLD = ("old_string", "oldString")
_NEW = ("new_string", "newString")


def _first_str(raw: dict[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        if isinstance(raw.get(key), str):
            return str(raw[key])
    return None


def _raw_path(raw: Any) -> str | None:
    """The file a call's ``rawInput`` names (agents spell the key differently)."""
    return _first_str(raw, _PATHS) if isinstance(raw, dict) else None


def _command(raw: Any, title: str) -> str:
    """The command line of an execute call: rawInput.command (str or argv), else the title."""
    if isinstance(raw, dict):
        command = raw.get("command") or raw.get("cmd")
        if isinstance(command, list) and all(isinstance(c, str) for c in command):
            # Codex sends ["bash", "-lc", "<script>"]: the script is what the owner reads
            if len(command) == 3 and command[1] in ("-lc", "-c"):
                return str(command[2])
            return " ".join(command)
        if isinstance(command, str):
            return command
    return title


def tool_view(call: dict[str, Any]) -> ToolView:
    """Describe an ACP ``toolCall`` (as JSON, camelCase keys) in the terms of the chat."""
    kind = call.get("kind") or "other"
    title = str(call.get("title") or kind)
    content = call.get("content") or []
    locations = call.get("locations") or []
    raw = call.get("rawInput")
    diff = _diff(content)
    if kind == "edit" and diff is not None:
        path = str(diff.get("path") or "")
        old = diff.get("oldText")
        new = str(diff.get("newText") or "")
        if not old:
            return ToolView("Write", {"file_path": path, "content": new})
        return ToolView("Edit", {"file_path": path, "old_string": str(old), "new_string": new})
    if kind == "execute":
        command = _command(raw, title)
        view: dict[str, Any] = {"command": command}
        if title and title != command:
            view["description"] = title
        return ToolView("Bash", view)
    where = _raw_path(raw) or _first_path(locations)
    if kind == "edit" and where is not None and isinstance(raw, dict):
        # no diff (OpenCode announces a call with its tool's own input): read that input
        if isinstance(raw.get("content"), str):
            return ToolView("Write", {"file_path": where, "content": raw["content"]})
        old_text, new_text = _first_str(raw, _OLD), _first_str(raw, _NEW)
        if old_text is not None and new_text is not None:
            return ToolView("Edit", {"file_path": where, "old_string": old_text,
                                     "new_string": new_text})
    if kind == "read" and where is not None:
        return ToolView("Read", {"file_path": where})
    if kind in ("edit", "delete", "move") and where is not None:
        return ToolView(title, {"file_path": where})
    if isinstance(raw, dict) and raw:
        return ToolView(title, dict(raw))
    return ToolView(title, {})


_ALLOW_ONCE = ("allow_once", "allow_always")
_ALLOW_ALWAYS = ("allow_always", "allow_once")
_REJECT = ("reject_once", "reject_always")


def choose_option(options: Sequence[dict[str, Any]], decision: Decision) -> str | None:
    """The ``optionId`` answering ``decision``, or None for "cancelled" (nothing fits).

    ``always`` picks allow_always where offered (the agent then stops asking for the
    session too); a cancelled request (interrupt, agent exit) is answered ``cancelled``.
    """
    if decision.answered_by in ("cancelled", "shutdown"):
        return None
    if decision.allowed:
        order = _ALLOW_ALWAYS if decision.how == "always" else _ALLOW_ONCE
    else:
        order = _REJECT
    for kind in order:
        for option in options:
            if option.get("kind") == kind and isinstance(option.get("optionId"), str):
                return str(option["optionId"])
    return None


def follow_up(decision: Decision, title: str) -> str | None:
    """What to tell the agent after a refusal with a reason: ACP's answer has no field for it,
    so it goes to the agent as the next prompt of the same turn."""
    if decision.allowed or not decision.note or decision.answered_by != "owner":
        return None
    return f"The user refused the permission for: {title}. They said: {decision.note}"


def plan_text(entries: Any) -> str:
    """An ACP ``plan`` update's entries as lines: ``[x] done``, ``[>] running``, ``[ ] to do``."""
    marks = {"completed": "[x]", "in_progress": "[>]"}
    lines = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("content"), str):
            lines.append(f"{marks.get(str(entry.get('status')), '[ ]')} {entry['content']}")
    return "\n".join(lines)


# --- session controls -------------------------------------------------------------------------


def mode_choices(modes: Any) -> tuple[str, tuple[Choice, ...]]:
    """``modes`` of session/new or session/load: (current mode id, the modes offered)."""
    if not isinstance(modes, dict):
        return "", ()
    offered = tuple(
        Choice(str(m["id"]), str(m.get("name") or ""), str(m.get("description") or ""))
        for m in modes.get("availableModes") or []
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    )
    current = modes.get("currentModeId")
    return (current if isinstance(current, str) else ""), offered


def model_option(options: Any) -> dict[str, Any] | None:
    """The config option that chooses the model (category ``model``, or id ``model``)."""
    if not isinstance(options, list):
        return None
    for option in options:
        if isinstance(option, dict) and option.get("type", "select") == "select" and (
                option.get("category") == "model" or option.get("id") == "model"):
            return option
    return None


def config_choices(option: dict[str, Any]) -> tuple[str, tuple[Choice, ...]]:
    """A select option's current value and its values (flat, or in groups)."""
    values: list[Choice] = []
    for item in option.get("options") or []:
        if not isinstance(item, dict):
            continue
        inner = item.get("options") if "group" in item else [item]
        for value in inner or []:
            if isinstance(value, dict) and isinstance(value.get("value"), str):
                values.append(Choice(value["value"], str(value.get("name") or ""),
                                     str(value.get("description") or "")))
    current = option.get("currentValue")
    return (current if isinstance(current, str) else ""), tuple(values)


def usage_event(update: dict[str, Any]) -> UsageReported:
    """``usage_update``: context tokens used of its size, and the session's cost in USD."""
    used, size = update.get("used"), update.get("size")
    cost = update.get("cost")
    amount = cost.get("amount") if isinstance(cost, dict) else None
    in_usd = isinstance(cost, dict) and str(cost.get("currency", "")).upper() == "USD"
    return UsageReported(
        context_tokens=used if isinstance(used, int) else None,
        context_window=size if isinstance(size, int) and size > 0 else None,
        cost_usd=float(amount) if in_usd and isinstance(amount, int | float) else None,
    )
