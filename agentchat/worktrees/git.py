"""Git for agents: a worktree of its own per agent, its diff, and its removal.

Why worktrees: several agents on one repository would otherwise edit the same files. Each gets
``git worktree add`` on a new branch ``agentchat/<name>`` in a directory outside the repository
(under agentchat's home), works there, and ``diff`` shows only its own changes.

Every git command agentchat runs passes through ``run_git``. Repositories are written by agents,
so whatever git could run from their configuration or attributes (hooks, fsmonitor, filters,
external diff drivers) must not run as agentchat: hooks and fsmonitor are switched off on the
command line, and the commands that read or write an agent's files (worktree creation, status,
diff) run inside a bubblewrap sandbox when the caller gives one. The worktree's ``.git`` file is
never trusted after creation: the directories it pointed to then are kept in the state and
given to git explicitly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from agentchat.agents.sandbox import SandboxPolicy, bwrap_argv
from agentchat.state.model import WorktreeRecord

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 60.0
BRANCH_PREFIX = "agentchat/"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree
DIFF_MAX_BYTES = 8 * 1024 * 1024  # read no more of a diff than this
_SPLIT = "\x00agentchat-diff\x00"  # between the --stat part and the patch

# Never run a program the repository names: hooks (also the reference-transaction hook of a
# branch deletion), fsmonitor, a pager; no colours in what we parse.
HARDENING = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
             "-c", "core.pager=cat", "-c", "color.ui=false", "-c", "advice.detachedHead=false")


class GitError(Exception):
    """A git command that failed; ``str()`` is one line for the chat."""


@attrs.frozen
class RepoInfo:
    top: Path  # the repository's top level (the repository directory itself)
    common_dir: Path  # its .git directory
    head: str | None  # the commit checked out; None when it has no commit yet


@attrs.frozen
class TreeState:
    dirty: bool  # changed or untracked (not ignored) files
    new_commits: int  # commits on the branch that no other branch has


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment, never agentchat's own: a filter or driver the repository
    configures runs with it (in the sandbox, but agentchat's secrets must not go along). No
    GIT_* of ours (they would redirect git), English, no prompts; ``extra`` on top."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": os.environ.get("HOME", "/"),
           "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    env.update(extra or {})
    return env


async def run_git(args: Sequence[str], *, cwd: Path, sandbox: SandboxPolicy | None = None,
                  env: Mapping[str, str] | None = None, script: str | None = None,
                  limit: int = 1024 * 1024) -> str:
    """``git <args>`` (or ``sh -c script`` with a hardened ``git`` function) in ``cwd``;
    stdout as text (at most ``limit`` bytes). Raises ``GitError`` with git's own last line."""
    git = ["git", *HARDENING]
    if script is not None:
        command = ["sh", "-c", f'git() {{ command {" ".join(git)} "$@"; }}\n{script}', "sh",
                   *args]
    else:
        command = [*git, *args]
    argv = bwrap_argv(sandbox, command, cwd) if sandbox is not None else command
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=str(cwd) if sandbox is None else None, env=_env(env),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None
    try:
        out, err = await asyncio.wait_for(_read(proc, limit), GIT_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise GitError(f"git did not finish within {GIT_TIMEOUT_S:g} s") from None
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        why = lines[-1] if lines else f"exit code {proc.returncode}"
        raise GitError(why.removeprefix("fatal: ").removeprefix("error: "))
    return out.decode(errors="replace")


async def _read(proc: asyncio.subprocess.Process, limit: int) -> tuple[bytes, bytes]:
    assert proc.stdout is not None and proc.stderr is not None
    err_task = asyncio.ensure_future(_tail(proc.stderr, 64 * 1024))
    out = b""
    while chunk := await proc.stdout.read(64 * 1024):
        if len(out) <= limit:  # beyond it, only drained so git can finish
            out += chunk[: limit + 1 - len(out)]
    err = await err_task
    await proc.wait()
    return out, err


async def _tail(stream: asyncio.StreamReader, keep: int) -> bytes:
    """The last ``keep`` bytes of a stream read to its end (git's error is its last line;
    a single read returned only its first chunk, and an unread pipe could stall git)."""
    data = b""
    while chunk := await stream.read(64 * 1024):
        data = (data + chunk)[-keep:]
    return data


# ---------------------------------------------------------------------------- repositories

async def repo_info(repo: Path) -> RepoInfo | None:
    """The git repository whose top level is ``repo``; None if ``repo`` is not one (a plain
    directory, also one inside some other repository)."""
    try:
        out = await run_git(["rev-parse", "--path-format=absolute", "--show-toplevel",
                             "--git-common-dir"], cwd=repo)
    except GitError:
        return None
    lines = out.splitlines()
    if len(lines) != 2 or Path(lines[0]).resolve() != repo.resolve():
        return None
    try:
        head = (await run_git(["rev-parse", "--verify", "-q", "HEAD^{commit}"],
                              cwd=repo)).strip() or None
    except GitError:
        head = None
    return RepoInfo(Path(lines[0]), Path(lines[1]), head)


def branch_for(name: str) -> str:
    return BRANCH_PREFIX + name


async def add_worktree(info: RepoInfo, dest: Path, branch: str,
                       sandbox: SandboxPolicy | None) -> WorktreeRecord:
    """``git worktree add -b <branch> <dest> HEAD``; ``sandbox`` (if any) must let git write
    the repository's .git directory and ``dest``, which is created empty here."""
    if info.head is None:
        raise GitError("the repository has no commit yet; a worktree starts from one")
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest.mkdir(mode=0o700)
    dest = dest.resolve()  # recorded resolved: each start checks it is still this directory
    try:
        await run_git(["worktree", "add", "-q", "-b", branch, str(dest), info.head],
                      cwd=info.top, sandbox=sandbox)
        pointer = (dest / ".git").read_text(encoding="utf-8").strip()
    except (GitError, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        await _prune(info.common_dir)
        raise GitError(str(exc)) from None
    git_dir = Path(pointer.removeprefix("gitdir:").strip())
    if not git_dir.is_absolute() or git_dir.resolve().parent != (
            info.common_dir / "worktrees").resolve():
        raise GitError(f"unexpected worktree pointer in {dest}/.git")
    (info.common_dir / "logs" / "refs" / "heads" / "agentchat").mkdir(parents=True,
                                                                      exist_ok=True)
    return WorktreeRecord(path=str(dest), repo=str(info.top), branch=branch,
                          git_dir=str(git_dir.resolve()),
                          common_dir=str(info.common_dir.resolve()), base=info.head)


def writable_git_paths(wt: WorktreeRecord) -> tuple[Path, ...]:
    """What git in the worktree writes besides the tree: its administrative directory, new
    objects, and its own branch (the ref and its log); the rest of .git stays read-only."""
    common = Path(wt.common_dir)
    paths = (Path(wt.git_dir), common / "objects", common / "refs" / "heads" / "agentchat",
             common / "logs" / "refs" / "heads" / "agentchat")
    return tuple(p for p in paths if p.is_dir())


def worktree_env(wt: WorktreeRecord) -> dict[str, str]:
    """git pointed at the worktree's directories as recorded, not where its .git file says."""
    return {"GIT_DIR": wt.git_dir, "GIT_COMMON_DIR": wt.common_dir, "GIT_WORK_TREE": wt.path}


async def tree_state(wt: WorktreeRecord, sandbox: SandboxPolicy | None) -> TreeState:
    """Dirty or not (in the agent's sandbox), and how many commits only its branch has."""
    status = await run_git(["status", "--porcelain", "--untracked-files=all"],
                           cwd=Path(wt.path), sandbox=sandbox, env=worktree_env(wt))
    return TreeState(bool(status.strip()), await _own_commits(wt))


async def _own_commits(wt: WorktreeRecord) -> int:
    ref = f"refs/heads/{wt.branch}"
    try:
        out = await run_git(["--git-dir", wt.common_dir, "rev-list", "--count", ref, "--not",
                             f"--exclude={wt.branch}", "--branches"], cwd=Path(wt.common_dir))
    except GitError:
        return 0  # the branch is gone
    return int(out.strip() or 0)


async def remove_worktree(wt: WorktreeRecord, *, delete_branch: bool) -> None:
    """Remove the (clean) worktree's directory and git's record of it; its branch too."""
    shutil.rmtree(wt.path, ignore_errors=True)
    await _prune(Path(wt.common_dir))
    if delete_branch:
        try:
            await run_git(["--git-dir", wt.common_dir, "branch", "-D", wt.branch],
                          cwd=Path(wt.common_dir))
        except GitError as exc:
            log.warning("could not delete branch %s: %s", wt.branch, exc)


async def _prune(common_dir: Path) -> None:
    try:
        await run_git(["--git-dir", str(common_dir), "worktree", "prune"], cwd=common_dir)
    except GitError as exc:
        log.warning("git worktree prune in %s failed: %s", common_dir, exc)


# ---------------------------------------------------------------------------- diff

# A throwaway index and object directory: new files are diffed too, and nothing is written
# into the repository (the real objects are read as alternates).
_DIFF_SCRIPT = """set -e
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
OBJ=$(git rev-parse --path-format=absolute --git-path objects)
BASE="$1"
if ! git rev-parse -q --verify "$BASE^{tree}" >/dev/null; then BASE=EMPTY; fi
export GIT_INDEX_FILE="$T/index" GIT_OBJECT_DIRECTORY="$T/objects"
export GIT_ALTERNATE_OBJECT_DIRECTORIES="$OBJ"
mkdir "$T/objects"
git read-tree "$BASE"
git add -A .
git diff --cached --no-ext-diff --no-textconv --stat=72 "$BASE"
printf 'SPLIT'
git diff --cached --no-ext-diff --no-textconv "$BASE"
""".replace("EMPTY", EMPTY_TREE).replace("SPLIT", _SPLIT.replace("\x00", "\\000"))


@attrs.frozen
class Diff:
    stat: str
    patch: str
    truncated: bool  # the patch was longer than DIFF_MAX_BYTES


async def diff(tree: Path, base: str, *, sandbox: SandboxPolicy | None,
               env: Mapping[str, str] | None = None) -> Diff:
    """Everything changed in ``tree`` since commit ``base`` (committed or not, new files
    included, ignored ones left out): ``git diff --stat`` and the patch."""
    out = await run_git([base], cwd=tree, sandbox=sandbox, env=env, script=_DIFF_SCRIPT,
                        limit=DIFF_MAX_BYTES + 1)
    stat, _, patch = out.partition(_SPLIT)
    truncated = len(out.encode()) > DIFF_MAX_BYTES
    return Diff(stat.rstrip("\n"), patch, truncated)
