"""Repositories under ``work.basePath``, and the guarantee that an agent never leaves it."""

from __future__ import annotations

from pathlib import Path


class WorkspaceError(Exception):
    """A repository that does not exist or would lead outside the base path."""


def list_repos(base: Path) -> list[str]:
    """Directory names directly under ``base`` (hidden, undecodable and escaping ones left out)."""
    base = base.resolve()
    names = []
    try:
        entries = list(base.iterdir())
    except OSError as exc:
        raise WorkspaceError(f"cannot list {base}: {exc.strerror or exc}") from None
    for entry in entries:
        if entry.name.startswith(".") or not _decodable(entry.name):
            continue
        try:
            if entry.is_dir() and entry.resolve().is_relative_to(base):
                names.append(entry.name)
        except OSError:
            continue
    return sorted(names, key=str.lower)


def _decodable(name: str) -> bool:
    """A name that is not valid UTF-8 (lone surrogates here) can be neither shown nor stored."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def resolve_repo(base: Path, name: str) -> Path:
    """The absolute directory of repository ``name``; refuses anything outside ``base``."""
    base = base.resolve()
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise WorkspaceError(f"'{name}' is not a repository name")
    path = (base / name).resolve()
    if not path.is_relative_to(base) or path == base:
        raise WorkspaceError(f"'{name}' leads outside {base} (to {path})")
    if not path.is_dir():
        raise WorkspaceError(f"no repository '{name}' under {base}")
    return path


def recheck_repo(base: Path, name: str, recorded: str | Path) -> Path:
    """The agent's working directory, checked again before each start and resume.

    Why: the directory can change between creation and a later resume (a symlink to ``/``
    swapped in while the agent was stopped). It must still resolve inside ``base``, be a
    directory, and be the directory the agent was created in (the CLI's session is kept per
    directory, and the owner chose that one).
    """
    try:
        path = resolve_repo(base, name)
    except WorkspaceError as exc:
        raise WorkspaceError(f"the repository is not usable any more: {exc}") from None
    if path != Path(recorded):
        raise WorkspaceError(
            f"the repository is not usable any more: '{name}' now leads to {path}, "
            f"not to {recorded} where the agent was created"
        )
    return path
