"""``AgentAdapter`` for an Agent Client Protocol agent (``gemini --acp``, ``codex-acp``, …).

One instance is one process lifetime, like the Claude adapter: ``start`` spawns the agent,
``initialize``s it and opens the session (``session/new`` in the repository, or
``session/load`` to continue an earlier one), ``send`` runs one ``session/prompt`` per turn,
``interrupt`` is ``session/cancel``. ``session/update`` notifications become the runtime's
events; ``session/request_permission`` goes to the owner through the same broker and prompt as
Claude's permission tool. JSON-RPC framing is the ``acp`` package's; the process is
``agents.process``'s.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import acp
from acp.connection import StreamDirection, StreamEvent
from acp.schema import (
    ClientCapabilities,
    HttpHeader,
    HttpMcpServer,
    ImageContentBlock,
    Implementation,
    TextContentBlock,
)
from pydantic import BaseModel

from agentchat.agents.acp.mapping import (
    choose_option,
    config_choices,
    follow_up,
    mode_choices,
    model_option,
    plan_text,
    tool_view,
    usage_event,
)
from agentchat.agents.adapter import AgentStartError, ControlError, Image, LaunchSpec
from agentchat.agents.controls import resolve_mode
from agentchat.agents.environment import Declared, agent_environment
from agentchat.agents.events import (
    AgentEvent,
    AssistantText,
    Choice,
    ModeChanged,
    ModelChanged,
    Notice,
    PartialText,
    Plan,
    ProcessExited,
    SessionStarted,
    ToolCall,
    ToolOutcome,
    TurnFinished,
)
from agentchat.agents.process import AgentProcess, until_exit
from agentchat.chat.format import tool_line
from agentchat.permissions.mcp_app import SECRET_HEADER, SERVER_NAME
from agentchat.permissions.model import Decision

log = logging.getLogger(__name__)

PermissionAsker = Callable[[str, dict[str, Any], str | None], Awaitable[Decision]]
"""(tool name, input, tool call id) → the owner's decision (the broker, for this agent)."""

NOTHING_MORE = Declared()  # only the basics every program gets
START_TIMEOUT = 180.0  # initialize + session/new: seconds, minutes on a loaded machine
REPLAY_QUIET = 0.3  # session/load may return before its history replay ends (Gemini CLI)
REPLAY_MAX = 3.0
_ERROR_STOPS = {"max_tokens": "the answer hit the token limit",
                "max_turn_requests": "the turn hit the agent's request limit",
                "refusal": "the model refused to continue"}


def _json(model: Any) -> dict[str, Any]:
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dict(model) if isinstance(model, Mapping) else {}


class AcpAdapter:
    """Runs one ACP agent process and exposes it as an ``AgentAdapter``."""

    def __init__(
        self,
        spec: LaunchSpec,
        argv: Sequence[str],
        *,
        label: str,
        ask: PermissionAsker,
        env: Mapping[str, str] | None = None,
        declared: Declared | None = None,
        mode: str = "",
        streaming: bool = True,
    ) -> None:
        self.spec = spec
        self.argv = list(argv)
        self.label = label  # "Gemini CLI": for the owner's messages
        self._ask = ask
        self._env = dict(env or {})
        self._declared = declared or NOTHING_MORE  # what it may inherit from our environment
        self._streaming = streaming
        self._mode = mode  # session/set_mode at every start ("" : the agent's own default)
        self._process = AgentProcess(label)
        self._conn: acp.ClientSideConnection | None = None
        self._queue: asyncio.Queue[AgentEvent] = asyncio.Queue()
        self.session_id = ""
        self.can_load = False
        self._images = False  # promptCapabilities.image
        self._turn: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._in_prompt = False
        self._cancelled = False
        self._text = ""  # the assistant's message so far
        self._seen_tools: set[str] = set()
        self._calls: dict[str, dict[str, Any]] = {}  # announced calls not shown yet
        self._follow_ups: list[str] = []
        self._last_update = 0.0
        self._prompt_sent = asyncio.Event()
        self._modes: tuple[Choice, ...] = ()  # session/new's modes.availableModes
        self._model_option = ""  # the configOptions id of the model choice, if offered
        self._commands: set[str] = set()  # available_commands_update names ("compact")
        self._switch: asyncio.Task[None] | None = None  # a mode switch after a plan's approval

    @property
    def pid(self) -> int | None:
        return self._process.pid

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        # Never agentchat's own environment (its secrets): the allow-list, then our values.
        env = {**agent_environment(os.environ, declared=self._declared, own=self.spec.env),
               **self._env}
        await self._process.spawn(self.argv, self.spec.cwd, env, sandbox=self.spec.sandbox)
        self._conn = acp.connect_to_agent(cast(acp.Client, _Client(self)), self._process.stdin,
                                          self._process.stdout, observers=[self._observe])
        self._watcher = asyncio.create_task(self._watch(), name=f"acp-{self.pid}")
        try:
            await asyncio.wait_for(self._open_session(), START_TIMEOUT)
        except Exception as exc:
            await self.stop(grace=1)
            tail = self._process.stderr_tail().strip()[-400:]
            why = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            raise AgentStartError(f"{self.label} did not start: {why}"
                                  + (f"\n{tail}" if tail else "")) from exc

    async def _open_session(self) -> None:
        assert self._conn is not None
        init = await self._conn.initialize(
            protocol_version=acp.PROTOCOL_VERSION,
            client_capabilities=ClientCapabilities(),  # no fs/terminal: the agent does its own
            client_info=Implementation(name="agentchat", version="0.1.0"),
        )
        caps = init.agent_capabilities
        self.can_load = bool(caps is not None and caps.load_session)
        prompts = caps.prompt_capabilities if caps is not None else None
        self._images = bool(prompts is not None and prompts.image)
        mcp = caps.mcp_capabilities if caps is not None else None
        servers = self._mcp_servers() if mcp is not None and mcp.http else []
        cwd = str(self.spec.cwd)
        if self.spec.resume and self.spec.session_id:
            if not self.can_load:
                self._notice(f"ℹ️ {self.label} cannot continue an earlier conversation after a "
                             "restart: this is a new session, it does not remember what was "
                             "said before.")
            else:
                try:
                    loaded = await self._conn.load_session(
                        cwd=cwd, session_id=self.spec.session_id, mcp_servers=servers)
                except Exception as exc:
                    log.warning("%s: session/load %s failed: %s", self.label,
                                self.spec.session_id, exc)
                    self._notice(f"ℹ️ {self.label} could not continue the earlier conversation "
                                 f"({_short(exc)}): this is a new session, it does not remember "
                                 "what was said before.")
                else:
                    await self._replay_settled()
                    self.session_id = self.spec.session_id
                    self._queue.put_nowait(SessionStarted(self.session_id))
                    await self._controls_offered(_json(loaded))
                    return
        new = await self._conn.new_session(cwd=cwd, mcp_servers=servers)
        self.session_id = new.session_id
        self._queue.put_nowait(SessionStarted(self.session_id))
        await self._controls_offered(_json(new))

    async def _controls_offered(self, session: dict[str, Any]) -> None:
        """The modes and model the session offers; the owner's choices applied again (they
        were made in an earlier process, or in the creation form)."""
        self._config_changed(session.get("configOptions"))  # before the modes: see runtime
        current, self._modes = mode_choices(session.get("modes"))
        if self._modes:
            self._queue.put_nowait(ModeChanged(current, self._modes))
        wanted = resolve_mode(self.spec.mode, self._modes) if self.spec.mode else None
        if self.spec.mode and wanted is None and self._modes:
            self._notice(f"ℹ️ {self.label} offers no mode '{self.spec.mode}' any more: "
                         f"staying in {self._mode or current or 'its default mode'}.")
        if wanted is None and self._mode:
            # The type's own mode where the owner chose none, at every start: e.g. Claude Code
            # over ACP starts in "auto", which asks nothing. Not set: the start fails.
            assert self._conn is not None
            await self._conn.set_session_mode(session_id=self.session_id, mode_id=self._mode)
            self._queue.put_nowait(ModeChanged(self._mode))
        elif wanted is not None and wanted.id != current:
            await self._try_mode(wanted.id)
        if self.spec.model and self._model_option:
            try:
                await self.set_model(self.spec.model)
            except ControlError as exc:
                self._notice(f"ℹ️ {self.label} did not switch to model {self.spec.model}: {exc}")

    def _config_changed(self, options: Any) -> None:
        """configOptions (session/new, set_config_option, config_option_update): the model."""
        found = model_option(options)
        if found is None:
            return
        self._model_option = str(found.get("id") or "")
        current, choices = config_choices(found)
        self._queue.put_nowait(ModelChanged(current, choices))

    # ----------------------------------------------------------------- controls

    async def set_mode(self, mode: str) -> str:
        if self._conn is None or self._process.exited.is_set():
            raise ControlError(f"{self.label} is not running")
        if not self._modes:
            raise ControlError(f"{self.label} offers no modes")
        try:
            await self._conn.set_session_mode(session_id=self.session_id, mode_id=mode)
        except Exception as exc:
            raise ControlError(_short(exc)) from None
        return mode

    async def set_model(self, model: str) -> str:
        if self._conn is None or self._process.exited.is_set():
            raise ControlError(f"{self.label} is not running")
        if not self._model_option:
            raise ControlError(f"{self.label} offers no model choice")
        try:
            answer = await self._conn.set_config_option(
                config_id=self._model_option, session_id=self.session_id, value=model)
        except Exception as exc:
            raise ControlError(_short(exc)) from None
        self._config_changed(_json(answer).get("configOptions"))
        return model

    async def _switch_mode(self, mode: str) -> None:
        await asyncio.sleep(0)  # after the permission answer is on its way
        await self._try_mode(mode)

    async def _try_mode(self, mode: str) -> None:
        """Switch; the owner hears it when the agent refuses."""
        try:
            self._queue.put_nowait(ModeChanged(await self.set_mode(mode)))
        except ControlError as exc:
            self._notice(f"ℹ️ {self.label} did not switch to mode {mode}: {exc}")

    @property
    def compact_prompt(self) -> str | None:
        """Codex offers ``/compact`` as a command of its own; others say nothing of it."""
        for name in ("compact", "compress"):
            if name in self._commands:
                return f"/{name}"
        return None

    def _mcp_servers(self) -> list[HttpMcpServer]:
        """agentchat's own MCP server (``send_file``), authenticated by this process's secret.

        Only for agents that declare ``mcpCapabilities.http``; the secret travels over the
        agent's stdin, never argv or a file.
        """
        if not self.spec.mcp_url or not self.spec.mcp_secret:
            return []
        header = HttpHeader(name=SECRET_HEADER, value=self.spec.mcp_secret)
        return [HttpMcpServer(type="http", name=SERVER_NAME, url=self.spec.mcp_url,
                              headers=[header])]

    async def _replay_settled(self) -> None:
        """Wait until the history replay of ``session/load`` is over (it is not shown)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + REPLAY_MAX
        self._last_update = loop.time()
        while loop.time() < end:
            quiet = loop.time() - self._last_update
            if quiet >= REPLAY_QUIET:
                return
            await asyncio.sleep(REPLAY_QUIET - quiet)  # bounded settle, not a wait for an event

    def _notice(self, text: str) -> None:
        self._queue.put_nowait(Notice(text))

    async def _watch(self) -> None:
        """Queue ``ProcessExited`` once the process is gone (after the turn's last events)."""
        await self._process.exited.wait()
        await self._process.drained()
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()
            with contextlib.suppress(BaseException):
                await self._turn
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
        self._flush_text()
        rc = self._process.returncode
        log.info("%s pid=%s exited rc=%s expected=%s", self.label, self.pid, rc,
                 self._process.stopping)
        self._queue.put_nowait(ProcessExited(rc, self._process.stderr_tail(),
                                             expected=self._process.stopping))

    async def stop(self, grace: float = 3.0) -> None:
        await self._process.stop(grace)
        if self._watcher is not None:
            await self._watcher

    def events(self) -> AsyncIterator[AgentEvent]:
        return until_exit(self._queue)

    # ----------------------------------------------------------------- turns

    @property
    def accepts_images(self) -> bool:
        return self._images

    async def send(self, text: str, images: Sequence[Image] = ()) -> None:
        if self._conn is None or self._process.exited.is_set():
            raise ConnectionError(f"{self.label} is not running")
        if self._turn is not None and not self._turn.done():
            raise RuntimeError("a turn is already running")
        self._cancelled = False
        self._follow_ups.clear()
        self._prompt_sent.clear()
        blocks: list[TextContentBlock | ImageContentBlock] = [
            TextContentBlock(type="text", text=text)]
        blocks += [ImageContentBlock(type="image", mime_type=i.media_type,
                                     data=base64.b64encode(i.data).decode("ascii"))
                   for i in images if self._images]
        turn = asyncio.create_task(self._run_turn(blocks), name=f"acp-turn-{self.pid}")
        self._turn = turn
        # Return once the prompt is on the wire, so a session/cancel sent next follows it.
        sent = asyncio.create_task(self._prompt_sent.wait())
        await asyncio.wait({sent, turn}, return_when=asyncio.FIRST_COMPLETED)
        sent.cancel()

    def _observe(self, event: StreamEvent) -> None:
        message = event.message
        if event.direction is StreamDirection.OUTGOING and message.get("method") == (
                "session/prompt"):
            self._prompt_sent.set()

    async def _run_turn(self, first: list[TextContentBlock | ImageContentBlock]) -> None:
        assert self._conn is not None
        prompts = [first]
        stop = "end_turn"
        try:
            while prompts:
                self._in_prompt = True
                try:
                    response = await self._conn.prompt(session_id=self.session_id,
                                                       prompt=list(prompts.pop(0)))
                finally:
                    self._in_prompt = False
                    self._flush_text()
                stop = str(response.stop_reason)
                if self._follow_ups and not self._cancelled:
                    prompts.append([TextContentBlock(type="text",
                                                     text="\n".join(self._follow_ups))])
                    self._follow_ups.clear()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if await self._process.wait_exit(1.0):
                return  # the process died: ProcessExited tells the owner
            log.warning("%s: session/prompt failed: %s", self.label, exc)
            self._queue.put_nowait(TurnFinished("error", True, _short(exc),
                                                session_id=self.session_id))
            return
        error = _ERROR_STOPS.get(stop)
        self._queue.put_nowait(TurnFinished(stop, error is not None, error or "",
                                            session_id=self.session_id))

    async def interrupt(self) -> str:
        if self._conn is None:
            raise ConnectionError(f"{self.label} is not running")
        self._cancelled = True
        await self._conn.cancel(session_id=self.session_id)
        return f"cancel-{uuid.uuid4().hex}"

    # ----------------------------------------------------------------- agent → us

    def _flush_text(self) -> None:
        if self._text.strip():
            self._queue.put_nowait(AssistantText(self._text))
        self._text = ""

    def _tool_started(self, call: dict[str, Any], *, now: bool = False) -> None:
        """Announce a tool call once, as soon as it says what it does: some agents (OpenCode)
        open it with a bare title and send the path and input in an update. ``now``: at the
        latest (a permission request, the call's end)."""
        call_id = str(call.get("toolCallId") or "")
        if call_id in self._seen_tools:
            return
        known = self._calls.setdefault(call_id, {})
        known.update({k: v for k, v in call.items() if v not in (None, "", [], {})})
        view = tool_view(known)
        if not view.input and not now:
            return
        self._seen_tools.add(call_id)
        self._calls.pop(call_id, None)
        self._flush_text()
        self._queue.put_nowait(ToolCall(call_id, view.name, view.input,
                                        line=tool_line(view.name, view.input,
                                                       str(self.spec.cwd))))

    def on_update(self, update: dict[str, Any]) -> None:
        self._last_update = asyncio.get_running_loop().time()
        kind = update.get("sessionUpdate")
        if kind == "current_mode_update" and isinstance(update.get("currentModeId"), str):
            self._queue.put_nowait(ModeChanged(update["currentModeId"]))
            return
        if kind == "config_option_update":
            self._config_changed(update.get("configOptions"))
            return
        if kind == "usage_update":
            self._queue.put_nowait(usage_event(update))
            return
        if kind == "available_commands_update":
            commands = update.get("availableCommands") or []
            self._commands = {str(c.get("name")) for c in commands if isinstance(c, dict)}
            return
        if not self._in_prompt:
            return  # a session/load history replay, or chatter between turns
        if kind == "agent_message_chunk":
            content = update.get("content") or {}
            if content.get("type") == "text" and isinstance(content.get("text"), str):
                self._text += content["text"]
                if self._streaming:
                    self._queue.put_nowait(PartialText(self._text))
        elif kind == "tool_call":
            self._tool_started(update)
        elif kind == "plan":
            self._queue.put_nowait(Plan(text=plan_text(update.get("entries"))))
        elif kind == "tool_call_update":
            status = update.get("status")
            self._tool_started(update, now=status in ("completed", "failed"))
            if status in ("completed", "failed"):
                output = update.get("rawOutput")
                self._queue.put_nowait(ToolOutcome(str(update.get("toolCallId") or ""),
                                                   "" if output is None else str(output)[:2000],
                                                   is_error=status == "failed"))

    async def on_permission(self, call: dict[str, Any], options: list[dict[str, Any]]
                            ) -> dict[str, Any]:
        self._tool_started(call, now=True)  # Gemini CLI asks before it announces the call
        view = tool_view(call)
        decision = await self._ask(view.name, view.input, call.get("toolCallId"))
        option = choose_option(options, decision)
        if decision.allowed and decision.mode:  # a plan approved with "yes edits"
            wanted = resolve_mode(decision.mode, self._modes)
            if wanted is not None:
                self._switch = asyncio.create_task(self._switch_mode(wanted.id))
        extra = follow_up(decision, str(call.get("title") or view.name))
        if extra is not None:
            self._follow_ups.append(extra)
        if option is None:
            return {"outcome": {"outcome": "cancelled"}}
        return {"outcome": {"outcome": "selected", "optionId": option}}


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    data = getattr(exc, "data", None)  # a JSON-RPC error's details say what went wrong
    details = data.get("details") if isinstance(data, dict) else None
    if isinstance(details, str) and details.strip():
        text = details.strip() if text in ("Internal error", "") else f"{text}: {details.strip()}"
    return text if len(text) <= 300 else text[:299] + "…"


class _Client:
    """The client side the ``acp`` connection calls into (agent → us requests)."""

    def __init__(self, adapter: AcpAdapter) -> None:
        self._adapter = adapter

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self._adapter.on_update(_json(update))

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> acp.RequestPermissionResponse:
        answer = await self._adapter.on_permission(_json(tool_call),
                                                   [_json(o) for o in options])
        return acp.RequestPermissionResponse.model_validate(answer)
