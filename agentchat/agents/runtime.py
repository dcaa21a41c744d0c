"""One agent as its owner experiences it: a contact that relays to a CLI process.

The runtime owns the process lifetime (start on demand, resume after idle or crash), the turn
state (busy or not; messages arriving mid-turn are queued, never dropped) and what the owner
sees (text, one line per tool call, presence that mirrors the state).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import attrs

from agentchat.agents.adapter import AgentAdapter, AgentStartError, ControlError, LaunchSpec
from agentchat.agents.attachments import Attachment, Prompt, images_of, prompt_text
from agentchat.agents.controls import (
    NEUTRAL,
    SessionControls,
    is_bypass,
    mode_label,
    neutral_of,
    resolve_mode,
    resolve_model,
    tokens_text,
)
from agentchat.agents.deadline import Deadline
from agentchat.agents.events import (
    AgentEvent,
    AssistantText,
    Compacted,
    ModeChanged,
    ModelChanged,
    Notice,
    PartialText,
    Plan,
    ProcessExited,
    SessionStarted,
    ToolCall,
    TurnFinished,
    UsageReported,
)
from agentchat.agents.pool import PoolFull, ProcessPool
from agentchat.agents.presenter import REPLY_RESOURCE, Presenter
from agentchat.chat.format import code_block, format_duration
from agentchat.chat.port import ChatPort
from agentchat.chat.textpolicy import guard_agent_text, one_line
from agentchat.commands.agent import AGENT_COMMANDS, RoomCommands
from agentchat.oserrors import describe
from agentchat.permissions.model import PermissionRequest
from agentchat.permissions.prompt_text import summary
from agentchat.rooms.rules import room_status_lines
from agentchat.state.model import AgentRecord, AgentStatus, PendingMessage
from agentchat.workspace import WorkspaceError

log = logging.getLogger(__name__)

AdapterFactory = Callable[[LaunchSpec], AgentAdapter]
FileSender = Callable[["Agent", str], Awaitable[None]]  # `get <path>`: upload, send the link

# A turn shows itself as busy ("working…" presence, "typing") only once it has lasted this long
# (seconds): a quicker turn is over before a person could see either, and its reply says it all.
BUSY_SHOWN_AFTER = 0.3
SEEN_KEPT = 50  # keys of an agent's latest owner messages, to recognise one sent again
PLAN_MAX_CHARS = 20_000
RECENT_KEPT = 100  # the owner's latest messages to the agent, by id: corrections find them
QUOTE_CHARS = 160  # of each version, when a correction is passed on to the agent

def correction_text(before: str, after: str) -> str:
    """What the agent gets when the owner corrects (XEP-0308) a message it already has: both
    versions quoted briefly, then the corrected one in full if the quote had to cut it."""
    def brief(text: str) -> str:
        flat = one_line(" ".join(text.split()))
        return flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 1] + "…"
    head = (f'[This corrects my previous message, which you already received. Before: '
            f'"{brief(before)}" Now: "{brief(after)}"]')
    return head if brief(after) == " ".join(after.split()) else f"{head}\n\n{after}"


class GitPort(Protocol):
    """``diff`` and the worktree's end (agentchat.worktrees.chat.GitChat)."""

    async def diff(self, agent: Agent, as_patch: bool) -> None: ...

    async def ended(self, agent: Agent) -> str | None: ...


def message_key(msg_id: str, body: str) -> str:
    """What identifies an owner's message when a client sends it again after losing its
    connection (same id, same text); "" without an id. The text is part of it because some
    clients reuse ids (counters that restart with the session)."""
    if not msg_id:
        return ""
    return hashlib.sha256(f"{msg_id}\0{body}".encode()).hexdigest()[:24]


def answer_id(agent: str, key: str) -> str:
    """The id of the first message answering the owner's message ``key``: the same in every
    attempt, so an answer given again after a crash corrects (XEP-0308) what the first
    attempt showed instead of adding a second copy."""
    return "answer-" + hashlib.sha256(f"{agent}\0{key}".encode()).hexdigest()[:24]


CONTROLS_WAIT = 10.0  # after a start, for the backend to say which modes and models it offers


class PermissionGate(Protocol):
    """The permission broker as the runtime sees it (answers typed in the agent's chat)."""

    def answer(self, agent: str, text: str, answered_by_jid: str) -> str | None: ...

    def pending_count(self, agent: str) -> int: ...

    def pending(self, agent: str) -> list[PermissionRequest]: ...

    def cancel_agent(self, agent: str, reason: str) -> None: ...

    def revoke_rule(self, agent: str, index_or_text: int | str) -> bool: ...

    def unregister_agent(self, name: str, *, keep_rules: bool = False) -> None: ...

    async def drain(self) -> None:
        """Wait until the chat shows every decision made so far (the prompts' corrections)."""


class SpecFactory(Protocol):
    def __call__(self, record: AgentRecord, resume: bool) -> LaunchSpec: ...


class Agent:
    def __init__(
        self,
        record: AgentRecord,
        *,
        port: ChatPort,
        pool: ProcessPool,
        adapter_factory: AdapterFactory,
        spec_factory: SpecFactory,
        persist: Callable[[], None],
        idle_timeout: float,
        gate: PermissionGate | None = None,
        on_live_change: Callable[[], None] | None = None,
        silence_warning: float = 600.0,
        send_file: FileSender | None = None,
        locate: Callable[[AgentRecord], Path] | None = None,
        rooms: RoomCommands | None = None,
        git: GitPort | None = None,
        busy_after: float = BUSY_SHOWN_AFTER,
        allow_bypass: bool = False,
        label: str = "The agent",
    ) -> None:
        self.record = record
        self.rooms = rooms  # the group-chat commands (join, allow…); none without rooms
        self._allow_bypass = allow_bypass  # agents.allowBypass: modes that ask nothing
        self._label = label  # the agent type's name, e.g. "Claude Code"
        self.controls = SessionControls(mode=record.mode, model=record.model)
        self._controls_seen = asyncio.Event()  # the backend said what it offers
        self._locate = locate  # the working directory as it is now (WorkspaceError if unusable)
        self._port = port
        self.presenter = Presenter(port, record.name, record.owner,  # the owner's 1:1 chat
                                   reply_resource=REPLY_RESOURCE)
        # Each conversation (the 1:1 chat, each group chat) has its own presenter; a turn's
        # output goes to the one its message came from (``output``).
        self._presenters: dict[str, Presenter] = {record.owner: self.presenter}
        self.output = self.presenter
        self._pool = pool
        self._adapter_factory = adapter_factory
        self._spec_factory = spec_factory
        self._persist = persist
        self._idle_timeout = idle_timeout
        self._gate = gate
        self._on_live_change = on_live_change or (lambda: None)
        self.adapter: AgentAdapter | None = None
        self.plan: Plan | None = None  # the agent's latest plan (asked about in plan mode)
        self.busy = False
        self.queue: list[tuple[Presenter, Prompt]] = []  # (where it came from, what)
        self.held_files: list[Attachment] = []  # received, waiting for the owner's next text
        self._send_file = send_file
        self._git = git
        # the owner's recent messages by stanza id: (the prompt as queued or sent, their text)
        self._recent: collections.OrderedDict[str, tuple[Prompt, str]] = \
            collections.OrderedDict()
        self.started_at: float | None = None  # monotonic, current process
        self._pump_task: asyncio.Task[None] | None = None
        self._idle = Deadline(self._idle_fired)  # the process stops when idle this long
        self._silence_warning = silence_warning
        self._silence = Deadline(self._silence_fired)  # a turn that says nothing this long
        self._busy_after = busy_after
        # pending while the running turn is not shown as busy yet (BUSY_SHOWN_AFTER)
        self._busy_shown = Deadline(self._show_busy)
        self._process_cost = 0.0
        self._process_tokens = 0
        self._lock = asyncio.Lock()
        self._stopping = False
        self._interrupted = False
        self.turn_done = asyncio.Event()  # set whenever no turn is running
        self._turn_pending: tuple[PendingMessage, ...] = ()  # what the running turn answers
        # agentchat died while this agent ran: the owner's first message may be one the dead
        # process had begun to answer but not yet saved (their client sends it again, no
        # receipt came): its answer is sent as a correction of that earlier answer's id.
        self.after_crash = False
        # The owner's messages left unanswered by the previous agentchat (loaded with the
        # record): answered before anything sent since (``answer_unanswered``).
        self._owed: tuple[PendingMessage, ...] = tuple(record.unanswered)

    # ----------------------------------------------------------------- identity

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def owner(self) -> str:
        return self.record.owner

    @property
    def live(self) -> bool:
        return self.adapter is not None

    def say(self, text: str) -> None:
        """Tell the owner in the 1:1 chat (agentchat's words: replies to commands and
        answers, notices; the agent's own output goes through ``self.output``)."""
        self.presenter.say(text, reply=True)

    def presenter_for(self, to: str) -> Presenter:
        """The presenter of one conversation: the owner's JID or a group chat's JID."""
        presenter = self._presenters.get(to)
        if presenter is None:
            presenter = self._presenters[to] = Presenter(self._port, self.name, to)
        return presenter

    # ----------------------------------------------------------------- owner input

    async def handle_owner_text(self, text: str, msg_id: str = "") -> None:
        """Everything the owner types into this agent's chat (``msg_id``: its stanza id). A
        message its client sends again (same id and text: no receipt came before its
        connection dropped) is recognised and not handled twice."""
        key = message_key(msg_id, text)
        if key:
            if key in self.record.seen:
                log.info("%s: the owner's client sent a message again; it was taken already",
                         self.name)
                return
            self.record.seen.append(key)
            del self.record.seen[:-SEEN_KEPT]
            self._persist()
        self._touch()
        if await AGENT_COMMANDS.dispatch(self, text, self.say):  # agentchat/commands/agent.py
            return
        if self._gate is not None:  # answers, and late answers to closed prompts
            reply = self.answer_permission(text)
            if reply is not None:
                await self.acknowledge(reply)
                return
        files, self.held_files = tuple(self.held_files), []
        await self.deliver(text, files, msg_id=msg_id)

    async def handle_correction(self, original_id: str, text: str, msg_id: str = "") -> None:
        """The owner edited message ``original_id`` (XEP-0308). Still queued: the queue gets
        the new text. Already with the agent: the correction goes to it as a message saying
        what it corrects. Anything else (a command, an answer, one we no longer know): the
        new text is handled as if just typed."""
        known = self._recent.get(original_id)
        if known is None:
            await self.handle_owner_text(text, msg_id)
            return
        self._touch()
        old, before = known
        for i, (via, prompt) in enumerate(self.queue):
            if prompt is old:
                new = attrs.evolve(prompt, text=text)
                self.queue[i] = (via, new)
                self._remember((original_id, msg_id), new, text)
                via.say("✏️ Corrected: your queued message goes to the agent as you edited it.",
                        reply=True)
                return
        await self.deliver(correction_text(before, text), msg_id=msg_id)
        newest = self._recent.get(msg_id)
        if newest is not None:  # a later edit quotes this text, not the wrapper above
            self._remember((original_id, msg_id), newest[0], text)

    def _remember(self, ids: tuple[str, ...], prompt: Prompt, text: str) -> None:
        for msg_id in ids:
            if msg_id:
                self._recent[msg_id] = (prompt, text)
                self._recent.move_to_end(msg_id)
        while len(self._recent) > RECENT_KEPT:
            self._recent.popitem(last=False)

    def _pending(self, via: Presenter, key: str, text: str) -> tuple[PendingMessage, ...]:
        """A 1:1 message is kept in the record until its turn ends, so a restart after a
        crash answers it (``answer_unanswered``)."""
        if via is not self.presenter:
            return ()
        pending = PendingMessage(key, text)
        self.record.unanswered.append(pending)
        self._persist()
        return (pending,)

    async def handle_owner_file(self, attachment: Attachment, text: str) -> None:
        """A file the owner sent (already in the working tree). With text, it goes to the
        agent now; alone (how most clients send files) it waits for the owner's next message,
        so "screenshot, then what to do about it" is one turn, not two."""
        self._touch()
        if text.strip():
            files, self.held_files = (*self.held_files, attachment), []
            await self.deliver(text, files)
            return
        self.held_files.append(attachment)
        self.say(f"📎 Saved as {attachment.relative}. It goes to the agent with your next "
                 "message: say what to do with it.")

    async def deliver(
        self, text: str, attachments: tuple[Attachment, ...] = (), via: Presenter | None = None,
        msg_id: str = "",
    ) -> None:
        """Hand a message to the agent now, or queue it until the running turn ends.

        ``via``: the conversation it came from (a group chat), where the turn's output goes;
        the owner's 1:1 chat by default. A 1:1 message is kept in the record until its turn
        ends, so a restart after a crash answers it (``answer_unanswered``).
        """
        via = via or self.presenter
        if self.record.status is AgentStatus.ENDED:
            via.say(f"{self.name} has ended. Ask the manager for a new agent ('new').")
            return
        prompt = Prompt(text, attachments, self._pending(via, message_key(msg_id, text), text))
        self._remember((msg_id,), prompt, text)
        if self._owed:  # what the previous agentchat left unanswered goes first
            await self.answer_unanswered()
        if self.busy:
            self._enqueue(via, prompt)
            return
        await self._start_turn(prompt, via)

    def _enqueue(self, via: Presenter, prompt: Prompt) -> None:
        self.queue.append((via, prompt))
        if sum(1 for where, _ in self.queue if where is via) == 1:
            # one notice per turn and conversation, not one per message of a burst
            via.say("⏳ Queued: I'm in the middle of a turn; what you send now goes to the "
                    "agent when it ends.", reply=True)

    async def answer_unanswered(self) -> bool:
        """After agentchat restarted (a crash, or a shutdown mid-turn): answer the owner's
        messages the previous agentchat took but never answered, before anything sent since.
        Those its agent already had (the turn that was cut short) are one turn, those still
        queued the next, as they would have been. Each answer's first message corrects what
        an interrupted attempt had shown (``answer_id``): in place where the owner saw it, new
        where they did not. False if there was nothing to answer."""
        owed, self._owed = self._owed, ()
        owed = tuple(p for p in owed if any(p is q for q in self.record.unanswered))
        if not owed or self.record.status is AgentStatus.ENDED:
            return False
        groups = [g for g in (tuple(p for p in owed if p.taken),
                              tuple(p for p in owed if not p.taken)) if g]
        first, *rest = [Prompt("\n\n".join(p.text for p in g if p.text), (), g, again=True)
                        for g in groups]
        self.queue[0:0] = [(self.presenter, prompt) for prompt in rest]
        await self._start_turn(first)
        return True

    def _forget(self, pending: tuple[PendingMessage, ...]) -> None:
        """These messages are answered (or the owner was told to send them again)."""
        if pending:
            self.record.unanswered = [p for p in self.record.unanswered
                                      if not any(p is q for q in pending)]
            self._persist()

    async def _start_turn(self, prompt: Prompt, via: Presenter | None = None) -> None:
        async with self._lock:
            via = via or self.presenter
            if self.busy:  # a turn began while this one waited (its CLI was starting)
                self._enqueue(via, prompt)
                return
            error = await self._ensure_process()
            if error is not None:
                self._forget(prompt.pending)
                via.say(f"⚠️ Not delivered: {error}")
                return
            assert self.adapter is not None
            self.output = via
            self.busy = True
            self.turn_done.clear()
            self._turn_pending = prompt.pending
            first = prompt.pending[0].key if prompt.pending else ""
            if first:
                via.anchor(answer_id(self.name, first), again=prompt.again or self.after_crash)
                self.after_crash = False
            else:
                via.anchor(None)
            self._silence.start(self._silence_warning)
            self.output.working()
            self._show_busy_later()
            try:
                images = images_of(prompt) if self.adapter.accepts_images else []
                await self.adapter.send(prompt_text(prompt, bool(images)), images)
            except Exception as exc:  # the process died between start and send
                log.warning("%s: could not send to the process: %s", self.name, exc)
                self.busy = False
                self._busy_shown.stop()
                self.turn_done.set()
                self._turn_pending = ()
                via.anchor(None)
                self._forget(prompt.pending)
                via.say(f"⚠️ Not delivered: the agent process is gone ({exc}). Send it again.")
                return
            for pending in prompt.pending:
                pending.taken = True  # a restart answers it again as one turn (see above)
            if not self.record.started_once:
                self.record.started_once = True
            self.record.last_active = time.time()
            self._persist()

    async def start_process(self) -> str | None:
        """Start the CLI now (creation); returns an error text or None."""
        async with self._lock:
            return await self._ensure_process()

    async def _ensure_process(self) -> str | None:
        """Start (or resume) the CLI when it is not running; returns an error text or None."""
        if self.adapter is not None:
            return None
        try:
            self._pool.acquire(self.name)
        except PoolFull as exc:
            return str(exc)
        resume = self.record.started_once
        try:  # whatever fails here, the slot is given back
            spec = self._spec_factory(self.record, resume)
            adapter = self._adapter_factory(spec)
            await adapter.start()
        except AgentStartError as exc:
            self._pool.release(self.name)
            log.error("%s: start failed: %s", self.name, exc)
            return f"the agent could not be started: {exc}"
        except OSError as exc:
            self._pool.release(self.name)
            log.error("%s: start failed: %s", self.name, describe(exc))
            return f"the agent could not be started: {describe(exc)}"
        except BaseException:
            self._pool.release(self.name)
            raise
        log.info("%s: process started (pid %s, %s)", self.name, adapter.pid,
                 "resumed" if resume else "new session")
        self.adapter = adapter
        self.started_at = time.monotonic()
        self._process_cost = 0.0
        self._process_tokens = 0
        self._stopping = False
        self.record.status = AgentStatus.RUNNING
        self._persist()
        self._pump_task = asyncio.create_task(self._pump(adapter), name=f"pump-{self.name}")
        self._on_live_change()
        return None

    # ----------------------------------------------------------------- events

    async def _pump(self, adapter: AgentAdapter) -> None:
        try:
            async for event in adapter.events():
                try:
                    await self._on_event(event, adapter)
                except Exception:
                    log.exception("%s: error handling %s", self.name, type(event).__name__)
        except Exception:
            log.exception("%s: event stream failed", self.name)
            await self._on_exit(ProcessExited(None, "", expected=False), adapter)

    async def _on_event(self, event: AgentEvent, adapter: AgentAdapter) -> None:
        self._touch()
        if self.busy:
            self._silence.start(self._silence_warning)
        if isinstance(event, AssistantText):
            if event.text.strip():
                self.output.final(event.text)
        elif isinstance(event, PartialText):
            self.output.partial(event.text)
        elif isinstance(event, ToolCall):
            self.output.next_message()
            self.output.say(event.line or f"🔧 {one_line(event.name)}")
        elif isinstance(event, Plan):
            self.plan = event
        elif isinstance(event, TurnFinished):
            await self._on_turn_finished(event)
        elif isinstance(event, SessionStarted):
            log.debug("%s: session %s ready", self.name, event.session_id)
            if event.session_id and event.session_id != self.record.session_id:
                self.record.session_id = event.session_id  # ACP agents name their sessions
                self._persist()
        elif isinstance(event, Notice):
            self.presenter.next_message()
            self.presenter.say(event.text)
        elif isinstance(event, ModeChanged | ModelChanged | UsageReported | Compacted):
            self._on_controls(event)
        elif isinstance(event, ProcessExited):
            await self._on_exit(event, adapter)

    def _on_controls(self, event: ModeChanged | ModelChanged | UsageReported | Compacted) -> None:
        shown_mode = self.controls.mode
        self.controls.apply(event)
        if isinstance(event, ModeChanged):
            if event.mode and event.mode != self.record.mode:
                self.record.mode = event.mode  # also when an approved plan ends plan mode
                self._persist()
            self._controls_seen.set()
            # The presence carries the mode. Claude repeats it at every turn's start: only a
            # change is news, and a turn's first BUSY_SHOWN_AFTER stays quiet (see _start_turn).
            if self.controls.mode != shown_mode and not self._busy_shown.pending:
                self._show_state()
        elif isinstance(event, ModelChanged):
            chosen = self.record.model
            if event.available and chosen and resolve_model(chosen, event.available) is None:
                # a name from the creation form that this backend does not offer
                self.say(f"ℹ️ Model '{one_line(chosen)[:60]}' is not one {self._label} offers. "
                         + self.controls.models_text(self._label))
        elif isinstance(event, UsageReported):
            if event.cost_usd is not None:
                self._add_cost(event.cost_usd)
            if event.total_tokens is not None and event.total_tokens >= self._process_tokens:
                self.record.tokens_used += event.total_tokens - self._process_tokens
                self._process_tokens = event.total_tokens
        elif isinstance(event, Compacted):
            self.output.next_message()
            self.output.say(f"🗜 Context compacted: {tokens_text(event.pre_tokens)} → "
                            f"{tokens_text(event.post_tokens)} tokens.")

    def _add_cost(self, process_total: float) -> None:
        """A running total of the current process (ACP's usage_update); Claude's cost comes per
        turn instead (``TurnFinished.cost_usd``, from its adapter), so nothing counts twice."""
        if process_total >= self._process_cost:
            self.record.cost_usd += process_total - self._process_cost
            self._process_cost = process_total

    async def _on_turn_finished(self, event: TurnFinished) -> None:
        self.record.turns += 1
        self.record.cost_usd += max(event.cost_usd, 0.0)
        self.record.last_active = time.time()
        self.output.end_stream()
        if self._interrupted:
            self._interrupted = False
            self.output.say("⏹ Interrupted. I'm ready for your next message.")
        elif event.is_error:
            detail = guard_agent_text(event.result.strip()) or one_line(event.subtype)
            self.output.say(f"⚠️ The turn ended with an error: {detail}")
        self.output.anchor(None)
        answered, self._turn_pending = self._turn_pending, ()
        self._forget(answered)
        self.busy = False
        self._busy_shown.stop()
        self.output.chat_state("active")
        self._persist()
        if self.queue:
            # one turn per conversation: what came from elsewhere waits for the next turn
            via = self.queue[0][0]
            batch = [prompt for where, prompt in self.queue if where is via]
            self.queue = [item for item in self.queue if item[0] is not via]
            merged = batch[0]
            for prompt in batch[1:]:
                merged = merged.merged(prompt)
            await self._start_turn(merged, via)
        else:
            self.turn_done.set()
            self._show_state()

    async def _on_exit(self, event: ProcessExited, adapter: AgentAdapter | None) -> None:
        if adapter is not None and adapter is not self.adapter:
            return
        self.adapter = None
        self.started_at = None
        self._pool.release(self.name)
        was_busy = self.busy
        self.busy = False
        self._busy_shown.stop()
        self._silence.stop()
        self.output.end_stream()
        self.output.anchor(None)
        self.turn_done.set()
        cut_short, self._turn_pending = self._turn_pending, ()
        if self._gate is not None:
            self._gate.cancel_agent(self.name, "the agent process stopped")
        if not event.expected and not self._stopping:
            self.record.status = AgentStatus.CRASHED
            tail = guard_agent_text(event.stderr_tail.strip()[-800:])
            msg = f"💥 The agent process exited unexpectedly (exit code {event.returncode})."
            if tail:
                msg += f"\nLast error output:\n{code_block(tail)}"
            msg += "\nSend a message to restart it; the conversation will continue."
            self._forget(cut_short)  # the owner sends again what they still want answered
            if was_busy and self.queue:
                msg += f"\n{len(self.queue)} queued message(s) were kept; they go with your next."
            self.say(msg)
            log.warning("%s: process exited with %s", self.name, event.returncode)
        self._persist()
        self._show_state()
        self._on_live_change()

    # ----------------------------------------------------------------- commands

    @property
    def has_gate(self) -> bool:
        return self._gate is not None

    @property
    def can_send_files(self) -> bool:
        return self._send_file is not None

    async def send_path(self, path: str) -> None:
        """``get <path>``: upload a file of the working tree and send its link."""
        if self._send_file is not None:
            await self._send_file(self, path)

    @property
    def has_git(self) -> bool:
        return self._git is not None

    async def diff(self, as_patch: bool) -> None:
        """``diff`` / ``diff patch``: what changed in its tree (agentchat/worktrees/chat.py)."""
        if self._git is not None:
            await self._git.diff(self, as_patch)

    def revoke_rule(self, target: str) -> str:
        """``revoke <n>``: drop an 'always' rule; returns what to tell the owner."""
        if self._gate is not None and self._gate.revoke_rule(self.name, target):
            return f"Revoked. {self.rules_text()}"
        return f"No rule '{target}'. {self.rules_text()}"

    # ----------------------------------------------------------------- lifecycle

    async def interrupt(self) -> str:
        """Stop the running turn; returns what to tell the owner (chat and ad-hoc command)."""
        if not self.busy or self.adapter is None:
            return "Nothing to interrupt: I'm not working on anything."
        if self._gate is not None:
            self._gate.cancel_agent(self.name, "The user interrupted the turn.")
        self._interrupted = True
        await self.adapter.interrupt()
        return "⏹ Interrupting the current turn…"

    # ----------------------------------------------------------------- session controls

    async def _live_controls(self) -> AgentAdapter | str:
        """The running adapter once its modes and models are known (started if need be),
        or what to tell the owner."""
        if self.record.status is AgentStatus.ENDED:
            return f"{self.name} has ended. Ask the manager for a new agent ('new')."
        if self.adapter is None:
            error = await self.start_process()
            if error is not None:
                return f"⚠️ {error[:1].upper()}{error[1:]}."
            self._touch()  # started for this command: it stops again when idle
        if not self._controls_seen.is_set():
            # a backend that offers no modes never says: what is known is shown
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._controls_seen.wait(), CONTROLS_WAIT)
        if self.adapter is None:
            return "⚠️ The agent process stopped."
        return self.adapter

    async def mode_command(self, word: str) -> str:
        """``mode``: the mode and the modes offered; ``mode <name>``: switch now."""
        adapter = await self._live_controls()
        if isinstance(adapter, str):
            return adapter
        controls = self.controls
        if not word:
            return controls.modes_text(self._label, self._allow_bypass)
        choice = resolve_mode(word, controls.modes)
        if choice is None:
            return (f"Unknown mode '{one_line(word)[:40]}'.\n"
                    + controls.modes_text(self._label, self._allow_bypass))
        if is_bypass(choice) and not self._allow_bypass:
            return (f"Mode {mode_label(choice.id)} lets every tool run without asking; the "
                    "operator has not allowed that here (agents.allowBypass).")
        try:
            now = await adapter.set_mode(choice.id)
        except ControlError as exc:
            return f"⚠️ The mode was not changed: {one_line(str(exc))[:300]}"
        controls.mode = now
        self.record.mode = now
        self._persist()
        self._show_state()
        about = choice.description if choice.id == now else NEUTRAL.get(neutral_of(now) or "", "")
        return f"Mode: {mode_label(now)}" + (f" – {one_line(about)[:120]}." if about else ".")

    async def model_command(self, word: str) -> str:
        """``model``: the model and the models offered; ``model <name>``: switch for the
        following turns."""
        adapter = await self._live_controls()
        if isinstance(adapter, str):
            return adapter
        controls = self.controls
        if not word:
            return controls.models_text(self._label)
        if not controls.models:
            return controls.models_text(self._label)
        choice = resolve_model(word, controls.models)
        if choice is None:
            return (f"Unknown model '{one_line(word)[:60]}'.\n"
                    + controls.models_text(self._label))
        try:
            now = await adapter.set_model(choice.id)
        except ControlError as exc:
            return f"⚠️ The model was not changed: {one_line(str(exc))[:300]}"
        controls.model = now
        self.record.model = choice.id  # what was chosen: an alias keeps following its model
        self._persist()
        return f"Model: {one_line(now)} from the next turn on."

    async def compact(self) -> None:
        """``compact``: the backend's own compaction, run as a turn (queued if one runs)."""
        adapter = await self._live_controls()
        if isinstance(adapter, str):
            self.say(adapter)
            return
        prompt = adapter.compact_prompt
        if prompt is None:
            self.say(f"{self._label} offers no way to compact its context from here.")
            return
        self.say("🗜 Compacting the context…")
        await self.deliver(prompt)

    async def stop_process(self, status: AgentStatus) -> None:
        """Stop the CLI process (idle, shutdown) but keep the agent resumable."""
        self._idle.stop()
        adapter = self.adapter
        if adapter is None:
            if self.record.status is not AgentStatus.ENDED:
                self.record.status = status
            return
        self._stopping = True
        await adapter.stop()
        if self._pump_task is not None:
            await asyncio.wait({self._pump_task}, timeout=5)
        if self.adapter is adapter:  # the pump did not see ProcessExited
            await self._on_exit(ProcessExited(None, "", expected=True), adapter)
        self.record.status = status
        self._persist()
        self._show_state()

    async def discard(self) -> None:
        """Stop the process of an agent whose creation is being undone (nothing is said)."""
        self._idle.stop()
        adapter = self.adapter
        if adapter is None:
            return
        self._stopping = True
        self.adapter = None
        await adapter.stop()
        if self._pump_task is not None:
            await asyncio.wait({self._pump_task}, timeout=5)
        self._pool.release(self.name)
        self._on_live_change()

    async def end(self, why: str) -> None:
        """quit / kill: stop the process for good."""
        if self._gate is not None:
            self._gate.unregister_agent(self.name)
        await self.stop_process(AgentStatus.ENDED)
        self.record.status = AgentStatus.ENDED
        self.queue.clear()
        self.record.unanswered.clear()
        self._persist()
        if why == "quit":
            self.say("👋 Shutting down. Goodbye!")
        else:
            self.say(f"🛑 {self.name} was {why}.")
        self._show_state()
        if self._git is not None:
            note = await self._git.ended(self)
            if note:
                self.say(note)

    # ----------------------------------------------------------------- idle

    def _touch(self) -> None:
        if self.adapter is None:
            self._idle.stop()
        else:
            self._idle.start(self._idle_timeout)

    def _idle_fired(self) -> None:
        if self.busy or (self._gate is not None and self._gate.pending_count(self.name)):
            self._touch()
            return
        log.info("%s: idle for %ss, stopping its process", self.name, self._idle_timeout)
        asyncio.get_running_loop().create_task(self.stop_process(AgentStatus.IDLE))

    def _show_busy_later(self) -> None:
        """The busy presence and "typing" once the turn has lasted ``busy_after`` seconds."""
        if self._busy_after > 0:
            self._busy_shown.start(self._busy_after)
        else:
            self._busy_shown.stop()
            self._show_state()

    def _show_busy(self) -> None:
        if self.busy:
            self._show_state()

    def _silence_fired(self) -> None:
        """A turn that says nothing for long is reported, not waited on silently."""
        if not self.busy:
            return
        if self._gate is None or not self._gate.pending_count(self.name):
            # (waiting for the owner is not the agent being stuck)
            self.say(
                f"⏳ No output from the agent for {format_duration(self._silence_warning)}. It "
                "may be stuck; send 'stop' to interrupt the turn, or keep waiting."
            )
        self._silence.start(self._silence_warning)

    # ----------------------------------------------------------------- presentation

    def creation_note(self) -> str | None:
        wt = self.record.worktree
        if wt is None:
            return None
        return (f"🌿 It works in a git worktree of its own: branch {one_line(wt.branch)} in "
                f"{one_line(wt.path)}. Send it 'diff' to see its changes.")

    def presence(self) -> tuple[bool, str | None, str | None]:
        """(available, show, status) mirroring the agent's state."""
        status = self.record.status
        if status is AgentStatus.ENDED:
            return False, None, "ended"
        pending = self.pending_requests()
        if pending:
            # Starts with what is needed: clients that cut or hide status texts still show it.
            more = f" (+{len(pending) - 1} more)" if len(pending) > 1 else ""
            return True, "away", f"needs your answer: #{pending[0].id} {summary(pending[0])}{more}"
        if self.busy:
            return True, "dnd", "working…"
        if status is AgentStatus.RUNNING:
            parts = ["ready", one_line(self.record.repo)]
            if self.record.worktree is not None:
                parts.append(one_line(self.record.worktree.branch))
            mode = neutral_of(self.controls.mode) or self.controls.mode
            if mode and mode != "ask":
                parts.append(one_line(mode)[:20])
            percent = self.controls.context_percent()
            if percent is not None:
                parts.append(f"ctx {percent}%")
            return True, None, " · ".join(parts)
        if status is AgentStatus.IDLE:
            return True, "xa", "idle – send a message to resume"
        if status is AgentStatus.CRASHED:
            return True, "xa", "crashed – send a message to restart"
        return True, "xa", "stopped – send a message to resume"

    def _show_state(self) -> None:
        available, show, status = self.presence()
        self._port.set_presence(self.name, self.owner, show=show,  # type: ignore[arg-type]
                                status=status, available=available)
        if self.busy:  # typing while it works, paused while it waits for the owner
            self.output.chat_state("paused" if self.pending_requests() else "composing")

    def refresh_presence(self) -> None:
        self._show_state()

    def pending_requests(self) -> list[PermissionRequest]:
        return self._gate.pending(self.name) if self._gate is not None else []

    async def acknowledge(self, reply: str) -> None:
        """Say the broker's reply to an answer once the prompt's correction has gone out:
        sent before it, the acknowledgement would be what the owner's client sees last."""
        if self._gate is not None:
            await self._gate.drain()
        self.say(reply)

    def answer_permission(self, text: str) -> str | None:
        """An answer as the owner would type it ('a1b2 yes'); the reply, or None if not one."""
        return self._gate.answer(self.name, text, self.owner) if self._gate is not None else None

    def workdir(self) -> Path:
        """The working directory as it is now; ``WorkspaceError`` if it is not usable any more
        (files are read from and written to it by agentchat itself, outside any sandbox)."""
        return self._locate(self.record) if self._locate is not None else Path(self.record.cwd)

    def plan_text(self) -> str | None:
        """The plan a plan-approval prompt asks about (Claude's ExitPlanMode sends none: its
        plan is in a file, read now)."""
        plan = self.plan
        if plan is None:
            return None
        if plan.path is None:
            return plan.text[:PLAN_MAX_CHARS] or None
        try:
            with open(plan.path, encoding="utf-8", errors="replace") as fh:
                return fh.read(PLAN_MAX_CHARS)
        except OSError as exc:
            log.warning("%s: cannot read the plan file: %s", self.name, exc)
            return None

    def rules_text(self) -> str:
        if not self.record.rules:
            return "No 'always' rules: every tool use is asked for."
        lines = ["Always allowed (revoke <n> to remove):"]
        for i, rule in enumerate(self.record.rules, 1):
            lines.append(f"  {i}. {rule.tool_name}: {rule.command}" if rule.command is not None
                         else f"  {i}. {rule.tool_name}")
        return "\n".join(lines)

    def status_text(self) -> str:
        r = self.record
        state = "working on a turn" if self.busy else r.status.value
        if self._gate is not None and self._gate.pending_count(self.name):
            state = f"waiting for permission ({self._gate.pending_count(self.name)} pending)"
        uptime = (
            format_duration(time.monotonic() - self.started_at)
            if self.started_at is not None else "not running"
        )
        try:
            where = str(self.workdir())
        except WorkspaceError as exc:
            ended_here = r.status is AgentStatus.ENDED and r.worktree is not None
            where = f"{r.cwd}, removed" if ended_here else f"⚠️ {exc}"
        lines = [
            f"{r.name}: {state}",
            f"Repository: {one_line(r.repo)} ({one_line(where)})",
            *([f"Branch: {one_line(r.worktree.branch)} (its own worktree)"]
              if r.worktree is not None else []),
            f"Task: {r.task}",
            f"Uptime: {uptime} · created {format_duration(time.time() - r.created)} ago",
        ]
        c = self.controls
        if c.mode or c.model:
            lines.append(f"Mode: {mode_label(c.mode) if c.mode else 'unknown'} · "
                         f"model: {one_line(c.model) if c.model else 'default'}")
        context = c.context_line()
        if context is not None:
            lines.append(context)
        used = f" · tokens used: {tokens_text(r.tokens_used)}" if r.tokens_used else ""
        lines.append(f"Turns: {r.turns}{used} · cost so far: ${r.cost_usd:.4f}")
        if self.queue:
            lines.append(f"Queued messages: {len(self.queue)}")
        lines.extend(room_status_lines(r))
        if r.rules:
            rules = ", ".join(
                f"{x.tool_name}: {x.command}" if x.command is not None else x.tool_name
                for x in r.rules
            )
            lines.append(f"Always allowed: {rules}")
        return "\n".join(lines)

