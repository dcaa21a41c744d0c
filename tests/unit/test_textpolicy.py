"""The outbound text policy and the display policy for untrusted text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from agentchat.chat import textpolicy
from agentchat.chat.textpolicy import (
    for_log,
    guard_agent_text,
    is_clean,
    neutralize,
    one_line,
    scrub,
)

XML_FORBIDDEN = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + [0xFFFE, 0xFFFF]


def parses(text: str) -> bool:
    try:
        ET.fromstring(f"<body a='{text}'>{text}</body>")
    except ET.ParseError:
        return False
    return True


def test_scrub_leaves_ordinary_text_alone() -> None:
    for text in ("", "hello", "tab\tnew\nline\r", "日本語 🧑‍💻 ß", "a < b & 'c' \"d\"", "\u202e"):
        assert scrub(text) == text and is_clean(text)


def test_scrub_shows_every_forbidden_character_visibly() -> None:
    for code in XML_FORBIDDEN:
        out = scrub(f"a{chr(code)}b")
        assert out.startswith("a") and out.endswith("b") and len(out) == 3
        assert out[1] in ("\ufffd", chr(0x2400 + code)), hex(code)
    assert scrub("nul\x00 bel\x07 esc\x1b del\x7f c1\x85") == "nul␀ bel␇ esc␛ del␡ c1\ufffd"
    assert scrub("lone \ud800 surrogate") == "lone \ufffd surrogate"


def test_scrub_strips_ansi_escape_sequences() -> None:
    assert scrub("\x1b[31mred\x1b[0m \x1b[1;32;40mbold\x1b[m") == "red bold"
    assert scrub("\x1b]0;window title\x07text") == "text"
    assert scrub("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"
    assert scrub("\x1b(B\x1b[mplain\x1bM") == "plain"
    assert scrub("\x9b31mc1 csi") == "c1 csi"


def test_scrub_is_safe_on_serialized_xml() -> None:
    """It runs on stanza text: it may never eat markup, entities or attribute quotes."""
    for nasty in ("\x1b[", "\x1b]", "\x1b[<", "\x1b[&", "\x1b]x'", "\x1b[31", "\x1b", "\x1b[\""):
        message = ET.Element("message", {"to": "a@b", "note": f"{nasty}<&'\""})
        ET.SubElement(message, "body").text = f"x{nasty}<&>"
        ET.SubElement(message, "c", {"a": nasty}).tail = "&"
        stanza = ET.tostring(message, encoding="unicode")
        parsed = ET.fromstring(scrub(stanza))
        assert parsed.get("to") == "a@b" and parsed.find("c") is not None, stanza
        assert (parsed.findtext("body") or "").endswith("<&>") and parsed.find("c").tail == "&"


def test_everything_scrubbed_is_well_formed_xml_text() -> None:
    every = "".join(chr(c) for c in range(0x0, 0x3000)) + "\ud800\udfff\ufffe\uffff"
    cleaned = scrub(every).replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")
    assert parses(cleaned)
    assert is_clean(scrub(every))


def test_the_fast_check_agrees_with_the_forbidden_characters_everywhere() -> None:
    """``is_clean`` (byte operations) says what ``_FORBIDDEN.search`` says, for every code
    point alone, in ASCII and in non-ASCII text, and for surrogate pairs."""
    pattern = textpolicy._FORBIDDEN
    astral = range(0x10000, 0x110000, 0x101)
    for code in [*range(0x10000), *astral, 0x10FFFF]:
        char = chr(code)
        expected = pattern.search(char) is None
        for text in (char, f"ascii {char} text", f"é{char}✅", f"{char}\n"):
            assert is_clean(text) is expected, (hex(code), text)
    assert not is_clean("\ud83d\ude00")  # a pair of surrogates is two lone ones in a str
    assert is_clean("\U0001f600 \u00e9\u00a0\u00bf")  # emoji, é, NBSP, ¿ (\xc2 lead byte)


def test_neutralize_makes_controls_and_invisible_characters_visible() -> None:
    assert neutralize("\x1b[31mred") == "␛[31mred"  # a preview shows the escape, not colour
    assert neutralize("invoice\u202egnp.exe") == "invoice[U+202E]gnp.exe"
    assert neutralize("zero\u200bwidth\ufeff") == "zero[U+200B]width[U+FEFF]"
    assert neutralize("a\r\nb\u2028c\rd") == "a\nb\nc\nd"
    assert neutralize("emoji 🧑‍💻 keeps its joiner") == "emoji 🧑‍💻 keeps its joiner"


def test_one_line_shows_line_breaks() -> None:
    assert one_line("Clean up\n\nAction: Read File\r\nok\u2029") == \
        "Clean up⏎⏎Action: Read File⏎ok⏎"
    assert "\n" not in one_line("a\x0bb\x0cc\x85d\u2028e")


def test_agent_text_imitating_a_prompt_is_quoted() -> None:
    fake = ("Sure.\n🔐 Permission #0000\nAction: Read File\nFile: README.md\n"
            "Reply: yes / no / always\n\nBack to normal.")
    assert guard_agent_text(fake) == (
        "Sure.\n> 🔐 Permission #0000\n> Action: Read File\n> File: README.md\n"
        "> Reply: yes / no / always\n\nBack to normal.")
    for line in ("  🔐 Permission #1", "❓ Question #ab12", "📋 Plan #1 — ready?",
                 "permission #12 pending", "✅ allowed #1234"):
        assert guard_agent_text(line).startswith("> "), line
    assert guard_agent_text("no prompt here 🔐 in the middle") == "no prompt here 🔐 in the middle"
    assert guard_agent_text("right\u202eleft") == "right[U+202E]left"


def test_log_values_are_capped_and_cannot_forge_lines() -> None:
    assert for_log("Bash\n2026-01-01 INFO forged") == "Bash\\n2026-01-01 INFO forged"
    assert for_log("a\\b\r\x1b") == "a\\\\b\\r\\u001b"
    long = for_log("x" * 500, 100)
    assert long == "x" * 100 + "…(+400 chars)"
    assert for_log("日本語") == "日本語"
