"""Atomic, versioned persistence of ``ServiceState`` with a backup of the previous version.

Writes go to a temp file that is fsynced and renamed over ``state.json``; before that the
current file is kept as ``state.json.bak``. A corrupt or unreadable file is reported and the
backup is used; if both are bad we stop with a precise error instead of silently starting empty.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import attrs
import cattrs

from agentchat.state.model import SCHEMA_VERSION, ServiceState

log = logging.getLogger(__name__)

_converter = cattrs.Converter()


class StateError(Exception):
    """The state cannot be read; the message says which file and why."""


@attrs.frozen
class LoadResult:
    state: ServiceState
    warnings: tuple[str, ...] = ()


def _decode(path: Path) -> ServiceState:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise StateError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise StateError(f"{path}: expected a JSON object at the top level")
    version = data.get("version")
    if version != SCHEMA_VERSION:
        raise StateError(
            f"{path}: schema version {version!r} is not supported (expected {SCHEMA_VERSION})"
        )
    try:
        return _converter.structure(data, ServiceState)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = "; ".join(cattrs.transform_error(exc)) if isinstance(
            exc, cattrs.BaseValidationError
        ) else str(exc)
        raise StateError(f"{path}: invalid content: {detail}") from None


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode(state: ServiceState) -> str:
    """The state file's text: one line per agent (readable, and each line is encoded by the
    json module's C encoder, which ``indent`` would turn off: about 5 times the CPU, paid on every
    write-behind save while agents work)."""
    data = _converter.unstructure(state)
    agents = data.pop("agents")
    head = json.dumps(data, ensure_ascii=False)[:-1]  # without its closing brace
    lines = ",\n".join(json.dumps(a, ensure_ascii=False) for a in agents)
    return f'{head}{", " if data else ""}"agents": [\n{lines}\n]}}\n'


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup = path.with_name(path.name + ".bak")
        # (inode, size, mtime) of state.json as we last read or wrote it: while unchanged it is
        # known to parse; anything else is parsed before it may become the backup
        self._known: tuple[int, int, int] | None = None

    def load(self) -> LoadResult:
        """The newest readable state; a missing file is a fresh start, not an error."""
        if not self.path.exists() and not self.backup.exists():
            return LoadResult(ServiceState())
        try:
            if self.path.exists():
                result = LoadResult(_decode(self.path))
                self._known = _identity(self.path)
                return result
            primary_error = f"{self.path}: missing"
        except StateError as exc:
            primary_error = str(exc)
        if not self.backup.exists():
            raise StateError(f"{primary_error}; no backup at {self.backup}")
        try:
            state = _decode(self.backup)
        except StateError as exc:
            raise StateError(f"{primary_error}; backup unusable too: {exc}") from None
        warning = f"state file unusable ({primary_error}); recovered from {self.backup.name}"
        log.warning(warning)
        return LoadResult(state, (warning,))

    @staticmethod
    def _decodes(path: Path) -> bool:
        try:
            _decode(path)
        except StateError:
            return False
        return True

    def _keep_backup(self) -> None:
        """The current file becomes the backup without a moment in which state.json is
        missing (a reader then would find no state): a hard link renamed over the backup."""
        link = self.backup.with_name(self.backup.name + ".tmp")
        try:
            link.unlink(missing_ok=True)
            os.link(self.path, link)
            os.replace(link, self.backup)
        except OSError:  # no hard links on this filesystem: move it, as a last resort
            os.replace(self.path, self.backup)

    def sync(self) -> None:
        """Flush the state file and its directory (the rename) to the device."""
        _fsync(self.path)
        _fsync(self.path.parent)

    def save(self, state: ServiceState) -> None:
        self.write(encode(state))

    def write(self, text: str, *, fsync: bool = True) -> None:
        """Store ``encode(state)`` output; split from ``save`` so the fsyncs can run in a thread.

        ``fsync=False``: the caller flushes it to the device later (``sync``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode("utf-8", "backslashreplace"))  # lone surrogate: \udXXX
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        current = _identity(self.path)
        if current is not None and (current == self._known or self._decodes(self.path)):
            self._keep_backup()  # only a version that parses becomes the backup
        os.replace(tmp, self.path)
        self._known = _identity(self.path)
        if fsync:  # the rename too (else ``sync`` flushes the directory with the file)
            _fsync(self.path.parent)
