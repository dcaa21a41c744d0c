"""Pending permission requests: from the MCP tool call to the owner's answer (no XMPP here).

The MCP tool awaits `PermissionBroker.request`; the chat side implements `PermissionSink` to show
prompts and corrections, and feeds the owner's replies to `answer` / `answer_by_reaction`.
Everything runs on one asyncio loop; a request is a future resolved exactly once (by the owner,
a rule, the timeout, cancellation or agent shutdown).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Coroutine, Iterable
from pathlib import Path
from typing import Any, Protocol

import attrs

from agentchat.chat.format import spoken_duration
from agentchat.jid import bare_jid

from . import prompt_text as say
from .answers import (
    Allow,
    AllowAlways,
    AllowEdits,
    Ambiguous,
    Answered,
    Choice,
    Deny,
    Invalid,
    NotAnAnswer,
    Skipped,
    parse_answer,
    reaction_verb,
    resolve_question,
)
from .audit import AuditLog
from .model import AlwaysRule, Decision, PermissionRequest, kind_for
from .prompt_text import summary

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0
CLOSED_MEMORY = 50
UNAUTHORIZED = "unauthorized"
NOT_OVER_MCP = ("This agent's permissions are asked through its own protocol, "
                "not with this tool.")


class PermissionSink(Protocol):
    """The chat side: shows prompts to the owner and corrects them once decided."""

    async def prompt(self, req: PermissionRequest) -> None:
        """Send the prompt (see prompt_text.format_prompt) to the agent's owner."""

    async def resolved(self, req: PermissionRequest, decision: Decision) -> None:
        """Correct the prompt (format_outcome) / tell the owner it expired or was cancelled."""


@attrs.define(eq=False)
class _Pending:
    req: PermissionRequest
    future: asyncio.Future[Decision]


@attrs.define(eq=False)
class _Agent:
    name: str
    owner: str
    secret: str
    cwd: Path | None
    mcp_prompts: bool = True  # False: it asks over its own channel (ACP), not permission_prompt
    pending: dict[str, _Pending] = attrs.field(factory=dict)
    closed: OrderedDict[str, str] = attrs.field(factory=OrderedDict)  # id -> "allowed"...


def _closed_word(decision: Decision) -> str:
    if decision.answered_by == "timeout":
        return "expired"
    if decision.answered_by in ("shutdown", "cancelled"):
        return "cancelled"
    return "answered (allowed)" if decision.allowed else "answered (denied)"


class PermissionBroker:
    """Book-keeping of agents (by name, with the secret the MCP app looks them up by), pending
    requests, always-rules and recent outcomes."""

    def __init__(
        self,
        sink: PermissionSink | None = None,
        *,
        permission_timeout_s: float = DEFAULT_TIMEOUT_S,
        audit: AuditLog | None = None,
        on_rules_changed: Callable[[str, list[AlwaysRule]], None] | None = None,
        closed_memory: int = CLOSED_MEMORY,
        id_factory: Callable[[], str] | None = None,
        approvers: Callable[[str], Collection[str]] | None = None,
    ) -> None:
        self.sink = sink
        self.permission_timeout_s = permission_timeout_s
        self.audit = audit
        self.on_rules_changed = on_rules_changed
        self._closed_memory = closed_memory
        self._id_factory = id_factory or (lambda: secrets.token_hex(2))
        # agent name -> bare JIDs besides the owner who may answer its prompts (group chats)
        self._approvers = approvers or (lambda _agent: ())
        self._agents: dict[str, _Agent] = {}
        self._rules: dict[str, list[AlwaysRule]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- agents -------------------------------------------------------------------------------

    def register_agent(self, name: str, owner: str, secret: str, cwd: Path | None = None, *,
                       mcp_prompts: bool = True) -> None:
        """Make `secret` valid for `name`; re-registering keeps pending requests and rules.

        ``mcp_prompts=False`` (ACP agents): the secret reaches our MCP tools (``send_file``) but
        not ``permission_prompt``, so the agent cannot raise prompts of its own making; its
        permissions come through ``request_for``.
        """
        if not secret:
            raise ValueError("an agent secret must not be empty")
        agent = self._agents.get(name)
        if agent is None:
            self._agents[name] = _Agent(name, bare_jid(owner), secret, cwd, mcp_prompts)
        else:
            agent.owner, agent.secret, agent.cwd = bare_jid(owner), secret, cwd
            agent.mcp_prompts = mcp_prompts

    def unregister_agent(self, name: str, *, keep_rules: bool = False) -> None:
        """Invalidate the secret and deny what is still pending (the agent is going away)."""
        agent = self._agents.pop(name, None)
        if not keep_rules:
            self._rules.pop(name, None)
        if agent is None:
            return
        for p in list(agent.pending.values()):
            self._resolve(
                agent,
                p,
                Decision(
                    "deny",
                    message="The agent is shutting down.",
                    answered_by="shutdown",
                    how="shutdown",
                ),
            )

    def agent_for_secret(self, secret: str | None) -> str | None:
        """Constant-time comparison against every agent, so timing reveals nothing."""
        if not secret:
            return None
        found: str | None = None
        given = secret.encode()
        for agent in self._agents.values():
            if hmac.compare_digest(given, agent.secret.encode()):
                found = agent.name
        return found

    def asks_over_mcp(self, name: str | None) -> bool:
        """May agent ``name`` use ``permission_prompt``? (Not an ACP agent, nor a stranger.)"""
        agent = self._agents.get(name) if name is not None else None
        return agent is not None and agent.mcp_prompts

    # --- requests -----------------------------------------------------------------------------

    async def request_for(
        self,
        name: str,
        tool_name: str,
        input: dict[str, Any],
        tool_use_id: str | None = None,
    ) -> Decision:
        """Decide one tool use of agent ``name``: rule, owner's answer, or deny on timeout or
        shutdown. Callers have already said which agent asks: the MCP app from the caller's
        secret (``permissions/mcp_app.decide``), an ACP backend from its own process."""
        agent = self._agents.get(name)
        if agent is None:
            log.warning("permission request for %s from unregistered agent %s", tool_name, name)
            return Decision("deny", message="The agent is not running.", answered_by="shutdown",
                            how="shutdown")
        req = PermissionRequest(
            id=self._new_id(agent),
            agent=agent.name,
            owner=agent.owner,
            tool_name=tool_name,
            input=input,
            tool_use_id=tool_use_id,
            kind=kind_for(tool_name),
            cwd=agent.cwd,
        )
        if self.audit:
            self.audit.request(req)
        rule = self._matching_rule(agent.name, req)
        if rule is not None:
            decision = Decision(
                "allow", updated_input=input, answered_by="rule", how="rule", note=rule.describe()
            )
            self._audit_decision(req, decision)
            return decision

        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        pending = _Pending(req, future)
        agent.pending[req.id] = pending
        log.info("permission #%s for %s: %s", req.id, agent.name, summary(req))
        try:
            await self._notify_prompt(req)
            remaining = req.created.monotonic + self.permission_timeout_s - _now()
            if not future.done() and remaining > 0:
                await asyncio.wait([future], timeout=remaining)
        except asyncio.CancelledError:
            # The MCP call went away (agent interrupted or exited): close the prompt.
            self._resolve(
                agent,
                pending,
                Decision("deny", message="Cancelled.", answered_by="cancelled", how="cancelled"),
            )
            raise
        if not future.done():
            minutes = spoken_duration(self.permission_timeout_s)
            self._resolve(
                agent,
                pending,
                Decision(
                    "deny",
                    message=f"The user did not answer the permission request within {minutes}.",
                    answered_by="timeout",
                    how="timeout",
                ),
            )
        return future.result()

    def pending_count(self, agent: str) -> int:
        a = self._agents.get(agent)
        return len(a.pending) if a is not None else 0

    def cancel_agent(self, agent: str, reason: str) -> None:
        """Deny everything pending for ``agent`` (interrupt, process exit); keeps it registered."""
        a = self._agents.get(agent)
        if a is None:
            return
        for p in list(a.pending.values()):
            self._resolve(
                a, p, Decision("deny", message=reason, answered_by="cancelled", how="cancelled")
            )

    def pending(self, agent: str) -> list[PermissionRequest]:
        a = self._agents.get(agent)
        return [p.req for p in a.pending.values()] if a else []

    # --- rules --------------------------------------------------------------------------------

    def rules(self, agent: str) -> list[AlwaysRule]:
        return list(self._rules.get(agent, []))

    def set_rules(self, agent: str, rules: Iterable[AlwaysRule]) -> None:
        """Load rules (from the state layer); does not call on_rules_changed."""
        self._rules[agent] = list(dict.fromkeys(rules))

    def revoke_rule(self, agent: str, index_or_text: int | str) -> bool:
        """Remove a rule by 1-based index (as listed) or by its text, tool name or command."""
        rules = self._rules.get(agent, [])
        target: AlwaysRule | None = None
        key = index_or_text.strip() if isinstance(index_or_text, str) else index_or_text
        if isinstance(key, int) or (key.isascii() and key.isdigit()):
            i = int(key)
            if 1 <= i <= len(rules):
                target = rules[i - 1]
        else:
            low = key.lower()
            for rule in rules:
                if low in (rule.describe().lower(), (rule.command or "").lower()) or (
                    rule.command is None and low == rule.tool_name.lower()
                ):
                    target = rule
                    break
        if target is None:
            return False
        rules.remove(target)
        self._rules_changed(agent)
        return True

    def _add_rule(self, agent: str, rule: AlwaysRule) -> None:
        rules = self._rules.setdefault(agent, [])
        if rule not in rules:
            rules.append(rule)
            self._rules_changed(agent)

    def _rules_changed(self, agent: str) -> None:
        if self.on_rules_changed is not None:
            try:
                self.on_rules_changed(agent, self.rules(agent))
            except Exception:
                log.exception("saving always-rules of %s failed", agent)

    def _matching_rule(self, agent: str, req: PermissionRequest) -> AlwaysRule | None:
        if req.kind != "tool":
            return None
        for rule in self._rules.get(agent, []):
            if rule.matches(req.tool_name, req.input):
                return rule
        return None

    # --- answers ------------------------------------------------------------------------------

    def may_answer(self, agent: str, jid: str) -> bool:
        """The owner, and in group chats the approvers the owner named."""
        a = self._agents.get(agent)
        return a is not None and (bare_jid(jid) == a.owner
                                  or bare_jid(jid) in self._approvers(agent))

    def _role(self, a: _Agent, jid: str) -> str:
        """For the audit: the owner answered, or an approver the owner named."""
        return "owner" if bare_jid(jid) == a.owner else "approver"

    def answer(
        self, agent: str, text: str, answered_by_jid: str, *, room: str = ""
    ) -> str | None:
        """Apply a chat reply; returns the reply to send, or None if it is not an answer.

        ``room``: the group chat it was typed in (recorded with the decision).
        """
        a = self._agents.get(agent)
        if a is None:
            return None
        kinds = {i: p.req.kind for i, p in a.pending.items()}
        ans = parse_answer(text, list(a.pending), kinds, a.closed.keys())
        if isinstance(ans, NotAnAnswer):
            return None
        if not self.may_answer(agent, answered_by_jid):
            return say.not_allowed_to_answer(a.owner, a.name, in_room=bool(room))
        if isinstance(ans, Ambiguous):
            return self._ambiguous_reply(a, ans)
        p = a.pending.get(ans.id)
        if p is None:
            return self._not_pending_reply(a, ans.id)
        jid = bare_jid(answered_by_jid)
        if isinstance(ans, Allow):
            return self._allow(a, p, how="yes", jid=jid, room=room)
        if isinstance(ans, AllowEdits):
            return self._allow(a, p, how="yes edits", jid=jid, room=room, mode="edits")
        if isinstance(ans, AllowAlways):
            return self._allow_always(a, p, jid, room)
        if isinstance(ans, Deny):
            return self._deny(a, p, ans.reason, how="no" if ans.explicit else "text", jid=jid,
                              room=room)
        assert isinstance(ans, Choice)
        return self._choose(a, p, ans.text, jid, room)

    def answer_by_reaction(
        self, agent: str, prompt_id: str, emoji: str, answered_by_jid: str | None = None
    ) -> str | None:
        """👍 allows, 👎 denies the prompt the reaction was attached to; others are ignored."""
        verb = reaction_verb(emoji)
        a = self._agents.get(agent)
        if verb is None or a is None:
            return None
        if answered_by_jid is not None and not self.may_answer(agent, answered_by_jid):
            return None
        key = prompt_id.lstrip("#").lower()
        p = a.pending.get(key)
        if p is None:
            return self._not_pending_reply(a, key) if key in a.closed else None
        jid = bare_jid(answered_by_jid) if answered_by_jid else a.owner
        if verb == "deny":
            return self._deny(a, p, None, how="reaction", jid=jid)
        if p.req.kind == "question":
            return say.question_by_reaction(p.req)
        return self._allow(a, p, how="reaction", jid=jid)

    def _allow(self, a: _Agent, p: _Pending, *, how: str, jid: str, room: str = "",
               mode: str = "") -> str:
        self._resolve(a, p, Decision("allow", updated_input=p.req.input, how=how, by_jid=jid,
                                     room=room, answered_by=self._role(a, jid), mode=mode))
        return say.allowed_reply(p.req, edits=bool(mode))

    def _allow_always(self, a: _Agent, p: _Pending, jid: str, room: str = "") -> str:
        rule = AlwaysRule.for_request(p.req.tool_name, p.req.input)
        self._add_rule(a.name, rule)
        decision = Decision(
            "allow", updated_input=p.req.input, how="always", by_jid=jid, note=rule.describe(),
            room=room, answered_by=self._role(a, jid),
        )
        self._resolve(a, p, decision)
        also = []
        for other in list(a.pending.values()):
            if other.req.kind == "tool" and rule.matches(other.req.tool_name, other.req.input):
                self._resolve(
                    a,
                    other,
                    Decision(
                        "allow",
                        updated_input=other.req.input,
                        answered_by="rule",
                        how="rule",
                        note=rule.describe(),
                    ),
                )
                also.append(f"#{other.req.id}")
        return say.always_reply(p.req, rule.describe(), also)

    def _deny(
        self, a: _Agent, p: _Pending, reason: str | None, *, how: str, jid: str, room: str = ""
    ) -> str:
        message, label = say.denial(p.req.kind)
        if reason:
            message = f"{message} They said: {reason}"
        decision = Decision("deny", message=message, how=how, by_jid=jid, note=reason or "",
                            room=room, answered_by=self._role(a, jid))
        self._resolve(a, p, decision)
        return say.denied_reply(label, p.req, reason)

    def _choose(self, a: _Agent, p: _Pending, text: str, jid: str, room: str = "") -> str:
        questions = [q for q in p.req.input.get("questions") or [] if isinstance(q, dict)]
        result = resolve_question(questions, text)
        if isinstance(result, Invalid):
            return say.still_waiting(result.message, p.req)
        if isinstance(result, Skipped):
            return self._deny(a, p, result.reason, how="text", jid=jid, room=room)
        assert isinstance(result, Answered)
        note = "; ".join(f"{q} → {ans}" for q, ans in result.answers.items())
        updated = {**p.req.input, "answers": result.answers}
        self._resolve(
            a, p, Decision("allow", updated_input=updated, how="choice", by_jid=jid, note=note,
                           room=room, answered_by=self._role(a, jid))
        )
        return say.answered_reply(p.req, note)

    def _ambiguous_reply(self, a: _Agent, ans: Ambiguous) -> str:
        if ans.id is not None:
            if ans.id not in a.pending:
                return self._not_pending_reply(a, ans.id)
            return say.how_to_answer(a.pending[ans.id].req)
        return say.which_one([p.req for p in a.pending.values()], ans.verb)

    def _not_pending_reply(self, a: _Agent, pid: str) -> str:
        return say.not_pending(pid, a.closed.get(pid), list(a.pending))

    # --- internals ----------------------------------------------------------------------------

    def _new_id(self, agent: _Agent) -> str:
        taken = {i for a in self._agents.values() for i in a.pending} | set(agent.closed)
        for _ in range(1000):
            candidate = self._id_factory().lower()
            if candidate not in taken:
                return candidate
        raise RuntimeError("cannot find a free permission id")

    def _resolve(self, agent: _Agent, p: _Pending, decision: Decision) -> bool:
        """Settle a request exactly once: future, book-keeping, audit, sink correction."""
        if p.future.done():
            return False
        agent.pending.pop(p.req.id, None)
        p.future.set_result(decision)
        agent.closed[p.req.id] = _closed_word(decision)
        while len(agent.closed) > self._closed_memory:
            agent.closed.popitem(last=False)
        self._audit_decision(p.req, decision)
        log.info(
            "permission #%s for %s: %s by %s",
            p.req.id,
            agent.name,
            decision.behavior,
            decision.answered_by,
        )
        self._spawn(self._notify_resolved(p.req, decision))
        return True

    def _audit_decision(self, req: PermissionRequest, decision: Decision) -> None:
        if self.audit:
            latency = int((_now() - req.created.monotonic) * 1000)
            self.audit.decision(req, decision, latency)

    async def _notify_prompt(self, req: PermissionRequest) -> None:
        if self.sink is None:
            log.warning("no permission sink: #%s cannot be shown to %s", req.id, req.owner)
            return
        try:
            await self.sink.prompt(req)
        except Exception:
            log.exception("sending permission prompt #%s failed; it keeps waiting", req.id)

    async def _notify_resolved(self, req: PermissionRequest, decision: Decision) -> None:
        if self.sink is None:
            return
        try:
            await self.sink.resolved(req, decision)
        except Exception:
            log.exception("updating permission prompt #%s failed", req.id)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop (called from sync code after shutdown)
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for outstanding sink notifications (tests, orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Deny everything still pending (service shutdown) and flush sink notifications."""
        for name in list(self._agents):
            self.unregister_agent(name, keep_rules=True)
        await self.drain()


def _now() -> float:
    return time.monotonic()
