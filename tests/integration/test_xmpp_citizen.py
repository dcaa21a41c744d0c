"""A good XMPP citizen, at the stanza level: presence + caps, chat states, receipts, vCard,
ad-hoc commands with data forms, and streamed answers as corrections of one message.

Real Prosody, real ChatClient; the real Claude CLI against the scripted API except where a fake
adapter makes streaming timing deterministic.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from agentchat.agents.events import AssistantText, PartialText, ToolCall, TurnFinished
from agentchat.agents.runtime import BUSY_SHOWN_AFTER
from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support.chat_flows import CREATED, MANAGER, create_agent, reply, turn_ended, wait_prompt
from tests.support.fakes import FakeAdapter
from tests.support.service_harness import fake_cli_service, running_service
from tests.support.xmpp_client import ChatClient, ClientPool, jid_matches

CAPS = "{http://jabber.org/protocol/caps}c"
CHATSTATES = "http://jabber.org/protocol/chatstates"
CMD_NS = "http://jabber.org/protocol/commands"
CMD = f"{{{CMD_NS}}}"
X = "{jabber:x:data}"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
REPLACE = "{urn:xmpp:message-correct:0}replace"
RECEIPTS = "urn:xmpp:receipts"
VCARD = "{vcard-temp}"


# ---------------------------------------------------------------------- stanza helpers


def replace_id(msg: Any) -> str | None:
    el = msg.xml.find(REPLACE)
    return None if el is None else str(el.get("id"))


async def presence_with(client: ChatClient, jid: str, show: str | None,
                        status: str | re.Pattern[str]) -> Any:
    """The next available presence from ``jid`` with this show and status (a pattern: the
    whole status matches it), others stay."""
    def match(p: Any) -> bool:
        said = str(p["status"])
        return (jid_matches(p["from"], jid) and p["type"] != "unavailable"
                and (p["show"] or None) == show
                and (status.fullmatch(said) is not None if isinstance(status, re.Pattern)
                     else said == status))
    return await client.next_stanza("presence", match, what=f"presence {show}/{status!r}")


async def disco(client: ChatClient, to: str, ns: str, node: str | None = None) -> Any:
    iq = client.xmpp.make_iq_get(queryxmlns=ns, ito=to)
    if node is not None:
        iq.xml.find(f"{{{ns}}}query").set("node", node)
    return await client.iq(iq)


async def command(client: ChatClient, to: str, node: str, *, action: str | None = None,
                  sid: str | None = None, values: dict[str, list[str]] | None = None) -> Any:
    """One ``<command/>`` IQ; returns the reply IQ (result or error)."""
    iq = client.xmpp.make_iq_set(ito=to)
    attrs = {"node": node}
    if action is not None:
        attrs["action"] = action
    if sid is not None:
        attrs["sessionid"] = sid
    el = ET.SubElement(iq.xml, f"{CMD}command", attrs)
    if values is not None:
        x = ET.SubElement(el, f"{X}x", {"type": "submit"})
        for var, vals in values.items():
            field = ET.SubElement(x, f"{X}field", {"var": var})
            for v in vals:
                ET.SubElement(field, f"{X}value").text = v
    return await client.iq(iq)


def disco_query(reply: Any, ns: str, node: str | None) -> ET.Element:
    """The ``<query/>`` of a disco result, checked against XEP-0030: present, and repeating the
    queried node (Converse.js, for one, ignores an answer without it)."""
    assert reply["type"] == "result", f"disco query failed: {reply}"
    query = reply.xml.find(f"{{{ns}}}query")
    assert query is not None, f"no <query/> in {reply}"
    assert query.get("node") == node, f"node {node!r} not repeated in {reply}"
    return query


def command_items(reply: Any) -> list[tuple[str, str, str]]:
    """(jid, node, name) of a disco#items reply to the commands node, in document order."""
    query = disco_query(reply, DISCO_ITEMS, CMD_NS)
    return [(i.get("jid", ""), i.get("node", ""), i.get("name", ""))
            for i in query.findall(f"{{{DISCO_ITEMS}}}item")]


def cmd_of(reply: Any) -> ET.Element:
    assert reply["type"] == "result", f"command failed: {reply}"
    el = reply.xml.find(f"{CMD}command")
    assert el is not None
    return el


def note(cmd: ET.Element) -> str:
    return cmd.findtext(f"{CMD}note") or ""


def fields(cmd: ET.Element) -> dict[str, dict[str, Any]]:
    """var → {type, label, options: [value...], values: [...]} of the form in a command reply."""
    x = cmd.find(f"{X}x")
    assert x is not None and x.get("type") == "form", "no form in the reply"
    out: dict[str, dict[str, Any]] = {}
    for f in x.findall(f"{X}field"):
        out[f.get("var") or ""] = {
            "type": f.get("type"),
            "label": f.get("label"),
            "options": [o.findtext(f"{X}value") for o in f.findall(f"{X}option")],
            "values": [v.text or "" for v in f.findall(f"{X}value")],
        }
    return out


def error_of(reply: Any) -> tuple[str, str | None]:
    assert reply["type"] == "error", f"expected an error, got {reply}"
    specific = next((c.tag.split("}")[1] for c in reply.xml.find("{jabber:client}error") or []
                     if c.tag.startswith(CMD)), None)
    return str(reply["error"]["condition"]), specific


async def two_stage(client: ChatClient, to: str, node: str,
                    values: dict[str, list[str]]) -> tuple[dict[str, dict[str, Any]], ET.Element]:
    """execute → form → submit → completed; returns (the form's fields, the result)."""
    first = cmd_of(await command(client, to, node))
    assert first.get("status") == "executing", ET.tostring(first)
    form = fields(first)
    done = cmd_of(await command(client, to, node, action="complete",
                                sid=first.get("sessionid"), values=values))
    assert done.get("status") == "completed" and done.get("sessionid") == first.get("sessionid")
    return form, done


# ---------------------------------------------------------------------- presence + caps


async def test_presence_follows_the_agent_state_and_carries_caps(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    gate = asyncio.Event()
    api.push(sa.text("slow answer", gate=gate))
    client = await connect_client(make_user())
    client.xmpp.register_plugin("xep_0115")  # slixmpp's own hash, to check ours against
    agent = await create_agent(client, "take your time")
    working = await presence_with(client, agent, "dnd", "working…")
    gate.set()
    await reply(client, agent, "slow answer")
    ready = await presence_with(client, agent, None, "ready · my-project")
    manager = await presence_with(client, MANAGER, None, "1 agent running · send help")

    for pres in (working, ready, manager):
        c = pres.xml.find(CAPS)
        assert c is not None and c.get("hash") == "sha-1", f"no caps in {pres}"
        info = await disco(client, str(pres["from"].bare), DISCO_INFO,
                           f"{c.get('node')}#{c.get('ver')}")
        assert info["type"] == "result" and info["disco_info"]["node"] == \
            f"{c.get('node')}#{c.get('ver')}"
        ver = client.xmpp.plugin["xep_0115"].generate_verstring(info["disco_info"], "sha-1")
        assert ver == c.get("ver")
        features = set(info["disco_info"]["features"])
        assert {CMD_NS, "vcard-temp", "urn:xmpp:receipts", "urn:xmpp:message-correct:0",
                CHATSTATES, "http://jabber.org/protocol/caps"} <= features
    assert working.xml.find(CAPS).get("ver") != manager.xml.find(CAPS).get("ver")
    stale = await disco(client, agent, DISCO_INFO, "https://agentchat.invalid/caps#bogus")
    assert error_of(stale)[0] == "item-not-found"

    client.send(agent, "quit")
    await client.expect(agent, "Shutting down")
    gone = await client.next_presence(agent, "unavailable")
    assert gone["status"] == "ended" and gone.xml.find(CAPS) is not None
    await presence_with(client, MANAGER, None, "0 agents running · send help")


async def test_repeated_subscribes_get_no_duplicate_presence_and_probes_are_answered(
    service: Service, make_user, connect_client: ClientPool,
) -> None:
    account = make_user()
    client = await connect_client(account)
    for _ in range(3):
        client.xmpp.send_presence(pto=MANAGER, ptype="subscribe")
    # The component answers in order: once the reply to this is in, so are the presences.
    client.send(MANAGER, "help")
    await client.expect(MANAGER, "Commands:")
    seen = [(p["type"], p["show"], p["status"]) for p in client.history
            if p.name == "presence" and jid_matches(p["from"], MANAGER)]
    available = [p for p in seen if p[0] == "available"]
    assert len(available) == 1 and available[0][2].startswith("0 agents running"), seen
    assert len(seen) == len(set(seen)), f"repeated presences: {seen}"

    # A new session of the same user: Prosody probes on its behalf, and the probe is answered
    # although the presence is the one already sent to this JID.
    await client.disconnect()
    again = await connect_client(account, resource="again")
    await presence_with(again, MANAGER, None, available[0][2])


async def test_idle_agent_shows_xa(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, component_free: None,
) -> None:
    async with running_service(prosody, tmp_path, api, {"AGENTS_IDLE_TIMEOUT": "1500"}):
        client = await connect_client(make_user())
        agent = await create_agent(client, "hello")
        await reply(client, agent, "echo: hello")
        idle = await presence_with(client, agent, "xa", "idle – send a message to resume")
        assert idle.xml.find(CAPS) is not None


# ---------------------------------------------------------------------- chat states, receipts


async def test_chat_states_bracket_a_turn(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    agent = await create_agent(client, "first")
    await reply(client, agent, "echo: first")

    def sequence() -> list[str]:
        """The chat states and messages from the agent; a body's own state after a '+'."""
        seen = []
        for stanza in client.history:
            if not jid_matches(stanza["from"], agent) or stanza.name != "message":
                continue
            state = next((n for n in ("composing", "active", "paused")
                          if stanza.xml.find(f"{{{CHATSTATES}}}{n}") is not None), None)
            if stanza["body"]:
                seen.append(f"body+{state}" if state else "body")
            elif state:
                seen.append(state)
        return seen

    # A turn that lasts: "typing" once it has lasted BUSY_SHOWN_AFTER, then the reply and
    # "active" (inside the reply when the CLI's end of turn came with it).
    gate = asyncio.Event()
    api.push(sa.text("slow answer", gate=gate))
    client.history.clear()
    for kind in ("presence", "other"):  # the first turn's (it may have lasted as long)
        client.inboxes[kind].clear()
    client.send(agent, "second")
    await presence_with(client, agent, "dnd", "working…")
    gate.set()
    answer = await client.expect(agent, "slow answer")
    await turn_ended(client, agent)
    # after a turn the status says how full the context is
    ready = re.compile(r"ready · my-project · ctx \d+%")
    await presence_with(client, agent, None, ready)
    assert sequence() in (["composing", "body+active"], ["composing", "body", "active"]), \
        sequence()
    assert str(answer["from"]) == f"{agent}/agentchat"  # chat states need one full JID
    shown = [(p["show"] or None, str(p["status"])) for p in client.history
             if p.name == "presence" and jid_matches(p["from"], agent)]
    assert shown[-2][0] == "dnd" and shown[-2][1] == "working…", shown
    assert shown[-1][0] is None and ready.fullmatch(shown[-1][1]), shown

    # A quick turn: no "typing" unless it lasted BUSY_SHOWN_AFTER; it ends with "active".
    client.history.clear()
    client.send(agent, "third")
    await client.expect(agent, "echo: third")
    await turn_ended(client, agent)
    await client.expect_silence(agent, BUSY_SHOWN_AFTER + 0.2)
    assert sequence() in (["body+active"], ["body", "active"], ["composing", "body+active"],
                          ["composing", "body", "active"]), sequence()


async def test_receipts_both_ways(
    service: Service, make_user, connect_client: ClientPool,
) -> None:
    client = await connect_client(make_user())
    agent = await create_agent(client, "first")
    await reply(client, agent, "echo: first")

    msg = client.xmpp.make_message(mto=agent, mbody="with a receipt please", mtype="chat")
    msg["id"] = "ours-1"
    ET.SubElement(msg.xml, f"{{{RECEIPTS}}}request")
    msg.send()
    receipt = await client.next_stanza(
        "other", lambda m: m.xml.find(f"{{{RECEIPTS}}}received") is not None,
        what="a receipt")
    assert receipt.xml.find(f"{{{RECEIPTS}}}received").get("id") == "ours-1"
    assert jid_matches(receipt["from"], agent)
    answer = await client.expect(agent, "echo: with a receipt please")
    await turn_ended(client, agent)
    assert answer.xml.find(f"{{{RECEIPTS}}}request") is not None  # we ask for receipts

    ack = client.xmpp.make_message(mto=str(answer["from"]), mtype="chat")
    ET.SubElement(ack.xml, f"{{{RECEIPTS}}}received", {"id": str(answer["id"])})
    ack.send()
    # The component handles stanzas in order: once this IQ is answered, the receipt was seen.
    assert (await disco(client, agent, DISCO_INFO))["type"] == "result"
    assert service.component.delivered.get(str(answer["id"])) == client.bare_jid
    await client.expect_silence(agent, 0.3)  # no reply, no error to a receipt


# ---------------------------------------------------------------------- vCard


async def vcard(client: ChatClient, to: str) -> Any:
    iq = client.xmpp.make_iq_get(ito=to)
    ET.SubElement(iq.xml, f"{VCARD}vCard")
    return await client.iq(iq)


async def test_vcards_for_agent_and_manager_and_refusals(
    service: Service, make_user, connect_client: ClientPool,
) -> None:
    owner = await connect_client(make_user())
    stranger = await connect_client(make_user())
    agent = await create_agent(owner, "fix the login bug")
    await reply(owner, agent, "echo: fix the login bug")
    name = agent.split("@")[0]

    card = (await vcard(owner, agent)).xml.find(f"{VCARD}vCard")
    assert card.findtext(f"{VCARD}FN") == name and card.findtext(f"{VCARD}NICKNAME") == name
    assert card.findtext(f"{VCARD}DESC") == "claude-code in my-project: fix the login bug"
    manager = (await vcard(stranger, MANAGER)).xml.find(f"{VCARD}vCard")
    assert manager.findtext(f"{VCARD}FN") == "agentchat manager"
    assert "agents" in (manager.findtext(f"{VCARD}DESC") or "")

    # someone else's agent and no agent at all look the same: names cannot be probed
    assert error_of(await vcard(stranger, agent))[0] == "item-not-found"
    assert error_of(await vcard(owner, "nobody-here@agents.example.com"))[0] == "item-not-found"


# ---------------------------------------------------------------------- ad-hoc: manager


async def test_manager_ad_hoc_commands(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, component_free: None,
) -> None:
    owner_account = make_user()
    async with running_service(prosody, tmp_path, api, {"ALLOWED_JIDS": owner_account.jid}):
        owner = await connect_client(owner_account)
        stranger = await connect_client(make_user())

        items = await disco(owner, MANAGER, DISCO_ITEMS, CMD_NS)
        listed = [(node, name) for _jid, node, name in command_items(items)]
        assert listed == [("new-agent", "New agent"), ("list-agents", "List agents"),
                          ("kill-agent", "Kill agent"), ("agent-status", "Agent status")]
        assert command_items(await disco(stranger, MANAGER, DISCO_ITEMS, CMD_NS)) == []
        assert error_of(await command(stranger, MANAGER, "list-agents"))[0] == "forbidden"
        node_info = await disco(owner, MANAGER, DISCO_INFO, "new-agent")
        assert {i[:2] for i in node_info["disco_info"]["identities"]} == {
            ("automation", "command-node")}
        assert CMD_NS in node_info["disco_info"]["features"]
        # Every answer repeats the node it was asked about, or has none if none was asked.
        for ns in (DISCO_INFO, DISCO_ITEMS):
            for node in (None, CMD_NS, "new-agent"):
                disco_query(await disco(owner, MANAGER, ns, node), ns, node)
        disco_query(await disco(owner, MANAGER, DISCO_ITEMS, "no-such-node"), DISCO_ITEMS,
                    "no-such-node")

        empty = cmd_of(await command(owner, MANAGER, "list-agents"))
        assert empty.get("status") == "completed"
        assert note(empty) == "You have no agents. Send 'new' to create one."

        # New agent: an invalid answer gets the form again with the reason
        first = cmd_of(await command(owner, MANAGER, "new-agent"))
        form = fields(first)
        assert form["type"]["type"] == "list-single" and form["type"]["options"] == ["claude-code"]
        assert form["repo"]["options"] == ["another-repo", "my-project"]
        assert form["task"]["type"] == "text-multi"
        assert form["mode"]["options"] == ["default", "ask", "edits", "plan"]
        assert form["mode"]["values"] == ["default"] and form["model"]["type"] == "text-single"
        again = cmd_of(await command(owner, MANAGER, "new-agent", action="complete",
                                     sid=first.get("sessionid"),
                                     values={"type": ["claude-code"], "repo": ["nope"],
                                             "task": ["x"]}))
        assert again.get("status") == "executing" and note(again) == "Unknown repository 'nope'."
        assert form["worktree"]["type"] == "boolean" and form["worktree"]["values"] == ["0"]
        no_git = cmd_of(await command(owner, MANAGER, "new-agent", action="complete",
                                      sid=first.get("sessionid"),
                                      values={"type": ["claude-code"], "repo": ["my-project"],
                                              "task": ["x"], "worktree": ["1"]}))
        assert no_git.get("status") == "completed" and note(no_git).startswith(
            "Could not create the agent: 'my-project' is not a git repository")
        first = cmd_of(await command(owner, MANAGER, "new-agent"))
        done = cmd_of(await command(owner, MANAGER, "new-agent", action="complete",
                                    sid=first.get("sessionid"),
                                    values={"type": ["claude-code"], "repo": ["my-project"],
                                            "task": ["say hello", "from a form"],
                                            "mode": ["plan"], "model": ["sonnet"]}))
        created = CREATED.match(note(done))
        assert done.get("status") == "completed" and created, note(done)
        agent = f"{created.group(1)}@agents.example.com"
        await owner.next_presence(agent, "subscribe")
        await reply(owner, agent, "echo: say hello\nfrom a form")  # same path as the chat flow
        assert api.requests[-1]["model"].startswith("claude-sonnet")  # the form's model
        owner.send(agent, "mode")  # the CLI reports the form's mode
        await owner.expect(agent, "Mode: plan. Claude Code offers")

        listing = note(cmd_of(await command(owner, MANAGER, "list-agents")))
        owner.send(MANAGER, "list")
        assert (await owner.next_message(MANAGER))["body"] == listing  # one implementation

        form, status = await two_stage(owner, MANAGER, "agent-status",
                                       {"agent": [created.group(1)]})
        assert form["agent"]["options"] == [created.group(1)]
        assert note(status).startswith(f"{created.group(1)}: ")
        assert "Task: say hello" in note(status)

        # cancel, then the session is gone
        started = cmd_of(await command(owner, MANAGER, "kill-agent"))
        sid = started.get("sessionid")
        cancelled = cmd_of(await command(owner, MANAGER, "kill-agent", action="cancel", sid=sid))
        assert cancelled.get("status") == "canceled"
        late = await command(owner, MANAGER, "kill-agent", action="complete", sid=sid,
                             values={"agent": [created.group(1)]})
        assert error_of(late) == ("bad-request", "bad-sessionid")

        form, killed = await two_stage(owner, MANAGER, "kill-agent",
                                       {"agent": [created.group(1)]})
        assert form["agent"]["options"] == [created.group(1)]
        assert note(killed) == f"Killed {created.group(1)}."
        await owner.next_presence(agent, "unavailable")
        assert note(cmd_of(await command(owner, MANAGER, "kill-agent"))) == \
            "You have no agents. Send 'new' to create one."


# ---------------------------------------------------------------------- ad-hoc: agent


async def test_agent_ad_hoc_commands_and_approvals(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    target = tmp_path / "work" / "my-project" / "form.txt"
    api.push(sa.tool_use("Write", {"file_path": str(target), "content": "from the form\n"}))
    owner = await connect_client(make_user())
    stranger = await connect_client(make_user())
    agent = await create_agent(owner, "write form.txt")
    name = agent.split("@")[0]
    pid, prompt = await wait_prompt(owner, agent, "🔧 Write form.txt")
    away = await presence_with(owner, agent, "away", f"needs your answer: #{pid} Write form.txt")
    assert away.xml.find(CAPS) is not None

    items = await disco(owner, agent, DISCO_ITEMS, CMD_NS)
    assert [node for _jid, node, _name in command_items(items)] == [
        "status", "interrupt", "quit", "approvals"]
    assert all(jid == agent for jid, _node, _name in command_items(items))
    assert command_items(await disco(stranger, agent, DISCO_ITEMS, CMD_NS)) == []
    for node in ("status", "approvals", "quit"):
        assert error_of(await command(stranger, agent, node))[0] == "item-not-found"
    assert error_of(await command(owner, "nobody-here@agents.example.com", "status"))[0] == \
        "item-not-found"

    form, done = await two_stage(owner, agent, "approvals", {f"req-{pid}": ["yes"]})
    field = form[f"req-{pid}"]
    assert field["type"] == "list-single" and field["label"].startswith(f"#{pid} Write ")
    assert field["options"] == ["", "yes", "always", "no"] and field["values"] == [""]
    assert note(done) == f"✅ allowed #{pid}"
    corrected = await owner.next_stanza("message", lambda m: replace_id(m) == prompt["id"],
                                        what="the prompt's correction")
    assert corrected["body"].endswith("✅ allowed")
    await reply(owner, agent, "done: ")
    assert target.read_text() == "from the form\n"
    assert note(cmd_of(await command(owner, agent, "approvals"))) == \
        "No permission requests are waiting."

    status = cmd_of(await command(owner, agent, "status"))
    owner.send(agent, "status")
    chat_status = (await owner.next_message(agent))["body"]
    assert note(status).startswith(f"{name}: running") and note(status).split("\n")[1:3] == \
        chat_status.split("\n")[1:3]

    assert note(cmd_of(await command(owner, agent, "interrupt"))) == \
        "Nothing to interrupt: I'm not working on anything."
    gate = asyncio.Event()
    api.push(sa.text("never shown", gate=gate))
    owner.send(agent, "think slowly")
    await api.wait_requests(3)
    assert note(cmd_of(await command(owner, agent, "interrupt"))) == \
        "⏹ Interrupting the current turn…"
    await reply(owner, agent, "⏹ Interrupted. I'm ready for your next message.")

    quit_ = cmd_of(await command(owner, agent, "quit"))
    assert quit_.get("status") == "completed" and note(quit_) == f"{name} has shut down."
    await owner.expect(agent, "👋 Shutting down. Goodbye!")
    await owner.next_presence(agent, "unavailable")
    after = await disco(owner, agent, DISCO_ITEMS, CMD_NS)
    assert [node for _jid, node, _name in command_items(after)] == ["status"]
    gate.set()


# ---------------------------------------------------------------------- streaming


async def test_streaming_corrects_the_first_message_at_most_once_a_second(
    prosody: EmbeddedProsody, tmp_path: Path, make_user, connect_client: ClientPool,
    component_free: None,
) -> None:
    loop = asyncio.get_running_loop()
    async with fake_cli_service(prosody, tmp_path):
        client = await connect_client(make_user())
        agent = await create_agent(client, "stream please")
        adapter = FakeAdapter.instances[-1]
        assert adapter.spec.partial_messages is True and adapter.sent == ["stream please"]

        adapter.emit(PartialText("Hello"))
        first = await client.next_message(agent)
        first_at = loop.time()
        assert first["body"] == "Hello" and replace_id(first) is None
        adapter.emit(PartialText("Hello, wor"))
        adapter.emit(PartialText("Hello, world"))
        second = await client.next_message(agent)
        assert loop.time() - first_at >= 0.8  # throttled (1 s, less network jitter)
        assert second["body"] == "Hello, world" and replace_id(second) == first["id"]

        # its "⏳ Queued" notice must wait; the receipt says the message was handled
        msg = client.xmpp.make_message(mto=agent, mbody="and another thing", mtype="chat")
        ET.SubElement(msg.xml, f"{{{RECEIPTS}}}request")
        msg.send()
        await client.next_stanza(
            "other", lambda m: m.xml.find(f"{{{RECEIPTS}}}received") is not None)
        adapter.emit(PartialText("Hello, world! More"))
        adapter.emit(ToolCall("t1", "Bash", {"command": "ls"},  # a tool line must wait too
                              line="🔧 Bash: ls"))  # (worded by the backend)
        await client.expect_silence(agent, 0.3)
        adapter.emit(AssistantText("Hello, world! More text."))
        final = await client.next_message(agent)
        assert final["body"] == "Hello, world! More text." and replace_id(final) == first["id"]
        queued = await client.expect(agent, "⏳ Queued")
        tool = await client.expect(agent, "🔧 Bash: ls")
        assert replace_id(queued) is None and replace_id(tool) is None
        adapter.sent_event.clear()
        adapter.emit(TurnFinished("success", False))
        await asyncio.wait_for(adapter.sent_event.wait(), 10)
        assert adapter.sent[-1] == "and another thing"


async def test_streaming_with_the_real_cli(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
) -> None:
    loop = asyncio.get_running_loop()
    answer = " ".join(f"word{i}" for i in range(70))  # ~500 chars in 35 chunks over ~3.5 s
    api.push(sa.text(answer, chunk_size=15, chunk_delay=0.1))
    client = await connect_client(make_user())
    agent = await create_agent(client, "stream it")

    first = await client.next_message(agent, timeout=60)
    first_at = loop.time()
    assert replace_id(first) is None and answer.startswith(first["body"])
    arrivals: list[tuple[float, Any]] = []
    while True:  # every message from the agent until the full text is a correction of the first
        msg = await client.next_message(agent, timeout=60)
        arrivals.append((loop.time(), msg))
        assert replace_id(msg) == first["id"], f"not a correction of the first: {msg}"
        if msg["body"] == answer:
            break
        assert answer.startswith(msg["body"]) and len(msg["body"]) < len(answer)
    await turn_ended(client, agent)
    assert len(arrivals) >= 2, "the answer was not shown growing"
    # Clients drop "typing" at the first part: it is said again while the answer grows.
    states = [("body" if m["body"] else next(
        (n for n in ("composing", "paused", "active")
         if m.xml.find(f"{{{CHATSTATES}}}{n}") is not None), None))
        for m in client.history if m.name == "message" and jid_matches(m["from"], agent)]
    states = [x for x in states if x is not None]
    assert "composing" in states[states.index("body"):], states
    assert states[-1] == "active", states
    times = [first_at, *(t for t, _ in arrivals[:-1])]  # the final text goes out at once
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.8 for gap in gaps), gaps  # at most about one correction a second
    await client.expect_silence(agent, 0.3)
