"""Which presences are news: per contact, per user, per slot, until forgotten."""

from __future__ import annotations

from agentchat.xmpp.directory import PresenceInfo
from agentchat.xmpp.presence_memory import PresenceMemory

READY = PresenceInfo(True, None, "ready")
BUSY = PresenceInfo(True, "dnd", "working…")


def test_identical_presence_to_the_same_jid_is_not_news() -> None:
    memory = PresenceMemory()
    assert memory.is_news("fox", "a@x", "status", READY)
    assert not memory.is_news("fox", "a@x", "status", READY)
    assert memory.is_news("fox", "b@x", "status", READY)  # another user
    assert memory.is_news("owl", "a@x", "status", READY)  # another contact
    assert memory.is_news("fox", "a@x", "subscription", "subscribed")  # another slot
    assert memory.is_news("fox", "a@x", "status", BUSY)
    assert memory.is_news("fox", "a@x", "status", READY)  # changed back: news again


def test_forgetting_makes_it_news_again() -> None:
    memory = PresenceMemory()
    for user in ("a@x", "b@x"):
        memory.is_news("fox", user, "status", READY)
        memory.is_news("fox", user, "subscription", "subscribed")
    memory.forget("fox", "a@x", "status")  # a probe
    assert memory.is_news("fox", "a@x", "status", READY)
    assert not memory.is_news("fox", "a@x", "subscription", "subscribed")
    memory.forget_user("b@x")  # b went offline: availability only
    assert memory.is_news("fox", "b@x", "status", READY)
    assert not memory.is_news("fox", "b@x", "subscription", "subscribed")
    memory.forget("fox", "b@x")  # b unsubscribed: everything
    assert memory.is_news("fox", "b@x", "subscription", "subscribed")
    memory.clear()  # the stream dropped
    assert memory.is_news("fox", "a@x", "subscription", "subscribed")
