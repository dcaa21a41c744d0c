"""Files as the chat sees them: a link the owner shares goes into the agent's tree and to the
agent; ``get <path>`` and the agent's ``send_file`` tool send its owner a link.

Kept out of the service so the service only routes: it hands over the agent and the link.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from agentchat.agents.adapter import Image
from agentchat.agents.attachments import Attachment
from agentchat.agents.runtime import Agent
from agentchat.chat.textpolicy import guard_agent_text, one_line
from agentchat.files.media import human_size
from agentchat.files.transfer import FileRefused, FileTransfers, SentFile
from agentchat.permissions.mcp_app import FileToolError
from agentchat.state.model import AgentStatus
from agentchat.workspace import WorkspaceError


def _tree(agent: Agent) -> Path:
    """The agent's working tree, checked now: never a repository swapped for a symlink."""
    try:
        return agent.workdir()
    except WorkspaceError as exc:
        raise FileRefused(str(exc)) from None


class FileChat:
    def __init__(self, transfers: FileTransfers, agents: Mapping[str, Agent],
                 jid_of: Callable[[str], str]) -> None:
        self.transfers = transfers
        self._agents = agents
        self._jid_of = jid_of  # an agent's own JID: uploads are made as the agent

    async def received(self, agent: Agent, url: str, body: str) -> None:
        """The owner shared a file (a XEP-0066 link): into the agent's inbox, then to it."""
        if agent.record.status is AgentStatus.ENDED:
            await agent.deliver(body)  # says it has ended
            return
        try:
            received = await self.transfers.receive(_tree(agent), url)
        except FileRefused as exc:
            agent.say(f"⚠️ {exc}")
            return
        image = (Image(received.media_type, received.image)
                 if received.media_type and received.image is not None else None)
        await agent.handle_owner_file(Attachment(received.relative, received.size, image),
                                      body.replace(url, "").strip())

    async def _send(self, agent: Agent, path: str, caption: str = "",
                    tree: Path | None = None) -> SentFile:
        """Upload a file of ``agent``'s tree (or of ``tree``) as the agent and send its owner
        the link."""
        sent = await self.transfers.send(tree or _tree(agent), path, self._jid_of(agent.name))
        note = f"📎 {one_line(sent.relative)} ({human_size(sent.size)})"
        caption = guard_agent_text(caption.strip())  # the agent's words: cannot pose as a prompt
        agent.say(f"{note}\n{caption}" if caption else note)
        agent.presenter.link(sent.url)
        return sent

    async def get(self, agent: Agent, path: str, tree: Path | None = None) -> None:
        """The owner's ``get <path>``; ``tree``: a folder of files agentchat made for the
        owner (``diff patch``) instead of the agent's working tree."""
        try:
            await self._send(agent, path, tree=tree)
        except FileRefused as exc:
            agent.say(f"⚠️ {exc}")

    async def send_from(self, agent: Agent, folder: Path, name: str) -> None:
        """A file agentchat made for the owner, sent like ``get`` sends."""
        await self.get(agent, name, tree=folder)

    async def tool(self, name: str, path: str, caption: str) -> str:
        """The agent's ``send_file`` MCP tool; the result text is what Claude reads."""
        agent = self._agents.get(name)
        if agent is None:
            raise FileToolError("unknown agent")
        try:
            sent = await self._send(agent, path, caption)
        except FileRefused as exc:
            raise FileToolError(str(exc)) from None
        return f"Sent {sent.relative} ({human_size(sent.size)}) to the user: {sent.url}"
