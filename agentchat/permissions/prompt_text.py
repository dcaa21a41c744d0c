"""Chat texts for permission prompts (pure: no I/O, easy to test and to tweak).

Code and diffs go into XEP-0393 preformatted blocks (```), which most XMPP clients render
monospaced; everything is capped so one prompt stays readable on a phone.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from .model import Decision, PermissionRequest

PREVIEW_LINES = 10
DIFF_LINES = 16
LINE_CHARS = 160
JSON_CHARS = 300
PLAN_CHARS = 3000
PLAN_LINES = 60
SUMMARY_CHARS = 80

_ACTIONS = {
    "Write": "Write File",
    "Edit": "Edit File",
    "MultiEdit": "Edit File",
    "NotebookEdit": "Edit Notebook",
    "Read": "Read File",
    "Bash": "Run Command",
    "WebFetch": "Fetch URL",
    "WebSearch": "Web Search",
    "Glob": "Find Files",
    "Grep": "Search Files",
}


def action_label(tool_name: str) -> str:
    """Human wording for a tool; MCP tools show as server/tool."""
    if tool_name in _ACTIONS:
        return _ACTIONS[tool_name]
    if tool_name.startswith("mcp__"):
        parts = tool_name.split("__", 2)
        if len(parts) == 3:
            return f"Use Tool {parts[1]}/{parts[2]}"
    return f"Use Tool {tool_name}"


def display_path(path: object, cwd: Path | None) -> str:
    """Paths relative to the agent's working directory: shorter and no host layout leaks."""
    text = str(path)
    if cwd is None or not text.startswith("/"):
        return text
    try:
        rel = PurePosixPath(text).relative_to(PurePosixPath(str(cwd)))
    except ValueError:
        return text
    return str(rel) if str(rel) != "." else text


def _cap_line(line: str, limit: int = LINE_CHARS) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code_block(lines: list[str]) -> str:
    """A ``` block; a line starting with ``` inside would close it, so it gets a space."""
    safe = [" " + ln if ln.startswith("```") else ln for ln in lines]
    return "\n".join(["```", *safe, "```"])


def _preview(text: str, max_lines: int = PREVIEW_LINES, prefix: str = "") -> list[str]:
    lines = text.splitlines() or [""]
    shown = [_cap_line(prefix + ln) for ln in lines[:max_lines]]
    if len(lines) > max_lines:
        shown.append(f"… {len(lines) - max_lines} more lines")
    return shown


def _diff_lines(old: str, new: str, budget: int = DIFF_LINES) -> list[str]:
    """A compact -/+ view; a real diff algorithm would be overkill for a chat preview."""
    old_lines = old.splitlines() if old else []
    new_lines = new.splitlines() if new else []
    half = max(budget // 2, 1)
    old_budget = min(len(old_lines), max(half, budget - len(new_lines)))
    new_budget = min(len(new_lines), budget - old_budget)
    out = [_cap_line("- " + ln) for ln in old_lines[:old_budget]]
    if len(old_lines) > old_budget:
        out.append(f"- … {len(old_lines) - old_budget} more lines")
    out += [_cap_line("+ " + ln) for ln in new_lines[:new_budget]]
    if len(new_lines) > new_budget:
        out.append(f"+ … {len(new_lines) - new_budget} more lines")
    return out


def compact_json(value: Any, limit: int = JSON_CHARS) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return _cap(text, limit)


def _str(inp: dict[str, Any], key: str) -> str:
    value = inp.get(key)
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _tool_details(tool_name: str, inp: dict[str, Any], cwd: Path | None) -> list[str]:
    """The lines between "Action:" and "Reply:" for one tool use."""
    if tool_name == "Write":
        content = _str(inp, "content")
        n = len(content.splitlines())
        return [
            f"File: {display_path(_str(inp, 'file_path'), cwd)} ({n} line{'s' if n != 1 else ''})",
            code_block(_preview(content)),
        ]
    if tool_name == "Edit":
        head = f"File: {display_path(_str(inp, 'file_path'), cwd)}"
        if inp.get("replace_all"):
            head += " (all occurrences)"
        return [head, code_block(_diff_lines(_str(inp, "old_string"), _str(inp, "new_string")))]
    if tool_name == "MultiEdit":
        edits = [e for e in inp.get("edits") or [] if isinstance(e, dict)]
        lines: list[str] = []
        per_edit = max(DIFF_LINES // max(min(len(edits), 3), 1), 2)
        for i, edit in enumerate(edits[:3]):
            if i:
                lines.append("…")
            lines += _diff_lines(_str(edit, "old_string"), _str(edit, "new_string"), per_edit)
        if len(edits) > 3:
            lines.append(f"… {len(edits) - 3} more edits")
        n = len(edits)
        path = display_path(_str(inp, "file_path"), cwd)
        head = f"File: {path} ({n} edit{'s' if n != 1 else ''})"
        return [head, code_block(lines or ["(no edits)"])]
    if tool_name == "NotebookEdit":
        out = [f"File: {display_path(_str(inp, 'notebook_path'), cwd)}"]
        if inp.get("new_source"):
            out.append(code_block(_preview(_str(inp, "new_source"))))
        return out
    if tool_name == "Bash":
        out = []
        if inp.get("description"):
            out.append(f"Description: {_cap(_str(inp, 'description'), 200)}")
        out.append(code_block(_preview(_str(inp, "command"), PREVIEW_LINES)))
        return out
    if tool_name == "WebFetch":
        out = [f"URL: {_cap(_str(inp, 'url'), 400)}"]
        if inp.get("prompt"):
            out.append(f"Prompt: {_cap(_str(inp, 'prompt'), 200)}")
        return out
    if tool_name == "WebSearch":
        return [f"Query: {_cap(_str(inp, 'query'), 300)}"]
    if tool_name == "Read":
        return [f"File: {display_path(_str(inp, 'file_path'), cwd)}"]
    return [code_block([compact_json(inp)])]


def summary(req: PermissionRequest, limit: int = SUMMARY_CHARS) -> str:
    """One line ("Edit src/x.py", "Bash ls -la") for lists of pending prompts and the audit log."""
    return summarize_input(req.tool_name, req.input, req.cwd, limit)


def summarize_input(
    tool_name: str, inp: dict[str, Any], cwd: Path | None = None, limit: int = SUMMARY_CHARS
) -> str:
    if tool_name in ("Write", "Edit", "MultiEdit", "Read"):
        detail = display_path(_str(inp, "file_path"), cwd)
    elif tool_name == "NotebookEdit":
        detail = display_path(_str(inp, "notebook_path"), cwd)
    elif tool_name == "Bash":
        detail = " ".join(_str(inp, "command").split())
    elif tool_name == "WebFetch":
        detail = _str(inp, "url")
    elif tool_name == "WebSearch":
        detail = _str(inp, "query")
    elif tool_name == "AskUserQuestion":
        qs = [q for q in inp.get("questions") or [] if isinstance(q, dict)]
        detail = " / ".join(_str(q, "question") for q in qs)
    elif tool_name == "ExitPlanMode":
        detail = " ".join(_str(inp, "plan").split())
    else:
        detail = compact_json(inp, limit)
    return _cap(f"{tool_name} {detail}".strip(), limit)


def _reply_line(req: PermissionRequest) -> str:
    if req.kind == "question":
        return _question_reply_line(_questions(req))
    if req.kind == "plan":
        return "Reply: yes (start implementing) / no (keep planning)"
    return "Reply: yes / no / always"


def format_prompt(req: PermissionRequest, *, with_reply: bool = True) -> str:
    """The prompt sent to the owner; questions and plans get their own layouts."""
    if req.kind == "question":
        return format_question(req, with_reply=with_reply)
    if req.kind == "plan":
        return format_plan(req, with_reply=with_reply)
    lines = [
        f"🔐 Permission #{req.id}",
        f"Action: {action_label(req.tool_name)}",
        *_tool_details(req.tool_name, req.input, req.cwd),
    ]
    if with_reply:
        lines.append(_reply_line(req))
    return "\n".join(lines)


def _questions(req: PermissionRequest) -> list[dict[str, Any]]:
    return [q for q in req.input.get("questions") or [] if isinstance(q, dict)]


def _options(question: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in question.get("options") or [] if isinstance(o, dict)]


def _question_reply_line(questions: list[dict[str, Any]]) -> str:
    if len(questions) <= 1:
        q = questions[0] if questions else {}
        n = len(_options(q))
        if q.get("multiSelect"):
            example = "1,2" if n >= 2 else "1"
            return f"Reply: option numbers, e.g. {example} (or your own answer); no to skip"
        nums = " or ".join(str(i) for i in range(1, min(n, 3) + 1)) or "your answer"
        return f"Reply: {nums} (or your own answer); no to skip"
    example = "; ".join("1,2" if q.get("multiSelect") else "1" for q in questions)
    return f"Reply: one answer per question separated by ';', e.g. {example} — or no to skip"


def format_question(req: PermissionRequest, *, with_reply: bool = True) -> str:
    """AskUserQuestion: numbered options so a reply can be just a digit."""
    questions = _questions(req)
    title = "❓ Question" if len(questions) <= 1 else "❓ Questions"
    lines = [f"{title} #{req.id}"]
    for qi, q in enumerate(questions, 1):
        header = _str(q, "header")
        text = _str(q, "question")
        label = f"{header}: {text}" if header else text
        if q.get("multiSelect"):
            label += " (choose one or more)"
        lines.append(f"{qi}) {label}" if len(questions) > 1 else label)
        for oi, opt in enumerate(_options(q), 1):
            desc = _str(opt, "description")
            entry = f"  {oi}. {_str(opt, 'label')}" + (f" — {desc}" if desc else "")
            lines.append(_cap_line(entry, 200))
    if with_reply:
        lines.append(_question_reply_line(questions))
    return "\n".join(lines)


def format_plan(req: PermissionRequest, *, with_reply: bool = True) -> str:
    """ExitPlanMode: the plan itself is the thing to approve, shown as plain text."""
    plan = _str(req.input, "plan")
    plan_lines = plan.splitlines()
    shown = "\n".join(plan_lines[:PLAN_LINES])
    shown = _cap(shown, PLAN_CHARS)
    if len(plan_lines) > PLAN_LINES or len(plan) > PLAN_CHARS:
        shown += "\n… (plan truncated)"
    lines = [f"📋 Plan #{req.id} — ready to start?", shown]
    if with_reply:
        lines.append(_reply_line(req))
    return "\n".join(lines)


def outcome_label(req: PermissionRequest, decision: Decision) -> str:
    """Short status line: what happened to the prompt, e.g. "✅ allowed" or "⏱ expired"."""
    note = f": {decision.note}" if decision.note else ""
    if decision.allowed:
        if decision.answered_by == "rule":
            return f"✅ allowed by rule{note}"
        if req.kind == "question":
            return f"✅ answered{note}"
        if req.kind == "plan":
            return "✅ plan approved"
        if decision.how == "always":
            return f"✅ always allowed{note}"
        return "✅ allowed"
    if decision.answered_by == "timeout":
        return "⏱ expired (denied)"
    if decision.answered_by == "shutdown":
        return "⏹ cancelled (agent stopped)"
    if decision.answered_by == "cancelled":
        return "⏹ cancelled"
    if req.kind == "question":
        return f"❌ skipped{note}"
    if req.kind == "plan":
        return f"❌ plan rejected{note}"
    return f"❌ denied{note}"


def format_outcome(req: PermissionRequest, decision: Decision) -> str:
    """The corrected prompt: the original text without the reply hint, plus the outcome."""
    return f"{format_prompt(req, with_reply=False)}\n{outcome_label(req, decision)}"
