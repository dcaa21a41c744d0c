"""profanity, a terminal XMPP client from Debian, driven in tmux: create → permission → yes.

The demo itself fails (with the screen) as soon as an expected text does not show up; this
test runs it in a scratch directory and checks the transcript it would publish.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.real_client_demo import (
    DONE_TEXT,
    FILE_LINK,
    FOLLOW_UP_TEXT,
    ROOM,
    ROOM_QUESTION,
    ROOM_TEXT,
    flatten,
    run_demo,
)


async def test_profanity_creates_an_agent_and_answers_its_permission_prompt(
    tmp_path: Path,
) -> None:
    transcript = await run_demo(tmp_path)

    created = re.search(r"Agent ([a-z]+-[a-z]+) created\. Chat at \1@agents\.example\.com",
                        transcript)
    assert created is not None, transcript
    agent = f"{created.group(1)}@agents.example.com"
    assert "Reply: yes / no / always" in transcript
    # The prompt was corrected in place (profanity's "+" marker) and the answer acknowledged.
    assert re.search(rf"\d\d:\d\d \+ {re.escape(agent)}/prompt-([0-9a-f]{{4}}): "
                     r"🔐 Permission #\1", transcript)
    assert re.search(r"✅ allowed #[0-9a-f]{4}", transcript)
    assert DONE_TEXT in transcript and FOLLOW_UP_TEXT in transcript
    # Presence and chat states as profanity shows them.
    assert re.search(rf'{re.escape(agent)} \(agentchat\) is away, '
                     r'"needs your answer: #[0-9a-f]{4} Write hello\.txt"', transcript)
    assert f"{agent} [dnd] [unencrypted] (typing...)" in transcript
    assert (tmp_path / "work" / "my-project" / "hello.txt").read_text() == (
        "Hello from agentchat!\n")
    # `get screenshot.png`: the image arrives as a link to Prosody's upload service.
    assert re.search(r"📎 screenshot\.png \(\d+ B\)", transcript), transcript
    assert FILE_LINK.search(flatten(transcript)) is not None, transcript
    # In a group chat: invited, addressed by its nickname, it answers there.
    name = created.group(1)
    room_screen = transcript.split(f"/join {ROOM}", 1)[1]
    assert re.search(rf"\d\d:\d\d - alice: {name}: {re.escape(ROOM_QUESTION)}", room_screen)
    assert re.search(rf"\d\d:\d\d - {name}: {re.escape(ROOM_TEXT)}", room_screen)
