"""The permission MCP app served by uvicorn on loopback, driven by the `mcp` package's client."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agentchat.permissions.audit import AuditLog, read_audit
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
from tests.support.mcp_client import (
    call_permission,
    call_tool,
    only_json,
    post_tool_call,
    tool_names,
)

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
    response = await post_tool_call(server.url + "/mcp", headers, "permission_prompt", WRITE_ARGS)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "unauthorized"
    assert sink.prompts == []


async def test_strangers_are_refused_before_anything_they_send_is_logged_or_audited(
    sink: AnsweringSink, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    audit = AuditLog(tmp_path / "audit.jsonl")
    broker = PermissionBroker(sink, audit=audit)
    broker.register_agent("fox", OWNER, SECRET, Path("/work/fox"))
    running = await serve(build_app(broker), 0)
    forged = {"tool_name": "Bash\n2026-01-01 INFO agentchat: FORGED", "tool_use_id": "t",
              "input": {"command": "FORGED" + "x" * 200_000}}
    try:
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "wrong"}):
            response = await post_tool_call(running.url + "/mcp", headers, "permission_prompt",
                                            forged)
            assert response.status_code == 401
        async with httpx2.AsyncClient(timeout=30) as http:
            big = await http.post(running.url + "/mcp", headers={SECRET_HEADER: SECRET},
                                  content=b"{" + b" " * 2_000_000 + b"}")
            assert big.status_code == 413
    finally:
        await running.stop()
    assert sink.prompts == []
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(len(line) < 200 and "FORGED" not in line for line in lines)
    assert [e["event"] for e in read_audit(tmp_path / "audit.jsonl")] == ["unauthorized"] * 3
    assert stat.S_IMODE((tmp_path / "audit.jsonl").stat().st_mode) == 0o600
    logged = [r.getMessage() for r in caplog.records]
    assert not any("FORGED" in m for m in logged)
    assert sum("without a valid agent secret" in m for m in logged) == 1  # not one per call


async def test_an_acp_agents_secret_sends_files_but_raises_no_prompts(
    sink: AnsweringSink, tmp_path: Path
) -> None:
    """ACP agents get the server for ``send_file``; their permissions come over ACP, so
    ``permission_prompt`` is not listed for their secret, a call is refused and the owner sees
    nothing."""
    audit = AuditLog(tmp_path / "audit.jsonl")
    broker = PermissionBroker(sink, permission_timeout_s=30, audit=audit)
    broker.register_agent("owl", OWNER, "s3cret-owl", Path("/work/owl"), mcp_prompts=False)
    sink.broker, sink.replies = broker, ["yes"]
    sent: list[tuple[str, str, str]] = []

    async def send_file(agent: str, path: str, caption: str) -> str:
        sent.append((agent, path, caption))
        return "sent"

    running = await serve(build_app(broker, send_file=send_file), 0)
    headers = {SECRET_HEADER: "s3cret-owl"}
    broker.register_agent("fox", OWNER, SECRET, Path("/work/fox"))
    try:
        assert await tool_names(running.url + "/mcp", headers) == ["send_file"]
        assert await tool_names(running.url + "/mcp", {SECRET_HEADER: SECRET}) == [
            "permission_prompt", "send_file"]
        result = await call_tool(running.url + "/mcp", headers, "send_file",
                                 {"path": "shot.png", "caption": "look"})
        assert not result.is_error and result.content[0].text == "sent"
        refused = await call_tool(running.url + "/mcp", headers, "permission_prompt", WRITE_ARGS)
    finally:
        await running.stop()
    assert sent == [("owl", "shot.png", "look")]
    assert only_json(refused)["behavior"] == "deny"
    assert sink.prompts == []
    assert [(e["event"], e["decision"]) for e in read_audit(tmp_path / "audit.jsonl")] == [
        ("unauthorized", "deny")]


async def test_idle_and_half_open_connections_are_closed(server: RunningServer) -> None:
    running = await serve(build_app(PermissionBroker()), 0, idle_timeout_s=0.5)
    try:
        conns = [await asyncio.open_connection(running.host, running.port) for _ in range(50)]
        conns[0][1].write(b"POST /mcp HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        async with asyncio.timeout(10):
            closed = await asyncio.gather(*(reader.read() for reader, _ in conns))
        assert closed == [b""] * 50  # EOF: the server hung up on every one
        for _, writer in conns:
            writer.close()
        async with httpx2.AsyncClient() as http:  # and it still serves
            assert (await http.get(running.url + "/healthz")).text == "ok"
    finally:
        await running.stop()


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
