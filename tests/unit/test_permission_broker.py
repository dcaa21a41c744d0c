"""PermissionBroker: pending requests, answers, rules, timeouts, isolation, audit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agentchat.permissions.audit import AuditLog, read_audit
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.mcp_app import decide
from agentchat.permissions.model import AlwaysRule, Decision, PermissionRequest

OWNER = "me@example.org"


class FakeSink:
    """Records prompts/corrections; `next_prompt()` awaits the next prompt without sleeping."""

    def __init__(self, *, fail_prompt: bool = False) -> None:
        self.prompts: list[PermissionRequest] = []
        self.resolved_calls: list[tuple[PermissionRequest, Decision]] = []
        self.fail_prompt = fail_prompt
        self._queue: asyncio.Queue[PermissionRequest] = asyncio.Queue()

    async def prompt(self, req: PermissionRequest) -> None:
        self.prompts.append(req)
        self._queue.put_nowait(req)
        if self.fail_prompt:
            raise ConnectionError("xmpp down")

    async def resolved(self, req: PermissionRequest, decision: Decision) -> None:
        self.resolved_calls.append((req, decision))

    async def next_prompt(self) -> PermissionRequest:
        return await asyncio.wait_for(self._queue.get(), 5)


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def broker(sink: FakeSink, audit_path: Path) -> PermissionBroker:
    b = PermissionBroker(sink, permission_timeout_s=30, audit=AuditLog(audit_path))
    b.register_agent("fox", OWNER, "secret-fox", Path("/work/fox"))
    b.register_agent("owl", "other@example.org", "secret-owl", None)
    return b


def start(
    b: PermissionBroker, tool: str, inp: dict[str, Any], secret: str = "secret-fox"
) -> asyncio.Task[Decision]:
    return asyncio.create_task(decide(b, secret, tool, inp, "toolu_1"))


async def test_allow(broker: PermissionBroker, sink: FakeSink, audit_path: Path) -> None:
    task = start(broker, "Write", {"file_path": "/work/fox/a.txt", "content": "hi"})
    req = await sink.next_prompt()
    assert req.agent == "fox" and req.owner == OWNER and req.kind == "tool"
    assert len(req.id) == 4
    assert broker.pending("fox") == [req]
    assert broker.answer("fox", "yes", f"{OWNER}/phone") == f"✅ allowed #{req.id}"
    decision = await task
    assert decision.tool_result(req.input) == {"behavior": "allow", "updatedInput": req.input}
    assert decision.answered_by == "owner" and decision.how == "yes"
    assert broker.pending("fox") == []
    await broker.drain()
    assert sink.resolved_calls == [(req, decision)]
    events = read_audit(audit_path)
    assert [e["event"] for e in events] == ["request", "decision"]
    assert events[1]["decision"] == "allow" and events[1]["answered_by"] == "owner"
    assert events[1]["how"] == "yes" and events[1]["latency_ms"] >= 0
    assert events[0]["input"] == "Write a.txt"
    assert "secret-fox" not in audit_path.read_text()


async def test_deny_with_reason(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "Bash", {"command": "rm -rf build"})
    req = await sink.next_prompt()
    reply = broker.answer("fox", "no, use make clean", OWNER)
    assert reply == f"❌ denied #{req.id}: use make clean"
    decision = await task
    assert decision.behavior == "deny"
    assert "use make clean" in decision.message
    assert decision.tool_result({}) == {"behavior": "deny", "message": decision.message}


async def test_free_text_denies_with_text(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "Bash", {"command": "npm i"})
    await sink.next_prompt()
    broker.answer("fox", "please use pnpm", OWNER)
    decision = await task
    assert decision.behavior == "deny" and decision.how == "text"
    assert decision.message.endswith("please use pnpm")


async def test_timeout(sink: FakeSink, audit_path: Path) -> None:
    b = PermissionBroker(sink, permission_timeout_s=0.05, audit=AuditLog(audit_path))
    b.register_agent("fox", OWNER, "s", None)
    task = asyncio.create_task(decide(b, "s", "Bash", {"command": "ls"}))
    req = await sink.next_prompt()
    decision = await task
    assert decision.behavior == "deny" and decision.answered_by == "timeout"
    assert decision.message.startswith("The user did not answer the permission request within")
    await b.drain()
    assert sink.resolved_calls[0][1].answered_by == "timeout"
    assert b.answer("fox", f"{req.id} yes", OWNER) == f"Too late: #{req.id} already expired."
    assert read_audit(audit_path)[-1]["answered_by"] == "timeout"


def test_timeout_message_in_minutes() -> None:
    from agentchat.chat.format import spoken_duration as _duration

    assert _duration(300) == "5 minutes"
    assert _duration(60) == "1 minute"
    assert _duration(90) == "1.5 minutes"


async def test_always_rule_skips_next_prompt(
    broker: PermissionBroker, sink: FakeSink, audit_path: Path
) -> None:
    saved: list[list[AlwaysRule]] = []
    broker.on_rules_changed = lambda agent, rules: saved.append(rules)
    task = start(broker, "Bash", {"command": "ls -la"})
    req = await sink.next_prompt()
    reply = broker.answer("fox", "always", OWNER)
    assert reply is not None and reply.startswith(f"✅ allowed #{req.id}")
    assert (await task).how == "always"
    assert broker.rules("fox") == [AlwaysRule("Bash", "ls -la")]
    assert saved == [[AlwaysRule("Bash", "ls -la")]]

    decision = await decide(broker, "secret-fox", "Bash", {"command": "ls -la"}, None)
    assert decision.allowed and decision.answered_by == "rule"
    assert len(sink.prompts) == 1
    assert read_audit(audit_path)[-1]["answered_by"] == "rule"

    # Another command still prompts; other agents do not share the rule.
    other = start(broker, "Bash", {"command": "ls"})
    await sink.next_prompt()
    broker.answer("fox", "no", OWNER)
    assert not (await other).allowed
    owl = start(broker, "Bash", {"command": "ls -la"}, "secret-owl")
    await sink.next_prompt()
    broker.answer("owl", "no", "other@example.org")
    assert not (await owl).allowed


async def test_always_on_non_bash_is_per_tool(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "Edit", {"file_path": "a", "old_string": "x", "new_string": "y"})
    await sink.next_prompt()
    broker.answer("fox", "always", OWNER)
    await task
    assert broker.rules("fox") == [AlwaysRule("Edit")]
    decision = await decide(broker, "secret-fox", "Edit", {"file_path": "b"}, None)
    assert decision.answered_by == "rule"


async def test_always_also_settles_matching_pending(
    broker: PermissionBroker, sink: FakeSink
) -> None:
    t1 = start(broker, "Read", {"file_path": "a"})
    r1 = await sink.next_prompt()
    t2 = start(broker, "Read", {"file_path": "b"})
    r2 = await sink.next_prompt()
    reply = broker.answer("fox", f"{r1.id} always", OWNER)
    assert reply is not None and f"also allowed #{r2.id}" in reply
    assert (await t1).allowed and (await t2).answered_by == "rule"


async def test_revoke_and_set_rules(broker: PermissionBroker) -> None:
    broker.set_rules("fox", [AlwaysRule("Bash", "ls"), AlwaysRule("Edit")])
    assert broker.revoke_rule("fox", "Edit")
    assert broker.rules("fox") == [AlwaysRule("Bash", "ls")]
    assert not broker.revoke_rule("fox", 5)
    assert broker.revoke_rule("fox", "1")
    assert broker.rules("fox") == []
    broker.set_rules("fox", [AlwaysRule("Bash", "make test")])
    assert broker.revoke_rule("fox", "make test")
    broker.set_rules("fox", [AlwaysRule("Edit")])
    assert not broker.revoke_rule("fox", "²") and not broker.revoke_rule("fox", "١")
    assert broker.rules("fox") == [AlwaysRule("Edit")]


async def test_two_agents_isolated(broker: PermissionBroker, sink: FakeSink) -> None:
    fox = start(broker, "Bash", {"command": "ls"})
    fox_req = await sink.next_prompt()
    owl = start(broker, "Bash", {"command": "pwd"}, "secret-owl")
    owl_req = await sink.next_prompt()
    assert fox_req.id != owl_req.id
    assert broker.pending("owl") == [owl_req]
    # Answering in fox's chat only touches fox's request, even by id.
    assert (
        broker.answer("fox", f"{owl_req.id} yes", OWNER)
        == f"No pending permission #{owl_req.id}. Pending: #{fox_req.id}"
    )
    assert broker.answer("fox", "yes", OWNER) == f"✅ allowed #{fox_req.id}"
    assert (await fox).allowed
    assert not owl.done()
    # Only owl's owner may answer owl.
    assert broker.answer("owl", "yes", OWNER) == (
        "Only the agent's owner can answer permission prompts."
    )
    assert broker.answer("owl", "no", "Other@Example.org/laptop") == f"❌ denied #{owl_req.id}"
    assert not (await owl).allowed


@pytest.mark.parametrize("secret", ["wrong", "", None, "secret-fox-extra"])
async def test_wrong_secret_denied_without_prompt(
    broker: PermissionBroker, sink: FakeSink, audit_path: Path, secret: str | None
) -> None:
    decision = await decide(broker, secret, "Bash", {"command": "ls"}, "t")
    assert decision.behavior == "deny" and decision.message == "unauthorized"
    assert sink.prompts == []
    assert broker.pending("fox") == [] and broker.pending("owl") == []
    events = read_audit(audit_path)
    assert events[-1]["event"] == "unauthorized"
    assert "agent" not in events[-1]


async def test_agent_for_secret(broker: PermissionBroker) -> None:
    assert broker.agent_for_secret("secret-owl") == "owl"
    assert broker.agent_for_secret("nope") is None
    assert broker.agent_for_secret(None) is None
    with pytest.raises(ValueError):
        broker.register_agent("empty", OWNER, "", None)


async def test_too_late_after_answer(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "Bash", {"command": "ls"})
    req = await sink.next_prompt()
    broker.answer("fox", "yes", OWNER)
    await task
    assert broker.answer("fox", f"#{req.id} no", OWNER) == (
        f"Too late: #{req.id} already answered (allowed)."
    )
    # A bare "yes" with nothing pending is chat for the agent.
    assert broker.answer("fox", "yes", OWNER) is None


async def test_closed_memory_is_bounded(sink: FakeSink) -> None:
    b = PermissionBroker(sink, closed_memory=2)
    b.register_agent("fox", OWNER, "s")
    ids = []
    for _ in range(3):
        task = asyncio.create_task(decide(b, "s", "Bash", {"command": "ls"}))
        ids.append((await sink.next_prompt()).id)
        b.answer("fox", "yes", OWNER)
        await task
    assert b.answer("fox", f"{ids[0]} yes", OWNER) == f"No pending permission #{ids[0]}."
    assert (
        b.answer("fox", f"{ids[2]} yes", OWNER)
        == f"Too late: #{ids[2]} already answered (allowed)."
    )


async def test_ambiguous_with_several_pending(broker: PermissionBroker, sink: FakeSink) -> None:
    t1 = start(broker, "Edit", {"file_path": "/work/fox/src/x.py"})
    r1 = await sink.next_prompt()
    t2 = start(broker, "Bash", {"command": "ls"})
    r2 = await sink.next_prompt()
    reply = broker.answer("fox", "yes", OWNER)
    assert reply == (
        f"Which one? Pending: #{r1.id} Edit src/x.py, #{r2.id} Bash ls — reply '<id> yes'"
    )
    assert not t1.done() and not t2.done()
    assert broker.answer("fox", f"{r2.id} no", OWNER) == f"❌ denied #{r2.id}"
    assert broker.answer("fox", r1.id, OWNER) == (
        f"Reply '{r1.id} yes', '{r1.id} no' or '{r1.id} always'."
    )
    assert broker.answer("fox", "yes", OWNER) == f"✅ allowed #{r1.id}"
    assert (await t1).allowed and not (await t2).allowed


async def test_not_an_answer_returns_none(broker: PermissionBroker) -> None:
    assert broker.answer("fox", "please refactor x", OWNER) is None
    assert broker.answer("ghost", "yes", OWNER) is None


async def test_reaction(broker: PermissionBroker, sink: FakeSink) -> None:
    t1 = start(broker, "Bash", {"command": "ls"})
    r1 = await sink.next_prompt()
    t2 = start(broker, "Bash", {"command": "pwd"})
    r2 = await sink.next_prompt()
    assert broker.answer_by_reaction("fox", r2.id, "❤️", OWNER) is None
    assert broker.answer_by_reaction("fox", r2.id, "👎", OWNER) == f"❌ denied #{r2.id}"
    assert broker.answer_by_reaction("fox", f"#{r1.id}", "👍🏼", OWNER) == f"✅ allowed #{r1.id}"
    d1, d2 = await t1, await t2
    assert d1.allowed and d1.how == "reaction"
    assert not d2.allowed and d2.how == "reaction"
    assert (
        broker.answer_by_reaction("fox", r1.id, "👍")
        == f"Too late: #{r1.id} already answered (allowed)."
    )
    assert broker.answer_by_reaction("fox", "zzzz", "👍") is None


async def test_reaction_from_stranger_ignored(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "Bash", {"command": "ls"})
    req = await sink.next_prompt()
    assert broker.answer_by_reaction("fox", req.id, "👍", "evil@example.org") is None
    assert not task.done()
    broker.answer("fox", "no", OWNER)
    await task


QUESTION_INPUT = {
    "questions": [
        {
            "question": "Which auth method?",
            "header": "Auth",
            "options": [{"label": "OAuth", "description": ""}, {"label": "JWT"}],
            "multiSelect": False,
        },
        {
            "question": "Which features?",
            "header": "Features",
            "options": [{"label": "Login"}, {"label": "Signup"}, {"label": "Reset"}],
            "multiSelect": True,
        },
    ]
}


async def test_ask_user_question(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "AskUserQuestion", QUESTION_INPUT)
    req = await sink.next_prompt()
    assert req.kind == "question"
    invalid = broker.answer("fox", "9", OWNER)
    assert invalid is not None and "still waiting" in invalid
    assert not task.done()
    reply = broker.answer("fox", "2; 1,3", OWNER)
    assert (
        reply == f"✅ answered #{req.id}: Which auth method? → JWT; Which features? → Login, Reset"
    )
    decision = await task
    assert decision.allowed
    assert decision.updated_input == {
        **QUESTION_INPUT,
        "answers": {"Which auth method?": "JWT", "Which features?": "Login, Reset"},
    }


async def test_ask_user_question_skip(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "AskUserQuestion", QUESTION_INPUT)
    req = await sink.next_prompt()
    assert broker.answer("fox", "no", OWNER) == f"❌ skipped question #{req.id}"
    assert not (await task).allowed


async def test_question_never_matches_rules(broker: PermissionBroker, sink: FakeSink) -> None:
    broker.set_rules("fox", [AlwaysRule("AskUserQuestion")])
    task = start(broker, "AskUserQuestion", QUESTION_INPUT)
    await sink.next_prompt()
    broker.answer("fox", "1; 1", OWNER)
    assert (await task).answered_by == "owner"


async def test_exit_plan_mode(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "ExitPlanMode", {"plan": "1. do it"})
    req = await sink.next_prompt()
    assert req.kind == "plan"
    assert broker.answer("fox", "always", OWNER) == f"✅ plan approved #{req.id}"
    assert (await task).allowed
    assert broker.rules("fox") == []
    task = start(broker, "ExitPlanMode", {"plan": "2. other"})
    req = await sink.next_prompt()
    assert broker.answer("fox", "no, add tests", OWNER) == f"❌ plan rejected #{req.id}: add tests"
    assert "add tests" in (await task).message


async def test_unregister_denies_pending(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "Bash", {"command": "ls"})
    await sink.next_prompt()
    broker.unregister_agent("fox")
    decision = await task
    assert decision.answered_by == "shutdown" and not decision.allowed
    assert broker.agent_for_secret("secret-fox") is None
    assert (await decide(broker, "secret-fox", "Bash", {}, None)).message == "unauthorized"
    await broker.drain()
    assert sink.resolved_calls[-1][1].answered_by == "shutdown"


async def test_cancelled_request_is_closed(broker: PermissionBroker, sink: FakeSink) -> None:
    task = start(broker, "Bash", {"command": "ls"})
    req = await sink.next_prompt()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert broker.pending("fox") == []
    assert broker.answer("fox", f"{req.id} yes", OWNER) == f"Too late: #{req.id} already cancelled."
    await broker.drain()
    assert sink.resolved_calls[-1][1].answered_by == "cancelled"


async def test_sink_failure_keeps_request_waiting(audit_path: Path) -> None:
    sink = FakeSink(fail_prompt=True)
    b = PermissionBroker(sink, permission_timeout_s=30)
    b.register_agent("fox", OWNER, "s")
    task = asyncio.create_task(decide(b, "s", "Bash", {"command": "ls"}))
    req = await sink.next_prompt()
    assert b.pending("fox") == [req]
    assert b.answer("fox", "yes", OWNER) == f"✅ allowed #{req.id}"
    assert (await task).allowed


async def test_ids_unique_among_pending(sink: FakeSink) -> None:
    ids = iter(["aaaa", "aaaa", "bbbb"])
    b = PermissionBroker(sink, id_factory=lambda: next(ids))
    b.register_agent("fox", OWNER, "s")
    t1 = asyncio.create_task(decide(b, "s", "Bash", {"command": "a"}))
    t2 = asyncio.create_task(decide(b, "s", "Bash", {"command": "b"}))
    assert {(await sink.next_prompt()).id, (await sink.next_prompt()).id} == {"aaaa", "bbbb"}
    await b.aclose()
    assert not (await t1).allowed and not (await t2).allowed


async def test_long_wait_is_not_limited(sink: FakeSink) -> None:
    """The broker itself imposes no limit below permission_timeout_s (minutes in production)."""
    b = PermissionBroker(sink, permission_timeout_s=3600)
    b.register_agent("fox", OWNER, "s")
    task = asyncio.create_task(decide(b, "s", "Bash", {"command": "ls"}))
    await sink.next_prompt()
    done, _ = await asyncio.wait([task], timeout=0.05)
    assert not done
    b.answer("fox", "y", OWNER)
    assert (await task).allowed
