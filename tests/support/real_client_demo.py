"""Drive a real terminal XMPP client (Debian's ``profanity``) through agentchat, in tmux.

Why: our tests talk XMPP through slixmpp clients we wrote; this shows what a person sees in an
off-the-shelf client. Everything is real except the model: a private Prosody, the real
``agentchat run`` process, the real Claude Code CLI (pointed at the scripted Anthropic API served
from this process), and profanity logged in over plain TCP on loopback. The driver types into
profanity with ``tmux send-keys`` and reads its screen with ``tmux capture-pane``.

Run it as ``scripts/real-client-demo`` (writes docs/real-client-transcript.txt and prints it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from agentchat.prosody.embedded import EmbeddedProsody
from tests.support import scripted_api as sa
from tests.support.claude_env import REPO_ROOT, claude_env
from tests.support.service_harness import make_workspace, service_env
from tests.support.uploads import png

DOMAIN = "example.com"
COMPONENT = f"agents.{DOMAIN}"
MANAGER = f"manager@{COMPONENT}"
USER = "alice"
TASK = "Create hello.txt with a greeting"
FOLLOW_UP = "What is in it?"
DONE_TEXT = "Created hello.txt in my-project."
FOLLOW_UP_TEXT = "It has one line: Hello from agentchat!"
ROOM = f"team@rooms.{DOMAIN}"
ROOM_QUESTION = "what did you do today?"
ROOM_TEXT = "I created hello.txt in my-project."
WIDTH, HEIGHT = 120, 40
TRANSCRIPT = REPO_ROOT / "docs" / "real-client-transcript.txt"
STEP_TIMEOUT = 60.0  # seconds for one expected screen change (the CLI's first start is slow)
# The prompt comes from its own resource (…/prompt-<id>) and is corrected there, in place.
CORRECTED = re.compile(
    r"\d\d:\d\d \+ \S+/prompt-([0-9a-f]{4}): 🔐 Permission #\1 [^+]*✅ allowed")
CREATED = re.compile(rf"Agent ([a-z]+-[a-z]+) created\. Chat at \1@{re.escape(COMPONENT)}")
# The link `get screenshot.png` sends (XEP-0066); profanity may wrap it, hence the optional space.
FILE_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/file_share/\S+?)\s?(\S*screenshot\.png)")


class DemoError(RuntimeError):
    """An expected text did not show up in the client; the message has the screen."""


class Tmux:
    """One private tmux server (its own socket) running one client in a fixed-size window."""

    def __init__(self, socket_path: Path, env: dict[str, str]) -> None:
        self.socket = socket_path
        self.env = env

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            env=self.env, capture_output=True, text=True, timeout=10, check=False,
        )
        if done.returncode != 0:
            raise DemoError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, command: list[str]) -> None:
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "demo",
                   "-x", str(WIDTH), "-y", str(HEIGHT), *command)
        self._tmux("set-option", "-t", "demo", "remain-on-exit", "on")

    def type(self, text: str) -> None:
        """Type ``text`` literally (no key-name lookup), then Enter."""
        self._tmux("send-keys", "-t", "demo", "-l", text)
        self._tmux("send-keys", "-t", "demo", "Enter")

    def screen(self) -> str:
        text = self._tmux("capture-pane", "-p", "-t", "demo")
        return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], env=self.env,
                       capture_output=True, timeout=10, check=False)


def flatten(text: str) -> str:
    """Whitespace runs as one space: profanity wraps long lines itself, indenting the rest."""
    return re.sub(r"\s+", " ", text)


async def wait_screen(tmux: Tmux, *needles: str | re.Pattern[str], absent: str = "",
                      timeout: float = STEP_TIMEOUT) -> str:
    """Poll the screen until every needle is on it (and ``absent`` is not); returns it.

    Polling is the only way to watch a curses UI from outside; the deadline is bounded.
    """
    deadline = time.monotonic() + timeout
    while True:
        screen = tmux.screen()
        flat = flatten(screen)
        missing: list[str | re.Pattern[str]] = [n for n in needles
                   if not (n.search(flat) if isinstance(n, re.Pattern) else flatten(n) in flat)]
        if absent and absent in flat:
            missing.append(f"no {absent!r}")
        if not missing:
            return screen
        if time.monotonic() > deadline:
            shown = [n.pattern if isinstance(n, re.Pattern) else n for n in missing]
            if absent and absent in flat:
                shown.append(f"(and {absent!r} still shown)")
            raise DemoError(f"not on the screen after {timeout:.0f}s: {shown}\n"
                            f"--- screen ---\n{screen}\n--------------")
        await asyncio.sleep(0.2)


def profanity_files(home: Path, jid: str, password: str, port: int) -> dict[str, str]:
    """Write profanity's account (plain TCP to 127.0.0.1, TLS off) and prefs; returns its env."""
    config = home / ".config" / "profanity"
    data = home / ".local" / "share" / "profanity"
    config.mkdir(parents=True)
    data.mkdir(parents=True)
    (data / "accounts").write_text(
        f"[{jid}]\nenabled=true\njid={jid}\nresource=terminal\npassword={password}\n"
        f"server=127.0.0.1\nport={port}\ntls.policy=disable\npresence.last=online\n"
        "presence.login=online\npriority.online=0\n"
    )
    (config / "profrc").write_text(
        "[ui]\nsplash=false\nintype=true\nbeep=false\nflash=false\nvercheck=false\n"
        "titlebar=true\nstatuses.console=all\nstatuses.chat=all\ncolor.nick=false\n"
        "time.chat=%H:%M\ntime.console=%H:%M\n"
        "[chatstates]\nenabled=true\n"
        "[notifications]\nmessage=false\nroom=false\ninvite=false\nsub=false\ntyping=false\n"
        "remind=0\n"
        "[logging]\nchlog=false\ngrlog=false\n"
    )
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


@contextlib.asynccontextmanager
async def agentchat_process(env: dict[str, str], log_path: Path) -> AsyncIterator[None]:
    """``agentchat run`` as a child; returns once its component is connected to Prosody."""
    proc = await asyncio.create_subprocess_exec(
        str(REPO_ROOT / ".venv" / "bin" / "agentchat"), "run", "--log-level", "info",
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    connected = asyncio.Event()

    async def pump() -> None:
        assert proc.stdout is not None
        with log_path.open("wb") as log:
            async for line in proc.stdout:
                log.write(line)
                log.flush()
                if b"component " in line and b" connected" in line:
                    connected.set()

    pumping = asyncio.create_task(pump())
    try:
        waiter = asyncio.create_task(connected.wait())
        done, _ = await asyncio.wait({waiter, pumping}, timeout=30,
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            raise DemoError("agentchat did not connect to Prosody; its log:\n"
                            + log_path.read_text(errors="replace")[-3000:])
        yield
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping


async def run_demo(root: Path) -> str:
    """The whole demo under ``root`` (a scratch directory); returns the transcript text."""
    for tool in ("tmux", "profanity", "prosody"):
        if shutil.which(tool) is None:
            raise DemoError(f"{tool} is not installed (apt-get install {tool})")
    api = sa.ScriptedAnthropic()
    await api.start()
    prosody = EmbeddedProsody.with_free_ports(root / "prosody", DOMAIN, COMPONENT,
                                              secrets.token_hex(16),
                                              muc_domain=f"rooms.{DOMAIN}")
    try:
        await asyncio.to_thread(prosody.start)
        password = secrets.token_urlsafe(12)
        await asyncio.to_thread(prosody.register, USER, password)
        base = make_workspace(root)
        target = base / "my-project" / "hello.txt"
        (base / "my-project" / "screenshot.png").write_bytes(png())  # an image for `get`
        # Held replies: the model "thinks" until the driver has looked at the screen, so the
        # steps (subscription, presence, typing notice) show up in a fixed order.
        gates = Gates(asyncio.Event(), asyncio.Event())
        api.push(
            sa.tool_use("Write", {"file_path": str(target),
                                  "content": "Hello from agentchat!\n"}, gate=gates.first),
            sa.text(DONE_TEXT),
            sa.text(FOLLOW_UP_TEXT, gate=gates.follow_up),
            sa.text(ROOM_TEXT),
        )
        env = {**os.environ,
               **service_env(prosody, root / "agentchat-home", base),
               **claude_env(root, api)}
        async with agentchat_process(env, root / "agentchat.log"):
            client_env = {**os.environ,
                          **profanity_files(root / "client", f"{USER}@{DOMAIN}", password,
                                            prosody.settings.c2s_port)}
            tmux = Tmux(root / "tmux.sock", client_env)
            tmux.start(["profanity", "-a", f"{USER}@{DOMAIN}"])
            try:
                transcript = await conversation(tmux, gates)
            finally:
                tmux.kill()
        if target.read_text() != "Hello from agentchat!\n":
            raise DemoError(f"{target} was not written by the agent")
        return transcript
    finally:
        await asyncio.to_thread(prosody.stop)
        await api.stop()


@dataclass(frozen=True)
class Gates:
    """Scripted model replies the driver releases: the first task's tool call, the follow-up."""

    first: asyncio.Event
    follow_up: asyncio.Event


async def conversation(tmux: Tmux, gates: Gates) -> str:
    """Type the demo into profanity, checking each screen; returns the transcript."""
    shots: list[tuple[str, str]] = []
    await wait_screen(tmux, "logged in successfully")
    tmux.type(f"/sub request {MANAGER}")
    await wait_screen(tmux, f"{MANAGER} (agentchat) is online")

    tmux.type(f"/msg {MANAGER} new")
    await wait_screen(tmux, "What type of agent? [1] Claude Code")
    tmux.type("1")
    await wait_screen(tmux, "Available repos: [1] another-repo [2] my-project")
    tmux.type("2")
    await wait_screen(tmux, "What's the initial task for the agent?")
    tmux.type(TASK)
    screen = await wait_screen(tmux, CREATED)
    match = CREATED.search(flatten(screen))
    assert match is not None
    agent = f"{match.group(1)}@{COMPONENT}"
    shots.append((f"/sub request {MANAGER}, then /msg {MANAGER} new", screen))

    # The new agent asks to be in the roster; accept, and ask for its presence in return.
    tmux.type(f"/msg {agent}")
    await wait_screen(tmux, f"{agent} Authorization request")
    tmux.type("/sub allow")
    tmux.type("/sub request")
    await wait_screen(tmux, re.compile(rf"{re.escape(agent)} \[(?!offline)\w+\]"))
    gates.first.set()
    screen = await wait_screen(tmux, "🔧 Write hello.txt", "Permission #",
                               "Reply: yes / no / always", "needs your answer: #")
    shots.append((f"/msg {agent}, /sub allow, /sub request: the permission prompt", screen))

    tmux.type("yes")
    # The prompt is edited in place (XEP-0308): profanity marks a corrected line with "+".
    await wait_screen(tmux, "allowed #", DONE_TEXT, '"ready · my-project · ctx ', CORRECTED,
                      absent="(typing...)")
    tmux.type(FOLLOW_UP)
    screen = await wait_screen(tmux, f"me: {FOLLOW_UP}", "(typing...)")
    shots.append((f"typed: yes, then: {FOLLOW_UP} (the agent is thinking)", screen))
    gates.follow_up.set()
    screen = await wait_screen(tmux, FOLLOW_UP_TEXT)
    shots.append(("the reply", screen))

    # Files: the owner asks for an image; it comes as a link to the server's upload service.
    tmux.type("get screenshot.png")
    screen = await wait_screen(tmux, "📎 screenshot.png (", FILE_LINK)
    shots.append(("typed: get screenshot.png (the image arrives as a link)", screen))

    # A group chat: create it (profanity's defaults: others see real JIDs), invite the agent,
    # address it by its nickname.
    name = agent.split("@")[0]
    tmux.type(f"/join {ROOM} nick {USER}")
    await wait_screen(tmux, "/room accept")
    tmux.type("/room accept")
    await wait_screen(tmux, "Room unlocked")
    tmux.type(f"/invite send {agent}")
    # it shows up in the occupants panel (profanity prints no join line by default)
    await wait_screen(tmux, re.compile(rf"Participants .*(?<![\w@-]){name}(?![\w@-])"))
    tmux.type(f"{name}: {ROOM_QUESTION}")
    screen = await wait_screen(tmux, f"{name}: {ROOM_TEXT}")
    shots.append((f"/join {ROOM}, /room accept, /invite send <agent>, a mention", screen))

    tmux.type("/win 1")
    screen = await wait_screen(tmux, "Profanity. Type /help")
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if "logged in successfully" in line)
    shots.append(("/win 1: the console", "\n".join(lines[start:])))
    return render(shots)


def render(shots: list[tuple[str, str]]) -> str:
    parts = [
        "# profanity (Debian's terminal XMPP client) talking to agentchat; generated by",
        "# scripts/real-client-demo, screens captured with tmux capture-pane.",
    ]
    for title, screen in shots:
        compact = re.sub(r"\n{3,}", "\n\n", screen)  # the empty middle of a window
        parts += ["", f"=== {title} ".ljust(WIDTH, "="), compact]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=TRANSCRIPT,
                        help="where to write the transcript (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch directory (logs of Prosody, agentchat, profanity)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="agentchat-real-client-"))
    try:
        transcript = asyncio.run(run_demo(root))
    except DemoError as exc:
        print(f"real-client-demo: FAILED: {exc}", file=sys.stderr)
        print(f"real-client-demo: scratch directory kept: {root}", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"real-client-demo: scratch directory: {root}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(transcript)
    print(transcript, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
