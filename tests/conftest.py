"""Shared fixtures: one private Prosody per test session, its users and their XMPP clients."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from agentchat.prosody.embedded import EmbeddedProsody
from agentchat.service import Service
from tests.support.scripted_api import ScriptedAnthropic
from tests.support.service_harness import running_service
from tests.support.xmpp_client import ClientPool, UserAccount, wait_component_free

DOMAIN = "example.com"
COMPONENT_DOMAIN = "agents.example.com"
MUC_DOMAIN = "rooms.example.com"

_user_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProsody]:
    """A private Prosody (``example.com``, component ``agents.example.com``) for the session.

    ``prosody.settings`` has the ports and the component secret. Accounts and stored data live
    as long as the session; use fresh users from ``make_user`` in every test.
    """
    server = EmbeddedProsody.with_free_ports(
        tmp_path_factory.mktemp("prosody"), DOMAIN, COMPONENT_DOMAIN, secrets.token_hex(16),
        muc_domain=MUC_DOMAIN,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_user(prosody: EmbeddedProsody) -> Callable[[], UserAccount]:
    """Factory: registers a new ``user<N>@example.com`` with a random password."""

    def make() -> UserAccount:
        user = UserAccount(f"user{next(_user_numbers)}", DOMAIN, secrets.token_urlsafe(12))
        prosody.register(user.name, user.password)
        return user

    return make


@pytest.fixture
async def connect_client(prosody: EmbeddedProsody) -> AsyncIterator[ClientPool]:
    """``await connect_client(user)`` logs a ChatClient in; all are disconnected at teardown."""
    pool = ClientPool(prosody.c2s_host, prosody.settings.c2s_port)
    yield pool
    await pool.close()


@pytest.fixture
async def component_free(prosody: EmbeddedProsody) -> None:
    """Request this before connecting a component (e.g. starting the agentchat service).

    Prosody allows ONE connection for ``agents.example.com`` and refuses a second with
    ``conflict``. Tests must therefore stop their service (awaiting its disconnect) in teardown,
    and tests that connect a component wait here until Prosody has released the previous one.
    """
    s = prosody.settings
    await wait_component_free(
        prosody.component_host, s.component_port, s.component_domain, s.component_secret
    )


@pytest.fixture
async def api() -> AsyncIterator[ScriptedAnthropic]:
    """The scripted Anthropic API the real Claude CLI talks to."""
    async with ScriptedAnthropic() as server:
        yield server


@pytest.fixture
async def service(
    prosody: EmbeddedProsody, tmp_path: Path, api: ScriptedAnthropic, component_free: None
) -> AsyncIterator[Service]:
    """agentchat connected as agents.example.com, with repos another-repo and my-project."""
    async with running_service(prosody, tmp_path, api) as svc:
        yield svc
