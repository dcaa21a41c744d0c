"""In-memory stand-ins for unit tests of the agent runtime (no processes, no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from agentchat.agents.adapter import Image, LaunchSpec
from agentchat.agents.events import AgentEvent, ProcessExited


class FakeAdapter:
    """An adapter whose events the test emits; records what the runtime sends."""

    instances: ClassVar[list[FakeAdapter]] = []
    start_gate: ClassVar[asyncio.Event | None] = None  # set: start() waits for it (a slow CLI)

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self.sent: list[str] = []
        self.images: list[list[Image]] = []  # the images of each message, same order
        self.sent_event = asyncio.Event()
        self.interrupts = 0
        self.stopped = False
        self._events: asyncio.Queue[AgentEvent] = asyncio.Queue()
        FakeAdapter.instances.append(self)

    @property
    def pid(self) -> int | None:
        return 4242

    async def start(self) -> None:
        if FakeAdapter.start_gate is not None:
            await FakeAdapter.start_gate.wait()

    @property
    def accepts_images(self) -> bool:
        return self.spec.env.get("FAKE_ACCEPTS_IMAGES", "1") == "1"

    async def send(self, text: str, images: Sequence[Image] = ()) -> None:
        self.sent.append(text)
        self.images.append(list(images))
        self.sent_event.set()

    async def interrupt(self) -> str:
        self.interrupts += 1
        return f"req-{self.interrupts}"

    async def stop(self, grace: float = 3.0) -> None:
        self.stopped = True
        self.emit(ProcessExited(0, "", expected=True))

    def emit(self, event: AgentEvent) -> None:
        self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[AgentEvent]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, ProcessExited):
                return


class FakePort:
    """Records everything the domain says; ``wait_for`` awaits a matching chat message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []  # (from, to, body)
        self.presences: list[tuple[str, str, Any, Any, bool]] = []
        self.states: list[tuple[str, str, str]] = []
        self.subscriptions: list[tuple[str, str, str]] = []
        self.resources: list[str | None] = []  # the resource each message was sent from
        self.events: list[tuple[str, str]] = []  # ("message", body) / ("state", state) in order
        self._changed = asyncio.Condition()

    def _notify(self) -> None:
        async def bump() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(bump())

    def send_chat(self, from_local: str, to: str, body: str, *,
                  resource: str | None = None, msg_id: str | None = None) -> str:
        self.messages.append((from_local, to, body))
        self.resources.append(resource)
        self.events.append(("message", body))
        self._notify()
        return msg_id or f"m{len(self.messages)}"

    def send_link(self, from_local: str, to: str, url: str) -> str:
        self.messages.append((from_local, to, f"[link] {url}"))
        self.resources.append(None)
        self.events.append(("message", f"[link] {url}"))
        self._notify()
        return f"m{len(self.messages)}"

    def correct(self, from_local: str, to: str, original_id: str, body: str, *,
                resource: str | None = None, msg_id: str | None = None) -> str:
        self.messages.append((from_local, to, f"[correct {original_id}] {body}"))
        self.resources.append(resource)
        self.events.append(("message", f"[correct {original_id}] {body}"))
        self._notify()
        return msg_id or f"m{len(self.messages)}"

    def set_presence(self, local: str, to: str, *, show: Any, status: Any,
                     available: bool = True) -> None:
        self.presences.append((local, to, show, status, available))
        self._notify()

    def subscribe(self, local: str, to: str, nick: str) -> None:
        self.subscriptions.append((local, to, nick))

    def chat_state(self, from_local: str, to: str, state: Any) -> None:
        self.states.append((from_local, to, state))
        self.events.append(("state", state))

    def bodies(self) -> list[str]:
        return [m[2] for m in self.messages]

    async def wait_for(self, predicate: Any, timeout: float = 5) -> None:
        async def check() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(check(), timeout)
