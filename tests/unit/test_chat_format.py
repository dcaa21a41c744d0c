from agentchat.chat.format import format_duration, split_message, tool_line


def test_tool_lines() -> None:
    assert tool_line("Edit", {"file_path": "/w/r/src/auth.ts"}, "/w/r") == "🔧 Edit src/auth.ts"
    assert tool_line("Write", {"file_path": "/etc/passwd"}, "/w/r") == "🔧 Write /etc/passwd"
    assert tool_line("Bash", {"command": "ls   -la\n/tmp"}) == "🔧 Bash: ls -la⏎/tmp"
    assert tool_line("WebFetch", {"url": "https://x.org"}) == "🔧 WebFetch https://x.org"
    assert tool_line("Frob", {}) == "🔧 Frob"
    long = tool_line("Frob", {"a": "x" * 500})
    assert long.startswith('🔧 Frob {"a":"xxx') and len(long) < 100 and long.endswith("…")


def test_split_short_and_long() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == []
    text = "\n\n".join(f"paragraph {i} " + "word " * 50 for i in range(40))
    parts = split_message(text, limit=1000)
    assert len(parts) > 5
    assert all(len(p) <= 1000 for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_split_keeps_code_blocks_balanced() -> None:
    code = "```\n" + "\n".join(f"line {i}" for i in range(400)) + "\n```"
    parts = split_message("intro\n\n" + code, limit=500)
    assert len(parts) > 3
    for part in parts[1:]:
        assert part.count("```") % 2 == 0


def test_split_hard_cuts_a_line_without_breaks() -> None:
    parts = split_message("x" * 2500, limit=1000)
    assert [len(p) for p in parts] == [1000, 1000, 500]


def test_durations() -> None:
    assert format_duration(5) == "5s"
    assert format_duration(125) == "2m 5s"
    assert format_duration(3 * 3600 + 60) == "3h 1m"
    assert format_duration(3 * 86400) == "3d 0h"
