"""The README's table of agent types, generated from the registry (``agents/types.py``).

``python -m agentchat.agents.readme`` rewrites the block between the markers in README.md;
a unit test checks that the README holds what this module generates, so a type's declared
capabilities and its documentation cannot drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agentchat.agents.types import AgentType, builtin_types

START = "<!-- agent-types:start -->"
END = "<!-- agent-types:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"
_BACKENDS = {"claude": "native (stream-json)", "acp": "ACP"}


def _yes(value: bool) -> str:
    return "✅" if value else "—"


def _launch(kind: AgentType) -> str:
    return "`" + " ".join((kind.command, *kind.args)) + "`"


def table(kinds: list[AgentType] | None = None) -> str:
    """The markdown table: one row per built-in type."""
    rows = [
        "| Type (`agents.types`) | Agent | Protocol | Runs | Install | Interrupt | Continue "
        "after restart | Modes | Model choice | Images |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in kinds if kinds is not None else builtin_types():
        caps = kind.capabilities
        rows.append(
            f"| `{kind.name}` | {kind.label} | {_BACKENDS.get(kind.backend, kind.backend)} | "
            f"{_launch(kind)} | `{kind.install}` | {_yes(caps.interrupt)} | "
            f"{_yes(caps.resume)} | {_yes(caps.modes)} | {_yes(caps.models)} | "
            f"{_yes(caps.images)} |")
    return "\n".join(rows)


def block() -> str:
    return f"{START}\n{table()}\n{END}"


def current(readme: Path = README) -> str | None:
    """The block as README.md has it now (None: no markers)."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start:end + len(END)]


def write(readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8")
    old = current(readme)
    if old is None:
        raise SystemExit(f"{readme}: no {START} … {END} block to rewrite")
    readme.write_text(text.replace(old, block()), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else README)
