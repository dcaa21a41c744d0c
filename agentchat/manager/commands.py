"""Parsing of the manager's chat commands (pure: text in, command out)."""

from __future__ import annotations

import attrs


@attrs.frozen
class Help:
    pass


@attrs.frozen
class New:
    pass


@attrs.frozen
class ListAgents:
    pass


@attrs.frozen
class Repos:
    pass


@attrs.frozen
class Kill:
    name: str


@attrs.frozen
class Status:
    name: str | None  # None: a summary of all agents


@attrs.frozen
class Invalid:
    """A command we recognised but could not use; ``message`` says how to fix it."""

    message: str


@attrs.frozen
class Unknown:
    text: str


ManagerCommand = Help | New | ListAgents | Repos | Kill | Status | Invalid | Unknown

HELP_TEXT = """\
Commands:
  new (or create) – start a new agent: pick a type, a repository and a task
  list (or agents) – list your agents
  status <name> – status of one agent (status alone: all of them)
  kill <name> – force-stop an agent
  repos – list the repositories under the work directory
  help – this text
During 'new', send 'cancel' to stop."""


def _agent_name(word: str) -> str:
    """Accept ``swift-fox``, ``Swift-Fox`` or the full JID ``swift-fox@agents.example.com``."""
    return word.split("@", 1)[0].strip().lower()


def parse_manager_command(text: str) -> ManagerCommand:
    words = text.strip().split()
    if not words:
        return Invalid("Empty message. Send 'help' for the commands.")
    verb = words[0].lower().rstrip("!.?:")
    args = words[1:]
    if verb in ("help", "?", "h"):
        return Help()
    if verb in ("new", "create"):
        return New()
    if verb in ("list", "agents", "ls"):
        return ListAgents()
    if verb == "repos":
        return Repos()
    if verb == "kill":
        if len(args) != 1:
            return Invalid("Usage: kill <agent-name>  (e.g. kill swift-fox)")
        return Kill(_agent_name(args[0]))
    if verb == "status":
        if len(args) > 1:
            return Invalid("Usage: status <agent-name>  (or just 'status' for all agents)")
        return Status(_agent_name(args[0]) if args else None)
    return Unknown(text.strip())
