"""Each agent's own home and Claude Code config directory.

Why: the CLI keeps its sessions, transcripts and settings in its config directory. Shared by
all agents (the service user's ``~/.claude``), any agent could read every other agent's
conversation and the operator's login; so every agent gets ``<its home>/.claude`` as
``CLAUDE_CONFIG_DIR``, kept under agentchat's home so that ``--resume`` finds the session after
a restart. What the operator set up once (a ``claude`` login, sessions of agents created before
they had their own directory) is carried over here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

CREDENTIALS = ".credentials.json"


def operator_config_dir(env: Mapping[str, str]) -> Path:
    """The CLI config dir agentchat's own user has (where a ``claude`` login is stored)."""
    return Path(env.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude").expanduser()


def prepare(home: Path, session_id: str, *, resume: bool,
            env: Mapping[str, str] | None = None) -> Path:
    """Create the agent's home and config dir (0700) and return the config dir.

    Raises ``OSError`` when they cannot be written (full or read-only disk).
    """
    operator = operator_config_dir(os.environ if env is None else env)
    config_dir = home / ".claude"
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _share_login(operator, config_dir)
    if resume:
        _adopt_session(operator, config_dir, session_id)
    return config_dir


def _share_login(operator: Path, config_dir: Path) -> None:
    """Copy the operator's login, refreshed at every start (agents cannot read the original)."""
    source = operator / CREDENTIALS
    target = config_dir / CREDENTIALS
    if source.is_file() and source.resolve() != target.resolve():
        shutil.copyfile(source, target)
        target.chmod(0o600)


def _adopt_session(operator: Path, config_dir: Path, session_id: str) -> None:
    """An agent created before it had its own config dir keeps its conversation on resume.

    The CLI stores a session as ``projects/<cwd as a name>/<id>.jsonl``; copy it over from the
    operator's config dir when the agent's own has none.
    """
    name = f"{session_id}.jsonl"
    if any((config_dir / "projects").glob(f"*/{name}")):
        return
    for found in (operator / "projects").glob(f"*/{name}"):
        target = config_dir / "projects" / found.parent.name / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(found, target)
        return
