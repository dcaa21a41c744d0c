"""Calling the permission tool the way the Claude CLI does, with the mcp package's own client."""

from __future__ import annotations

import json
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def call_permission(
    url: str, headers: dict[str, str], arguments: dict[str, Any], mode: Any = "auto"
) -> Any:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        tools = await client.list_tools()
        names = sorted(t.name for t in tools.tools)
        # The service adds send_file; a bare build_app(broker) has the permission tool only.
        assert names in (["permission_prompt"], ["permission_prompt", "send_file"]), names
        return await client.call_tool("permission_prompt", arguments)


async def call_tool(url: str, headers: dict[str, str], name: str,
                    arguments: dict[str, Any]) -> Any:
    """Any tool of the MCP server, as the CLI would call it."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await client.call_tool(name, arguments)


async def tool_names(url: str, headers: dict[str, str]) -> list[str]:
    """What ``tools/list`` offers the caller with these headers."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return sorted(t.name for t in (await client.list_tools()).tools)


async def post_tool_call(url: str, headers: dict[str, str], name: str,
                         arguments: dict[str, Any]) -> httpx2.Response:
    """One JSON-RPC ``tools/call`` POST, as a caller without the CLI (or its secret) sends it;
    the raw HTTP answer, since an unauthenticated call never reaches MCP."""
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}}
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(url, json=call, headers={
            "Accept": "application/json, text/event-stream", **headers})


def only_json(result: Any) -> dict[str, Any]:
    assert len(result.content) == 1
    block = result.content[0]
    assert block.type == "text"
    data: dict[str, Any] = json.loads(block.text)
    return data
