"""Files both ways through a real Prosody's http_file_share and the real Claude CLI.

In: a client uploads with XEP-0363 and shares the link (XEP-0066); the file lands in the
agent's tree and the scripted API gets the image as an image block. Out: the agent's send_file
MCP tool and the owner's `get` upload as the agent and send a link the client downloads.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from agentchat.permissions.mcp_app import SECRET_HEADER
from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support import scripted_api as sa
from tests.support.chat_flows import MANAGER, collect, create_agent, reply
from tests.support.mcp_client import post_tool_call
from tests.support.service_harness import running_service
from tests.support.uploads import Bystander, download, oob_url, png, send_link, upload
from tests.support.xmpp_client import ChatClient, ClientPool

SAVED = re.compile(r"^📎 Saved as (\.agentchat/inbox/\S+)\. It goes to the agent with your next")


def tree(tmp_path: Path) -> Path:
    return tmp_path / "work" / "my-project"


def inbox_files(tmp_path: Path) -> list[str]:
    inbox = tree(tmp_path) / ".agentchat" / "inbox"
    return sorted(p.name for p in inbox.iterdir()) if inbox.exists() else []


async def ready_agent(client: ChatClient) -> str:
    agent = await create_agent(client, "wait for files")
    await reply(client, agent, "echo: wait for files")
    return agent


def image_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    last = sa.last_user_message(body)
    assert last is not None
    content = last.get("content")
    return [b for b in content if isinstance(b, dict) and b.get("type") == "image"] \
        if isinstance(content, list) else []


async def test_uploaded_png_lands_in_the_tree_and_reaches_the_model_as_an_image(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    client = await connect_client(make_user())
    agent = await ready_agent(client)
    picture = png()
    url = await upload(client, picture, "screen shot.png", "image/png")

    send_link(client, agent, url)
    saved = await client.expect(agent, SAVED)
    match = SAVED.match(saved["body"])
    assert match is not None and match.group(1) == ".agentchat/inbox/screen_shot.png"
    assert (tree(tmp_path) / match.group(1)).read_bytes() == picture
    assert (tree(tmp_path) / ".agentchat" / ".gitignore").read_text().endswith("*\n")
    assert len(api.requests) == 1  # the file alone waits for the owner's words

    client.send(agent, "what is wrong in this screenshot?")
    await reply(client, agent, "echo: ")
    body = api.requests[-1]
    blocks = image_blocks(body)
    assert [b["source"]["media_type"] for b in blocks] == ["image/png"]
    assert base64.b64decode(blocks[0]["source"]["data"]) == picture
    text = api.last_user_text()
    assert "saved as .agentchat/inbox/screen_shot.png" in text
    assert "what is wrong in this screenshot?" in text


async def test_link_to_another_host_is_refused_without_fetching_it(
    service: Service, make_user, connect_client: ClientPool, tmp_path: Path,
) -> None:
    client = await connect_client(make_user())
    agent = await ready_agent(client)
    async with Bystander() as elsewhere:
        send_link(client, agent, f"http://127.0.0.1:{elsewhere.port}/file_share/abc/evil.png")
        refused = await client.expect(agent, "⚠️ Not downloaded:")
        assert "is not this server's upload service" in refused["body"]
        send_link(client, agent, "file:///etc/passwd")
        await client.expect(agent, "⚠️ Not downloaded: only http and https links")
        send_link(client, MANAGER, f"http://127.0.0.1:{elsewhere.port}/x.png")
        await client.expect(MANAGER, "Files go to an agent")
        assert elsewhere.connections == 0
    assert inbox_files(tmp_path) == []


async def test_oversized_file_is_refused_and_nothing_is_left_behind(
    prosody: EmbeddedProsody, tmp_path: Path, api: sa.ScriptedAnthropic, make_user,
    connect_client: ClientPool, component_free: None,
) -> None:
    async with running_service(prosody, tmp_path, api, {"FILES_MAX_SIZE": "50000"}):
        client = await connect_client(make_user())
        agent = await ready_agent(client)
        url = await upload(client, b"x" * 120_000, "big.log", "text/plain")
        send_link(client, agent, url)
        refused = await client.expect(agent, "⚠️ Not downloaded: the file has 117 KB")
        assert "the limit is 49 KB (files.maxSize). Nothing was saved." in refused["body"]
        assert inbox_files(tmp_path) == []  # not even a partial file


async def next_link(client: ChatClient, agent: str) -> str:
    msg = await client.next_message(agent)
    url = oob_url(msg)
    assert url is not None and msg["body"] == url, f"not a link: {msg['body']!r}"
    return url


async def test_send_file_tool_and_get_deliver_the_files_bytes(
    service: Service, api: sa.ScriptedAnthropic, make_user, connect_client: ClientPool,
    tmp_path: Path,
) -> None:
    report = tree(tmp_path) / "report.txt"
    report.write_bytes(b"all 12 tests pass\n\x00\x01binary tail\xff\xfe")
    size = f"({report.stat().st_size} B)"
    api.push(sa.tool_use("mcp__agentchat__send_file",
                         {"path": "report.txt", "caption": "the test report"}))
    client = await connect_client(make_user())
    agent = await create_agent(client, "send me the report")
    await collect(client, agent, "🔧 Send file report.txt")
    await client.expect(agent, f"📎 report.txt {size}\nthe test report")
    url = await next_link(client, agent)
    assert await download(url) == report.read_bytes()
    await reply(client, agent, f"done: Sent report.txt {size} to the user: http://")
    assert not api.last_tool_results()[0].get("is_error")
    # The CLI ran the tool without asking: no permission prompt was shown.
    assert not any("Permission #" in str(m["body"]) for m in client.history
                   if m.name == "message")

    client.send(agent, "get README.md")
    await client.expect(agent, "📎 README.md (")
    assert await download(await next_link(client, agent)) == b"# my-project\n"

    (tmp_path / "work" / "outside").write_text("secret\n")
    (tree(tmp_path) / "sneaky.txt").symlink_to(tmp_path / "work" / "outside")
    for path in ("../outside", "sneaky.txt", str(tmp_path / "work" / "outside")):
        client.send(agent, f"get {path}")
        refused = await client.expect(agent, "⚠️ Not sent: ")
        assert "is outside the working tree" in refused["body"], refused["body"]
    client.send(agent, "get nothing-here.txt")
    await client.expect(agent, "⚠️ Not sent: there is no file nothing-here.txt")
    assert len(api.requests) == 2  # none of the commands went to the model

    # The agent cannot send what the owner may not `get`: the tool fails, Claude is told why.
    api.push(sa.tool_use("mcp__agentchat__send_file", {"path": "../outside"}))
    client.send(agent, "send me the file next to the repository")
    await collect(client, agent, "🔧 Send file ../outside")
    await reply(client, agent, "done: ")
    result = api.last_tool_results()[0]
    assert result.get("is_error") is True
    assert "is outside the working tree" in str(result["content"]), result


async def test_send_file_needs_the_agents_secret(
    service: Service, make_user, connect_client: ClientPool, tmp_path: Path,
) -> None:
    client = await connect_client(make_user())
    agent = await ready_agent(client)
    assert service.mcp is not None
    for headers in ({}, {SECRET_HEADER: "not-the-secret"}):
        refused = await post_tool_call(service.mcp.url + "/mcp", headers, "send_file",
                                       {"path": "README.md"})
        assert refused.status_code == 401 and "unauthorized" in refused.text
    await client.expect_silence(agent, 0.5)  # nothing was uploaded or announced
