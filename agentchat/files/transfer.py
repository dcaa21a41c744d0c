"""Moving files between the chat and an agent's working tree over HTTP (XEP-0363 + XEP-0066).

``receive``: a link from the owner → checked against the ``DownloadPolicy`` (before any
connection) → streamed into the inbox with the size limit enforced while reading → complete
file or nothing. ``send``: a file of the tree → slot from the upload service as the agent's JID →
HTTP PUT streamed from the open file → the download URL, which the caller announces with OOB.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import httpx

from agentchat.files.media import (
    IMAGE_LIMIT,
    content_type_for,
    human_size,
    name_from_url,
    safe_name,
    sniff_image,
)
from agentchat.files.policy import DownloadPolicy, download_prefix
from agentchat.files.tree import InboxFile, TreeError, open_in_tree
from agentchat.xmpp.upload import UploadClient, UploadError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PROBE_NAME = "agentchat-probe.txt"


class FileRefused(Exception):
    """A transfer that did not happen; ``str()`` is the sentence for the chat."""


@attrs.frozen
class ReceivedFile:
    """A file the owner sent, saved in the agent's tree."""

    relative: str  # path relative to the working tree
    size: int
    media_type: str | None  # set for images the model can look at
    image: bytes | None = attrs.field(default=None, repr=False)  # the bytes, if small enough


@attrs.frozen
class SentFile:
    relative: str
    size: int
    url: str


class FileTransfers:
    def __init__(self, uploads: UploadClient, *, max_size: int,
                 operator_hosts: tuple[str, ...] = ()) -> None:
        self.uploads = uploads
        self.max_size = max_size
        self._operator_hosts = frozenset(operator_hosts)
        self._prefixes: set[str] = set()
        self._probed: set[str] = set()

    # ------------------------------------------------------------------ policy

    def _policy(self, service_jids: list[str]) -> DownloadPolicy:
        return DownloadPolicy(frozenset(j.lower() for j in service_jids),
                              frozenset(self._prefixes), self._operator_hosts)

    def _learn(self, get_url: str) -> None:
        prefix = download_prefix(get_url)
        if prefix is not None:
            self._prefixes.add(prefix)

    async def policy(self, url: str | None = None) -> DownloadPolicy:
        """The current policy; if ``url`` is not allowed yet, ask each upload service for a
        slot once (nothing is uploaded) to learn where its downloads live."""
        try:
            services = await self.uploads.services()
        except UploadError as exc:
            log.warning("upload service discovery failed: %s", exc)
            services = []
        policy = self._policy([s.jid for s in services])
        if url is None or policy.refusal(url) is None:
            return policy
        for service in services:
            if service.jid in self._probed:
                continue
            self._probed.add(service.jid)
            try:
                _, slot = await self.uploads.request_slot(
                    self.uploads.component_domain, PROBE_NAME, 1, "text/plain")
            except UploadError as exc:
                log.warning("could not learn the download address of %s: %s", service.jid, exc)
                continue
            self._learn(slot.get_url)
        return self._policy([s.jid for s in services])

    # ------------------------------------------------------------------ in

    async def receive(self, tree: Path, url: str) -> ReceivedFile:
        """Download the owner's link into ``tree``'s inbox; FileRefused says why not."""
        refusal = (await self.policy(url)).refusal(url)
        if refusal is not None:
            raise FileRefused(f"Not downloaded: {refusal}.")
        name = name_from_url(url)
        limit = self.max_size
        try:
            with InboxFile(tree) as inbox:
                async with (
                    httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False,
                                      trust_env=False) as client,
                    client.stream("GET", url) as response,
                ):
                    if response.status_code != 200:
                        raise FileRefused(f"Not downloaded: the upload service answered "
                                          f"HTTP {response.status_code}.")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise FileRefused(_too_big(int(declared), limit))
                    # Kept while small enough to show the model: read back from the tree, the
                    # file could already be a symlink the agent put there.
                    kept = bytearray()
                    async for chunk in response.aiter_bytes(CHUNK):
                        if inbox.size + len(chunk) > limit:
                            raise FileRefused(_too_big(None, limit))
                        if inbox.size + len(chunk) <= IMAGE_LIMIT:
                            kept += chunk
                        inbox.write(chunk)
                relative = inbox.commit(name)
        except TreeError as exc:
            raise FileRefused(f"Not saved: {exc}.") from None
        except httpx.HTTPError as exc:
            raise FileRefused(f"Not downloaded: {_http_why(exc)}.") from None
        except OSError as exc:
            raise FileRefused(f"Not saved: {exc.strerror or exc}.") from None
        media_type = sniff_image(bytes(kept[:64]))
        image = bytes(kept) if media_type is not None and inbox.size <= IMAGE_LIMIT else None
        log.info("received %s (%s) into %s", relative, human_size(inbox.size), tree)
        return ReceivedFile(relative, inbox.size, media_type, image)

    # ------------------------------------------------------------------ out

    async def send(self, tree: Path, path: str, uploader: str) -> SentFile:
        """Upload ``path`` of ``tree`` as ``uploader``; returns where it can be downloaded."""
        try:
            file = open_in_tree(tree, path)
        except TreeError as exc:
            raise FileRefused(f"Not sent: {exc}.") from None
        with file:
            if file.size > self.max_size:
                raise FileRefused(f"Not sent: {file.relative} has {human_size(file.size)}; the "
                                  f"limit is {human_size(self.max_size)} (files.maxSize).")
            name = safe_name(file.path.name)
            content_type = content_type_for(name, file.read_head())
            try:
                _, slot = await self.uploads.request_slot(uploader, name, file.size,
                                                          content_type)
            except UploadError as exc:
                raise FileRefused(f"Not sent: {exc}.") from None
            self._learn(slot.get_url)
            headers = {**dict(slot.headers), "Content-Type": content_type,
                       "Content-Length": str(file.size)}
            try:
                async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False,
                                             trust_env=False) as client:
                    response = await client.put(slot.put_url, headers=headers,
                                                content=_read_chunks(file.fd, file.size))
            except httpx.HTTPError as exc:
                raise FileRefused(f"Not sent: the upload failed ({_http_why(exc)}).") from None
            if response.status_code not in (200, 201):
                raise FileRefused(f"Not sent: the upload service answered HTTP "
                                  f"{response.status_code}.")
            log.info("uploaded %s (%s) as %s", file.relative, human_size(file.size), uploader)
            return SentFile(file.relative, file.size, slot.get_url)


async def _read_chunks(fd: int, size: int) -> AsyncIterator[bytes]:
    """Exactly ``size`` bytes of ``fd`` (the size announced in the slot), in chunks."""
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(CHUNK, size - offset), offset)
        if not chunk:
            raise OSError("the file became shorter while it was being uploaded")
        offset += len(chunk)
        yield chunk


def _too_big(size: int | None, limit: int) -> str:
    what = f"the file has {human_size(size)}" if size is not None else "the file is larger"
    return (f"Not downloaded: {what}; the limit is {human_size(limit)} (files.maxSize). "
            "Nothing was saved.")


def _http_why(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the transfer timed out"
    if isinstance(exc, httpx.ConnectError):
        return "the upload service cannot be reached"
    return type(exc).__name__
