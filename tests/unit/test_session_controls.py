"""Session controls: the chat's mode words over each backend's modes, the commands, the
plan's "yes edits", ACP's mode/model/usage shapes, and the runtime's mode/model/compact."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentchat.agents.acp.mapping import config_choices, mode_choices, model_option, usage_event
from agentchat.agents.adapter import LaunchSpec
from agentchat.agents.claude_code import build_argv
from agentchat.agents.controls import (
    CLAUDE_MODES,
    SessionControls,
    is_bypass,
    resolve_mode,
    resolve_model,
)
from agentchat.agents.events import (
    Choice,
    Compacted,
    ModeChanged,
    ModelChanged,
    TurnFinished,
    UsageReported,
)
from agentchat.agents.pool import ProcessPool
from agentchat.agents.runtime import Agent
from agentchat.commands.agent import AGENT_COMMANDS
from agentchat.permissions.answers import AllowEdits, Deny, parse_answer
from agentchat.permissions.model import Decision
from agentchat.state.model import AgentRecord
from tests.support.fakes import FakeAdapter, FakePort

GEMINI = (Choice("default", "Default", "Prompts for approval"),
          Choice("autoEdit", "Auto Edit", "Auto-approves edit tools"),
          Choice("yolo", "YOLO", "Auto-approves all tools"), Choice("plan", "Plan", "Read-only"))
CODEX = (Choice("read-only", "Read Only", "Approval is required to edit files"),
         Choice("auto", "Default", "Codex can read and edit files"),
         Choice("full-access", "Full Access", "access the internet without asking for approval"))
CLAUDE_ACP = (Choice("default", "Manual", "Always ask before making changes"),
              Choice("acceptEdits", "Accept edits", "Automatically accept all file edits"),
              Choice("plan", "Plan", "Create a plan before making changes"),
              Choice("auto", "Auto", "Claude handles permission decisions"),
              Choice("bypassPermissions", "Bypass permissions", "Accepts all permissions"))


@pytest.mark.parametrize(("word", "modes", "expected"), [
    ("ask", CLAUDE_MODES, "default"), ("edits", CLAUDE_MODES, "acceptEdits"),
    ("PLAN", CLAUDE_MODES, "plan"), ("acceptEdits", CLAUDE_MODES, "acceptEdits"),
    ("ask", GEMINI, "default"), ("edits", GEMINI, "autoEdit"), ("plan", GEMINI, "plan"),
    ("Auto Edit", GEMINI, "autoEdit"), ("ask", CODEX, "read-only"), ("auto", CODEX, "auto"),
    ("bypass", CODEX, "full-access"), ("edits", CODEX, None), ("nonsense", GEMINI, None),
])
def test_mode_words_map_onto_each_backends_modes(
    word: str, modes: tuple[Choice, ...], expected: str | None
) -> None:
    found = resolve_mode(word, modes)
    assert (found.id if found else None) == expected


def test_bypass_modes_are_recognised_by_id_and_by_what_they_say() -> None:
    assert [c.id for c in (*CLAUDE_MODES, *GEMINI, *CODEX) if is_bypass(c)] == [
        "bypassPermissions", "yolo", "full-access"]
    # claude-agent-acp 0.101.0's modes: its "auto" lets Claude decide, so it needs the operator
    assert [c.id for c in CLAUDE_ACP if is_bypass(c)] == ["auto", "bypassPermissions"]


def test_listing_marks_the_current_mode_and_what_the_operator_bars() -> None:
    controls = SessionControls()
    controls.apply(ModeChanged("autoEdit", GEMINI))
    text = controls.modes_text("Gemini CLI", allow_bypass=False)
    assert text.splitlines()[0] == "Mode: edits (autoEdit). Gemini CLI offers (mode <name>):"
    assert "▸ edits (autoEdit) – Auto-approves edit tools" in text
    assert ("  bypass (yolo) – Auto-approves all tools (not allowed here: agents.allowBypass)"
            in text)
    assert "not allowed" not in controls.modes_text("Gemini CLI", allow_bypass=True)
    controls.apply(ModeChanged("plan"))  # an update without the list keeps the list
    assert controls.modes == GEMINI and controls.mode == "plan"


def test_models_and_context_fill() -> None:
    controls = SessionControls()
    assert controls.models_text("Gemini CLI") == (
        "Model: unknown. Gemini CLI offers no model choice.")
    controls.apply(ModelChanged("", (Choice("sonnet", "Sonnet"), Choice("haiku", "Haiku"))))
    controls.apply(ModelChanged("claude-sonnet-5-5"))
    assert resolve_model("Haiku", controls.models) == Choice("haiku", "Haiku")
    assert resolve_model("gpt-4", controls.models) is None
    assert controls.model == "claude-sonnet-5-5" and len(controls.models) == 2
    assert controls.context_percent() is None and controls.context_line() is None
    controls.apply(UsageReported(context_tokens=68_000))
    controls.apply(UsageReported(context_window=200_000, total_tokens=90_000))
    assert controls.context_percent() == 34
    assert controls.context_line() == "Context: 68k of 200k tokens (34%)"
    controls.apply(Compacted(68_000, 3_100))
    assert controls.context_line() == "Context: 3.1k of 200k tokens (2%)"


@pytest.mark.parametrize(("text", "expected"), [
    ("mode", ("mode", "")), ("Mode plan", ("mode", "plan")), ("model haiku", ("model", "haiku")),
    ("model", ("model", "")), ("compact", ("compact", "")), ("compact.", ("compact", "")),
    ("model the data as a tree", None), ("compact the logs please", None), ("modes", None),
])
def test_control_commands_take_one_word(text: str, expected: tuple[str, str] | None) -> None:
    found = AGENT_COMMANDS.match(None, text)
    assert (None if found is None else (found.command.name, found.args or "")) == expected


def test_claude_starts_in_the_chosen_mode_and_model() -> None:
    spec = LaunchSpec(cwd=Path("/w"), session_id="s", resume=True, mode="edits", model="haiku")
    argv = build_argv(spec, "claude")
    assert "--permission-mode=acceptEdits" in argv and "--model=haiku" in argv
    plain = build_argv(LaunchSpec(cwd=Path("/w"), session_id="s"), "claude")
    assert not [a for a in plain if a.startswith(("--permission-mode", "--model"))]


@pytest.mark.parametrize("reply", ["yes edits", "yes, edits", "ok accept edits", "edits",
                                   "Yes edits!", "ab12 yes edits"])
def test_a_plan_approved_with_edits(reply: str) -> None:
    assert parse_answer(reply, ["ab12"], {"ab12": "plan"}) == AllowEdits("ab12")


def test_yes_edits_is_only_for_plans_and_sets_claudes_mode() -> None:
    assert parse_answer("yes edits", ["ab12"], {"ab12": "tool"}) == Deny(
        "ab12", "yes edits", explicit=False)
    allowed = Decision("allow", mode="edits").tool_result({"plan": "p"})
    assert allowed["updatedPermissions"] == [
        {"type": "setMode", "mode": "acceptEdits", "destination": "session"}]
    assert "updatedPermissions" not in Decision("allow").tool_result({"plan": "p"})


def test_acp_session_controls_shapes() -> None:
    assert mode_choices({"currentModeId": "default", "availableModes": [
        {"id": "default", "name": "Default"}, {"name": "no id"}]}) == (
        "default", (Choice("default", "Default"),))
    assert mode_choices(None) == ("", ())
    options = [{"id": "mode", "category": "mode", "type": "select", "options": []},
               {"id": "m", "category": "model", "type": "select", "currentValue": "b",
                "options": [{"value": "a", "name": "A"},
                            {"group": "g", "name": "G", "options": [{"value": "b"}]}]}]
    found = model_option(options)
    assert found is not None and found["id"] == "m"
    assert config_choices(found) == ("b", (Choice("a", "A"), Choice("b")))
    assert model_option([{"id": "effort", "category": "thought_level"}]) is None
    assert usage_event({"used": 10552, "size": 258400, "cost": {"amount": 0.5,
                                                                "currency": "USD"}}) == \
        UsageReported(context_tokens=10552, context_window=258400, cost_usd=0.5)
    assert usage_event({"used": None, "size": 0}) == UsageReported()


class ControlledAdapter(FakeAdapter):
    """A fake backend with modes and models: records the switches asked for."""

    def __init__(self, spec: LaunchSpec) -> None:
        super().__init__(spec)
        self.switches: list[tuple[str, str]] = []

    async def set_mode(self, mode: str) -> str:
        self.switches.append(("mode", mode))
        return mode

    async def set_model(self, model: str) -> str:
        self.switches.append(("model", model))
        return f"resolved-{model}"

    @property
    def compact_prompt(self) -> str | None:
        return "/compact"


class NoCompactAdapter(ControlledAdapter):
    @property
    def compact_prompt(self) -> str | None:
        return None


def make_agent(port: FakePort, *, allow_bypass: bool = False,
               adapter: type[ControlledAdapter] = ControlledAdapter) -> tuple[Agent, AgentRecord]:
    record = AgentRecord(name="swift-fox", owner="u@example.com", agent_type="claude-code",
                         repo="proj", cwd="/w/proj", task="t", session_id="sid",
                         created=0.0, last_active=0.0)

    def spec(rec: AgentRecord, resume: bool) -> LaunchSpec:
        return LaunchSpec(cwd=Path(rec.cwd), session_id=rec.session_id, resume=resume,
                          mode=rec.mode, model=rec.model)

    agent = Agent(record, port=port, pool=ProcessPool(5), adapter_factory=adapter,
                  spec_factory=spec, persist=lambda: None, idle_timeout=60,
                  allow_bypass=allow_bypass, label="Claude Code")
    return agent, record


async def started(agent: Agent) -> ControlledAdapter:
    assert await agent.start_process() is None
    adapter = FakeAdapter.instances[-1]
    assert isinstance(adapter, ControlledAdapter)
    adapter.emit(ModelChanged("", (Choice("sonnet", "Sonnet"), Choice("haiku", "Haiku"))))
    adapter.emit(ModeChanged("default", CLAUDE_MODES))
    return adapter


async def test_mode_and_model_switch_and_are_kept_for_the_next_start() -> None:
    port = FakePort()
    agent, record = make_agent(port)
    adapter = await started(agent)
    adapter.switches.clear()
    await agent.handle_owner_text("mode bypass")
    assert "agents.allowBypass" in port.bodies()[-1] and not adapter.switches
    await agent.handle_owner_text("mode edits")
    assert port.bodies()[-1] == ("Mode: edits (acceptEdits) – file edits go through, commands "
                                 "still ask.")
    await agent.handle_owner_text("model opus")
    assert port.bodies()[-1].startswith("Unknown model 'opus'.\nModel: unknown. Claude Code")
    await agent.handle_owner_text("model haiku")
    assert port.bodies()[-1] == "Model: resolved-haiku from the next turn on."
    assert adapter.switches == [("mode", "acceptEdits"), ("model", "haiku")]
    assert (record.mode, record.model) == ("acceptEdits", "haiku")
    assert port.presences[-1][3] == "ready · proj · edits"

    adapter.emit(UsageReported(context_tokens=34_000, context_window=100_000,
                               total_tokens=50_000))
    adapter.emit(UsageReported(total_tokens=60_000))
    adapter.emit(TurnFinished("success", False, cost_usd=0.02))  # this turn's (the adapter's)
    await port.wait_for(lambda: port.presences[-1][3] == "ready · proj · edits · ctx 34%")
    assert record.tokens_used == 60_000
    await agent.handle_owner_text("status")
    status = port.bodies()[-1]
    assert "Mode: edits (acceptEdits) · model: resolved-haiku" in status
    assert "Context: 34k of 100k tokens (34%)" in status
    assert "Turns: 1 · tokens used: 60k · cost so far: $0.0200" in status

    # a turn's cost adds up; a backend's running total (ACP usage_update) adds what is new
    adapter.emit(TurnFinished("success", False, cost_usd=0.01))
    adapter.emit(UsageReported(cost_usd=0.5))
    adapter.emit(UsageReported(cost_usd=0.75))
    await port.wait_for(lambda: record.turns == 2 and record.cost_usd > 0.7)
    await agent.handle_owner_text("status")
    assert "Turns: 2 · tokens used: 60k · cost so far: $0.7800" in port.bodies()[-1]

    await agent.stop_process(record.status)
    await agent.handle_owner_text("hello again")
    assert FakeAdapter.instances[-1].spec.mode == "acceptEdits"
    assert FakeAdapter.instances[-1].spec.model == "haiku"


async def test_compact_is_a_turn_and_its_result_is_shown() -> None:
    port = FakePort()
    agent, _ = make_agent(port)
    adapter = await started(agent)
    await agent.handle_owner_text("compact")
    assert adapter.sent == ["/compact"] and "🗜 Compacting the context…" in port.bodies()
    adapter.emit(Compacted(12_542, 3_060))
    adapter.emit(TurnFinished("success", False))
    await asyncio.wait_for(agent.turn_done.wait(), 5)
    assert "🗜 Context compacted: 12.5k → 3.1k tokens." in port.bodies()


async def test_compact_where_the_backend_has_none() -> None:
    port = FakePort()
    agent, _ = make_agent(port, adapter=NoCompactAdapter)
    adapter = await started(agent)
    await agent.handle_owner_text("compact")
    assert not adapter.sent
    assert port.bodies()[-1] == "Claude Code offers no way to compact its context from here."


async def test_a_model_the_backend_does_not_offer_is_said_with_the_list() -> None:
    port = FakePort()
    agent, record = make_agent(port)
    record.model = "gpt-17"  # typed into the creation form
    await started(agent)
    await port.wait_for(lambda: any("gpt-17" in b for b in port.bodies()))
    assert port.bodies()[-1].startswith(
        "ℹ️ Model 'gpt-17' is not one Claude Code offers. Model: unknown. Claude Code offers")
