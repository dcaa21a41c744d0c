"""Dino, Debian's GTK desktop XMPP client, under Xvfb: create → two prompts → answers.

Everything is real except the model: a private Prosody (with STARTTLS and a certificate Dino
trusts), ``agentchat run``, the Claude Code CLI against the scripted API, and Dino typed into
with xdotool (see tests/support/dino_client.py for how it is set up without touching the
machine). Dino, like Conversations, applies a correction only when it replaces the latest
message from the sender's full JID; what it shows is read from its own database, what it
received from its own XML log.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from agentchat.permissions.mcp_app import SECRET_HEADER
from agentchat.prosody.embedded import EmbeddedProsody
from tests.support import scripted_api as sa
from tests.support.claude_env import claude_env
from tests.support.dino_client import Dino, TlsProsody, make_certificates, missing_tools
from tests.support.mcp_client import call_permission, only_json
from tests.support.real_client_demo import agentchat_process
from tests.support.service_harness import make_workspace, service_env

DOMAIN = "example.com"
COMPONENT = f"agents.{DOMAIN}"
MANAGER = f"manager@{COMPONENT}"
DONE_TEXT = "Created hello.txt in my-project."
PROMPT = re.compile(r"^🔐 Permission #([0-9a-f]{4})\n", re.M)
CREATED = re.compile(rf"Agent ([a-z]+-[a-z]+) created\. Chat at \1@{re.escape(COMPONENT)}")


def has(pattern: str | re.Pattern[str]) -> Any:
    def match(shown: list[str]) -> bool:
        return any((pattern.search(b) if isinstance(pattern, re.Pattern) else pattern in b)
                   for b in shown)
    return match


def displayed_markers(log: str) -> set[str]:
    """Ids Dino sent XEP-0333 ``displayed`` markers for (it marks what it has shown)."""
    return set(re.findall(r"chat-markers:0\}:displayed [^>]*\}:id='([^']*)'", log))


def log_messages(log: str, sender: str) -> list[tuple[str, str, str, str | None]]:
    """(from, id, body, replaced id) of each message with a body Dino received from ``sender``."""
    found = []
    for block in re.split(r"\nXMPP (?:IN|OUT) \[", log):
        head = re.match(r"[^\n]*\n<\{jabber:client\}:message ([^>]*)>", block)
        if head is None or "{jabber:client}:body>" not in block:
            continue
        sent_by = re.search(r"\{jabber:client\}:from='([^']*)'", head.group(1))
        msg_id = re.search(r"\{jabber:client\}:id='([^']*)'", head.group(1))
        if sent_by is None or not sent_by.group(1).startswith(sender):
            continue
        body = re.search(r"<\{jabber:client\}:body>\n(.*?)\n\s*</\{jabber:client\}:body>",
                         block, re.S)
        replace = re.search(r"message-correct:0\}:replace [^>]*\}:id='([^']*)'", block)
        found.append((sent_by.group(1), msg_id.group(1) if msg_id else "",
                      body.group(1) if body else "", replace.group(1) if replace else None))
    return found


async def second_request(home: Path, agent: str, path: Path) -> dict[str, Any]:
    """One more permission request of ``agent``, sent to the MCP tool as its CLI would."""
    config = json.loads((home / "mcp" / f"{agent}.json").read_text())
    server = next(iter(config["mcpServers"].values()))
    result = await call_permission(
        server["url"], {SECRET_HEADER: server["headers"][SECRET_HEADER]},
        {"tool_name": "Write", "input": {"file_path": str(path), "content": "two\n"},
         "tool_use_id": "toolu_second"})
    return only_json(result)


async def test_dino_shows_each_decided_prompt_once_corrected_in_place(tmp_path: Path) -> None:
    assert not missing_tools(), f"not installed: {missing_tools()} (run scripts/bootstrap)"
    api = sa.ScriptedAnthropic()
    await api.start()
    ca, cert, key = make_certificates(tmp_path / "tls", DOMAIN)
    prosody = TlsProsody(EmbeddedProsody.with_free_ports(
        tmp_path / "prosody", DOMAIN, COMPONENT, secrets.token_hex(16)), cert, key)
    try:
        await asyncio.to_thread(prosody.start)
        password = secrets.token_urlsafe(12)
        await asyncio.to_thread(prosody.register, "alice", password)
        base = make_workspace(tmp_path)
        target = base / "my-project" / "hello.txt"
        api.push(sa.tool_use("Write", {"file_path": str(target),
                                       "content": "Hello from agentchat!\n"}),
                 sa.text(DONE_TEXT))
        home = tmp_path / "agentchat-home"
        env = {**os.environ, **service_env(prosody, home, base), **claude_env(tmp_path, api)}
        dino_root = tmp_path / "dino"
        dino_root.mkdir()
        dino = Dino(dino_root, DOMAIN, f"alice@{DOMAIN}", password, prosody.settings.c2s_port,
                    ca)
        async with agentchat_process(env, tmp_path / "agentchat.log"), dino.running():
            await dino.open_chat(MANAGER)
            await dino.type("new")
            await dino.wait_shown(MANAGER, has("What type of agent?"), "the type question")
            await dino.type("1")
            await dino.wait_shown(MANAGER, has("Available repos:"), "the repo list")
            await dino.type("2")
            await dino.wait_shown(MANAGER, has("initial task"), "the task question")
            await dino.type("Create hello.txt with a greeting")
            shown = await dino.wait_shown(MANAGER, has(CREATED), "the new agent")
            found = CREATED.search("\n".join(shown))
            assert found is not None
            agent = f"{found.group(1)}@{COMPONENT}"

            await dino.open_chat(agent)
            shown = await dino.wait_shown(agent, has(PROMPT), "the first prompt")
            first = PROMPT.search("\n".join(shown)).group(1)  # type: ignore[union-attr]
            second = asyncio.ensure_future(
                second_request(home, found.group(1), base / "my-project" / "two.txt"))
            shown = await dino.wait_shown(
                agent, lambda s: len(PROMPT.findall("\n".join(s))) == 2, "the second prompt")
            other = next(i for i in PROMPT.findall("\n".join(shown)) if i != first)

            await dino.type(f"{other} yes")
            assert (await asyncio.wait_for(second, 60))["behavior"] == "allow"
            await dino.wait_shown(agent, has(f"✅ allowed #{other}"), "the second's answer")
            await dino.type("yes")
            shown = await dino.wait_shown(agent, has(DONE_TEXT), "the agent's reply")

            prompts = [b for b in shown if PROMPT.search(b)]
            report = dino.report(agent)()
            assert len(prompts) == 2, report  # each prompt shown once, never a second copy
            assert all(p.rstrip().endswith("✅ allowed") for p in prompts), report
            assert not any("Reply: yes / no / always" in b for b in shown), report
            assert shown.index(prompts[0]) < shown.index(f"✅ allowed #{other}"), report

            # From Dino's XML log: each prompt and its correction came from the prompt's own
            # full JID, nothing else did, and Dino marked the prompt displayed (XEP-0333).
            log = dino.log_text()
            received = log_messages(log, agent)
            for pid in (first, other):
                from_prompt = [m for m in received if m[0] == f"{agent}/prompt-{pid}"]
                assert len(from_prompt) == 2, received
                (_, prompt_id, body, _), (_, _, _, replaced) = from_prompt
                assert body.strip().startswith(f"🔐 Permission #{pid}") and replaced == prompt_id
                assert prompt_id in displayed_markers(log)
        assert target.read_text() == "Hello from agentchat!\n"
    finally:
        await asyncio.to_thread(prosody.stop)
        await api.stop()
