"""Files, pure and local parts: which links are fetched, names, the inbox and tree reads,
XEP-0363 parsing, image blocks, and how the runtime hands files to the agent."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agentchat.agents.adapter import Image, LaunchSpec
from agentchat.agents.attachments import Attachment
from agentchat.agents.claude_code import build_argv
from agentchat.agents.events import TurnFinished
from agentchat.agents.pool import ProcessPool
from agentchat.agents.runtime import Agent
from agentchat.agents.stream_json import encode_user_message
from agentchat.commands.agent import get_command_path
from agentchat.files.media import name_from_url, safe_name, sniff_image
from agentchat.files.policy import DownloadPolicy, download_prefix
from agentchat.files.tree import InboxFile, TreeError, open_in_tree
from agentchat.state.model import AgentRecord
from agentchat.xmpp.upload import (
    UPLOAD_NS,
    explain_slot_error,
    parse_slot,
    parse_upload_service,
)
from tests.support.fakes import FakeAdapter, FakePort
from tests.support.uploads import png

BASE = "http://127.0.0.1:5280/file_share/"
POLICY = DownloadPolicy(frozenset({"upload.example.com"}), frozenset({BASE}),
                        frozenset({"files.example.org", "cdn.example.net:8443"}))


# --------------------------------------------------------------------------- policy


@pytest.mark.parametrize("url", [
    BASE + "slot/shot.png",
    "HTTP://127.0.0.1:5280/file_share/slot/a%20b.png",
    "https://upload.example.com/file_share/x/y.txt",
    "https://upload.example.com:5281/any/path",
    "https://files.example.org/x",
    "https://cdn.example.net:8443/x",
])
def test_links_of_the_upload_service_and_listed_hosts_are_fetched(url: str) -> None:
    assert POLICY.refusal(url) is None


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:9999/file_share/slot/x.png", "127.0.0.1:9999 is not this server's"),
    ("http://127.0.0.1:5280/other/x", "127.0.0.1:5280/other/x is not this server's"),
    ("http://127.0.0.1:5280/file_share/../admin", "leaves its folder"),
    ("http://127.0.0.1:5280/file_share/%2e%2e/admin", "leaves its folder"),
    ("https://cdn.example.net/x", "cdn.example.net is not"),
    ("http://evil.example/x", "evil.example is not"),
    ("http://user:pw@upload.example.com/x", "user name or password"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://upload.example.com/x", "only http and https"),
    ("http:///nohost", "only http and https"),
])
def test_other_links_are_refused_with_a_reason(url: str, why: str) -> None:
    refusal = POLICY.refusal(url)
    assert refusal is not None and why in refusal


def test_download_prefix_is_the_folder_above_the_slot() -> None:
    assert download_prefix("http://127.0.0.1:5280/file_share/AbC/shot.png") == BASE
    assert download_prefix("https://Up.Example.com/f/s/n.txt") == "https://up.example.com:443/f/"
    assert download_prefix("ftp://x/a/b") is None


# --------------------------------------------------------------------------- names, types


def test_names_are_made_safe() -> None:
    assert name_from_url(BASE + "slot/screen%20shot%20(1).png") == "screen_shot_1_.png"
    assert name_from_url(BASE + "slot/..%2F..%2Fetc%2Fpasswd") == "etc_passwd"
    assert name_from_url(BASE + "slot/") == "file"
    assert safe_name(".bashrc") == "bashrc"
    long = safe_name("a" * 300 + ".png")
    assert len(long) == 100 and long.endswith(".png")


def test_images_are_recognised_by_their_bytes() -> None:
    assert sniff_image(png()) == "image/png"
    assert sniff_image(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff_image(b"GIF89a...") == "image/gif"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"<svg xmlns=...>") is None


# --------------------------------------------------------------------------- the tree


def test_inbox_commit_is_atomic_and_never_overwrites(tmp_path: Path) -> None:
    for content in (b"one", b"two"):
        with InboxFile(tmp_path) as f:
            f.write(content)
            assert [p.name for p in (tmp_path / ".agentchat" / "inbox").iterdir()
                    if not p.name.startswith(".part-")] == (["a.txt"] if content == b"two"
                                                            else [])
            relative = f.commit("a.txt")
    assert relative == ".agentchat/inbox/a-2.txt"
    assert (tmp_path / ".agentchat/inbox/a.txt").read_bytes() == b"one"
    assert (tmp_path / relative).read_bytes() == b"two"
    assert (tmp_path / ".agentchat/.gitignore").read_text().splitlines()[-1] == "*"


def test_an_aborted_file_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), InboxFile(tmp_path) as f:
        f.write(b"half")
        raise RuntimeError("download failed")
    assert list((tmp_path / ".agentchat" / "inbox").iterdir()) == []


def test_the_agent_cannot_redirect_the_inbox_with_a_symlink(tmp_path: Path) -> None:
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    (tree / ".agentchat").symlink_to(outside)
    with pytest.raises(TreeError, match="not a plain folder"), InboxFile(tree):
        pass
    assert list(outside.iterdir()) == []


def test_reads_stay_inside_the_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "a.txt").write_text("a")
    (tmp_path / "secret").write_text("s")
    (tree / "out").symlink_to(tmp_path / "secret")
    (tree / "in").symlink_to(tree / "src" / "a.txt")
    os.mkfifo(tree / "fifo")
    with open_in_tree(tree, "src/a.txt") as f:
        assert (f.relative, f.size, f.read_head()) == ("src/a.txt", 1, b"a")
    with open_in_tree(tree, "in") as f:
        assert f.relative == "src/a.txt"
    for path, why in (("../secret", "outside"), ("out", "outside"),
                      (str(tmp_path / "secret"), "outside"), ("src", "is a folder"),
                      ("fifo", "not a regular file"), ("nope", "there is no file"),
                      ("", "which file")):
        with pytest.raises(TreeError, match=why):
            open_in_tree(tree, path)


# --------------------------------------------------------------------------- XEP-0363


def test_upload_service_and_its_limit_from_disco_info() -> None:
    query = ET.fromstring(
        "<query xmlns='http://jabber.org/protocol/disco#info'>"
        f"<feature var='{UPLOAD_NS}'/><x xmlns='jabber:x:data' type='result'>"
        f"<field var='FORM_TYPE' type='hidden'><value>{UPLOAD_NS}</value></field>"
        "<field var='max-file-size'><value>10485760</value></field></x></query>")
    service = parse_upload_service("upload.example.com", query)
    assert service is not None and service.max_size == 10485760
    plain = ET.fromstring("<query xmlns='http://jabber.org/protocol/disco#info'>"
                          "<feature var='urn:xmpp:ping'/></query>")
    assert parse_upload_service("example.com", plain) is None


def test_slot_keeps_only_the_headers_xep_0363_allows() -> None:
    slot = parse_slot(ET.fromstring(
        f"<slot xmlns='{UPLOAD_NS}'><put url='https://u/p'>"
        "<header name='Authorization'>Bearer x\n</header><header name='Host'>evil</header>"
        "</put><get url='https://u/g'/></slot>"))
    assert (slot.put_url, slot.get_url, slot.headers) == (
        "https://u/p", "https://u/g", (("Authorization", "Bearer x"),))


def test_slot_errors_are_explained() -> None:
    assert "http_file_share_access" in explain_slot_error(
        "forbidden", "", "a@agents.example.com", None)
    error = ET.fromstring(f"<error xmlns='jabber:client'><file-too-large xmlns='{UPLOAD_NS}'>"
                          "<max-file-size>100</max-file-size></file-too-large></error>")
    assert "(100 bytes)" in explain_slot_error("not-acceptable", "", "x", error)


# --------------------------------------------------------------------------- to the agent


def test_images_become_base64_image_blocks() -> None:
    line = json.loads(encode_user_message("look", [("image/png", b"PNG")]))
    assert line["message"]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(b"PNG").decode()}}]
    assert json.loads(encode_user_message("plain"))["message"]["content"] == "plain"


def test_send_file_is_allowed_on_the_command_line() -> None:
    spec = LaunchSpec(cwd=Path("/w"), session_id="s",
                      allowed_tools=("mcp__agentchat__send_file",))
    assert "--allowedTools=mcp__agentchat__send_file" in build_argv(spec, "claude")


@pytest.mark.parametrize(("text", "path"), [
    ("get README.md", "README.md"), ("GET src/a b.py", None), ('get "my file.txt"', "my file.txt"),
    ("get", ""), ("get rid of the warnings", None), ("getting there", None),
])
def test_get_takes_one_path(text: str, path: str | None) -> None:
    assert get_command_path(text) == path


def make_agent(port: FakePort, images: bool) -> Agent:
    record = AgentRecord(name="fox", owner="u@example.com", agent_type="claude-code",
                         repo="proj", cwd="/w/proj", task="t", session_id="sid",
                         created=0.0, last_active=0.0)

    def spec(rec: AgentRecord, resume: bool) -> LaunchSpec:
        return LaunchSpec(cwd=Path(rec.cwd), session_id=rec.session_id, resume=resume,
                          env={"FAKE_ACCEPTS_IMAGES": "1" if images else "0"})

    return Agent(record, port=port, pool=ProcessPool(5), adapter_factory=FakeAdapter,
                 spec_factory=spec, persist=lambda: None, idle_timeout=60)


SHOT = Attachment(".agentchat/inbox/shot.png", 2048, Image("image/png", b"PNG"))


async def test_a_file_alone_waits_for_the_next_message_and_goes_with_it() -> None:
    port = FakePort()
    agent = make_agent(port, images=True)
    before = len(FakeAdapter.instances)
    await agent.handle_owner_file(SHOT, "")
    assert port.bodies() == ["📎 Saved as .agentchat/inbox/shot.png. It goes to the agent "
                             "with your next message: say what to do with it."]
    assert len(FakeAdapter.instances) == before  # nothing started, nothing sent
    await agent.handle_owner_text("status")  # a command does not take the file
    await agent.handle_owner_text("why is this red?")
    adapter = FakeAdapter.instances[-1]
    assert adapter.sent == ["[The owner sent a file, saved as .agentchat/inbox/shot.png (2 KB); "
                            "the image (image/png) is attached.]\n\nwhy is this red?"]
    assert adapter.images == [[SHOT.image]]
    assert agent.held_files == []


async def test_without_image_support_the_agent_gets_the_path_only() -> None:
    agent = make_agent(FakePort(), images=False)
    await agent.handle_owner_file(SHOT, "what is this")
    adapter = FakeAdapter.instances[-1]
    assert adapter.sent == ["[The owner sent a file, saved as .agentchat/inbox/shot.png "
                            "(2 KB).]\n\nwhat is this"]
    assert adapter.images == [[]]


async def test_files_sent_during_a_turn_are_queued_with_their_text() -> None:
    agent = make_agent(FakePort(), images=True)
    await agent.handle_owner_text("first")
    adapter = FakeAdapter.instances[-1]
    await agent.handle_owner_file(SHOT, "and this")
    adapter.sent_event.clear()
    adapter.emit(TurnFinished(subtype="success", is_error=False, cost_usd=0.0))
    await asyncio.wait_for(adapter.sent_event.wait(), 5)
    assert adapter.sent[-1].endswith("attached.]\n\nand this")
    assert adapter.images[-1] == [SHOT.image]
