"""What every benchmark gets: the world, the running service, the echo baseline, the results."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from agentchat.manager.flow import CreateRequest
from agentchat.service import Service
from bench.common import COMPONENT, REPO, Account, EchoComponent, Results, World


@dataclass
class Ctx:
    world: World
    service: Service  # fake (instant) agents on agents.bench.localhost
    echo: EchoComponent
    results: Results

    async def user(self, prefix: str = "u") -> Account:
        return await asyncio.to_thread(self.world.register, prefix)

    async def agent(self, owner: Account, task: str = "bench") -> str:
        """A live fake agent owned by ``owner``; its bare JID."""
        return await self.service.create_agent(owner.jid, CreateRequest("claude-code", REPO, task))

    def spec(self, mode: str, accounts: list[Account], **more: Any) -> dict[str, Any]:
        host, port = self.world.c2s
        return {"mode": mode, "host": host, "port": port,
                "accounts": [a.as_json() for a in accounts], **more}


MANAGER = f"manager@{COMPONENT}"
