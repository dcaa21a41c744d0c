"""`agentchat run` with no configuration: its own Prosody, a demo account, a working manager."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.support.claude_env import claude_path
from tests.support.xmpp_client import ChatClient

DEMO = re.compile(r"log in with your XMPP client as (\S+) / password (\S+) "
                  r"\(server (\S+), port (\d+), no TLS\)")

pytestmark = pytest.mark.timeout(120)


async def test_run_without_config_starts_a_private_prosody_with_a_demo_account(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XMPP_", "MANAGER_", "MCP_", "AGENTS_", "ALLOWED_"))}
    env.update(AGENT_CHAT_HOME=str(tmp_path / "home"), WORK_BASE_PATH=str(tmp_path / "work"),
               CLAUDE_PATH=claude_path())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentchat", "run", env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output: list[str] = []
    try:
        demo = None
        connected = False
        async with asyncio.timeout(60):
            while demo is None or not connected:
                line = (await proc.stdout.readline()).decode()
                assert line, "agentchat exited:\n" + "".join(output)
                output.append(line)
                demo = demo or DEMO.search(line)
                connected = connected or "component agents.localhost connected" in line
        jid, password, host, port = demo.groups()
        assert jid == "demo@localhost"
        assert (tmp_path / "work").is_dir()
        client = await ChatClient.connect(f"{jid}/quick", password, host, int(port))
        try:
            client.send("manager@agents.localhost", "help")
            await client.expect("manager@agents.localhost", "Commands:")
            client.send("manager@agents.localhost", "repos")
            await client.expect("manager@agents.localhost", "No repositories under")
        finally:
            await client.disconnect()
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, "".join(output) + rest.decode()
        assert "Traceback" not in "".join(output) + rest.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
