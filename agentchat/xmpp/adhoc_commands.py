"""The ad-hoc commands (XEP-0050) of the manager and of each agent: forms in, chat texts out.

No logic of its own: every command calls the same ManagerBot / Agent / broker methods the chat
commands use ("new", "list", "kill", "status", "stop", "quit", "yes/no/always"), and shows the
text the chat would have shown as the command's note. Only the forms are specific to here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentchat.agents.runtime import Agent
from agentchat.chat.textpolicy import one_line
from agentchat.manager.bot import ManagerBot
from agentchat.manager.flow import TASK_QUESTION, build_request
from agentchat.permissions.model import PermissionRequest
from agentchat.permissions.prompt_text import summary
from agentchat.state.model import AgentStatus
from agentchat.xmpp.adhoc import Ask, CommandInfo, Done, Step
from agentchat.xmpp.directory import Contact
from agentchat.xmpp.forms import Field, Form, Option, multi_line, single

MANAGER_COMMANDS = (
    CommandInfo("new-agent", "New agent"),
    CommandInfo("list-agents", "List agents"),
    CommandInfo("kill-agent", "Kill agent"),
    CommandInfo("agent-status", "Agent status"),
)
AGENT_COMMANDS = (
    CommandInfo("status", "Status"),
    CommandInfo("interrupt", "Interrupt"),
    CommandInfo("quit", "Quit"),
    CommandInfo("approvals", "Pending approvals"),
)
ENDED_AGENT_COMMANDS = (CommandInfo("status", "Status"),)

LEAVE = ""  # an approvals choice that leaves the request pending


class ServiceCommands:
    """A ``CommandProvider`` over the service's manager and agents (``agents`` is live)."""

    def __init__(self, manager: ManagerBot, agents: Mapping[str, Agent]) -> None:
        self._manager = manager
        self._agents = agents

    def list_commands(self, contact: Contact, sender: str) -> list[CommandInfo]:
        if contact.kind == "manager":
            return list(MANAGER_COMMANDS)
        agent = self._agents.get(contact.local)
        if agent is None:
            return []
        if agent.record.status is AgentStatus.ENDED:
            return list(ENDED_AGENT_COMMANDS)
        return list(AGENT_COMMANDS)

    async def execute(self, contact: Contact, sender: str, node: str) -> Step:
        if contact.kind == "manager":
            return await self._manager_execute(sender, node)
        return await self._agent_execute(self._agents[contact.local], node)

    async def submit(
        self, contact: Contact, sender: str, node: str, values: dict[str, list[str]]
    ) -> Step:
        if contact.kind == "manager":
            return await self._manager_submit(sender, node, values)
        return self._agent_submit(self._agents[contact.local], node, values)

    # ------------------------------------------------------------------ manager

    async def _manager_execute(self, user: str, node: str) -> Step:
        if node == "list-agents":
            return Done(self._manager.list_text(user))
        if node == "new-agent":
            refusal = self._manager.creation_refusal()
            if refusal is not None:
                return Done(refusal, "error")
            return Ask(self._new_agent_form())
        names = self._manager.agent_names(user)
        if not names:
            return Done("You have no agents. Send 'new' to create one.")
        if node == "kill-agent":
            return Ask(_agent_choice("Kill agent", "Force-stop one of your agents.", names))
        return Ask(_agent_choice("Agent status", "Which agent?", names))

    async def _manager_submit(self, user: str, node: str, values: dict[str, list[str]]) -> Step:
        if node == "new-agent":
            repos = self._manager.repos()
            request = build_request(single(values, "type"), _repo_of(single(values, "repo"), repos),
                                    multi_line(values, "task"), repos, self._manager.agent_types())
            if isinstance(request, str):
                return Ask(self._new_agent_form(), request, "error")
            reply = await self._manager.create(user, request)
            return Done(reply, "info" if reply.startswith("Agent ") else "error")
        name = single(values, "agent")
        if not name:
            return Done("No agent chosen.", "error")
        if node == "kill-agent":
            return Done(await self._manager.kill(user, name))
        return Done(self._manager.status_text(user, name))

    def _new_agent_form(self) -> Form:
        repos = self._manager.repos()
        types = self._manager.agent_types()
        return Form(
            title="New agent",
            instructions="Pick the agent type and the repository it works in, and give it "
                         "its first task.",
            fields=(
                Field("type", "list-single", "Type", values=(types[0][0],) if types else (),
                      options=tuple(Option(k, label) for k, label in types),
                      required=True),
                Field("repo", "list-single", "Repository",
                      options=tuple(Option(_repo_value(i, r), one_line(r))
                                    for i, r in enumerate(repos, 1)), required=True),
                Field("task", "text-multi", "Task", desc=TASK_QUESTION, required=True),
            ),
        )

    # ------------------------------------------------------------------ agent

    async def _agent_execute(self, agent: Agent, node: str) -> Step:
        if node == "status":
            return Done(agent.status_text())
        if node == "interrupt":
            return Done(await agent.interrupt())
        if node == "quit":
            await agent.end("quit")
            return Done(f"{agent.name} has shut down.")
        pending = agent.pending_requests()
        if not pending:
            return Done("No permission requests are waiting.")
        return Ask(_approvals_form(pending))

    def _agent_submit(self, agent: Agent, node: str, values: dict[str, list[str]]) -> Step:
        if node != "approvals":
            return Done("This command has no form.", "error")
        replies: list[str] = []
        for req in agent.pending_requests():
            choice = single(values, f"req-{req.id}")
            if choice == LEAVE:
                continue
            reply = agent.answer_permission(f"{req.id} {choice}")
            replies.append(reply or f"#{req.id}: '{choice}' is not an answer.")
        if not replies:
            return Done("Nothing decided; the requests are still waiting.")
        return Done("\n".join(replies))


def _agent_choice(title: str, instructions: str, names: list[str]) -> Form:
    return Form(title=title, instructions=instructions, fields=(
        Field("agent", "list-single", "Agent", options=tuple(Option(n, n) for n in names),
              required=True),
    ))


def _question_options(req: PermissionRequest) -> tuple[Option, ...] | None:
    """One single-choice question: its options; anything else is answered as text."""
    questions = [q for q in req.input.get("questions") or [] if isinstance(q, dict)]
    if len(questions) != 1 or questions[0].get("multiSelect"):
        return None
    options: list[Any] = questions[0].get("options") or []
    labels = [str(o.get("label", "")) if isinstance(o, dict) else str(o) for o in options]
    return tuple(Option(str(i), label) for i, label in enumerate(labels, 1))


def _approvals_form(pending: list[PermissionRequest]) -> Form:
    fields: list[Field] = []
    for req in pending:
        label = f"#{req.id} {summary(req)}"
        if req.kind == "question":
            options = _question_options(req)
            if options is not None:
                fields.append(Field(f"req-{req.id}", "list-single", label, values=(LEAVE,),
                                    options=(Option(LEAVE, "Leave waiting"), *options,
                                             Option("no", "Skip the question"))))
            else:
                fields.append(Field(f"req-{req.id}", "text-single", label, desc=(
                    "Option numbers as in the chat prompt (e.g. '2; 1,3'), or 'no'.")))
            continue
        choices = [Option(LEAVE, "Leave waiting"), Option("yes", "Approve")]
        if req.kind == "tool":
            choices.append(Option("always", "Always approve"))
        choices.append(Option("no", "Deny"))
        fields.append(Field(f"req-{req.id}", "list-single", label, values=(LEAVE,),
                            options=tuple(choices)))
    return Form(title="Pending approvals",
                instructions="Approve or deny each request; the agent continues at once.",
                fields=tuple(fields))


def _repo_value(index: int, repo: str) -> str:
    """A form value that survives the round trip: a name with characters the text policy
    changes (controls, line breaks) is sent as ``#<n>`` instead."""
    return repo if one_line(repo) == repo and not repo.startswith("#") else f"#{index}"


def _repo_of(value: str, repos: list[str]) -> str:
    number = value[1:]
    if value.startswith("#") and number.isascii() and number.isdigit():
        index = int(number)
        if 1 <= index <= len(repos) and _repo_value(index, repos[index - 1]) == value:
            return repos[index - 1]
    return value
