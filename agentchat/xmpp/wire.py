"""The stanzas of a turn, written as text (pure functions).

Why: every message an agent says is built here instead of as a slixmpp ``Message``. A stanza
object costs tens of microseconds to build (plugin lookups, interface setters) and as much again
to serialize (slixmpp's ``tostring``); the same text is a few string joins (bench: the service's
CPU per relayed message). What is written is what slixmpp would write for the same stanza: the
text policy (``scrub``) still runs on it at the component's one send point.

Values are escaped here: text content (``&``, ``<``, ``>``) and attributes (also ``"``), so
no value can end an element or an attribute early.
"""

from __future__ import annotations

from agentchat.chat.port import ChatState

CHATSTATES_NS = "http://jabber.org/protocol/chatstates"
MARKERS_NS = "urn:xmpp:chat-markers:0"
OOB_NS = "jabber:x:oob"
RECEIPTS_NS = "urn:xmpp:receipts"
_END = "</message>"
CORRECTION_NS = "urn:xmpp:message-correct:0"
NICK_NS = "http://jabber.org/protocol/nick"
CAPS_NS = "http://jabber.org/protocol/caps"


def text(value: str) -> str:
    """``value`` as XML character data."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def attr(value: str) -> str:
    """``value`` as a double-quoted XML attribute (quotes included)."""
    value = text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    for char, ref in (("\n", "&#10;"), ("\r", "&#13;"), ("\t", "&#9;")):
        if char in value:  # an attribute value's whitespace is normalized, unless escaped
            value = value.replace(char, ref)
    return f'"{value}"'


def message(
    mtype: str, to: str, frm: str, msg_id: str, body: str, *,
    receipt: bool = False, markable: bool = False, replace: str | None = None,
    oob_url: str | None = None,
) -> str:
    """A message with a body: XEP-0184 receipt request, XEP-0333 markable, XEP-0308
    correction of ``replace``, XEP-0066 URL, each when asked for."""
    parts = [f'<message type="{mtype}" to={attr(to)} from={attr(frm)} id={attr(msg_id)}>'
             f"<body>{text(body)}</body>"]
    if receipt:
        parts.append(f'<request xmlns="{RECEIPTS_NS}" />')
    if replace is not None:
        parts.append(f'<replace xmlns="{CORRECTION_NS}" id={attr(replace)} />')
    if markable:
        parts.append(f'<markable xmlns="{MARKERS_NS}" />')
    if oob_url is not None:
        parts.append(f'<x xmlns="{OOB_NS}"><url>{text(oob_url)}</url></x>')
    parts.append(_END)
    return "".join(parts)


def with_state(message_text: str, state: ChatState) -> str:
    """A message (as written by ``message``) that also carries a XEP-0085 chat state."""
    return f'{message_text[:-len(_END)]}<{state} xmlns="{CHATSTATES_NS}" />{_END}'


def chat_state(mtype: str, to: str, frm: str, state: ChatState) -> str:
    """A standalone XEP-0085 chat state notification."""
    return (f'<message type="{mtype}" to={attr(to)} from={attr(frm)}>'
            f'<{state} xmlns="{CHATSTATES_NS}" /></message>')


def presence(
    to: str, frm: str, stanza_id: str, *, ptype: str | None = None, show: str | None = None,
    status: str | None = None, nick: str | None = None,
    caps: tuple[str, str, str] | None = None,
) -> str:
    """A presence: ``ptype`` (None: available), XEP-0172 ``nick``, XEP-0115 ``caps`` as
    (hash, node, ver)."""
    kind = "" if ptype is None else f' type="{ptype}"'
    parts = [f"<presence{kind} to={attr(to)} from={attr(frm)} id={attr(stanza_id)}>"]
    if show:
        parts.append(f"<show>{text(show)}</show>")
    if status:
        parts.append(f"<status>{text(status)}</status>")
    if nick is not None:
        parts.append(f'<nick xmlns="{NICK_NS}">{text(nick)}</nick>')
    if caps is not None:
        parts.append(f'<c xmlns="{CAPS_NS}" hash={attr(caps[0])} node={attr(caps[1])} '
                     f"ver={attr(caps[2])} />")
    parts.append("</presence>")
    return "".join(parts)
