from agentchat.commands import manager as c
from agentchat.manager.flow import (
    AGENT_TYPES,
    CreateRequest,
    CreationFlow,
    OneLine,
    advance,
    parse_one_line,
    worktree_flag,
)


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
    assert reply.text == ("Available repos: [1] alpha [2] beta\n"
                          "(add 'wt' for a git worktree of its own, e.g. '1 wt')")
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


# ------------------------------------------------------------------ one-line 'new', worktrees

REPOS = ["another-repo", "my-project"]
TYPES = (("claude-code", "Claude Code"), ("gemini", "Gemini CLI"), ("codex", "Codex"))


def one(text: str) -> OneLine:
    return parse_one_line(text, REPOS, TYPES)


def test_new_with_words_is_parsed_later() -> None:
    assert c.parse_manager_command("new 2 fix the tests") == c.New("2 fix the tests")
    assert c.parse_manager_command("Create my-project x\n- y") == c.New("my-project x\n- y")


def test_one_line_repo_and_task_take_the_first_type() -> None:
    assert one("2 fix the tests") == OneLine("claude-code", "my-project", "fix the tests")
    assert one("My-Project fix it") == OneLine("claude-code", "my-project", "fix it")
    # a number after the repository starts the task (no second type-and-repo pair)
    assert one("2 9 bugs to fix") == OneLine("claude-code", "my-project", "9 bugs to fix")


def test_one_line_type_and_repo_by_number_or_name() -> None:
    assert one("gemini 2 write docs") == OneLine("gemini", "my-project", "write docs")
    assert one("2 1 go") == OneLine("gemini", "another-repo", "go")  # both numbers fit
    assert one("3 2") == OneLine("codex", "my-project", "")
    assert one("claude my-project go") == OneLine("claude-code", "my-project", "go")  # prefix
    assert one("Codex another-repo x") == OneLine("codex", "another-repo", "x")


def test_one_line_worktree_words_anywhere_before_the_task() -> None:
    assert one("wt 2 fix") == OneLine("claude-code", "my-project", "fix", True)
    assert one("2 wt fix") == OneLine("claude-code", "my-project", "fix", True)
    assert one("codex nowt 1 fix") == OneLine("codex", "another-repo", "fix", False)
    assert one("codex 1 --worktree fix wt later") == OneLine("codex", "another-repo",
                                                             "fix wt later", True)
    assert worktree_flag("WT") is True and worktree_flag("no-wt") is False
    assert worktree_flag("fix") is None
    # a repository called 'wt' is a repository, not the flag
    assert parse_one_line("wt fix", ["my-project", "wt"], TYPES) == OneLine(
        "claude-code", "wt", "fix")


def test_one_line_keeps_the_task_as_typed() -> None:
    assert one("2 wt  fix:\n- the tests\n- the docs ") == OneLine(
        "claude-code", "my-project", "fix:\n- the tests\n- the docs", True)


def test_one_line_without_a_task_leaves_it_empty() -> None:
    assert one("2") == OneLine("claude-code", "my-project", "")
    assert one("gemini 2 wt") == OneLine("gemini", "my-project", "", True)


def test_one_line_unknown_words_list_the_choices() -> None:
    unknown = one("nowhere fix it").error
    assert unknown is not None
    assert "'nowhere' is neither a repository nor an agent type" in unknown
    assert "Types: [1] Claude Code [2] Gemini CLI [3] Codex" in unknown
    assert "Repos: [1] another-repo [2] my-project" in unknown
    bad_repo = one("gemini nowhere fix").error
    assert bad_repo is not None and bad_repo.startswith("Unknown repository 'nowhere'.")
    assert "[2] my-project" in bad_repo
    assert one("gemini").error == "Which repository? Repos: [1] another-repo [2] my-project"
    assert "Usage: new <repo> <task…>" in (one("nowt").error or "")
    assert one("9 fix").error is not None  # out of range: neither


def test_flow_repo_answer_takes_the_worktree_word() -> None:
    flow = CreationFlow(repos=["alpha", "beta"], worktrees_default=True)
    reply = advance(flow, "1")
    assert reply.text is not None and "add 'nowt' to work in the repository itself" in reply.text
    advance(flow, "2 nowt")
    assert flow.repo == "beta" and flow.worktree is False
    done = advance(flow, "go")
    assert done.done == CreateRequest(AGENT_TYPES[0][0], "beta", "go", False)
    flow = CreationFlow(repos=["alpha", "beta"], step="repo", agent_type=AGENT_TYPES[0][0])
    advance(flow, "wt alpha")
    assert flow.repo == "alpha" and flow.worktree is True
