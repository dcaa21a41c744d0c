"""What text may leave agentchat, and how untrusted text is shown (pure functions).

Agents, files and directory names are untrusted: any character can arrive. Two policies:

* ``scrub`` is the stream policy, applied by the XMPP component to every byte it writes.
  Characters XML 1.0 forbids (C0 controls other than tab/newline/CR, U+FFFE, U+FFFF, lone
  surrogates) would make Prosody close the whole component stream (``not-well-formed``), so
  they are shown as visible stand-ins (``␛``, ``␀``, U+FFFD); ANSI escape sequences (colours,
  titles, hyperlinks) are removed first. It never touches ``<``, ``>``, ``&``, ``"`` or ``'``,
  so it is as safe on serialized XML as on plain text: the component runs it on the stanza text
  just before the socket write, the one point every stanza (ours and slixmpp's) passes.
* ``neutralize`` / ``one_line`` / ``guard_agent_text`` are the display policy for prompts and
  agent text: invisible or reordering characters (bidi overrides, zero-width spaces) are shown
  as ``[U+202E]``, line breaks in a single-line field as ``⏎``, and agent lines that imitate a
  permission prompt are quoted.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
NEWLINE_MARK = "⏎"

# ESC-introduced sequences. Character classes leave out < > & " ' so a match can never reach
# into markup, entities or the end of an attribute value when run on serialized XML.
_ANSI = re.compile(
    "\x1b\\[[0-9:;=?]*[ !#-%(-/]*[@-~]"  # CSI: colours, cursor moves ("\x1b[31m")
    "|\x1b\\][^\x07\x1b<>&\"']*(?:\x07|\x1b\\\\)"  # OSC: titles, hyperlinks, ended by BEL/ST
    "|\x1b[()*+][0-9A-Za-z]"  # character set selection ("\x1b(B" from tput sgr0)
    "|\x1b[@-Z\\\\^_=>78c]"  # other two-character sequences
    "|\x9b[0-9:;=?]*[ !#-%(-/]*[@-~]"  # 8-bit CSI
)
# Everything XML 1.0 forbids, plus DEL and the C1 controls (allowed in XML, but terminals act
# on them).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode control pictures: ␀ … ␟ (␛ for ESC)
    if code == 0x7F:
        return "␡"
    return REPLACEMENT


# _FORBIDDEN, as the UTF-8 bytes they encode to: C0 controls but tab/newline/CR, and DEL
_C0_DEL = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_C1_LEAD = b"\xc2"  # U+0080-U+00BF start with it, the C1 controls U+0080-U+009F among them
_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE, U+FFFF


def scrub(text: str) -> str:
    """``text`` without ANSI escapes, with XML-forbidden characters shown visibly.

    Every stanza passes here: the common case (nothing to change) is ``is_clean``'s C-speed
    check; only text with something to change runs the regular expressions.
    """
    if is_clean(text):
        return text
    return _FORBIDDEN.sub(_visible, _ANSI.sub("", text))


def is_clean(text: str) -> bool:
    """True if ``scrub`` would leave ``text`` unchanged: no character of ``_FORBIDDEN``.

    Why not ``_FORBIDDEN.search``: the regex engine looks at each character in turn (about
    10 ns each: 2.5 µs for a short stanza, ~25 µs for a 3 KB answer); these byte operations
    run in C over the UTF-8 text, 3-4 times faster, and the regex runs only where a C1 control
    is possible. Same answer for every string (tests/unit/test_textpolicy.py checks each code
    point).
    """
    try:
        data = text.encode("utf-8")  # strict: a lone surrogate cannot be encoded
    except UnicodeEncodeError:
        return False
    if len(data.translate(None, _C0_DEL)) != len(data):
        return False
    if data.isascii():
        return True
    if _C1_LEAD in data and _FORBIDDEN.search(text) is not None:
        return False
    return _NONCHARACTERS[0] not in data and _NONCHARACTERS[1] not in data


# Characters that reorder or hide text without being visible themselves.
_INVISIBLE = re.compile(
    "[\u061c\u00ad\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\ufff9-\ufffb]"
)
# The ones that can make text read differently from what it is (bidi embeddings, overrides
# and isolates): neutralised even in free text such as an agent's answer.
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Line breaks other than \n become \n in multi-line text (a \r could redraw a terminal line).
_LINE_BREAKS_EXOTIC = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def _codepoint(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group(0)):04X}]"


def _controls_visible(text: str) -> str:
    """Control characters (even ESC: a preview shows ``␛[31m``, it does not run it) visible."""
    return _FORBIDDEN.sub(_visible, text)


def neutralize(text: str) -> str:
    """Multi-line text for a prompt: controls as ``␛``/``␀``, invisible characters as [U+…]."""
    return _INVISIBLE.sub(_codepoint, _controls_visible(_LINE_BREAKS_EXOTIC.sub("\n", text)))


def one_line(text: str) -> str:
    """A single-line field (file path, description, title): line breaks shown as ``⏎``."""
    return neutralize(_LINE_BREAKS.sub(NEWLINE_MARK, text))


def without_bidi_controls(text: str) -> str:
    """Free text with bidi embeddings/overrides/isolates shown as [U+…] (nothing reordered)."""
    return _BIDI_CONTROL.sub(_codepoint, text)


# A line that looks like the start of one of our prompts or of an answer to one.
_PROMPT_LIKE = re.compile(
    r"^[\s>]*(?:[🔐🔒🔏🔑❓❔📋⏱✅❌⏹]|(?:permission|question|plan)s?\s*#)", re.IGNORECASE
)


def looks_like_prompt(line: str) -> bool:
    return _PROMPT_LIKE.match(line) is not None


def guard_agent_text(text: str) -> str:
    """An agent's text as shown in the chat: it cannot pass for one of our prompts.

    A line imitating a prompt (``🔐 Permission #0000 …``) and the rest of its paragraph are
    quoted (XEP-0393 ``> ``), and bidi controls are made visible.
    """
    text = without_bidi_controls(text)
    if not any(looks_like_prompt(line) for line in text.split("\n")):
        return text
    out: list[str] = []
    quoting = False
    for line in text.split("\n"):
        if looks_like_prompt(line):
            quoting = True
        elif not line.strip():
            quoting = False
        out.append(f"> {line}" if quoting else line)
    return "\n".join(out)


def for_log(value: object, limit: int = 120) -> str:
    """A value from outside for a log line: capped, newlines and controls escaped."""
    text = str(value)
    cut = len(text) - limit
    text = one_log_line(text[:limit] if cut > 0 else text)
    return text + (f"…(+{cut} chars)" if cut > 0 else "")


def one_log_line(text: str) -> str:
    """``text`` as one log line: line breaks, controls and backslashes escaped (``\\n``)."""
    return text if _LOG_ESCAPE.search(text) is None else _LOG_ESCAPE.sub(_escaped, text)


_LOG_ESCAPE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
        char, f"\\u{ord(char):04x}")
