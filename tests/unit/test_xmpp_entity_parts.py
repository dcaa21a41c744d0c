"""Caps hash, vCard, data forms and the ad-hoc command protocol, without a server."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from agentchat.commands.forms import repo_of as _repo_of
from agentchat.commands.forms import repo_value as _repo_value
from agentchat.xmpp.adhoc import AdHocCommands, Ask, CommandError, CommandInfo, Done, Step
from agentchat.xmpp.caps import (
    CAPS_NODE,
    DiscoInfo,
    Identity,
    caps_element,
    caps_node,
    caps_ver,
    info_for,
)
from agentchat.xmpp.directory import Contact
from agentchat.xmpp.forms import (
    Field,
    Form,
    FormError,
    Option,
    form_element,
    multi_line,
    single,
    submitted_values,
)
from agentchat.xmpp.vcard import vcard_element

CMD = "http://jabber.org/protocol/commands"
X = "jabber:x:data"


def test_caps_ver_matches_the_xep_0115_worked_example() -> None:
    info = DiscoInfo(
        (Identity("client", "pc", "Exodus 0.9.1"),),
        ("http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
         "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"),
    )
    assert caps_ver(info) == "QgayPKawpkPSDYmwT/WM94uAlu0="


def test_agent_and_manager_caps_differ_and_name_the_node() -> None:
    agent, manager = info_for("agent", "swift-fox"), info_for("manager", "agentchat manager")
    assert "urn:xmpp:reactions:0" in agent.features
    assert "urn:xmpp:reactions:0" not in manager.features
    assert "jabber:x:conference" in agent.features  # clients offer "invite to a room"
    for info in (agent, manager):
        assert {"http://jabber.org/protocol/caps", CMD, "vcard-temp", "urn:xmpp:receipts"} <= set(
            info.features)
    c = caps_element(agent)
    assert c.tag == "{http://jabber.org/protocol/caps}c"
    assert c.get("hash") == "sha-1" and c.get("node") == CAPS_NODE
    assert c.get("ver") == caps_ver(agent) != caps_ver(manager)
    assert caps_node(agent) == f"{CAPS_NODE}#{caps_ver(agent)}"


def test_vcard_has_name_nickname_and_description() -> None:
    card = vcard_element(Contact("swift-fox", "agent", "swift-fox",
                                 "claude-code in my-project: fix the tests"))
    assert card.tag == "{vcard-temp}vCard"
    assert card.findtext("{vcard-temp}FN") == "swift-fox"
    assert card.findtext("{vcard-temp}NICKNAME") == "swift-fox"
    assert card.findtext("{vcard-temp}DESC") == "claude-code in my-project: fix the tests"


def test_form_element_and_reading_a_submission() -> None:
    form = Form(title="New agent", instructions="line one\nline two", fields=(
        Field("repo", "list-single", "Repository", options=(Option("a", "A"), Option("b")),
              required=True),
        Field("task", "text-multi", "Task", values=("first\nsecond",)),
    ))
    x = form_element(form)
    assert x.get("type") == "form" and x.findtext(f"{{{X}}}title") == "New agent"
    assert [i.text for i in x.findall(f"{{{X}}}instructions")] == ["line one", "line two"]
    repo, task = x.findall(f"{{{X}}}field")
    assert repo.get("type") == "list-single" and repo.find(f"{{{X}}}required") is not None
    assert [(o.get("label"), o.findtext(f"{{{X}}}value"))
            for o in repo.findall(f"{{{X}}}option")] == [("A", "a"), (None, "b")]
    assert [v.text for v in task.findall(f"{{{X}}}value")] == ["first", "second"]

    submit = ET.fromstring(
        f"<x xmlns='{X}' type='submit'><field var='repo'><value> b </value></field>"
        "<field var='task'><value>do this</value><value>and that</value></field></x>")
    values = submitted_values(submit)
    assert single(values, "repo") == "b" and single(values, "missing") == ""
    assert multi_line(values, "task") == "do this\nand that"
    with pytest.raises(FormError):
        submitted_values(x)  # a form, not a submission


class FakeProvider:
    def __init__(self) -> None:
        self.submitted: list[dict[str, list[str]]] = []

    def list_commands(self, contact: Contact, sender: str) -> list[CommandInfo]:
        return [CommandInfo("one", "One stage"), CommandInfo("two", "Two stages")]

    async def execute(self, contact: Contact, sender: str, node: str) -> Step:
        if node == "one":
            return Done("did it")
        return Ask(Form(fields=(Field("x"),)), "fill it in")

    async def submit(self, contact: Contact, sender: str, node: str,
                     values: dict[str, list[str]]) -> Step:
        self.submitted.append(values)
        return Done(f"got {single(values, 'x')}")


def command(node: str, action: str | None = None, sid: str | None = None,
            x: str | None = None) -> ET.Element:
    attrs = {"node": node}
    if action:
        attrs["action"] = action
    if sid:
        attrs["sessionid"] = sid
    el = ET.Element(f"{{{CMD}}}command", attrs)
    if x is not None:
        el.append(ET.fromstring(
            f"<x xmlns='{X}' type='submit'><field var='x'><value>{x}</value></field></x>"))
    return el


CONTACT = Contact("manager", "manager", "agentchat manager")


async def test_one_stage_command_completes_with_a_note() -> None:
    adhoc = AdHocCommands(FakeProvider())
    reply = await adhoc.handle(CONTACT, "u@example.com", command("one"))
    assert reply.get("status") == "completed" and reply.get("sessionid")
    note = reply.find(f"{{{CMD}}}note")
    assert note is not None and note.text == "did it" and note.get("type") == "info"


async def test_two_stage_command_keeps_its_session_for_that_sender_only() -> None:
    provider = FakeProvider()
    adhoc = AdHocCommands(provider)
    first = await adhoc.handle(CONTACT, "u@example.com", command("two"))
    sid = first.get("sessionid")
    assert first.get("status") == "executing" and sid
    assert first.find(f"{{{CMD}}}actions").get("execute") == "complete"  # type: ignore[union-attr]
    assert first.find(f"{{{X}}}x") is not None
    with pytest.raises(CommandError) as stolen:
        await adhoc.handle(CONTACT, "other@example.com", command("two", "complete", sid, "x"))
    assert stolen.value.specific == "bad-sessionid"
    done = await adhoc.handle(CONTACT, "u@example.com", command("two", "complete", sid, "42"))
    assert done.get("status") == "completed" and done.get("sessionid") == sid
    assert done.findtext(f"{{{CMD}}}note") == "got 42"
    with pytest.raises(CommandError) as again:  # the session is over
        await adhoc.handle(CONTACT, "u@example.com", command("two", "complete", sid, "42"))
    assert again.value.specific == "bad-sessionid"
    assert provider.submitted == [{"x": ["42"]}]


async def test_cancel_unknown_node_and_missing_form() -> None:
    adhoc = AdHocCommands(FakeProvider())
    first = await adhoc.handle(CONTACT, "u@example.com", command("two"))
    sid = first.get("sessionid")
    with pytest.raises(CommandError) as no_form:
        await adhoc.handle(CONTACT, "u@example.com", command("two", "complete", sid))
    assert no_form.value.condition == "bad-request"
    cancelled = await adhoc.handle(CONTACT, "u@example.com", command("two", "cancel", sid))
    assert cancelled.get("status") == "canceled"
    with pytest.raises(CommandError) as gone:
        await adhoc.handle(CONTACT, "u@example.com", command("two", "complete", sid, "1"))
    assert gone.value.specific == "bad-sessionid"
    with pytest.raises(CommandError) as unknown:
        await adhoc.handle(CONTACT, "u@example.com", command("nope"))
    assert unknown.value.condition == "item-not-found"


def test_repository_form_values_survive_names_the_text_policy_changes() -> None:
    repos = ["#2", "evil\x1b[31m", "plain", "two\nlines"]
    values = [_repo_value(i, r) for i, r in enumerate(repos, 1)]
    assert values == ["#1", "#2", "plain", "#4"]
    assert [_repo_of(v, repos) for v in values] == repos
    assert _repo_of("#9", repos) == "#9" and _repo_of("#²", repos) == "#²"  # refused later
