"""Files the owner sends an agent, as the agent is told about them (pure).

A received file is already saved in the working tree; the message names its path so any backend
can read it. Images also travel as image blocks where the backend accepts them.
"""

from __future__ import annotations

import attrs

from agentchat.agents.adapter import Image
from agentchat.files.media import human_size
from agentchat.state.model import PendingMessage


@attrs.frozen
class Attachment:
    relative: str  # path relative to the working tree
    size: int
    image: Image | None = None  # set for PNG/JPEG/GIF/WebP small enough to show the model


@attrs.frozen
class Prompt:
    """One message for the agent: the owner's text and the files that came with it."""

    text: str
    attachments: tuple[Attachment, ...] = ()
    pending: tuple[PendingMessage, ...] = ()  # the owner's messages this answers (see runtime)
    # answered again after agentchat restarted: the answer's first message corrects what an
    # interrupted attempt showed (runtime.answer_unanswered)
    again: bool = False

    def merged(self, other: Prompt) -> Prompt:
        """Queued messages go to the agent together, in order."""
        texts = [t for t in (self.text, other.text) if t]
        return Prompt("\n\n".join(texts), (*self.attachments, *other.attachments),
                      (*self.pending, *other.pending), self.again)


def prompt_text(prompt: Prompt, images_attached: bool) -> str:
    """The message text with a line per file, saying where it is (and that the image is
    attached when it is)."""
    if not prompt.attachments:
        return prompt.text
    lines = []
    for a in prompt.attachments:
        line = f"[The owner sent a file, saved as {a.relative} ({human_size(a.size)})"
        if a.image is not None and images_attached:
            line += f"; the image ({a.image.media_type}) is attached"
        lines.append(line + ".]")
    text = prompt.text.strip() or "(no text with the file)"
    return "\n".join(lines) + "\n\n" + text


def images_of(prompt: Prompt) -> list[Image]:
    return [a.image for a in prompt.attachments if a.image is not None]
