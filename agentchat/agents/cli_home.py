"""Each agent's own home and its CLI's config directories (Claude Code, Gemini CLI, Codex).

Why: a CLI keeps its sessions, transcripts and settings in its config directory. Shared by
all agents (the service user's ``~/.claude``, ``~/.gemini``, ``~/.codex``), any agent could read
every other agent's conversation and the operator's login; so every agent gets its own copy
inside its own home (``<its home>/.claude`` as ``CLAUDE_CONFIG_DIR``, ``<its home>/.codex`` as
``CODEX_HOME``, ``<its home>/.gemini``), kept under agentchat's home so that ``--resume`` and
``session/load`` find the session after a restart. What the operator set up once (a login, a
model provider's config, sessions of Claude agents created before they had their own directory)
is copied over from the configured directory (the template) at every start: the sandbox hides
the originals.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

CREDENTIALS = ".credentials.json"


@attrs.frozen
class ConfigDir:
    """A CLI config directory each agent has its own copy of (declared per agent type).

    ``name``: where it lives in a home (``.codex``). ``env``: the variable that names it
    (``CODEX_HOME``), set to the agent's copy; its configured value, if any, is the template
    (else ``<configured HOME>/<name>``). ``files``: copied from the template at every start.
    ``sessions``: see ``import_files``.
    """

    name: str
    env: str = ""
    files: tuple[str, ...] = ()
    # where a session's files are, relative to the dir: a glob with ``{id}`` (Codex: its
    # rollout files); an agent picking up a session gets a copy of these (``import_files``)
    sessions: str = ""

    def template(self, env: Mapping[str, str]) -> Path:
        if self.env and env.get(self.env):
            return Path(env[self.env]).expanduser()
        return Path(env.get("HOME") or Path.home()).expanduser() / self.name


def prepare_dirs(home: Path, dirs: Iterable[ConfigDir], template_env: Mapping[str, str]
                 ) -> dict[str, str]:
    """Create ``home`` and each dir in it (0700), copy the templates' files; returns the
    variables that point at the agent's copies (``{"CODEX_HOME": …}``).

    ``template_env``: the configured environment (the type's ``env`` over agentchat's), whose
    ``HOME`` and ``dir.env`` name the templates. Raises ``OSError`` when the home cannot be
    written (full or read-only disk).
    """
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    out = {}
    for spec in dirs:
        own = home / spec.name
        own.mkdir(parents=True, exist_ok=True, mode=0o700)
        _copy_files(spec.template(template_env), own, spec.files)
        if spec.env:
            out[spec.env] = str(own)
    return out


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
    _copy_files(operator, config_dir, (CREDENTIALS,))
    if resume:
        _adopt_session(operator, config_dir, session_id)
    return config_dir


def _copy_files(template: Path, own: Path, files: Iterable[str]) -> None:
    """Copy the operator's login and settings, refreshed at every start (agents cannot read
    the originals); files the template does not have are left alone (the agent may have
    written its own)."""
    for name in files:
        source, target = template / name, own / name
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


def import_session(config_dir: Path, transcript: Path, project: str) -> Path:
    """Copy a session the operator ran elsewhere (a terminal's ``claude``) into an agent's own
    config dir, under ``projects/<project>/`` (the agent's working directory as the CLI names
    it), so that ``--resume <id>`` finds it; the CLI's per-session folder next to it (sub-agent
    transcripts, large tool results) comes along. Returns the copy.

    The copy is the agent's own: the terminal's transcript is never written by the agent, so
    the two continue separately from here. Raises ``OSError`` (full disk, unreadable file).
    """
    folder = config_dir / "projects" / project
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / transcript.name
    shutil.copyfile(transcript, target)
    target.chmod(0o600)
    extras = transcript.with_suffix("")
    if extras.is_dir() and not extras.is_symlink():
        shutil.copytree(extras, folder / extras.name, symlinks=True, dirs_exist_ok=True)
    return target


_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def session_files(dirs: Iterable[ConfigDir], template_env: Mapping[str, str],
                  session_id: str) -> list[tuple[Path, Path]]:
    """(config dir, file) of each of one session's files in the configured dirs (each dir's
    ``sessions`` glob); none for an id that could be read as a path or a pattern."""
    if not _SESSION_ID.match(session_id):
        return []
    out = []
    for spec in dirs:
        if not spec.sessions:
            continue
        template = spec.template(template_env)
        for found in template.glob(spec.sessions.format(id=session_id)):
            if not found.is_symlink() and found.is_file():
                out.append((template, found))
    return out


def import_files(home: Path, dirs: Iterable[ConfigDir], template_env: Mapping[str, str],
                 session_id: str) -> int:
    """Copy one session's files (``session_files``) from the configured dirs into the agent's
    own, at the same relative paths, so that ``session/load`` finds it there. Returns how many
    files were copied; raises ``OSError`` (full disk, unreadable file)."""
    names = {spec.template(template_env): spec.name for spec in dirs}
    copied = 0
    for template, found in session_files(dirs, template_env, session_id):
        target = home / names[template] / found.relative_to(template)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(found, target)
        target.chmod(0o600)
        copied += 1
    return copied
