"""Faults and probes for the containment tests: read-only directories, processes' environments.

A read-only directory is a read-only bind mount (root ignores file modes, so chmod proves
nothing): the test process needs CAP_SYS_ADMIN, as root on the CI machine has.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def _mount(*args: str) -> None:
    """``mount``; a read-only remount is retried while a file under it is open for writing
    (the service's write-behind save, the CLI's transcript): the kernel then says "busy"."""
    for _ in range(50):
        done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
        if done.returncode == 0 or "busy" not in done.stderr:
            break
        time.sleep(0.1)  # a write in flight ends by itself; there is no event to await
    if done.returncode != 0:
        raise AssertionError(f"mount {' '.join(args)} failed (the test needs root): "
                             f"{done.stderr.strip()}")


@contextlib.contextmanager
def read_only(path: Path, *, writable: tuple[Path, ...] = ()) -> Iterator[None]:
    """``path`` read-only (EROFS) while inside; ``writable`` subdirectories stay writable.

    The writable ones are bound from a copy beside ``path`` (their content is kept there).
    """
    mounted: list[Path] = []
    try:
        _mount("--bind", str(path), str(path))
        mounted.append(path)
        _mount("-o", "remount,bind,ro", str(path))
        for sub in writable:
            store = path.parent / f"{path.name}-{sub.name}-rw"
            store.mkdir(exist_ok=True)
            _mount("--bind", str(store), str(sub))
            mounted.append(sub)
        yield
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (bwrap, its init, the CLI, the CLI's tools)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def argv_of(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def cli_pid(root: int, session_id: str) -> int:
    """The Claude CLI process (not bwrap) started for ``session_id`` under ``root``."""
    for pid in descendants(root):
        argv = argv_of(pid)
        if argv and Path(argv[0]).name != "bwrap" and any(session_id in a for a in argv):
            return pid
    raise AssertionError(f"no CLI process for session {session_id} under pid {root}")
