"""Chat texts for permission prompts (pure but for resolving symlinks; easy to test and tweak).

Code and diffs go into XEP-0393 preformatted blocks (```), which most XMPP clients render
monospaced; previews are capped so one prompt stays readable on a phone.

Prompts must not lie: everything from the agent is shown through the display policy
(agentchat.chat.textpolicy): control and bidi characters visible, line breaks in single-line
fields as ⏎, every cut marked with ✂, a command always shown whole, and a path's real target
named when a symlink or ``..`` takes it elsewhere or outside the working tree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agentchat.chat.format import code_block, display_path
from agentchat.chat.textpolicy import guard_agent_text, neutralize, one_line

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
            return _cap(one_line(f"Use Tool {parts[1]}/{parts[2]}"), SUMMARY_CHARS)
    return _cap(one_line(f"Use Tool {tool_name}"), SUMMARY_CHARS)


def real_target(path: str, cwd: Path | None) -> tuple[str | None, bool]:
    """(where ``path`` really leads when a symlink or ``..`` changes it, inside the tree?).

    The one place prompts touch the file system: a symlink inside the repository must not pass
    for an ordinary file (``docs/pwn.txt`` that is really ``/etc/x``).
    """
    if cwd is None or not path:
        return None, True
    root = os.path.realpath(cwd)
    full = os.path.normpath(os.path.join(cwd, path))
    lexical = os.path.normpath(os.path.join(root, os.path.relpath(full, cwd)))
    try:
        real = os.path.realpath(full)
    except (OSError, ValueError):
        return None, True
    inside = real == root or real.startswith(root.rstrip("/") + "/")
    return (None if real == lexical else display_path(real, Path(root))), inside


def file_label(path: str, cwd: Path | None) -> str:
    """``docs/x.txt``, or ``docs/pwn.txt → /etc/x (outside the working tree)``."""
    shown = one_line(display_path(path, cwd))
    target, inside = real_target(path, cwd)
    if target is not None:
        shown += f" → {one_line(target)}"
    if not inside:
        shown += " (outside the working tree)"
    return shown


def _cut_mark(n: int, unit: str) -> str:
    return f"✂ {n:,} more {unit}{'s' if n != 1 else ''} not shown"


def _cap_line(line: str, limit: int = LINE_CHARS) -> str:
    cut = len(line) - limit
    return line if cut <= 0 else f"{line[:limit]} …{_cut_mark(cut, 'character')}"


def _cap(text: str, limit: int) -> str:
    """A summary (lists, the audit log): at most ``limit`` characters in all."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines(text: str) -> list[str]:
    """Lines as they will be shown: controls and invisible characters made visible."""
    return neutralize(text).split("\n")


def _preview(text: str, max_lines: int = PREVIEW_LINES, prefix: str = "") -> list[str]:
    lines = _lines(text.rstrip("\n")) if text else [""]
    shown = [_cap_line(prefix + ln) for ln in lines[:max_lines]]
    if len(lines) > max_lines:
        shown.append(f"… {_cut_mark(len(lines) - max_lines, 'line')}")
    return shown


def _whole(text: str) -> list[str]:
    """All of a command, every line: a dangerous tail must never hide behind a cut."""
    return _lines(text.rstrip("\n")) if text else [""]


def _diff_lines(old: str, new: str, budget: int = DIFF_LINES) -> list[str]:
    """A compact -/+ view; a real diff algorithm would be overkill for a chat preview."""
    old_lines = _lines(old.rstrip("\n")) if old else []
    new_lines = _lines(new.rstrip("\n")) if new else []
    half = max(budget // 2, 1)
    old_budget = min(len(old_lines), max(half, budget - len(new_lines)))
    new_budget = min(len(new_lines), budget - old_budget)
    out = [_cap_line("- " + ln) for ln in old_lines[:old_budget]]
    if len(old_lines) > old_budget:
        out.append(f"- … {_cut_mark(len(old_lines) - old_budget, 'line')}")
    out += [_cap_line("+ " + ln) for ln in new_lines[:new_budget]]
    if len(new_lines) > new_budget:
        out.append(f"+ … {_cut_mark(len(new_lines) - new_budget, 'line')}")
    return out


def compact_json(value: Any, limit: int = JSON_CHARS) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return _cap(neutralize(text), limit)


def _str(inp: dict[str, Any], key: str) -> str:
    value = inp.get(key)
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _tool_details(tool_name: str, inp: dict[str, Any], cwd: Path | None) -> list[str]:
    """The lines between "Action:" and "Reply:" for one tool use."""
    if tool_name == "Write":
        content = _str(inp, "content")
        n = len(content.splitlines())
        return [
            f"File: {file_label(_str(inp, 'file_path'), cwd)} ({n} line{'s' if n != 1 else ''})",
            code_block(_preview(content)),
        ]
    if tool_name == "Edit":
        head = f"File: {file_label(_str(inp, 'file_path'), cwd)}"
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
            lines.append(f"… {_cut_mark(len(edits) - 3, 'edit')}")
        n = len(edits)
        path = file_label(_str(inp, "file_path"), cwd)
        head = f"File: {path} ({n} edit{'s' if n != 1 else ''})"
        return [head, code_block(lines or ["(no edits)"])]
    if tool_name == "NotebookEdit":
        out = [f"File: {file_label(_str(inp, 'notebook_path'), cwd)}"]
        if inp.get("new_source"):
            out.append(code_block(_preview(_str(inp, "new_source"))))
        return out
    if tool_name == "Bash":
        out = []
        if inp.get("description"):
            out.append(f"Description: {_cap_line(one_line(_str(inp, 'description')), 200)}")
        out.append(code_block(_whole(_str(inp, "command"))))
        return out
    if tool_name == "WebFetch":
        out = [f"URL: {_cap_line(one_line(_str(inp, 'url')), 400)}"]
        if inp.get("prompt"):
            out.append(f"Prompt: {_cap_line(one_line(_str(inp, 'prompt')), 200)}")
        return out
    if tool_name == "WebSearch":
        return [f"Query: {_cap_line(one_line(_str(inp, 'query')), 300)}"]
    if tool_name == "Read":
        return [f"File: {file_label(_str(inp, 'file_path'), cwd)}"]
    return [code_block([_cap_line(compact_json(inp, len(str(inp)) * 8 + 16), JSON_CHARS)])]


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
    return _cap(one_line(f"{tool_name} {detail}".strip()), limit)


def _reply_line(req: PermissionRequest) -> str:
    if req.kind == "question":
        return _question_reply_line(_questions(req))
    if req.kind == "plan":
        return ("Reply: yes (start, keep asking before edits) / yes edits (start, let edits "
                "through) / no, <what to change> (keep planning)")
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
        header = one_line(_str(q, "header"))
        text = one_line(_str(q, "question"))
        label = f"{header}: {text}" if header else text
        if q.get("multiSelect"):
            label += " (choose one or more)"
        lines.append(f"{qi}) {label}" if len(questions) > 1 else label)
        for oi, opt in enumerate(_options(q), 1):
            desc = one_line(_str(opt, "description"))
            entry = f"  {oi}. {one_line(_str(opt, 'label'))}" + (f" — {desc}" if desc else "")
            lines.append(_cap_line(entry, 200))
    if with_reply:
        lines.append(_question_reply_line(questions))
    return "\n".join(lines)


def format_plan(req: PermissionRequest, *, with_reply: bool = True) -> str:
    """ExitPlanMode: the plan itself is the thing to approve, shown as plain text."""
    plan = guard_agent_text(neutralize(_str(req.input, "plan")))
    plan_lines = plan.splitlines()
    shown = "\n".join(plan_lines[:PLAN_LINES])
    if len(plan_lines) > PLAN_LINES:
        shown += f"\n… {_cut_mark(len(plan_lines) - PLAN_LINES, 'line')}"
    shown = _cap_line(shown, PLAN_CHARS)
    lines = [f"📋 Plan #{req.id} — ready to start?", shown]
    if with_reply:
        lines.append(_reply_line(req))
    return "\n".join(lines)


def outcome_label(req: PermissionRequest, decision: Decision, by: str | None = None) -> str:
    """Short status line: what happened to the prompt, e.g. "✅ allowed" or "⏱ expired".

    ``by``: who decided, shown where several people see the prompt (a group chat).
    """
    note = f": {_cap(one_line(decision.note), 200)}" if decision.note else ""
    who = f" by {one_line(by)}" if by else ""
    if decision.allowed:
        if decision.answered_by == "rule":
            return f"✅ allowed by rule{note}"
        if req.kind == "question":
            return f"✅ answered{who}{note}"
        if req.kind == "plan":
            edits = "; edits go through" if decision.mode else ""
            return f"✅ plan approved{who}{edits}"
        if decision.how == "always":
            return f"✅ always allowed{who}{note}"
        return f"✅ allowed{who}"
    if decision.answered_by == "timeout":
        return "⏱ expired (denied)"
    if decision.answered_by == "shutdown":
        return "⏹ cancelled (agent stopped)"
    if decision.answered_by == "cancelled":
        return "⏹ cancelled"
    if req.kind == "question":
        return f"❌ skipped{who}{note}"
    if req.kind == "plan":
        return f"❌ plan rejected{who}{note}"
    return f"❌ denied{who}{note}"


def format_outcome(req: PermissionRequest, decision: Decision, by: str | None = None) -> str:
    """The corrected prompt: the original text without the reply hint, plus the outcome."""
    return f"{format_prompt(req, with_reply=False)}\n{outcome_label(req, decision, by)}"


def room_reply_line(req: PermissionRequest, nick: str) -> str:
    """The reply hint of a prompt in a group chat: there a bare "yes" has no addressee."""
    if req.kind == "question":
        answers = f"'{req.id} <option number>' or '{req.id} no'"
    elif req.kind == "plan":
        answers = (f"'{req.id} yes' (start implementing), '{req.id} yes edits' (and let edits "
                   f"through) or '{req.id} no, <what to change>' (keep planning)")
    else:
        answers = f"'{req.id} yes', '{req.id} no' or '{req.id} always'"
    return f"Reply {answers} (or '{nick}: yes'); only the owner and approvers may answer."


# ----------------------------------------------------------------- replies to the owner's answers
# What the chat says back when someone answers a prompt: here, beside the prompts themselves, so
# the broker decides and this module words (the broker holds no text the owner reads).


def not_allowed_to_answer(owner: str, agent: str, *, in_room: bool) -> str:
    if in_room:
        return f"Only {owner} and the approvers they named can answer {agent}'s permission prompts."
    return "Only the agent's owner can answer permission prompts."


def allowed_reply(req: PermissionRequest, *, edits: bool = False) -> str:
    if req.kind == "plan":
        return f"✅ plan approved #{req.id}" + ("; file edits go through from now on" if edits
                                                else "")
    return f"✅ allowed #{req.id}"


def always_reply(req: PermissionRequest, rule: str, also: list[str]) -> str:
    reply = f"✅ allowed #{req.id}; from now on always allowing {rule}"
    return reply + (f" (also allowed {', '.join(also)})" if also else "")


def denial(kind: str) -> tuple[str, str]:
    """(what the agent is told, the chat's label) for a denied request of this kind."""
    if kind == "question":
        return "The user declined to answer the question.", "❌ skipped question"
    if kind == "plan":
        return "The user rejected the plan; keep planning.", "❌ plan rejected"
    return "The user denied this tool use.", "❌ denied"


def denied_reply(label: str, req: PermissionRequest, reason: str | None) -> str:
    return f"{label} #{req.id}" + (f": {reason}" if reason else "")


def answered_reply(req: PermissionRequest, note: str) -> str:
    return f"✅ answered #{req.id}: {note}"


def still_waiting(message: str, req: PermissionRequest) -> str:
    return f"{message} (#{req.id} is still waiting)"


def question_by_reaction(req: PermissionRequest) -> str:
    return f"#{req.id} is a question: reply with an option number."


def how_to_answer(req: PermissionRequest) -> str:
    """The answer named an id but no verb the prompt takes."""
    if req.kind == "question":
        return f"Reply '{req.id} <option number>' or '{req.id} no'."
    return f"Reply '{req.id} yes', '{req.id} no' or '{req.id} always'."


def which_one(pending: list[PermissionRequest], verb: str | None) -> str:
    """An answer with no id while several prompts wait."""
    word = {"allow": "yes", "always": "always", "deny": "no"}.get(verb or "", "no, <reason>")
    listing = ", ".join(f"#{req.id} {summary(req, 40)}" for req in pending)
    return f"Which one? Pending: {listing} — reply '<id> {word}'"


def not_pending(pid: str, closed: str | None, pending_ids: list[str]) -> str:
    """An id that waits no more (``closed``: how it ended) or never did."""
    if closed is not None:
        return f"Too late: #{pid} already {closed}."
    if pending_ids:
        return f"No pending permission #{pid}. Pending: {', '.join(f'#{i}' for i in pending_ids)}"
    return f"No pending permission #{pid}."
