"""The web client in a real browser: Converse.js served by Prosody, in headless Chromium.

Everything is real except the model: Prosody serving the page and the websocket, the service,
the Claude Code CLI (against the scripted API), Converse.js (Strophe.js: an XMPP stack we did
not write) and Chromium. The browser test goes through what a newcomer does: log in with the
filled-in account, create an agent with ``new``, get it into the roster, allow one file write
with ``yes`` and another with a 👍 reaction, and run an ad-hoc command from the manager.

Screenshots: taken at each step; written to ``$AGENTCHAT_SCREENSHOTS`` (``docs`` refreshes the
README's), else to the test's scratch directory.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import struct
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.prosody.ports import free_port
from agentchat.web.page import PageSettings
from agentchat.web.site import find_converse_dist, write_site
from tests.support import scripted_api as sa
from tests.support.browser import ConversePage
from tests.support.claude_env import REPO_ROOT, claude_path
from tests.support.service_harness import running_service

pytestmark = pytest.mark.timeout(600)

T = TypeVar("T")
DOMAIN = "example.com"
COMPONENT = f"agents.{DOMAIN}"
MANAGER = f"manager@{COMPONENT}"
CREATED = re.compile(rf"Agent ([a-z]+-[a-z]+) created\. Chat at \1@{re.escape(COMPONENT)}")
PROMPT = re.compile(r"^🔐 Permission #([0-9a-f]{4})")
DONE_TEXT = "Created hello.txt and notes.txt in my-project."
# The last answer streams for several seconds (the chat shows it growing, corrected in place).
LONG_ANSWER = DONE_TEXT + " " + " ".join(f"Step {i} checked." for i in range(1, 41))
LONG_END = "Step 40 checked."


def shots_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("AGENTCHAT_SCREENSHOTS")
    if not chosen:
        return tmp_path / "screenshots"
    path = Path(chosen)
    return path if path.is_absolute() else REPO_ROOT / path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def in_browser(fn: Callable[..., T], *args: object) -> T:
    """Selenium blocks: run it in a thread so the in-process service keeps serving."""
    return await asyncio.to_thread(fn, *args)


@pytest.fixture
async def browser() -> AsyncIterator[ConversePage]:
    page = await in_browser(ConversePage)
    try:
        yield page
    finally:
        await in_browser(page.quit)


@pytest.fixture
def web_prosody(tmp_path: Path) -> Iterator[EmbeddedProsody]:
    """A private Prosody of its own (its own component port) serving the page."""
    user = f"alice@{DOMAIN}"
    site = write_site(tmp_path / "web", PageSettings(DOMAIN, MANAGER, user),
                      find_converse_dist(), link=True)
    server = EmbeddedProsody.with_free_ports(tmp_path / "prosody", DOMAIN, COMPONENT,
                                             secrets.token_hex(16), web_root=site)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_newcomer_in_the_browser_creates_an_agent_answers_prompts_and_runs_a_command(
    web_prosody: EmbeddedProsody, browser: ConversePage, api: sa.ScriptedAnthropic,
    tmp_path: Path,
) -> None:
    shots = shots_dir(tmp_path)
    password = secrets.token_urlsafe(12)
    web_prosody.register("alice", password)
    repo = tmp_path / "work" / "my-project"
    api.push(
        sa.tool_use("Write", {"file_path": str(repo / "hello.txt"), "content": "Hello!\n"}),
        sa.tool_use("Write", {"file_path": str(repo / "notes.txt"), "content": "Notes\n"}),
        sa.text(LONG_ANSWER, chunk_size=12, chunk_delay=0.15),
    )
    assert web_prosody.web_url is not None
    async with running_service(web_prosody, tmp_path, api):
        # Log in with the account the page fills in; the page puts the manager in the roster.
        assert await in_browser(browser.open, web_prosody.web_url) == f"alice@{DOMAIN}"
        await in_browser(browser.log_in, password)
        await in_browser(browser.wait_contact_show, MANAGER, "online")
        manager = await in_browser(browser.presence_model, MANAGER)
        assert manager is not None and manager["presence"] == "online", manager
        assert manager["show"] is None and manager["status"].startswith("0 agents running · send")

        # new → type → repository → task, in the manager's chat.
        await in_browser(browser.open_chat, MANAGER)
        for sent, answer in (
            ("new", "What type of agent? [1] Claude Code"),
            ("1", "Available repos: [1] another-repo [2] my-project"),
            ("2", "What's the initial task for the agent?"),
        ):
            await in_browser(browser.send, MANAGER, sent)
            await in_browser(browser.wait_message, MANAGER, answer)
        await in_browser(browser.send, MANAGER, "Create hello.txt and notes.txt")
        created, _ = await in_browser(browser.wait_message, MANAGER, CREATED)
        match = CREATED.search(created)
        assert match is not None
        agent = f"{match.group(1)}@{COMPONENT}"

        # The agent's subscription request is accepted by the page (auto_subscribe: Converse's
        # own "accept" never subscribes back), so its presence shows in the roster.
        await in_browser(browser.contact, agent)
        await in_browser(browser.wait,
                         lambda: browser.contact_show(agent) not in ("offline", "none"),
                         f"{agent} available in the roster")
        await in_browser(browser.screenshot, shots / "web-client-manager.png")

        # First prompt: answered with "yes", corrected in place to "✅ allowed".
        await in_browser(browser.open_chat, agent)
        first, _ = await in_browser(browser.wait_message, agent, PROMPT)
        pid = PROMPT.search(first).group(1)  # type: ignore[union-attr]
        assert "hello.txt" in first and first.rstrip().endswith("Reply: yes / no / always")
        assert not (repo / "hello.txt").exists()
        # While it waits, the agent says what for where every client shows it (presence), and
        # stops "typing" (Converse renders `paused` as "… has stopped typing").
        waiting = await in_browser(
            browser.wait, lambda: (m := browser.presence_model(agent)) and m["status"] and
            m["status"].startswith("needs your answer") and m,
            f"{agent}'s presence saying it needs an answer")
        assert waiting["show"] == "away", waiting
        assert waiting["status"].startswith(f"needs your answer: #{pid} Write hello.txt"), waiting
        await in_browser(browser.wait, lambda: "stopped typing" in browser.notification(agent),
                         f"{agent} paused while waiting")
        await in_browser(browser.send, agent, "yes")
        corrected = re.compile(rf"^🔐 Permission #{pid}[\s\S]*✅ allowed$")
        await in_browser(browser.wait_message, agent, corrected)
        await in_browser(browser.wait_message, agent, f"✅ allowed #{pid}")
        shown = [text for sender, text, _el in await in_browser(browser.messages, agent)
                 if sender == agent]
        copies = [text for text in shown if text.startswith(f"🔐 Permission #{pid}")]
        assert len(copies) == 1, f"the prompt was not corrected in place: {shown}"

        # Second prompt: answered with a 👍 reaction from Converse's picker.
        second_prompt = re.compile(r"^🔐 Permission #(?!" + pid + r")([0-9a-f]{4})[\s\S]*notes")
        second, element = await in_browser(browser.wait_message, agent, second_prompt)
        pid2 = PROMPT.search(second).group(1)  # type: ignore[union-attr]
        # The CLI asks for the next file only after writing the first.
        assert (repo / "hello.txt").read_text() == "Hello!\n"
        await in_browser(browser.react, element, "👍")
        await in_browser(browser.wait_message, agent,
                         re.compile(rf"^🔐 Permission #{pid2}[\s\S]*✅ allowed$"))
        await in_browser(browser.wait_message, agent, f"✅ allowed #{pid2}")
        await in_browser(browser.screenshot, shots / "web-client-permission.png")
        # A long answer streams in: while it grows the typing notice comes back, and it goes
        # away once the answer is complete (`active`).
        def growing_while_typing() -> bool:
            texts = [t for sender, t, _el in browser.messages(agent) if sender == agent]
            growing = any(t.startswith(DONE_TEXT) and LONG_END not in t for t in texts)
            return growing and "is typing" in browser.notification(agent)
        await in_browser(browser.wait, growing_while_typing,
                         "the typing notice while the answer is still growing")
        await in_browser(browser.wait_message, agent, re.compile(re.escape(LONG_END) + "$"))
        await in_browser(browser.wait, lambda: "typing" not in browser.notification(agent),
                         "no typing notice once the answer is complete")
        assert (repo / "notes.txt").read_text() == "Notes\n"

        # An ad-hoc command on the manager: the list must not be empty, and it runs.
        names = await in_browser(browser.list_commands, MANAGER)
        assert {"New agent", "List agents", "Kill agent", "Agent status"} <= set(names), names
        result = await in_browser(browser.run_command, "List agents")
        assert match.group(1) in result, result
        await in_browser(browser.screenshot, shots / "web-client-commands.png")

        # Nothing was fetched from elsewhere: the page's policy would have reported it.
        problems = [e["message"] for e in await in_browser(browser.console)
                    if e.get("source") in ("security", "network")]
        assert problems == [], problems

    for name in ("web-client-manager.png", "web-client-permission.png",
                 "web-client-commands.png"):
        width, height = png_size(shots / name)
        assert width >= 800 and height >= 500, (name, width, height)


async def test_agentchat_run_prints_the_web_client_url_and_the_page_loads(
    tmp_path: Path, browser: ConversePage,
) -> None:
    """What ``./scripts/run`` does with no configuration: the URL is printed and works."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XMPP_", "MANAGER_", "MCP_", "AGENTS_", "ALLOWED_", "WEB_"))}
    env.update(AGENT_CHAT_HOME=str(tmp_path / "home"), WORK_BASE_PATH=str(tmp_path / "work"),
               CLAUDE_PATH=claude_path(), MCP_PORT=str(free_port()))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentchat", "run", env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output: list[str] = []
    url_line = re.compile(r"chat in your browser: (http://127\.0\.0\.1:\d+/) \(log in as "
                          r"(demo@localhost) with the same password\)")
    password_line = re.compile(r"as demo@localhost / password (\S+) ")
    try:
        url = password = None
        async with asyncio.timeout(90):
            while url is None or password is None:
                line = (await proc.stdout.readline()).decode()
                assert line, "agentchat exited:\n" + "".join(output)
                output.append(line)
                if found := url_line.search(line):
                    url = found.group(1)
                if found := password_line.search(line):
                    password = found.group(1)
        assert await in_browser(browser.open, url) == "demo@localhost"
        await in_browser(browser.log_in, password)
        await in_browser(browser.wait_contact_show, "manager@agents.localhost", "online")
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, "".join(output) + rest.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
