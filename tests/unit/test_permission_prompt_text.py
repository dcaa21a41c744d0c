"""Prompt texts shown to the owner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentchat.permissions.model import Decision, PermissionRequest, kind_for
from agentchat.permissions.prompt_text import (
    code_block,
    display_path,
    format_outcome,
    format_prompt,
    summarize_input,
)

CWD = Path("/work/repo")


def req(tool: str, inp: dict[str, Any], cwd: Path | None = CWD) -> PermissionRequest:
    return PermissionRequest(
        id="a1b2",
        agent="swift-fox",
        owner="me@example.org",
        tool_name=tool,
        input=inp,
        kind=kind_for(tool),
        cwd=cwd,
    )


def test_edit_matches_seed_shape() -> None:
    text = format_prompt(
        req(
            "Edit",
            {"file_path": "/work/repo/src/auth.ts", "old_string": "a()", "new_string": "b()"},
        )
    )
    assert text == (
        "🔐 Permission #a1b2\nAction: Edit File\nFile: src/auth.ts\n"
        "```\n- a()\n+ b()\n```\nReply: yes / no / always"
    )


def test_write_shows_path_and_capped_content() -> None:
    content = "\n".join(f"line {i}" for i in range(30))
    text = format_prompt(req("Write", {"file_path": "/work/repo/new.py", "content": content}))
    assert "Action: Write File" in text
    assert "File: new.py (30 lines)" in text
    assert "line 9" in text and "line 10\n" not in text
    assert "… ✂ 20 more lines not shown" in text


def test_long_lines_are_capped() -> None:
    text = format_prompt(req("Write", {"file_path": "x", "content": "y" * 1000}))
    assert max(len(line) for line in text.splitlines()) <= 200


def test_multiedit_diff() -> None:
    text = format_prompt(
        req(
            "MultiEdit",
            {
                "file_path": "/work/repo/a.py",
                "edits": [
                    {"old_string": "x = 1", "new_string": "x = 2"},
                    {"old_string": "y = 1", "new_string": "y = 3"},
                ],
            },
        )
    )
    assert "File: a.py (2 edits)" in text
    assert "- x = 1\n+ x = 2" in text and "+ y = 3" in text


def test_bash_command_and_description() -> None:
    text = format_prompt(req("Bash", {"command": "ls -la", "description": "List files"}))
    assert "Action: Run Command" in text
    assert "Description: List files" in text
    assert "```\nls -la\n```" in text


def test_webfetch_url() -> None:
    text = format_prompt(req("WebFetch", {"url": "https://example.com", "prompt": "summary"}))
    assert "URL: https://example.com" in text


def test_other_tool_compact_json_capped() -> None:
    text = format_prompt(req("mcp__db__query", {"sql": "x" * 1000}))
    assert "Action: Use Tool db/query" in text
    body = text.split("```")[1].strip()
    assert body.startswith('{"sql":"xxx') and body.endswith(" …✂ 710 more characters not shown")
    assert len(body) <= 300 + len(" …✂ 710 more characters not shown")


def test_paths_outside_cwd_stay_absolute() -> None:
    assert display_path("/etc/passwd", CWD) == "/etc/passwd"
    assert display_path("/work/repo/a/b.py", CWD) == "a/b.py"
    assert display_path("/work/repo2/x", CWD) == "/work/repo2/x"
    assert display_path("/work/repo/x", None) == "/work/repo/x"


def test_code_fence_inside_content_cannot_close_block() -> None:
    block = code_block(["```", "code"])
    assert block.splitlines() == ["```", " ```", "code", "```"]


def test_question_prompt() -> None:
    r = req(
        "AskUserQuestion",
        {
            "questions": [
                {
                    "question": "Which auth method?",
                    "header": "Auth",
                    "options": [
                        {"label": "OAuth", "description": "Standard"},
                        {"label": "JWT", "description": "Tokens"},
                    ],
                    "multiSelect": False,
                }
            ]
        },
    )
    text = format_prompt(r)
    assert text.startswith("❓ Question #a1b2")
    assert "Auth: Which auth method?" in text
    assert "  1. OAuth — Standard" in text and "  2. JWT — Tokens" in text
    assert "Reply: 1 or 2" in text


def test_multi_question_prompt_mentions_separator() -> None:
    q = {"question": "Q?", "options": [{"label": "A"}, {"label": "B"}], "multiSelect": True}
    text = format_prompt(req("AskUserQuestion", {"questions": [q, dict(q, question="R?")]}))
    assert "1) Q? (choose one or more)" in text and "2) R?" in text
    assert "separated by ';'" in text


def test_plan_prompt() -> None:
    text = format_prompt(req("ExitPlanMode", {"plan": "1. Do this\n2. Do that"}))
    assert text.startswith("📋 Plan #a1b2")
    assert "1. Do this\n2. Do that" in text
    assert "Reply: yes" in text


def test_outcomes() -> None:
    r = req("Bash", {"command": "ls"})
    allowed = format_outcome(r, Decision("allow"))
    assert allowed.endswith("✅ allowed") and "Reply:" not in allowed
    denied = format_outcome(r, Decision("deny", note="use make"))
    assert denied.endswith("❌ denied: use make")
    expired = format_outcome(r, Decision("deny", answered_by="timeout"))
    assert expired.endswith("⏱ expired (denied)")
    always = format_outcome(r, Decision("allow", how="always", note="Bash: ls"))
    assert always.endswith("✅ always allowed: Bash: ls")


def test_summaries() -> None:
    assert summarize_input("Edit", {"file_path": "/work/repo/src/x.py"}, CWD) == "Edit src/x.py"
    assert summarize_input("Bash", {"command": "ls\n  -la"}) == "Bash ls -la"
    assert len(summarize_input("Bash", {"command": "x" * 500}, limit=40)) == 40
