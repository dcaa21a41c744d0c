"""Group chats, the pure parts: addressing, commands, MUC stanzas, approvers, room prompts."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agentchat.agents.events import AssistantText, ToolCall
from agentchat.permissions.audit import AuditLog, read_audit
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.mcp_app import decide
from agentchat.permissions.model import Decision, PermissionRequest
from agentchat.permissions.prompt_text import format_outcome, room_reply_line
from agentchat.rooms.addressing import addressed_text, mention_uris, prompt_id_of
from agentchat.rooms.rules import RoomCommand, parse_room_command, room_status_lines
from agentchat.state.model import AgentRecord, RoomRecord
from agentchat.xmpp.muc import (
    next_nick,
    parse_groupchat,
    parse_invitation,
    parse_presence,
)
from tests.support.fakes import FakeAdapter, FakePort
from tests.unit.test_agent_runtime import done, make_agent
from tests.unit.test_permission_broker import FakeSink

ROOM = "team@rooms.example.com"
OWN = mention_uris(ROOM, "swift-fox", "swift-fox@agents.example.com")


@pytest.mark.parametrize(("body", "text"), [
    ("swift-fox: run the tests", "run the tests"),
    ("Swift-Fox, run the tests", "run the tests"),
    ("@swift-fox run the tests", "run the tests"),
    ("  swift-fox:yes", "yes"),
    ("swift-fox is slow today", None),  # about it, not to it
    ("swift-fox-2: run the tests", None),  # another agent's nick
    ("hey, run the tests", None),
])
def test_a_message_is_addressed_by_a_leading_nickname(body: str, text: str | None) -> None:
    assert addressed_text(body, "swift-fox", (), OWN) == text


def test_a_xep0372_mention_addresses_it_anywhere_in_the_message() -> None:
    body = "could swift-fox look at this?"
    assert addressed_text(body, "swift-fox", (f"xmpp:{ROOM}/swift-fox",), OWN) == body
    assert addressed_text(body, "swift-fox", ("xmpp:swift-fox@agents.example.com",), OWN) == body
    assert addressed_text(body, "swift-fox", (f"xmpp:{ROOM}/other",), OWN) is None
    mentioned = "swift-fox look at this"  # a client inserting the bare nick with a reference
    assert addressed_text(mentioned, "swift-fox", (f"xmpp:{ROOM}/swift-fox",), OWN) == (
        "look at this")


def test_prompt_ids_route_unaddressed_answers() -> None:
    assert prompt_id_of("a1b2 yes", ["a1b2", "c3d4"]) == "a1b2"
    assert prompt_id_of("#C3D4 no, not now", ["a1b2", "c3d4"]) == "c3d4"
    assert prompt_id_of("a1b2 yes", ["c3d4"]) is None  # another agent's prompt
    assert prompt_id_of("yes", ["a1b2"]) is None


@pytest.mark.parametrize(("text", "command"), [
    ("join team@rooms.example.com", RoomCommand("join", ROOM)),
    ("join Team@Rooms.example.com/ignored", RoomCommand("join", ROOM)),
    ("join xmpp:team@rooms.example.com?join", RoomCommand("join", ROOM)),
    ("leave", RoomCommand("leave")),
    (f"leave {ROOM}", RoomCommand("leave", ROOM)),
    ("allow bob@example.com", RoomCommand("allow", "bob@example.com")),
    ("deny bob@example.com", RoomCommand("deny", "bob@example.com")),
    ("approvers", RoomCommand("approvers")),
    ("approvers add bob@example.com", RoomCommand("approvers add", "bob@example.com")),
    ("approvers remove bob@example.com", RoomCommand("approvers remove", "bob@example.com")),
    ("context on", RoomCommand("context", "on")),
    # not commands: answers to prompts and ordinary requests stay what they were
    ("deny", None), ("allow", None), ("leave it as it is", None), ("join the two lists", None),
    ("context please", None),
])
def test_room_commands_in_the_agents_chat(text: str, command: RoomCommand | None) -> None:
    assert parse_room_command(text) == command


def test_status_lines_only_for_agents_that_use_rooms() -> None:
    record = AgentRecord(name="swift-fox", owner="a@example.com", agent_type="claude-code",
                         repo="p", cwd="/w/p", task="t", session_id="s", created=0,
                         last_active=0)
    assert room_status_lines(record) == []
    record.rooms = [RoomRecord(ROOM, "swift-fox"), RoomRecord("x@rooms.example.com", "fox-2")]
    record.allowed, record.approvers = ["b@example.com"], ["c@example.com"]
    assert room_status_lines(record) == [
        f"Rooms: {ROOM}, x@rooms.example.com (as fox-2)",
        "May instruct me in rooms: b@example.com",
        "May answer my prompts in rooms: c@example.com",
    ]


def xml(text: str) -> ET.Element:
    return ET.fromstring(text)


def test_invitations_direct_and_mediated() -> None:
    direct = xml("<message xmlns='jabber:client'><x xmlns='jabber:x:conference' "
                 "jid='Team@rooms.example.com' password='pw'/></message>")
    inv = parse_invitation(direct, "alice@example.com/phone")
    assert inv is not None and (inv.room, inv.inviter, inv.password, inv.mediated) == (
        ROOM, "alice@example.com", "pw", False)
    mediated = xml("<message xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'>"
                   "<invite from='alice@example.com/pc'><reason>help</reason></invite>"
                   "</x><x xmlns='jabber:x:conference' jid='team@rooms.example.com'/>"
                   "</message>")  # Prosody adds the XEP-0249 element to mediated ones
    inv = parse_invitation(mediated, ROOM)
    assert inv is not None and (inv.room, inv.inviter, inv.reason, inv.mediated) == (
        ROOM, "alice@example.com", "help", True)
    assert parse_invitation(xml("<message xmlns='jabber:client'><body>hi</body></message>"),
                            "a@b") is None


MUC_USER = "http://jabber.org/protocol/muc#user"


def test_presences_from_the_room() -> None:
    own = parse_presence(xml(
        f"<presence xmlns='jabber:client'><x xmlns='{MUC_USER}'>"
        "<item affiliation='none' role='participant' jid='swift-fox@agents.example.com/agentchat'/>"
        "<status code='100'/><status code='110'/></x></presence>"), f"{ROOM}/swift-fox", "")
    assert own.is_self and own.kind == "available" and "100" in own.codes
    assert own.real_jid == "swift-fox@agents.example.com"
    kicked = parse_presence(xml(
        f"<presence xmlns='jabber:client' type='unavailable'><x xmlns='{MUC_USER}'>"
        "<item role='none'><reason>enough</reason></item><status code='307'/>"
        "<status code='110'/></x></presence>"), f"{ROOM}/swift-fox", "unavailable")
    assert kicked.kind == "unavailable" and "307" in kicked.codes and kicked.reason == "enough"
    destroyed = parse_presence(xml(
        f"<presence xmlns='jabber:client' type='unavailable'><x xmlns='{MUC_USER}'>"
        "<item role='none'/><destroy><reason>done</reason></destroy><status code='110'/>"
        "</x></presence>"), f"{ROOM}/swift-fox", "unavailable")
    assert destroyed.destroyed and destroyed.reason == "done"
    conflict = parse_presence(xml(
        "<presence xmlns='jabber:component:accept' type='error'><error type='cancel'>"
        "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"),
        f"{ROOM}/swift-fox", "error")
    assert (conflict.kind, conflict.error) == ("error", "conflict")
    assert [next_nick("swift-fox", i) for i in range(3)] == [
        "swift-fox", "swift-fox-2", "swift-fox-3"]


def test_groupchat_messages_history_and_mentions() -> None:
    live = parse_groupchat(xml(
        "<message xmlns='jabber:client' type='groupchat' id='m1'><body>look</body>"
        "<reference xmlns='urn:xmpp:reference:0' type='mention' begin='0' end='4' "
        f"uri='xmpp:{ROOM}/swift-fox'/></message>"), f"{ROOM}/bob")
    assert (live.nick, live.body, live.msg_id, live.delayed) == ("bob", "look", "m1", False)
    assert live.mentions == (f"xmpp:{ROOM}/swift-fox",)
    replayed = parse_groupchat(xml(
        "<message xmlns='jabber:client' type='groupchat'><body>old</body>"
        "<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/></message>"), f"{ROOM}/bob")
    assert replayed.delayed


async def test_approvers_answer_in_rooms_others_are_refused_and_the_audit_names_the_room(
    tmp_path: Path,
) -> None:
    sink = FakeSink()
    approvers: dict[str, list[str]] = {"fox": []}
    broker = PermissionBroker(sink, audit=AuditLog(tmp_path / "audit.jsonl"),
                              approvers=lambda name: approvers[name])
    broker.register_agent("fox", "alice@example.com", "secret", Path("/w"))
    task = asyncio.create_task(decide(broker, "secret", "Write", {"file_path": "/w/a"}))
    req = await sink.next_prompt()
    refusal = broker.answer("fox", f"{req.id} yes", "bob@example.com/pc", room=ROOM)
    assert refusal == ("Only alice@example.com and the approvers they named can answer fox's "
                       "permission prompts.")
    assert broker.pending("fox") == [req]
    approvers["fox"].append("bob@example.com")
    assert broker.answer("fox", f"{req.id} yes", "bob@example.com/pc", room=ROOM) == (
        f"✅ allowed #{req.id}")
    decision = await task
    assert (decision.by_jid, decision.room, decision.answered_by) == (
        "bob@example.com", ROOM, "approver")
    await broker.drain()
    line = next(e for e in read_audit(tmp_path / "audit.jsonl") if e["event"] == "decision")
    assert (line["by"], line["room"], line["answered_by"]) == ("bob@example.com", ROOM,
                                                                "approver")


def test_room_prompts_name_their_agent_and_who_decided() -> None:
    req = PermissionRequest(id="a1b2", agent="fox", owner="a@example.com", tool_name="Write",
                            input={"file_path": "x"})
    assert room_reply_line(req, "fox") == (
        "Reply 'a1b2 yes', 'a1b2 no' or 'a1b2 always' (or 'fox: yes'); only the owner and "
        "approvers may answer.")
    allowed = Decision("allow", how="yes", by_jid="bob@example.com")
    assert format_outcome(req, allowed, "bob@example.com").endswith(
        "✅ allowed by bob@example.com")
    assert format_outcome(req, allowed).endswith("✅ allowed")
    denied = Decision("deny", how="no", by_jid="bob@example.com", note="later")
    assert format_outcome(req, denied, "bob@example.com").endswith(
        "❌ denied by bob@example.com: later")


async def test_a_turn_from_a_room_answers_there_and_queued_talk_keeps_its_origin() -> None:
    port = FakePort()
    agent = make_agent(port)
    room = agent.presenter_for(ROOM)
    await agent.deliver("from the room", via=room)
    adapter = FakeAdapter.instances[-1]
    await agent.handle_owner_text("from the owner")  # mid-turn: queued, said where it came from
    adapter.emit(ToolCall("t1", "Read", {"file_path": "/w/proj/a.py"}, line="🔧 Read a.py"))
    adapter.emit(AssistantText("room answer"))
    adapter.sent_event.clear()
    adapter.emit(done())
    await asyncio.wait_for(adapter.sent_event.wait(), 5)
    assert adapter.sent == ["from the room", "from the owner"]
    adapter.emit(AssistantText("owner answer"))
    adapter.emit(done())
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    to_room = [body for _f, to, body in port.messages if to == ROOM]
    to_owner = [body for _f, to, body in port.messages if to == "u@example.com"]
    assert to_room == ["🔧 Read a.py", "room answer"]
    assert to_owner[0].startswith("⏳ Queued") and to_owner[1:] == ["owner answer"]
    assert ("swift-fox", ROOM, "composing") in port.states
