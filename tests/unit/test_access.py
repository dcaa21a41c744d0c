"""AccessPolicy: who may talk to the component."""

from __future__ import annotations

import pytest

from agentchat.config.model import AccessConfig, Config, XmppConfig
from agentchat.xmpp.access import AccessPolicy


def policy(allowed: tuple[str, ...] = (), domain: str = "chat.example.com",
           component: str = "agents.chat.example.com") -> AccessPolicy:
    cfg = Config(
        xmpp=XmppConfig(domain=domain, component_domain=component, component_secret="s"),
        access=AccessConfig(allowed_jids=allowed),
    )
    return AccessPolicy.from_config(cfg)


@pytest.mark.parametrize(("jid", "ok"), [
    ("alice@chat.example.com", True),
    ("Alice@Chat.Example.COM", True),
    ("alice@chat.example.com.", True),
    ("alice@chat.example.com/phone", True),  # a resource never matters
    ("alice@evil.org", False),
    ("alice@sub.chat.example.com", False),
    ("chat.example.com", False),  # no local part
    ("@chat.example.com", False),
    ("", False),
    ("manager@agents.chat.example.com", False),  # our own component
    ("agents.chat.example.com", False),
    ("*@chat.example.com", False),
])
def test_default_is_every_account_of_the_domain(jid: str, ok: bool) -> None:
    assert policy().allows(jid) is ok


def test_explicit_list_replaces_the_default() -> None:
    p = policy(("Bob@Other.org", "*@friends.net"))
    assert p.allows("bob@other.org")
    assert p.allows("BOB@other.ORG")
    assert not p.allows("carol@other.org")
    assert p.allows("anyone@friends.net")
    assert p.allows("Anyone@FRIENDS.net")
    assert not p.allows("alice@chat.example.com")  # the domain default no longer applies


def test_component_domain_never_allowed_even_if_listed() -> None:
    p = policy(("*@agents.chat.example.com", "swift-fox@agents.chat.example.com"))
    assert not p.allows("swift-fox@agents.chat.example.com")
    assert not p.allows("x@AGENTS.chat.example.com")


def test_component_domain_default_when_config_has_none() -> None:
    p = policy(("*@agents.example.com",), domain="example.com", component="")
    assert p.component_domain == "agents.example.com"
    assert not p.allows("a@agents.example.com")


def test_malformed_entries_are_ignored_not_widened() -> None:
    p = policy(("nodomain", "@x.org", "ok@x.org"))
    assert p.allows("ok@x.org")
    assert not p.allows("nodomain@x.org")
    assert not p.allows("x.org")


def test_localpart_case_folding() -> None:
    p = policy(("STRASSE@x.org",))
    assert p.allows("strasse@x.org")
    assert p.allows("Strasse@X.org")
