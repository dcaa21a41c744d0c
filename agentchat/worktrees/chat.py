"""What the chat shows of an agent's git work: ``diff`` (text or a .patch file) and what
became of its worktree when it ended (``quit``/``kill``).

Kept out of the runtime (which only routes the command) and of the service (which only wires):
git runs in the agent's own sandbox, so the policy comes from the service as a function.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from agentchat.agents.runtime import Agent
from agentchat.agents.sandbox import SandboxPolicy
from agentchat.chat.format import code_block
from agentchat.chat.textpolicy import one_line
from agentchat.oserrors import describe
from agentchat.state.model import AgentRecord
from agentchat.workspace import WorkspaceError
from agentchat.worktrees.git import (
    GitError,
    diff,
    remove_worktree,
    repo_info,
    tree_state,
    worktree_env,
)

log = logging.getLogger(__name__)

DIFF_CHAT_CHARS = 24_000  # of the patch in the chat (~7 messages); the rest: 'diff patch'

SandboxOf = Callable[[AgentRecord], SandboxPolicy | None]
SendFile = Callable[[Agent, Path, str], Awaitable[None]]  # (agent, directory, file name)


def diff_help(name: str) -> str:
    return f"Send 'diff patch' for the whole diff as a file ({name}.patch)."


class GitChat:
    def __init__(self, patches: Path, sandbox_of: SandboxOf, send_file: SendFile) -> None:
        self._patches = patches  # AGENT_CHAT_HOME/patches: each agent's latest .patch
        self._sandbox_of = sandbox_of
        self._send_file = send_file

    async def diff(self, agent: Agent, as_patch: bool) -> None:
        """The owner's ``diff`` (``diff patch``): the agent's changes, in the chat or as a file."""
        record = agent.record
        try:
            tree = agent.workdir()
        except WorkspaceError as exc:
            agent.say(f"⚠️ {exc}")
            return
        wt = record.worktree
        if wt is not None:
            base, env, what = wt.base, worktree_env(wt), f"Branch {one_line(wt.branch)}"
            since = f"since {wt.base[:10]}"
        else:
            if await repo_info(tree) is None:
                agent.say(f"'{one_line(record.repo)}' is not a git repository: there is no "
                          "diff to show.")
                return
            base, env, what = "HEAD", None, f"{one_line(record.repo)} (its own checkout)"
            since = "against HEAD"
        try:
            changes = await diff(tree, base, sandbox=self._sandbox_of(record), env=env)
        except GitError as exc:
            agent.say(f"⚠️ git diff failed: {exc}")
            return
        if not changes.patch.strip():
            agent.say(f"{what}: no changes {since}.")
            return
        if as_patch:
            await self._send_patch(agent, changes.patch)
            return
        text = (f"{what}, changes {since}:\n{code_block(changes.stat)}\n"
                f"{code_block(changes.patch[:DIFF_CHAT_CHARS])}")
        if len(changes.patch) > DIFF_CHAT_CHARS or changes.truncated:
            text += f"\n✂️ The diff is cut here. {diff_help(record.name)}"
        agent.say(text)

    async def _send_patch(self, agent: Agent, patch: str) -> None:
        folder = self._patches / agent.name
        name = f"{agent.name}-{time.strftime('%Y%m%d-%H%M%S')}.patch"
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            for old in folder.glob("*.patch"):
                old.unlink()
            (folder / name).write_text(patch, encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            agent.say(f"⚠️ Could not write the patch file: {describe(exc)}")
            return
        await self._send_file(agent, folder, name)

    async def ended(self, agent: Agent) -> str | None:
        """After ``quit``/``kill``: remove a clean worktree (and its branch when it has no
        commits of its own); keep a dirty one. Returns what to tell the owner."""
        wt = agent.record.worktree
        if wt is None:
            return None
        where = f"{wt.path} (branch {one_line(wt.branch)})"
        if not Path(wt.path).is_dir():
            await remove_worktree(wt, delete_branch=False)
            return f"🌿 Its worktree {where} was already gone."
        try:
            state = await tree_state(wt, self._sandbox_of(agent.record))
        except GitError as exc:
            log.warning("%s: cannot check its worktree: %s", agent.name, exc)
            return f"🌿 Could not check its worktree ({exc}); it is kept at {where}."
        if state.dirty:
            return (f"🌿 Its worktree has uncommitted changes and is kept: {where}. Review, "
                    f"commit or remove it there (git worktree remove).")
        await remove_worktree(wt, delete_branch=state.new_commits == 0)
        if state.new_commits:
            return (f"🌿 Its worktree was clean and is removed; branch {one_line(wt.branch)} "
                    f"is kept with {state.new_commits} commit(s) of its own.")
        return f"🌿 Its worktree was clean and is removed, and so is branch {one_line(wt.branch)}."
