"""Agents that speak the Agent Client Protocol (Gemini CLI, Codex, …) behind ``AgentAdapter``."""

from agentchat.agents.acp.adapter import AcpAdapter, PermissionAsker

__all__ = ["AcpAdapter", "PermissionAsker"]
