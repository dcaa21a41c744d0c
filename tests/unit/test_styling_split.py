"""Message splitting at paragraph/code-block boundaries and Markdown → XEP-0393 styling."""

from __future__ import annotations

from agentchat.chat.format import code_block, split_message, to_styling


def test_a_code_block_that_fits_is_never_split_and_starts_its_own_part() -> None:
    intro = "Here is the change:\n" + "words " * 60
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(30)) + "\n```"
    parts = split_message(f"{intro}\n\n{code}\n\nDone.", limit=400)
    assert len(parts) == 2
    assert parts[1].startswith("```python\n") and parts[1].endswith("```\n\nDone.")
    assert parts[0] == intro


def test_a_long_code_block_is_cut_at_lines_and_every_piece_is_fenced_within_the_limit() -> None:
    code = "```diff\n" + "\n".join(f"+ line {i} " + "y" * 30 for i in range(200)) + "\n```"
    parts = split_message("intro\n\n" + code, limit=500)
    assert all(len(p) <= 500 for p in parts)
    for part in parts[1:]:
        assert part.startswith("```diff\n") and part.endswith("\n```")
        assert all(line.startswith("+ line ") for line in part.split("\n")[1:-1])
    body_lines = [ln for p in parts[1:] for ln in p.split("\n")[1:-1]]
    assert body_lines == code.split("\n")[1:-1]


def test_text_directly_before_a_fence_keeps_a_single_newline() -> None:
    text = "Run:\n```\nmake\n```\n" + "z " * 300
    parts = split_message(text, limit=200)
    assert parts[0].startswith("Run:\n```\nmake\n```")


def test_an_unclosed_fence_runs_to_the_end_and_pieces_are_closed() -> None:
    parts = split_message("```\n" + "\n".join("l" * 50 for _ in range(30)), limit=300)
    assert len(parts) > 1 and all(p.startswith("```\n") and p.endswith("\n```") for p in parts)


def test_code_block_escapes_fence_lines_inside() -> None:
    assert code_block("a\n```\nb") == "```\na\n ```\nb\n```"


def test_markdown_to_styling() -> None:
    assert to_styling("# Title\n## Sub **x** ##") == "*Title*\n*Sub x*"
    assert to_styling("- **Name**: `**raw**` and __u__") == "- *Name*: `**raw**` and *u*"
    assert to_styling("  ```py\n  **kept**\n  ```\nafter") == "```py\n  **kept**\n```\nafter"
    assert to_styling("a * b * c and snake_case_name") == "a * b * c and snake_case_name"
