"""File names and types: what a received file is called in the inbox, and what it really is.

Pure. The type of an image is taken from its first bytes, never from the sender's claim: the
model is only shown images whose format it accepts.
"""

from __future__ import annotations

import mimetypes
import re
import urllib.parse

MAX_NAME = 100
IMAGE_LIMIT = 5 * 1024 * 1024  # the Messages API refuses larger base64 images
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def name_from_url(url: str) -> str:
    """A safe file name from the link's last path segment (``file`` if nothing usable)."""
    path = urllib.parse.urlsplit(url).path
    return safe_name(urllib.parse.unquote(path.rsplit("/", 1)[-1]))


def safe_name(raw: str) -> str:
    """Letters, digits, ``.``, ``_`` and ``-`` only; no leading dot; at most MAX_NAME long."""
    name = _UNSAFE.sub("_", raw).strip("._-") or "file"
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[: MAX_NAME - len(suffix) - 1] + "." + suffix
        else:
            name = name[:MAX_NAME]
    return name


def sniff_image(head: bytes) -> str | None:
    """The media type of a PNG, JPEG, GIF or WebP image from its first bytes, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def content_type_for(name: str, head: bytes = b"") -> str:
    """The Content-Type to upload ``name`` with."""
    sniffed = sniff_image(head)
    if sniffed:
        return sniffed
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
