"""``agentchat run``: start (optionally) a private Prosody, the service, and wait for a signal."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from agentchat.config.load import ConfigError, LoadedConfig, load_config
from agentchat.logging_setup import register_secret
from agentchat.prosody.embedded import EmbeddedProsody, ProsodySettings
from agentchat.prosody.ports import free_port
from agentchat.service import Service
from agentchat.state.store import StateError
from agentchat.web.page import PageSettings
from agentchat.web.site import WebClientError, find_converse_dist, write_site

log = logging.getLogger("agentchat")

SHUTDOWN_BUDGET = 9.0  # seconds; SIGTERM must end the process within 10 s


def _home(env: os._Environ[str] | dict[str, str]) -> Path:
    return Path(env.get("AGENT_CHAT_HOME") or "~/.agent-chat").expanduser()


def _port_or_free(preferred: int) -> int:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def _files_http_port() -> int:
    """The private server's HTTP port, 5280 if free: its upload service (files both ways) and
    the web client."""
    return _port_or_free(5280)


def _web_site(home: Path, domain: str, loaded: LoadedConfig, demo_jid: str) -> Path | None:
    """The web client's page under ``home/web`` (rewritten at every start), or None if it is
    switched off (``web.client``) or Converse.js is not installed (a warning says so)."""
    if not loaded.config.web.client:
        return None
    try:
        dist = find_converse_dist()
    except WebClientError as exc:
        log.warning("no web client: %s", exc)
        return None
    page = PageSettings(domain=domain, manager_jid=loaded.config.manager_jid, jid=demo_jid)
    return write_site(home / "web", page, dist, link=True)


def start_embedded(env: dict[str, str]) -> tuple[EmbeddedProsody, LoadedConfig, str, str]:
    """A private Prosody for a quick start: domain ``localhost``, a demo account, saved secrets,
    and (unless switched off) the web client.

    Returns the Prosody, the config pointing at it, and the demo JID and password.
    """
    home = _home(env)
    home.mkdir(parents=True, exist_ok=True)
    saved_path = home / "embedded.json"
    saved: dict[str, str] = {}
    if saved_path.exists():
        try:
            saved = json.loads(saved_path.read_text())
        except (OSError, json.JSONDecodeError):
            saved = {}
    secret = saved.get("componentSecret") or secrets.token_urlsafe(24)
    password = saved.get("demoPassword") or secrets.token_urlsafe(9)
    fd = os.open(saved_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"componentSecret": secret, "demoPassword": password}, fh)
    register_secret(secret)
    domain = env.get("XMPP_DOMAIN") or "localhost"
    component_port = free_port()
    base = Path(env.get("WORK_BASE_PATH") or "~/work").expanduser()
    base.mkdir(parents=True, exist_ok=True)
    overrides = dict(env)
    overrides.update(
        XMPP_HOST="127.0.0.1",
        XMPP_PORT=str(component_port),
        XMPP_DOMAIN=domain,
        XMPP_COMPONENT_SECRET=secret,
        WORK_BASE_PATH=str(base),
    )
    loaded = load_config(None, overrides)
    demo_jid = f"demo@{domain}"
    web_root = _web_site(home, domain, loaded, demo_jid)
    c2s_port = _port_or_free(5222)
    http_port = _files_http_port()  # files and, unless switched off, the web client
    while http_port in (c2s_port, component_port):
        http_port = free_port()
    settings = ProsodySettings(
        domain=domain,
        component_domain=f"agents.{domain}",
        component_secret=secret,
        c2s_port=c2s_port,
        component_port=component_port,
        c2s_interface=env.get("EMBEDDED_C2S_INTERFACE", "127.0.0.1"),
        http_port=http_port,
        muc_domain=f"rooms.{domain}",
        web_root=str(web_root) if web_root is not None else None,
    )
    prosody = EmbeddedProsody(home / "prosody", settings)
    prosody.start()
    prosody.register("demo", password)
    return prosody, loaded, demo_jid, password


async def serve(service: Service, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then shut down within the budget."""
    await service.start_background()
    await stop.wait()
    log.info("shutting down")
    try:
        await asyncio.wait_for(service.stop(), SHUTDOWN_BUDGET)
    except TimeoutError:
        log.error("shutdown took longer than %ss; exiting anyway", SHUTDOWN_BUDGET)


def run(loaded: LoadedConfig | None, log_level: str) -> int:
    """Run the service; ``loaded`` None means embedded mode (start a private Prosody)."""
    env = dict(os.environ)
    prosody: EmbeddedProsody | None = None
    try:
        if loaded is None:
            prosody, loaded, demo_jid, demo_password = start_embedded(env)
            s = prosody.settings
            print(
                f"agentchat: started a private Prosody for {s.domain} "
                f"(client port {s.c2s_port} on {s.c2s_interface}).\n"
                f"agentchat: log in with your XMPP client as {demo_jid} / password "
                f"{demo_password} (server {s.c2s_interface}, port {s.c2s_port}, no TLS),\n"
                f"agentchat: then chat with {loaded.config.manager_jid} and send 'help'.",
                flush=True,
            )
            if prosody.web_url is not None:
                print(f"agentchat: or chat in your browser: {prosody.web_url} "
                      f"(log in as {demo_jid} with the same password).", flush=True)
        return asyncio.run(_main(loaded))
    except ConfigError as exc:
        print(f"agentchat: config error: {exc}", file=sys.stderr)
        return 2
    except StateError as exc:
        print(f"agentchat: state error: {exc}", file=sys.stderr)
        print("agentchat: fix or move the file away; nothing was changed.", file=sys.stderr)
        return 2
    finally:
        if prosody is not None:
            prosody.stop()


async def _main(loaded: LoadedConfig) -> int:
    service = Service(loaded.config)
    if not service.sandbox.ok:
        print(f"agentchat: {service.sandbox.message}", file=sys.stderr)
        return 2
    if service.sandbox.bwrap is None:
        log.warning("%s", service.sandbox.message)
    else:
        log.info("%s", service.sandbox.message)
    for warning in service.load_state():
        log.warning("%s", warning)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("agentchat starting: component %s at %s:%s, manager %s",
             loaded.config.xmpp.component_domain, loaded.config.xmpp.host,
             loaded.config.xmpp.port, loaded.config.manager_jid)
    await serve(service, stop)
    return 0
