from agentchat.commands import manager as c
from agentchat.manager.flow import AGENT_TYPES, CreateRequest, CreationFlow, advance


def test_verbs_and_aliases() -> None:
    assert c.parse_manager_command("help") == c.Help()
    assert c.parse_manager_command("  NEW ") == c.New()
    assert c.parse_manager_command("create") == c.New()
    assert c.parse_manager_command("list") == c.ListAgents()
    assert c.parse_manager_command("agents") == c.ListAgents()
    assert c.parse_manager_command("repos") == c.Repos()
    assert c.parse_manager_command("kill swift-fox") == c.Kill("swift-fox")
    assert c.parse_manager_command("status Swift-Fox") == c.Status("swift-fox")
    assert c.parse_manager_command("status") == c.Status(None)


def test_full_jid_is_accepted_as_a_name() -> None:
    assert c.parse_manager_command("kill swift-fox@agents.example.com") == c.Kill("swift-fox")


def test_malformed_commands_explain_usage() -> None:
    kill = c.parse_manager_command("kill")
    assert isinstance(kill, c.Invalid) and "kill <agent-name>" in kill.message
    two = c.parse_manager_command("kill a b")
    assert isinstance(two, c.Invalid)
    status = c.parse_manager_command("status a b")
    assert isinstance(status, c.Invalid) and "status <agent-name>" in status.message
    empty = c.parse_manager_command("   ")
    assert isinstance(empty, c.Invalid) and "help" in empty.message


def test_unknown_text_is_unknown() -> None:
    assert c.parse_manager_command("make me a sandwich") == c.Unknown("make me a sandwich")


def test_flow_type_repo_task() -> None:
    flow = CreationFlow(repos=["alpha", "beta"])
    reply = advance(flow, "1")
    assert reply.text == "Available repos: [1] alpha [2] beta"
    assert not reply.finished
    reply = advance(flow, "2")
    assert reply.text == "What's the initial task for the agent?"
    reply = advance(flow, "Fix the login bug in src/auth.ts")
    assert reply.finished
    task = "Fix the login bug in src/auth.ts"
    assert reply.done == CreateRequest(AGENT_TYPES[0][0], "beta", task)


def test_flow_accepts_names_and_rejects_out_of_range() -> None:
    flow = CreationFlow(repos=["alpha", "Beta"])
    assert "number from 1 to 1" in (advance(flow, "7").text or "")
    assert flow.step == "type"
    advance(flow, "claude code")
    assert flow.step == "repo"
    bad = advance(flow, "3")
    assert bad.text is not None and "number from 1 to 2" in bad.text and "[2] Beta" in bad.text
    advance(flow, "beta")
    assert flow.repo == "Beta"
    empty = advance(flow, "   ")
    assert not empty.finished and "cannot be empty" in (empty.text or "")


def test_cancel_leaves_the_flow_at_any_step() -> None:
    for steps in ([], ["1"], ["1", "1"]):
        flow = CreationFlow(repos=["alpha"])
        for step in steps:
            advance(flow, step)
        reply = advance(flow, "cancel")
        assert reply.finished and reply.done is None
        assert "Cancelled" in (reply.text or "")


def test_unicode_digits_and_text_at_a_numbered_choice_ask_for_a_number() -> None:
    for answer in ("²", "٣", "¹", "1²", "①", "x", "Ⅻ"):
        flow = CreationFlow(repos=["alpha", "beta"])
        reply = advance(flow, answer)
        assert (reply.text or "").startswith("Please answer with a number from 1 to 1"), answer
        assert flow.step == "type"
        advance(flow, "1")
        reply = advance(flow, answer)
        assert (reply.text or "").startswith("Please answer with a number from 1 to 2"), answer
        assert flow.step == "repo"
