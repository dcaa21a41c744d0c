"""The running service: the wiring root and its lifecycle (start, stop).

The parts, each with one role, get what they need through their constructors:
``agents.launch.Launcher`` (what one process start needs, per agent type),
``registry.AgentRegistry`` (the agents, their state, create and kill: the manager's host),
``routing.directory.AgentDirectory`` (the component's Directory) and
``routing.inbound.InboundRouter`` (the component's Inbound). The attributes below are
references to the parts (tests and tools reach into them).
"""

from __future__ import annotations

import asyncio
import logging

from agentchat.agents.launch import Launcher
from agentchat.agents.pool import ProcessPool
from agentchat.agents.presenter import PresenterPort
from agentchat.agents.runtime import AdapterFactory, Agent
from agentchat.agents.sandbox import SandboxStatus, detect
from agentchat.agents.types import offered_types
from agentchat.commands.adhoc import TableCommands
from agentchat.config.model import Config
from agentchat.files.chat import FileChat
from agentchat.files.transfer import FileTransfers
from agentchat.manager.bot import ManagerBot
from agentchat.oserrors import describe
from agentchat.permissions.audit import AuditLog
from agentchat.permissions.broker import PermissionBroker
from agentchat.permissions.chat_sink import ChatPermissionSink
from agentchat.permissions.mcp_app import RunningServer, build_app, serve
from agentchat.registry import AgentHooks, AgentRegistry
from agentchat.rooms.manager import RoomManager, RoomPresencePort
from agentchat.routing.directory import AgentDirectory
from agentchat.routing.inbound import InboundRouter, ManagerVoice
from agentchat.sessions.finder import SessionFinder
from agentchat.state.model import AgentStatus, ServiceState
from agentchat.state.saver import StateSaver
from agentchat.state.store import StateStore
from agentchat.worktrees.chat import GitChat
from agentchat.xmpp.access import AccessPolicy
from agentchat.xmpp.adhoc import AdHocCommands
from agentchat.xmpp.component import AgentComponent
from agentchat.xmpp.upload import UploadClient

log = logging.getLogger(__name__)


class Service:
    def __init__(
        self,
        config: Config,
        *,
        adapter_factory: AdapterFactory | None = None,
        agent_env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.agents: dict[str, Agent] = {}  # owned by the registry, read by the other parts
        self.store = StateStore(config.state_path)
        self.saver = StateSaver(self.store, lambda: self.registry.state)  # write-behind saves
        self.pool = ProcessPool(config.agents.max_concurrent)
        self.access = AccessPolicy.from_config(config)
        hooks = AgentHooks(self.agents, self.saver.save_now)
        self.directory = AgentDirectory(config.manager.username, self.agents, self.access,
                                        self.pool)
        self.component = AgentComponent(
            config.xmpp.component_domain,
            config.xmpp.component_secret,
            config.xmpp.host,
            config.xmpp.port,
            directory=self.directory,
        )
        # prompts go through each agent's presenter: never in the middle of a streamed answer
        self.sink = ChatPermissionSink(PresenterPort(self.component, hooks.presenter_of),
                                       hooks.refresh, hooks.plan_text,
                                       remind_after=config.mcp.permission_reminder_s,
                                       order_of=self.component.message_order,
                                       room_of=self._room_of)
        self.broker = PermissionBroker(
            self.sink,
            permission_timeout_s=config.mcp.permission_timeout_s,
            audit=AuditLog(config.audit_path),
            on_rules_changed=hooks.rules_changed,
            approvers=hooks.approvers_of,
        )
        # earlier sessions (sessions/resume) in the operator's dirs, the agents' templates
        self.sessions = SessionFinder(lambda: offered_types(config), dict(agent_env or {}))
        self.launcher = Launcher(config, detect(config.agents.sandbox), self.broker,
                                 templates=self.sessions.template_env, agent_env=agent_env)
        self.types = self.launcher.types  # agents.types
        self.file_chat = FileChat(FileTransfers(
            UploadClient(self.component, config.xmpp.domain, config.xmpp.component_domain),
            max_size=config.files.max_size, operator_hosts=config.files.download_hosts),
            self.agents, self.component.jid_of)
        self.git_chat = GitChat(config.home / "patches", self.launcher.git_sandbox,
                                self.file_chat.send_from)
        # group chats: their stanzas take this route before the 1:1 handling (agentchat/rooms)
        self.rooms = RoomManager(self.component, self.agents, self.broker, self.sink,
                                 self.saver.save_now)
        self.component.rooms = self.rooms
        self.registry = AgentRegistry(
            config, self.agents, store=self.store, saver=self.saver, access=self.access,
            pool=self.pool, launcher=self.launcher, sessions=self.sessions,
            adapter_factory=adapter_factory or self.launcher.make_adapter,
            broker=self.broker, port=RoomPresencePort(self.component, self.rooms),
            roster=self.component, file_chat=self.file_chat, git=self.git_chat,
            rooms=self.rooms, on_live_change=self._refresh_manager_presence,
        )
        say = ManagerVoice(self.component, config.manager.username)
        self.manager = ManagerBot(self.registry, say)
        # ad-hoc commands come from the same tables as the chat commands (agentchat/commands)
        self.component.entity.commands = AdHocCommands(TableCommands(self.manager, self.agents))
        self.inbound = InboundRouter(
            self.agents, manager=self.manager, say=say, directory=self.directory,
            announcer=self.component, notices=self.registry, broker=self.broker,
            sink=self.sink, rooms=self.rooms, file_chat=self.file_chat, saver=self.saver,
        )
        self.component.inbound = self.inbound
        self.mcp: RunningServer | None = None
        # the parts' entry points tests and tools use
        self.create_agent = self.registry.create_agent
        self.kill_agent = self.registry.kill_agent
        self.repos = self.registry.repos
        self.agent_home = self.launcher.agent_home
        self.known_users = self.directory.known_users

    @property
    def state(self) -> ServiceState:
        return self.registry.state

    @property
    def sandbox(self) -> SandboxStatus:
        return self.launcher.sandbox

    @sandbox.setter
    def sandbox(self, status: SandboxStatus) -> None:
        self.launcher.sandbox = status

    def _room_of(self, name: str) -> tuple[str, str] | None:
        """Where a prompt of ``name`` goes when its turn came from a group chat."""
        agent = self.agents.get(name)
        return self.rooms.place_of(name, agent.output.owner) if agent is not None else None

    def _refresh_manager_presence(self) -> None:
        """The manager's status counts running agents; owners see it change."""
        for user in self.directory.known_users():
            self.component.announce(self.directory.manager_contact(), user)

    # ------------------------------------------------------------------ lifecycle

    def load_state(self) -> list[str]:
        """Read the state; agents that were running are now stopped (their processes died)."""
        return self.registry.load()

    async def start(self, timeout: float = 30) -> None:
        """Serve MCP, connect and wait for the handshake (tests); raises TimeoutError."""
        await self._start_mcp()
        await self.component.start(timeout)

    async def start_background(self) -> None:
        """Serve MCP and connect; if Prosody is not up yet the component keeps retrying."""
        await self._start_mcp()
        self.component.connect()

    async def _start_mcp(self) -> None:
        self.mcp = await serve(build_app(self.broker, send_file=self.file_chat.tool),
                               self.config.mcp.port)
        self.launcher.mcp_port = self.mcp.port
        log.info("permission tool listening on %s", self.mcp.url)

    async def stop(self) -> None:
        """Stop every process (agents stay resumable), persist, go offline."""
        await self.broker.aclose()  # pending prompts are denied: nobody will answer them now
        for agent in list(self.agents.values()):
            if agent.live:
                agent.say("agentchat is shutting down; send a message after it is back "
                          "to resume.")
        await asyncio.gather(
            *(a.stop_process(AgentStatus.STOPPED) for a in self.agents.values() if a.live),
            return_exceptions=True,
        )
        self.rooms.go_offline()
        for agent in self.agents.values():
            if agent.record.owner_revoked:
                continue
            self.component.set_presence(agent.name, agent.owner, show=None,
                                        status="agentchat stopped", available=False)
        for user in self.directory.known_users():
            self.component.set_presence(self.config.manager.username, user, show=None,
                                        status="agentchat stopped", available=False)
        await self.saver.flush()
        try:
            self.saver.save_now()
        except OSError as exc:  # a full or read-only disk must not turn a stop into a crash
            log.error("could not save the state to %s on shutdown: %s; changes since the last "
                      "successful save are lost", self.store.path, describe(exc))
        await self.component.close()
        if self.mcp is not None:
            await self.mcp.stop()

