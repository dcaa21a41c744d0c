"""Earlier sessions of the agents' CLIs (a terminal's ``claude``, Codex): listed and picked up."""
