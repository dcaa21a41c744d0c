"""stream-json parsing against lines the real CLI (2.1.331) printed, and input encoding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentchat.agents.controls import CLAUDE_MODES
from agentchat.agents.events import (
    AgentEvent,
    AssistantText,
    Choice,
    Compacted,
    ControlAnswered,
    ModeChanged,
    ModelChanged,
    PartialText,
    SessionStarted,
    ToolCall,
    ToolOutcome,
    TurnFinished,
    UsageReported,
)
from agentchat.agents.stream_json import (
    PartialAccumulator,
    StreamJsonError,
    encode_control,
    encode_interrupt,
    encode_user_message,
    flatten_content,
    initialize_events,
    parse_line,
)

# Captured against tests/support/scripted_api.py with --include-partial-messages: a text
# turn, a Read tool turn (allowed), a Write tool turn (denied: no permission tool), and an
# interrupted turn. Paths sanitized to /tmp/sample.
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cli_stream_sample.jsonl"
SESSION = "3364eaef-e82f-4230-8e8d-ddb94eaeb49c"


def sample_lines() -> list[str]:
    return SAMPLE.read_text().splitlines()


def first_line(pred: Any) -> str:
    for line in sample_lines():
        if pred(json.loads(line)):
            return line
    raise AssertionError("no such line in the sample")


def all_events(partial: PartialAccumulator | None = None) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    for line in sample_lines():
        events += parse_line(line, partial)
    return events


def test_init_line() -> None:
    line = first_line(lambda d: d["type"] == "system" and d["subtype"] == "init")
    event, mode, model = parse_line(line)
    assert mode == ModeChanged("default", CLAUDE_MODES)
    assert model == ModelChanged("claude-opus-5-5")
    assert isinstance(event, SessionStarted)
    assert event.session_id == SESSION
    assert event.model == "claude-opus-5-5"
    assert "Bash" in event.tools and "Write" in event.tools
    assert event.mcp_servers == ()


def test_init_with_mcp_servers() -> None:
    obj = json.loads(first_line(lambda d: d["type"] == "system" and d["subtype"] == "init"))
    obj["mcp_servers"] = [{"name": "agentchat", "status": "connected"}, {"name": "x"}]
    event = parse_line(json.dumps(obj))[0]
    assert isinstance(event, SessionStarted)
    assert event.mcp_servers == (("agentchat", "connected"), ("x", ""))


def test_the_whole_sample_in_order() -> None:
    """Without an accumulator stream_event lines yield nothing; the rest maps 1:1."""
    events = [e for e in all_events() if not isinstance(e, CONTROL_EVENTS)]
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "SessionStarted", "AssistantText", "TurnFinished",
        "SessionStarted", "AssistantText", "ToolCall", "ToolOutcome", "AssistantText",
        "TurnFinished",
        "SessionStarted", "ToolCall", "ToolOutcome", "AssistantText", "TurnFinished",
        "SessionStarted", "ControlAnswered", "TurnFinished",
    ]  # fmt: skip
    assert events[1] == AssistantText("Hello from the scripted API.")


CONTROL_EVENTS = (ModeChanged, ModelChanged, UsageReported, Compacted)


def test_usage_from_assistant_messages_and_results() -> None:
    """The context fill comes with every assistant message, the window and the process's
    tokens with the result (before TurnFinished, so the turn's end shows them)."""
    events = all_events()
    usage = [e for e in events if isinstance(e, UsageReported)]
    assert usage and all(u.context_tokens is None or u.context_tokens > 0 for u in usage)
    result = next(i for i, e in enumerate(events) if isinstance(e, TurnFinished))
    before = events[result - 1]
    assert isinstance(before, UsageReported) and before.total_tokens
    line = {"type": "result", "subtype": "success", "is_error": False, "modelUsage": {
        "claude-sonnet-5-5": {"inputTokens": 100, "outputTokens": 20, "cacheReadInputTokens": 5,
                              "cacheCreationInputTokens": 0, "contextWindow": 200000}}}
    assert parse_line(json.dumps(line))[0] == UsageReported(context_window=200000,
                                                            total_tokens=125)
    message = {"type": "assistant", "parent_tool_use_id": None, "message": {
        "content": [], "usage": {"input_tokens": 1000, "output_tokens": 50,
                                 "cache_read_input_tokens": 200}}}
    assert parse_line(json.dumps(message)) == [UsageReported(context_tokens=1250)]


def test_status_compact_and_control_answers() -> None:
    status = {"type": "system", "subtype": "status", "status": None,
              "permissionMode": "acceptEdits"}
    assert parse_line(json.dumps(status)) == [ModeChanged("acceptEdits", CLAUDE_MODES)]
    assert parse_line(json.dumps({"type": "system", "subtype": "status",
                                  "status": "compacting"})) == []
    boundary = {"type": "system", "subtype": "compact_boundary",
                "compact_metadata": {"trigger": "manual", "pre_tokens": 12542,
                                     "post_tokens": 3060}}
    assert parse_line(json.dumps(boundary)) == [Compacted(12542, 3060)]
    answer = {"type": "control_response", "response": {
        "subtype": "success", "request_id": "r2", "response": {"model": "claude-sonnet-5-5"}}}
    [event] = parse_line(json.dumps(answer))
    assert isinstance(event, ControlAnswered) and event.payload == {"model": "claude-sonnet-5-5"}
    assert json.loads(encode_control("r3", "set_permission_mode", mode="plan")) == {
        "type": "control_request", "request_id": "r3",
        "request": {"subtype": "set_permission_mode", "mode": "plan"}}


def test_initialize_answer_lists_models_and_the_mode() -> None:
    payload = {"current_permission_mode": "plan", "models": [
        {"value": "sonnet", "resolvedModel": "claude-sonnet-5-5", "displayName": "Sonnet",
         "description": "Efficient"}, {"displayName": "no value"}]}
    assert initialize_events(payload) == [
        ModelChanged("", (Choice("sonnet", "Sonnet", "Efficient"),)),
        ModeChanged("plan", CLAUDE_MODES)]
    assert initialize_events({}) == []


def test_tool_call_and_outcome() -> None:
    events = all_events()
    calls = [e for e in events if isinstance(e, ToolCall)]
    outcomes = [e for e in events if isinstance(e, ToolOutcome)]
    read, write = calls
    assert read.name == "Read"
    assert read.input == {"file_path": "/tmp/sample/work/notes.txt"}
    assert read.tool_use_id.startswith("toolu_")
    assert outcomes[0] == ToolOutcome(read.tool_use_id, "1\tline one\n2\tline two\n3\t", False)
    # -p without a permission tool: the CLI denies Write and tells the model so.
    assert write.name == "Write"
    assert outcomes[1].tool_use_id == write.tool_use_id
    assert outcomes[1].is_error
    assert "haven't granted it yet" in outcomes[1].content


def test_result_lines() -> None:
    finished = [e for e in all_events() if isinstance(e, TurnFinished)]
    first = finished[0]
    assert first.subtype == "success" and not first.is_error
    assert first.result == "Hello from the scripted API."
    assert first.session_id == SESSION
    assert first.num_turns == 1
    assert first.duration_ms > 0
    assert first.cost_usd > 0  # the running total; the adapter makes it per turn
    interrupted = finished[-1]
    assert interrupted.subtype == "error_during_execution"
    assert interrupted.is_error
    assert interrupted.result  # no "result" field: the "errors" list is used


def test_control_response() -> None:
    line = first_line(lambda d: d["type"] == "control_response")
    assert parse_line(line) == [ControlAnswered("req-interrupt-1", ok=True)]
    err = {
        "type": "control_response",
        "response": {"subtype": "error", "request_id": "r2", "error": "no turn running"},
    }
    assert parse_line(json.dumps(err)) == [ControlAnswered("r2", ok=False, error="no turn running")]


def test_partial_text_accumulates_per_message() -> None:
    partial = PartialAccumulator()
    texts = [e.text for e in all_events(partial) if isinstance(e, PartialText)]
    assert texts[0] == "Hello from the scripted API."
    assert "Reading it." in texts
    # message_start resets: the next message doesn't carry the previous one's text
    assert "The file has two lines." in texts


def test_partial_accumulator_pieces_and_blocks() -> None:
    acc = PartialAccumulator()

    def delta(index: int, text: str) -> dict[str, Any]:
        return {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "text_delta", "text": text},
        }

    assert acc.feed({"type": "message_start", "message": {}}) is None
    assert acc.feed(delta(0, "Hel")) == "Hel"
    assert acc.feed(delta(0, "lo")) == "Hello"
    json_delta = {"type": "input_json_delta", "partial_json": "{}"}
    assert acc.feed({"type": "content_block_delta", "index": 1, "delta": json_delta}) is None
    assert acc.feed(delta(2, "World")) == "Hello\n\nWorld"
    acc.feed({"type": "message_start", "message": {}})
    assert acc.text == ""


def test_subagent_lines() -> None:
    """Sub-agent text is not the agent's answer; its tool calls are still activity."""
    obj = json.loads(first_line(lambda d: d["type"] == "assistant"))
    obj["parent_tool_use_id"] = "toolu_parent"
    assert parse_line(json.dumps(obj)) == []
    obj["message"]["content"].append({"type": "tool_use", "id": "t1", "name": "Bash", "input": {}})
    assert parse_line(json.dumps(obj)) == [ToolCall("t1", "Bash", {})]


def test_tool_result_list_content_is_flattened() -> None:
    obj = json.loads(first_line(lambda d: d["type"] == "user" and "tool_result" in json.dumps(d)))
    block = obj["message"]["content"][0]
    block["content"] = [
        {"type": "text", "text": "first"},
        {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
        {"type": "text", "text": "second"},
    ]
    [event] = parse_line(json.dumps(obj))
    assert isinstance(event, ToolOutcome)
    assert event.content == "first\n[image]\nsecond"
    assert flatten_content(None) == ""


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   \n",
        '{"type":"system","subtype":"status","status":"requesting"}',
        '{"type":"rate_limit_event"}',
        '{"type":"something_new","x":1}',
        '{"no_type":true}',
        '{"type":"user","message":{"role":"user","content":"plain text"}}',
    ],
)
def test_ignored_lines(line: str) -> None:
    assert parse_line(line) == []


def test_permission_denied_system_line_is_ignored() -> None:
    line = first_line(lambda d: d["type"] == "system" and d["subtype"] == "permission_denied")
    assert parse_line(line) == []


@pytest.mark.parametrize("line", ["not json", b"{broken", "[1, 2]", '"str"', b"\xff\xfe"])
def test_bad_lines_raise(line: str | bytes) -> None:
    with pytest.raises(StreamJsonError):
        parse_line(line)


def test_bytes_input() -> None:
    line = first_line(lambda d: d["type"] == "result")
    assert parse_line(line.encode() + b"\n") == parse_line(line)


@pytest.mark.parametrize(
    "body",
    [
        "hello",
        "two\nlines",
        "cr\rlf\r\n",
        "line\u2028separator\u2029paragraph",
        "nul\x00byte",
        "\x1b[31mansi\x7f",
        "émoji 🎉 and 中文",
        "lone surrogate \ud800",
        "",
    ],
)
def test_encode_user_message_is_one_line(body: str) -> None:
    data = encode_user_message(body)
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1
    assert b"\r" not in data and b"\x00" not in data
    data.decode("ascii")  # no raw unicode at all, so no U+2028 either
    obj = json.loads(data)
    assert obj == {"type": "user", "message": {"role": "user", "content": body}}


def test_encode_interrupt() -> None:
    data = encode_interrupt("abc-1")
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert json.loads(data) == {
        "type": "control_request",
        "request_id": "abc-1",
        "request": {"subtype": "interrupt"},
    }
