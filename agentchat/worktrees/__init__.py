"""Git worktrees per agent: git operations (git.py), what the chat shows of them (chat.py)."""
