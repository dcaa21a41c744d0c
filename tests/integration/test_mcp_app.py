"""The permission MCP app served by uvicorn on loopback, driven by the `mcp` package's client."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.mcp_app import (
    PERMISSION_TOOL,
    SECRET_HEADER,
    RunningServer,
    build_app,
    render_mcp_config,
    serve,
    write_mcp_config,
)
from agentchat.permissions.model import Decision, PermissionRequest
from tests.support.mcp_client import call_permission, only_json

OWNER = "me@example.org"
SECRET = "s3cret-fox"


class AnsweringSink:
    """Answers each prompt with the next scripted reply, as the owner would in the chat."""

    def __init__(self) -> None:
        self.broker: PermissionBroker | None = None
        self.replies: list[str] = []
        self.prompts: list[PermissionRequest] = []
        self.chat: list[str | None] = []
        self.answer_now = True

    async def prompt(self, req: PermissionRequest) -> None:
        self.prompts.append(req)
        assert self.broker is not None
        if not self.answer_now:
            return
        reply = self.replies.pop(0)
        broker = self.broker
        asyncio.get_running_loop().call_soon(
            lambda: self.chat.append(broker.answer(req.agent, reply, OWNER))
        )

    async def resolved(self, req: PermissionRequest, decision: Decision) -> None:
        pass


@pytest.fixture
def sink() -> AnsweringSink:
    return AnsweringSink()


@pytest.fixture
async def server(sink: AnsweringSink) -> AsyncIterator[RunningServer]:
    broker = PermissionBroker(sink, permission_timeout_s=30)
    broker.register_agent("fox", OWNER, SECRET, Path("/work/fox"))
    sink.broker = broker
    running = await serve(build_app(broker), 0)
    try:
        yield running
    finally:
        await running.stop()


WRITE_ARGS = {
    "tool_name": "Write",
    "input": {"file_path": "/work/fox/a.txt", "content": "hi\n"},
    "tool_use_id": "toolu_1",
}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_allow_with_secret_header(
    server: RunningServer, sink: AnsweringSink, mode: str
) -> None:
    sink.replies = ["yes"]
    result = await call_permission(server.url + "/mcp", {SECRET_HEADER: SECRET}, WRITE_ARGS, mode)
    assert only_json(result) == {"behavior": "allow", "updatedInput": WRITE_ARGS["input"]}
    assert [p.tool_use_id for p in sink.prompts] == ["toolu_1"]
    assert sink.prompts[0].agent == "fox"
    assert sink.chat == [f"✅ allowed #{sink.prompts[0].id}"]


async def test_deny_with_reason(server: RunningServer, sink: AnsweringSink) -> None:
    sink.replies = ["no, use b.txt"]
    args = {"tool_name": "Bash", "input": {"command": "rm -rf /"}}  # no tool_use_id
    result = await call_permission(server.url + "/mcp", {SECRET_HEADER: SECRET}, args)
    data = only_json(result)
    assert data["behavior"] == "deny" and "use b.txt" in data["message"]
    assert sink.prompts[0].tool_use_id is None


async def test_question_answers_in_updated_input(
    server: RunningServer, sink: AnsweringSink
) -> None:
    sink.replies = ["2"]
    question = {
        "question": "Which?",
        "header": "Pick",
        "options": [{"label": "A", "description": ""}, {"label": "B", "description": ""}],
        "multiSelect": False,
    }
    args = {"tool_name": "AskUserQuestion", "input": {"questions": [question]}}
    result = await call_permission(server.url + "/mcp", {SECRET_HEADER: SECRET}, args)
    assert only_json(result) == {
        "behavior": "allow",
        "updatedInput": {"questions": [question], "answers": {"Which?": "B"}},
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: "wrong"}, {"Authorization": f"Bearer {SECRET}"}],
    ids=["missing", "wrong", "other-header"],
)
async def test_wrong_or_missing_secret_denied(
    server: RunningServer, sink: AnsweringSink, headers: dict[str, str]
) -> None:
    result = await call_permission(server.url + "/mcp", headers, WRITE_ARGS)
    assert only_json(result) == {"behavior": "deny", "message": "unauthorized"}
    assert sink.prompts == []


async def test_progress_heartbeat_while_waiting(sink: AnsweringSink) -> None:
    """Progress notifications flow while the owner has not answered yet."""
    broker = PermissionBroker(sink, permission_timeout_s=30)
    broker.register_agent("fox", OWNER, SECRET)
    sink.broker = broker
    sink.replies = ["(ignored)"]
    sink.answer_now = False
    running = await serve(build_app(broker, progress_interval_s=0.05), 0)
    beats: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        beats.append(progress)
        if len(beats) == 2:
            broker.answer("fox", "yes", OWNER)

    try:
        async with (
            httpx2.AsyncClient(headers={SECRET_HEADER: SECRET}, timeout=30) as http,
            Client(streamable_http_client(running.url + "/mcp", http_client=http)) as client,
        ):
            result = await client.call_tool(
                "permission_prompt", WRITE_ARGS, progress_callback=on_progress
            )
    finally:
        await running.stop()
    assert only_json(result)["behavior"] == "allow"
    assert beats[:2] == [1, 2]


async def test_healthz(server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.text == "ok"
    assert server.host == "127.0.0.1"


async def test_serve_on_busy_port_fails(server: RunningServer) -> None:
    with pytest.raises(OSError):
        await serve(build_app(PermissionBroker()), server.port)


def test_mcp_config(tmp_path: Path) -> None:
    assert PERMISSION_TOOL == "mcp__agentchat__permission_prompt"
    expected = {
        "mcpServers": {
            "agentchat": {
                "type": "http",
                "url": "http://127.0.0.1:4567/mcp",
                "headers": {SECRET_HEADER: "abc"},
                "timeout": 360_000,  # the CLI's tool timeout: ours (300 s) + 60 s
            }
        }
    }
    assert render_mcp_config(4567, "abc") == expected
    path = tmp_path / "mcp.json"
    path.write_text("old, longer content that must disappear entirely")
    path.chmod(0o644)
    write_mcp_config(path, 4567, "abc", permission_timeout_s=600)
    expected["mcpServers"]["agentchat"]["timeout"] = 660_000
    assert json.loads(path.read_text()) == expected
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
