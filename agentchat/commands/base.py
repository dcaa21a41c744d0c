"""A command, and a table of them: the one definition behind a chat verb, its help line and
its XEP-0050 node (after slidge's ``Command``, which backs both a chat command and an ad-hoc
command with one class).

Pure: the table matches text and writes help; what a command does is its handlers'.
``C`` is what the handlers act on: the manager with the user who asked (``ManagerCall``), or
one agent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import attrs

from agentchat.xmpp.adhoc import Step

C = TypeVar("C")

Values = dict[str, list[str]]  # a submitted XEP-0004 form


@attrs.frozen
class Invalid:
    """A command we recognised but could not use; ``message`` says how to fix it."""

    message: str


def alone(args: list[str], text: str) -> object | None:
    """The verb with nothing after it; anything more is not this command (it is a message)."""
    return () if not args else None


Parser = Callable[[list[str], str], Any]  # (words after the verb, whole text) -> args | None
ChatHandler = Callable[[C, Any], Awaitable[str | None]]  # the reply to say, or None
ExecuteHandler = Callable[[C], Awaitable[Step]]
SubmitHandler = Callable[[C, Values], Awaitable[Step]]


def _always(ctx: Any) -> bool:
    return True


@attrs.frozen
class Command(Generic[C]):
    """One command. Chat: ``name``/``aliases`` typed as the first word, ``parse`` turns the
    rest into the handler's argument (``None``: not this command after all, ``Invalid``: say
    how to use it), ``run`` does it and returns what to say. Help: ``usage`` (the verb as the
    help shows it) and ``help``; empty ``help`` means another command's line describes this one.
    Ad-hoc: ``node`` and ``label``; ``execute`` is the first stage, ``submit`` takes its form.
    """

    name: str  # the chat verb; "" for a command that exists only as an ad-hoc node
    help: str = ""
    run: ChatHandler[C] | None = None
    aliases: tuple[str, ...] = ()  # shown in the help: "new (or create)"
    hidden_aliases: tuple[str, ...] = ()  # accepted, not shown ("ls", "?")
    usage: str = ""  # e.g. "kill <name>"; the name by default
    parse: Parser = alone
    node: str = ""
    label: str = ""
    execute: ExecuteHandler[C] | None = None
    submit: SubmitHandler[C] | None = None
    applies: Callable[[C], bool] = _always  # false: this target has no such command at all
    offered: Callable[[C], bool] = _always  # false: its ad-hoc node is not listed right now

    @property
    def verbs(self) -> tuple[str, ...]:
        return (self.name, *self.aliases, *self.hidden_aliases) if self.name else ()

    def help_line(self) -> str:
        also = f" (or {', '.join(self.aliases)})" if self.aliases else ""
        return f"  {self.usage or self.name}{also} – {self.help}"


@attrs.frozen
class Section(Generic[C]):
    """A block of the help: a title line, a line per command, then a note."""

    title: str
    commands: tuple[Command[C], ...]
    note: str = ""


@attrs.frozen
class Match(Generic[C]):
    command: Command[C]
    args: Any  # what its parser returned (an ``Invalid`` to say instead of running)


@attrs.frozen
class CommandTable(Generic[C]):
    """The commands of one kind of contact, in help order.

    ``strip``: punctuation ignored at the end of the verb ("help?" , "stop!").
    ``menu``: the ad-hoc nodes in the order clients list them, when not the help's order.
    """

    sections: tuple[Section[C], ...]
    footer: str = ""
    strip: str = "!."
    menu: tuple[str, ...] = ()

    _by_verb: dict[str, tuple[Command[C], ...]] = attrs.field(init=False, eq=False,
                                                               repr=False)

    def __attrs_post_init__(self) -> None:
        # every message typed to an agent is first matched here: one dict lookup
        by_verb: dict[str, list[Command[C]]] = {}
        for command in self.commands:
            for verb in command.verbs:
                by_verb.setdefault(verb, []).append(command)
        object.__setattr__(self, "_by_verb", {v: tuple(c) for v, c in by_verb.items()})

    @property
    def commands(self) -> tuple[Command[C], ...]:
        return tuple(c for s in self.sections for c in s.commands)

    def match(self, ctx: C | None, text: str) -> Match[C] | None:
        """The command ``text`` is (``ctx`` None: whatever the target), or None."""
        words = text.split(None, 1)
        if not words:
            return None
        verb = words[0].lower().rstrip(self.strip)
        candidates = self._by_verb.get(verb)
        if candidates is None:
            return None
        words = text.strip().split()
        for command in candidates:
            if ctx is not None and not command.applies(ctx):
                continue
            args = command.parse(words[1:], text)
            if args is not None:
                return Match(command, args)
        return None

    async def dispatch(self, ctx: C, text: str, say: Callable[[str], None]) -> bool:
        """Run ``text`` as a chat command and say its reply; False when it is not one."""
        found = self.match(ctx, text)
        if found is None or found.command.run is None:
            return False
        if isinstance(found.args, Invalid):
            say(found.args.message)
            return True
        reply = await found.command.run(ctx, found.args)
        if reply is not None:
            say(reply)
        return True

    def help_text(self) -> str:
        lines: list[str] = []
        for section in self.sections:
            lines.append(section.title)
            lines.extend(c.help_line() for c in section.commands if c.help)
            if section.note:
                lines.append(section.note)
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)

    def nodes(self, ctx: C) -> list[Command[C]]:
        """The ad-hoc commands ``ctx`` offers now, in menu order."""
        found = [c for c in self.commands
                 if c.node and c.execute is not None and c.applies(ctx) and c.offered(ctx)]
        order = {node: i for i, node in enumerate(self.menu)}
        return sorted(found, key=lambda c: order.get(c.node, len(order)))

    def by_node(self, ctx: C, node: str) -> Command[C] | None:
        return next((c for c in self.nodes(ctx) if c.node == node), None)

