"""Shows permission requests in the agent's chat and corrects them once they are decided.

Keeps the XMPP message id of each prompt, so a reaction (XEP-0444) on the prompt can answer it
and the outcome can replace the prompt (XEP-0308) instead of piling up more messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from agentchat.chat.port import ChatPort
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.model import Decision, PermissionRequest
from agentchat.permissions.prompt_text import format_outcome, format_prompt

log = logging.getLogger(__name__)


class ChatPermissionSink:
    def __init__(
        self,
        port: ChatPort,
        on_change: Callable[[str], None],
        plan_text: Callable[[str], str | None] = lambda _agent: None,
    ) -> None:
        self._port = port
        self._on_change = on_change  # agent name: refresh its presence ("waiting for…")
        self._plan_text = plan_text  # agent name: the plan file's text (ExitPlanMode sends none)
        self._shown: dict[tuple[str, str], PermissionRequest] = {}  # as displayed
        self._message_of: dict[tuple[str, str], str] = {}  # (agent, request id) -> message id
        self._request_of: dict[tuple[str, str], str] = {}  # (agent, message id) -> request id

    async def prompt(self, req: PermissionRequest) -> None:
        self._show(req)
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
        msg_id = self._port.send_chat(req.agent, req.owner, format_prompt(req))
        self._message_of[(req.agent, req.id)] = msg_id
        self._request_of[(req.agent, msg_id)] = req.id

    async def resolved(self, req: PermissionRequest, decision: Decision) -> None:
        msg_id = self._message_of.pop((req.agent, req.id), None)
        req = self._shown.pop((req.agent, req.id), req)
        if msg_id is not None:
            self._port.correct(req.agent, req.owner, msg_id, format_outcome(req, decision))
            # keep the reaction mapping: a late 👍 must still get its "too late" reply
        if decision.answered_by == "timeout":
            self._port.send_chat(
                req.agent, req.owner,
                f"⏱ Permission #{req.id} expired without an answer; the agent was told you did "
                "not answer. Tell it to try again if you still want it.",
            )
        self._on_change(req.agent)

    def request_for_message(self, agent: str, msg_id: str) -> str | None:
        return self._request_of.get((agent, msg_id))

    def resend_pending(self, broker: PermissionBroker, agents: list[str]) -> None:
        """After a reconnect: prompts sent while the link was down may never have arrived."""
        for agent in agents:
            for req in broker.pending(agent):
                log.info("re-sending permission prompt #%s of %s", req.id, agent)
                self._show(req)
