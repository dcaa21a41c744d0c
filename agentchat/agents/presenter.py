"""Everything that leaves one agent's JID for its owner, in one place.

Why: a streamed answer is one message corrected (XEP-0308) as it grows, and several clients
(Conversations among them) accept a correction only of the latest message from that JID. So while
a stream is open nothing else goes out: other messages and corrections wait and follow the final
text; only a message that must go out now (a permission prompt, whose id we need at once) ends
the stream early. Corrections are rate-limited with a loop timer, never with sleeps, and always
point at the stream's original message id.

Permission prompts come from their own resource (``…/prompt-a1b2``): clients match a correction
against the latest message of the sender's full JID, so nothing this JID sends can come between a
prompt and its correction, and that correction needs no waiting. For the same reason agentchat's
own replies in a 1:1 chat (queued, command answers, notices) come from ``…/notice``: only the
agent's output comes from its usual resource, so after a restart an answer given again still
corrects what the owner saw of the first attempt, whatever agentchat said in between.

The chat state (XEP-0085) follows the agent: clients drop "is typing" when a message with a body
arrives, so while the agent works ``composing`` is sent again after what it says. (The component
puts an ``active`` sent right after a message into that message: one stanza, not two.)
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

import attrs

from agentchat.chat.format import MAX_CHUNK, split_message, to_styling
from agentchat.chat.port import ChatPort, ChatState, Show

MAX_OUTPUT_CHARS = 60_000  # one assistant message beyond this is cut, with a notice
REPLY_RESOURCE = "notice"  # agentchat's own words in a 1:1 chat (see the module docstring)
STREAM_INTERVAL = 1.0  # seconds: at most one correction per second while streaming
TYPING_AGAIN = 0.5  # seconds after a message before "composing" is said again (no flicker
# when the turn ends right after its last message)


def cap_output(text: str) -> tuple[str, str | None]:
    """(text cut to MAX_OUTPUT_CHARS, the notice to send after it or None)."""
    cut = len(text) - MAX_OUTPUT_CHARS
    if cut <= 0:
        return text, None
    return text[:MAX_OUTPUT_CHARS], (
        f"✂️ Output cut here: {cut:,} more characters not shown. Ask the agent to write "
        "long output to a file in the repository instead."
    )


@attrs.define
class _Stream:
    msg_id: str
    shown: str  # the body the owner sees now
    raw: str  # the latest partial text of this block (unstyled, unsplit)
    full: str  # the same as the CLI accumulated it (earlier blocks of the message included)
    last_sent: float
    timer: asyncio.TimerHandle | None = None


class Presenter:
    def __init__(
        self,
        port: ChatPort,
        local: str,
        owner: str,
        *,
        interval: float = STREAM_INTERVAL,
        limit: int = MAX_CHUNK,
        clock: Callable[[], float] = time.monotonic,
        reply_resource: str | None = None,
    ) -> None:
        self._port = port
        self.local = local
        self.owner = owner
        # where ``say(reply=True)`` comes from; None in a group chat, which accepts messages
        # only from the agent's occupant JID
        self.reply_resource = reply_resource
        self.interval = interval
        self.limit = limit
        self._clock = clock
        self._stream: _Stream | None = None
        self._held: list[Callable[[], object]] = []
        # Partial text of a message with several text blocks repeats the finished blocks.
        self._done_prefix = ""
        self._cut_short: str | None = None  # what a stream showed when a prompt ended it early
        self._last_shown = ""
        self._wanted: ChatState = "active"  # the state the agent is in (set by the runtime)
        self._sent_state: ChatState = "active"  # the last chat state notification sent
        self._dropped = False  # a body went out since: clients no longer show the state
        self._refresh: asyncio.TimerHandle | None = None
        self._anchor: tuple[str, bool] | None = None  # see anchor()

    @property
    def streaming(self) -> bool:
        return self._stream is not None

    # ------------------------------------------------------------------ plain messages

    def say(self, text: str, *, reply: bool = False) -> None:
        """Send ``text`` (capped, split); waits for an open stream to end.

        ``reply``: agentchat's own answer to something the owner just did (queued, corrected,
        allowed…), not the turn's output: it never takes the turn's ``anchor`` id, so an answer
        given again after a restart corrects the agent's first message, not this one."""
        text, notice = cap_output(text)
        for part in split_message(text, self.limit):
            self._out(functools.partial(self._send, part, reply))
        if notice is not None:
            self._out(functools.partial(self._send, notice, reply))

    def link(self, url: str) -> None:
        """A file's download link (XEP-0066), after any open stream, like ``say``."""
        self._out(functools.partial(self._send_link, url))

    def send_now(self, body: str, resource: str | None = None) -> str:
        """Send one message immediately and return its id; ends an open stream first.

        A prompt from its own ``resource`` still ends the stream: it reads after the text so far.
        """
        if self._stream is not None:
            self.end_stream()
            self._cut_short = self._last_shown
        self._done_prefix = ""
        if resource is None:
            return self._send(body)
        msg_id = self._port.send_chat(self.local, self.owner, body, resource=resource)
        self._sent_body()
        return msg_id

    def correct(self, original_id: str, body: str, resource: str | None = None) -> str:
        """Correct an earlier message; returns "" when it had to wait for an open stream.

        A message from its own ``resource`` (a prompt) is corrected at once: nothing else is
        sent from that full JID, so the correction cannot land behind another message there.
        """
        if resource is not None:
            msg_id = self._port.correct(self.local, self.owner, original_id, body,
                                        resource=resource)
            self._sent_body()
            return msg_id
        if self._stream is not None:
            self._held.append(functools.partial(self._correct, original_id, body))
            return ""
        return self._correct(original_id, body)

    def chat_state(self, state: ChatState) -> None:
        """The agent's state: ``composing`` working, ``paused`` waiting for the owner,
        ``active`` done. Sent when it changes, and ``composing``/``active`` again after a
        body."""
        self._wanted = state
        if state != "composing" and self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        # After a body "active" is said again too: it marks the end of the turn (the
        # component puts it into that body when they leave together).
        if state == self._sent_state and not (state != "paused" and self._dropped):
            return
        self._sent_state = state
        self._dropped = False
        self._port.chat_state(self.local, self.owner, state)

    def working(self) -> None:
        """A turn started: the agent is ``composing``, but nothing is said yet (the runtime
        calls ``chat_state`` once the turn has lasted long enough to be seen)."""
        self._wanted = "composing"

    def anchor(self, msg_id: str | None, *, again: bool = False) -> None:
        """The next message this presenter sends gets the id ``msg_id`` (None: a fresh one).
        ``again``: it is a turn answered a second time after agentchat restarted, so that
        message is sent as a correction of ``msg_id``: what the interrupted attempt showed is
        replaced, not repeated (a client that never saw it shows the correction as new)."""
        self._anchor = None if msg_id is None else (msg_id, again)

    def _send(self, body: str, reply: bool = False) -> str:
        anchor = None
        if reply and self.reply_resource is not None:
            msg_id = self._port.send_chat(self.local, self.owner, body,
                                          resource=self.reply_resource)
            self._sent_body()
            return msg_id
        if not reply:
            anchor, self._anchor = self._anchor, None
        if anchor is None:
            msg_id = self._port.send_chat(self.local, self.owner, body)
        elif anchor[1]:
            # Its own id is the original's too: a client that never got the first attempt
            # shows it as a new message under that id, and the corrections that follow apply.
            msg_id = self._port.correct(self.local, self.owner, anchor[0], body,
                                        msg_id=anchor[0])
        else:
            msg_id = self._port.send_chat(self.local, self.owner, body, msg_id=anchor[0])
        self._sent_body()
        return msg_id

    def _send_link(self, url: str) -> str:
        msg_id = self._port.send_link(self.local, self.owner, url)
        self._sent_body()
        return msg_id

    def _correct(self, original_id: str, body: str) -> str:
        msg_id = self._port.correct(self.local, self.owner, original_id, body)
        self._sent_body()
        return msg_id

    def _sent_body(self) -> None:
        """Clients stop showing "typing" at a message with a body: say it again (once per burst
        of messages, a moment later) while the agent is still working."""
        self._dropped = True
        if self._wanted != "composing" or self._sent_state != "composing" \
                or self._refresh is not None:
            return  # (not said yet this turn: the runtime says it once the turn is seen)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.chat_state("composing")
            return
        self._refresh = loop.call_later(TYPING_AGAIN, self._refresh_state)

    def _refresh_state(self) -> None:
        self._refresh = None
        if self._wanted == "composing":
            self.chat_state("composing")

    def next_message(self) -> None:
        """The assistant's next text belongs to a new message (a tool ran in between)."""
        self._done_prefix = ""

    def _out(self, send: Callable[[], object]) -> None:
        if self._stream is not None:
            self._held.append(send)
        else:
            send()

    # ------------------------------------------------------------------ streaming

    def partial(self, text: str) -> None:
        """The assistant's text so far (``PartialText``): start or grow the streamed message."""
        full = text
        if self._done_prefix:
            if text.startswith(self._done_prefix):
                text = text[len(self._done_prefix):].lstrip("\n")
            else:
                self._done_prefix = ""
        if not text.strip():
            return
        stream = self._stream
        if stream is None:
            self._cut_short = None
            body = self._first_part(text)
            msg_id = self._send(body)
            self._stream = _Stream(msg_id, body, text, full, self._clock())
            return
        stream.raw, stream.full = text, full
        if stream.timer is None:
            due = stream.last_sent + self.interval - self._clock()
            if due <= 0:
                self._flush(stream)
            else:
                stream.timer = asyncio.get_running_loop().call_later(due, self._tick, stream)

    def final(self, text: str) -> None:
        """A complete text block (``AssistantText``): the streamed message becomes exactly it."""
        text, notice = cap_output(text)
        styled = to_styling(text)
        stream = self._stream
        if stream is None:
            for part in split_message(self._rest_after_cut(styled), self.limit):
                self._send(part)
        else:
            self._cancel_timer(stream)
            parts = split_message(styled, self.limit)
            if parts and parts[0] != stream.shown:
                self._correct(stream.msg_id, parts[0])
            for part in parts[1:]:
                self._send(part)
            self._done_prefix = stream.full
        if notice is not None:
            self._send(notice)
        if stream is not None:
            self._close()

    def end_stream(self) -> None:
        """The turn ended or the process went away: show the latest text, release what waited."""
        stream = self._stream
        self._done_prefix = ""
        if stream is None:
            return
        self._cancel_timer(stream)
        body = self._first_part(stream.raw)
        if body != stream.shown:
            self._correct(stream.msg_id, body)
            stream.shown = body
        self._close()

    def _rest_after_cut(self, styled: str) -> str:
        """After a prompt ended a stream early, the final text repeats only what was not shown."""
        shown, self._cut_short = self._cut_short, None
        if not shown:
            return styled
        if styled.strip() == shown.strip():
            return ""
        if styled.startswith(shown):
            return "…" + styled[len(shown):].lstrip()
        return styled

    def _first_part(self, raw: str) -> str:
        parts = split_message(to_styling(raw), self.limit)
        return parts[0] if parts else raw.strip()

    def _tick(self, stream: _Stream) -> None:
        stream.timer = None
        if stream is self._stream:
            self._flush(stream)

    def _flush(self, stream: _Stream) -> None:
        body = self._first_part(stream.raw)
        if body == stream.shown:
            return
        self._correct(stream.msg_id, body)
        stream.shown = body
        stream.last_sent = self._clock()

    def _cancel_timer(self, stream: _Stream) -> None:
        if stream.timer is not None:
            stream.timer.cancel()
            stream.timer = None

    def _close(self) -> None:
        assert self._stream is not None
        self._last_shown = self._stream.shown
        self._stream = None
        held, self._held = self._held, []
        for send in held:
            send()


class PresenterPort:
    """A ChatPort that sends an agent's messages through its presenter (permission prompts).

    Messages from other JIDs (the manager) go straight to the transport.
    """

    def __init__(self, port: ChatPort, presenter_of: Callable[[str], Presenter | None]) -> None:
        self._port = port
        self._presenter_of = presenter_of

    def send_chat(self, from_local: str, to: str, body: str, *,
                  resource: str | None = None, msg_id: str | None = None) -> str:
        presenter = self._presenter_of(from_local)
        if presenter is None or presenter.owner != to:
            return self._port.send_chat(from_local, to, body, resource=resource, msg_id=msg_id)
        return presenter.send_now(body, resource)

    def correct(self, from_local: str, to: str, original_id: str, body: str, *,
                resource: str | None = None, msg_id: str | None = None) -> str:
        presenter = self._presenter_of(from_local)
        if presenter is None or presenter.owner != to:
            return self._port.correct(from_local, to, original_id, body, resource=resource,
                                      msg_id=msg_id)
        return presenter.correct(original_id, body, resource)

    def send_link(self, from_local: str, to: str, url: str) -> str:
        return self._port.send_link(from_local, to, url)

    def set_presence(self, local: str, to: str, *, show: Show | None, status: str | None,
                     available: bool = True) -> None:
        self._port.set_presence(local, to, show=show, status=status, available=available)

    def subscribe(self, local: str, to: str, nick: str) -> None:
        self._port.subscribe(local, to, nick)

    def chat_state(self, from_local: str, to: str, state: ChatState) -> None:
        self._port.chat_state(from_local, to, state)
