"""The commands people give the manager and their agents: one table per kind of contact.

Every command is one ``Command`` entry (base.py, after slidge's ``Command``): its chat verb and
aliases, its help line, and, when it has one, its XEP-0050 node, label and form. The chat
dispatch (``CommandTable.dispatch``), the ``help`` text (``CommandTable.help_text``) and the
ad-hoc command list (adhoc.py, served by agentchat.xmpp.adhoc) all come from the same entry, so
a verb can never exist in one place and be missing from another.

- base.py     ``Command``, ``Section``, ``CommandTable``: matching, help, node listing (pure)
- manager.py  the manager's table (``MANAGER_COMMANDS``) and handlers; ``ManagerCall`` is the
              handlers' argument (the bot and the user who asked)
- agent.py    an agent's table (``AGENT_COMMANDS``), group-chat commands included; handlers
              get the ``Agent``
- forms.py    the XEP-0004 forms of the ad-hoc commands
- adhoc.py    ``TableCommands``: the ``CommandProvider`` over both tables

Adding a command is one entry in the table plus its handler:

1. Write the handler next to the table: ``async def _mode(agent: Agent, args: X) -> str | None``
   returns what to say (None: it said everything itself). Make it call one method of the
   ``Agent`` / ``ManagerBot`` that does the work, so chat and ad-hoc share it.
2. Add ``Command("mode", "<help line>", _mode, usage="mode <name>", parse=...)`` to a
   ``Section``. ``parse(args, text)`` turns the words after the verb into the handler's
   argument; ``None`` means "not this command" (the text goes on, to the agent), ``Invalid(msg)``
   makes the chat say ``msg``. The default, ``alone``, accepts the verb with nothing after it.
3. For an ad-hoc node too: ``node="mode", label="Mode", execute=...`` (and ``submit=`` if
   ``execute`` returns an ``Ask`` with a form; the form goes into forms.py). ``offered`` hides
   the node when it makes no sense (an ended agent); ``applies`` removes the command entirely
   from a target that cannot have it.

The help text lists the entries in table order; the tests compare it with what users see.
"""
