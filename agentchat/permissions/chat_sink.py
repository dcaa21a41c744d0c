"""Shows permission requests in the agent's chat and corrects them once they are decided.

Each prompt is sent from its own resource of the agent's JID (``swift-fox@agents…/prompt-a1b2``).
Why: Conversations and Dino apply a XEP-0308 correction only when the replaced id is the latest
message from that *full* JID (Conversations' ``findMessageWithRemoteIdAndCounterpart``, Dino's
``message_correction.vala``); anything sent in between (a tool line, an acknowledgement, a second
prompt) would turn the correction into a second copy of the prompt. Alone on its resource, a
prompt's correction always lands in place. Where no correction is possible (the prompt never
went out), the decision is said in a new short message, never as a copy of the prompt.

Keeps the XMPP message id of each prompt, so a reaction (XEP-0444) on the prompt can answer it,
and a XEP-0333 ``displayed`` marker tells that the owner has seen it: a prompt nobody has seen
for a while is mentioned once more in a short message (clients such as Dino show no presence
status text, so "needs your answer" would go unnoticed there).

A prompt goes where the agent's turn came from: the owner's 1:1 chat or a group chat. In a room
it comes from the agent's occupant JID (a room accepts nothing from another resource), and its
correction names who decided, since several people could have.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import attrs

from agentchat.chat.port import ChatPort
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.model import Decision, PermissionRequest
from agentchat.permissions.prompt_text import (
    format_outcome,
    format_prompt,
    outcome_label,
    room_reply_line,
    summary,
)

log = logging.getLogger(__name__)

REMIND_AFTER_S = 60.0


def prompt_resource(request_id: str) -> str:
    """The resource a prompt is sent (and corrected) from."""
    return f"prompt-{request_id}"


def reminder_text(req: PermissionRequest) -> str:
    what = "Question" if req.kind == "question" else "Plan" if req.kind == "plan" else "Permission"
    how = (f"reply '{req.id} <option number>'" if req.kind == "question"
           else f"reply '{req.id} yes' or '{req.id} no'")
    return f"⏳ {what} #{req.id} is waiting for your answer: {summary(req)} ({how})."


def decided_text(req: PermissionRequest, decision: Decision) -> str:
    """The decision as a new short message, where the prompt cannot be corrected."""
    return f"#{req.id} {summary(req)}: {outcome_label(req, decision)}"


class ChatPermissionSink:
    def __init__(
        self,
        port: ChatPort,
        on_change: Callable[[str], None],
        plan_text: Callable[[str], str | None] = lambda _agent: None,
        *,
        remind_after: float = REMIND_AFTER_S,
        order_of: Callable[[str], int | None] = lambda _msg_id: None,
        room_of: Callable[[str], tuple[str, str] | None] = lambda _agent: None,
    ) -> None:
        self._port = port
        self._on_change = on_change  # agent name: refresh its presence ("needs your answer…")
        self._plan_text = plan_text  # agent name: the plan file's text (ExitPlanMode sends none)
        self.remind_after = remind_after
        self._shown: dict[tuple[str, str], PermissionRequest] = {}  # as displayed
        self._message_of: dict[tuple[str, str], str] = {}  # (agent, request id) -> message id
        self._request_of: dict[tuple[str, str], str] = {}  # (agent, message id) -> request id
        self._order_of = order_of  # message id -> when it was sent (the transport knows)
        self._reminders: dict[tuple[str, str], asyncio.TimerHandle] = {}
        # agent name: (room JID, its nick there) when its current turn came from a group chat
        self._room_of = room_of
        self._room: dict[tuple[str, str], tuple[str, str] | None] = {}  # where each prompt went

    async def prompt(self, req: PermissionRequest) -> None:
        key = (req.agent, req.id)
        self._show(req)
        self._reminders[key] = asyncio.get_running_loop().call_later(
            self.remind_after, self._remind, key)
        self._on_change(req.agent)

    def _displayed(self, req: PermissionRequest) -> PermissionRequest:
        """The request as shown: a plan approval gets the plan text from the agent's plan file.

        Only the display changes; the broker answers Claude with the input it was sent.
        """
        if req.kind != "plan" or req.input.get("plan"):
            return req
        plan = self._plan_text(req.agent)
        note = plan if plan else "(The plan is in the agent's messages above.)"
        return attrs.evolve(req, input={**req.input, "plan": note})

    def _show(self, req: PermissionRequest) -> None:
        req = self._shown.setdefault((req.agent, req.id), self._displayed(req))
        room = self._room.setdefault((req.agent, req.id), self._room_of(req.agent))
        if room is None:
            msg_id = self._port.send_chat(req.agent, req.owner, format_prompt(req),
                                          resource=prompt_resource(req.id))
        else:
            text = f"{format_prompt(req, with_reply=False)}\n{room_reply_line(req, room[1])}"
            msg_id = self._port.send_chat(req.agent, room[0], text)
        self._message_of[(req.agent, req.id)] = msg_id
        self._request_of[(req.agent, msg_id)] = req.id

    async def resolved(self, req: PermissionRequest, decision: Decision) -> None:
        key = (req.agent, req.id)
        self._forget_reminder(key)
        msg_id = self._message_of.pop(key, None)
        req = self._shown.pop(key, req)
        room = self._room.pop(key, None)
        to = room[0] if room is not None else req.owner
        if msg_id is not None:
            if room is None:
                self._port.correct(req.agent, to, msg_id, format_outcome(req, decision),
                                   resource=prompt_resource(req.id))
            else:
                self._port.correct(req.agent, to, msg_id,
                                   format_outcome(req, decision, decision.by_jid))
            # keep the reaction mapping: a late 👍 must still get its "too late" reply
        else:
            self._port.send_chat(req.agent, to, decided_text(req, decision))
        if decision.answered_by == "timeout":
            self._port.send_chat(
                req.agent, to,
                f"⏱ Permission #{req.id} expired without an answer; the agent was told you did "
                "not answer. Tell it to try again if you still want it.",
            )
        self._on_change(req.agent)

    def request_for_message(self, agent: str, msg_id: str) -> str | None:
        return self._request_of.get((agent, msg_id))

    def displayed(self, agent: str, msg_id: str) -> None:
        """The owner's client showed message ``msg_id`` of ``agent`` (XEP-0333): the prompts
        sent before it were seen too (clients mark only the latest message displayed)."""
        seen_at = self._order_of(msg_id)
        for key, prompt_id in list(self._message_of.items()):
            if key[0] != agent:
                continue
            sent_at = self._order_of(prompt_id)
            if prompt_id == msg_id or (
                    seen_at is not None and sent_at is not None and sent_at <= seen_at):
                self._forget_reminder(key)

    def _remind(self, key: tuple[str, str]) -> None:
        self._reminders.pop(key, None)
        req = self._shown.get(key)
        if req is None or key not in self._message_of:
            return
        log.info("permission #%s of %s not seen yet: reminding", req.id, req.agent)
        self._port.send_chat(req.agent, req.owner, reminder_text(req))

    def _forget_reminder(self, key: tuple[str, str]) -> None:
        handle = self._reminders.pop(key, None)
        if handle is not None:
            handle.cancel()

    def resend_pending(
        self, broker: PermissionBroker, agents: list[str], room: str | None = None
    ) -> None:
        """After a reconnect: prompts sent while the link was down may never have arrived.

        ``room``: only the prompts shown in that group chat (sent once the agent is back in
        it); without, only those of 1:1 chats.
        """
        for agent in agents:
            for req in broker.pending(agent):
                shown_in = self._room.get((req.agent, req.id))
                if (shown_in[0] if shown_in is not None else None) != room:
                    continue
                log.info("re-sending permission prompt #%s of %s", req.id, agent)
                self._show(req)
