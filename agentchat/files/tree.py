"""The agent's working tree, which the agent controls: safe writes into the inbox, safe reads out.

Why directory file descriptors: the agent can replace any folder of its tree by a symlink at any
moment. Every step here goes through file descriptors opened with ``O_NOFOLLOW``, so a write
lands in ``<tree>/.agentchat/inbox/`` and nowhere else, and a read returns a file that really is
inside the tree (checked on the open descriptor, after the open).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

AGENTCHAT_DIR = ".agentchat"
INBOX_DIR = "inbox"
INBOX = f"{AGENTCHAT_DIR}/{INBOX_DIR}"
GITIGNORE = "# Written by agentchat: files the owner sent from the chat. Not for commits.\n*\n"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeError(Exception):
    """The path is refused or the file system failed; ``str()`` is for the chat."""


def _open_dir(parent_fd: int, name: str) -> int:
    """``name`` in ``parent_fd`` as a directory fd, created if missing; never a symlink."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o755, dir_fd=parent_fd)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        raise TreeError(f"{name} in the working tree is not a plain folder ({exc.strerror})") \
            from None


class InboxFile:
    """One file being written into ``<tree>/.agentchat/inbox/``: ``write`` chunks, then
    ``commit`` (atomic: a hard link of the finished temp file) or ``abort``; a file is either
    complete under its final name or absent."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self._dir_fd: int | None = None
        self._fd: int | None = None
        self._tmp = f".part-{secrets.token_hex(8)}"
        self.size = 0

    def __enter__(self) -> InboxFile:
        try:
            root = os.open(self.tree, _DIR_FLAGS)
        except OSError as exc:
            raise TreeError(f"the working tree cannot be opened ({exc.strerror})") from None
        try:
            outer = _open_dir(root, AGENTCHAT_DIR)
        finally:
            os.close(root)
        try:
            _ensure_gitignore(outer)
            self._dir_fd = _open_dir(outer, INBOX_DIR)
        finally:
            os.close(outer)
        self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                           | os.O_CLOEXEC, 0o644, dir_fd=self._dir_fd)
        return self

    def write(self, chunk: bytes) -> None:
        assert self._fd is not None
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(chunk)

    def commit(self, name: str) -> str:
        """Give the file its name (``name``, or ``stem-2.ext``… if taken); returns the path
        relative to the tree."""
        assert self._fd is not None and self._dir_fd is not None
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        stem, dot, suffix = name.rpartition(".")
        if not dot or not stem:
            stem, dot, suffix = name, "", ""
        for n in range(1, 1000):
            candidate = name if n == 1 else f"{stem}-{n}{dot}{suffix}"
            try:
                os.link(self._tmp, candidate, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd,
                        follow_symlinks=False)
            except FileExistsError:
                continue
            self._remove_tmp()
            return f"{INBOX}/{candidate}"
        raise TreeError(f"too many files called {name} in {INBOX}")

    def _remove_tmp(self) -> None:
        if self._dir_fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp, dir_fd=self._dir_fd)

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._remove_tmp()

    def __exit__(self, *exc: object) -> None:
        self.abort()  # after commit only the temp name is gone already: nothing happens
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None


def _ensure_gitignore(outer_fd: int) -> None:
    """``.agentchat/.gitignore`` ignoring everything, so received files are never committed."""
    try:
        fd = os.open(".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o644, dir_fd=outer_fd)
    except FileExistsError:
        return
    except OSError as exc:
        raise TreeError(f"cannot write {AGENTCHAT_DIR}/.gitignore ({exc.strerror})") from None
    try:
        os.write(fd, GITIGNORE.encode())
    finally:
        os.close(fd)


class TreeFile:
    """A regular file of the tree, opened for reading (``fd``); close it when done."""

    def __init__(self, fd: int, path: Path, relative: str, size: int) -> None:
        self.fd = fd
        self.path = path
        self.relative = relative
        self.size = size

    def read_head(self, n: int = 64) -> bytes:
        return os.pread(self.fd, n, 0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> TreeFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_in_tree(tree: Path, path: str) -> TreeFile:
    """Open ``path`` (relative to ``tree``, or absolute inside it) for reading.

    Refused: anything that resolves outside the tree (``..``, symlinks pointing out, absolute
    paths elsewhere), folders, devices, FIFOs. The check is made again on the open descriptor,
    so swapping a folder for a symlink between the check and the open does not help.
    """
    wanted = path.strip()
    if not wanted:
        raise TreeError("which file? Say get <path>, a path inside the working tree")
    root = tree.resolve()
    target = (root / wanted).resolve()
    if not target.is_relative_to(root):
        raise TreeError(f"{wanted} is outside the working tree; only files inside "
                        f"{root.name} can be sent")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise TreeError(f"there is no file {wanted} in the working tree") from None
    except OSError as exc:
        raise TreeError(f"{wanted} cannot be read ({exc.strerror})") from None
    try:
        real = Path(os.readlink(f"/proc/self/fd/{fd}"))
        info = os.fstat(fd)
        if not real.is_relative_to(root):
            raise TreeError(f"{wanted} is outside the working tree")
        if stat.S_ISDIR(info.st_mode):
            raise TreeError(f"{wanted} is a folder; send one file at a time")
        if not stat.S_ISREG(info.st_mode):
            raise TreeError(f"{wanted} is not a regular file")
        return TreeFile(fd, real, str(real.relative_to(root)), info.st_size)
    except BaseException:
        os.close(fd)
        raise
