"""Agents in group chats (XEP-0045): membership, who may instruct and approve, addressing."""
