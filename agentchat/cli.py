"""Command line: ``agentchat run | check | prosody-config | web-client``.

Config errors end the process with one line and exit code 2 (never a traceback), so a
typo in config.json or the environment is obvious from the service manager's log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from agentchat.config.load import (
    ConfigError,
    LoadedConfig,
    check_env,
    is_configured,
    load_config,
)
from agentchat.logging_setup import LEVELS, register_secret, setup_logging

EXIT_CONFIG = 2
DEFAULT_WEB_ROOT = Path("/var/lib/agentchat/web")
PROG = "agentchat"

log = logging.getLogger("agentchat")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Drive Claude Code agents from XMPP through a Prosody component."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_help = "config file (default: $AGENT_CHAT_HOME/config.json, ~/.agent-chat)"

    run = sub.add_parser("run", help="run the service")
    run.add_argument("--config", type=Path, metavar="PATH", help=config_help)
    run.add_argument(
        "--log-level", default="info", type=str.lower, choices=LEVELS, metavar="LEVEL",
        help=f"one of {', '.join(LEVELS)} (default: info)",
    )

    check = sub.add_parser("check", help="check Prosody, claude, work.basePath and ports")
    check.add_argument("--config", type=Path, metavar="PATH", help=config_help)

    prosody = sub.add_parser(
        "prosody-config", help="print the Component block to add to prosody.cfg.lua"
    )
    prosody.add_argument("--config", type=Path, metavar="PATH", help=config_help)
    prosody.add_argument(
        "--web-root", type=Path, metavar="DIR", default=DEFAULT_WEB_ROOT,
        help=f"where the web client's files are (default: {DEFAULT_WEB_ROOT})",
    )

    web = sub.add_parser(
        "web-client", help="write the web client (Converse.js, preconfigured) into DIR",
    )
    web.add_argument("dir", type=Path, metavar="DIR",
                     help="a directory Prosody serves (created; rewritten if it exists)")
    web.add_argument("--config", type=Path, metavar="PATH", help=config_help)
    web.add_argument("--jid", default="", metavar="JID",
                     help="fill this address into the login form")
    web.add_argument("--https-port", type=int, metavar="PORT",
                     help="send browsers that come over plain HTTP to HTTPS on this port")
    web.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                     help="another origin the page may reach (e.g. the upload service's "
                          "https://files.example.com); repeatable")
    return parser


def _print_notices(loaded: LoadedConfig) -> None:
    for notice in loaded.notices:
        print(f"{PROG}: notice: {notice}", file=sys.stderr)


def _cmd_run(config_path: Path | None, log_level: str) -> int:
    setup_logging(log_level)
    env = os.environ
    loaded: LoadedConfig | None
    if is_configured(config_path, env):
        loaded = load_config(config_path, env)
        register_secret(loaded.config.xmpp.component_secret)
        notices = loaded.notices
    else:
        loaded = None  # embedded mode: the app starts a private Prosody
        notices = check_env(env)
    for notice in notices:
        log.warning("%s", notice)
    from agentchat import app  # late: keeps `check` usable while the app can't import

    return app.run(loaded, log_level)


def _cmd_check(config_path: Path | None) -> int:
    from agentchat.diagnostics.check import format_result, run_checks

    loaded = load_config(config_path, os.environ)
    _print_notices(loaded)
    source = str(loaded.config_file) if loaded.config_file else None
    results = asyncio.run(run_checks(loaded.config, config_source=source))
    for result in results:
        print(format_result(result))
    return 0 if all(r.ok for r in results) else 1


def _cmd_prosody_config(config_path: Path | None, web_root: Path) -> int:
    loaded = load_config(config_path, os.environ)
    _print_notices(loaded)
    from agentchat.prosody.config_text import render_component_block, render_web_client_block

    xmpp = loaded.config.xmpp
    text = render_component_block(xmpp.component_domain, xmpp.component_secret, xmpp.port,
                                  xmpp.domain)
    if loaded.config.web.client:
        text += "\n" + render_web_client_block(xmpp.domain, str(web_root.absolute()))
    print(text.rstrip("\n"))
    return 0


def _cmd_web_client(config_path: Path | None, dest: Path, jid: str,
                    https_port: int | None, origins: tuple[str, ...]) -> int:
    loaded = load_config(config_path, os.environ)
    _print_notices(loaded)
    from agentchat.web.page import PageSettings
    from agentchat.web.site import WebClientError, find_converse_dist, served_size, write_site

    try:
        dist = find_converse_dist()
    except WebClientError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    try:
        page = PageSettings(domain=loaded.config.xmpp.domain,
                            manager_jid=loaded.config.manager_jid, jid=jid,
                            https_port=https_port, allowed_origins=origins)
    except ValueError as exc:
        print(f"{PROG}: --allow-origin: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    write_site(dest, page, dist)
    print(f"{PROG}: wrote the web client for {page.domain} to {dest} "
          f"({served_size(dist) / 1e6:.1f} MB); serve it with Prosody: "
          f"see `{PROG} prosody-config`")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 check failed, 2 config/usage error)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args.config, args.log_level)
        if args.command == "check":
            return _cmd_check(args.config)
        if args.command == "prosody-config":
            return _cmd_prosody_config(args.config, args.web_root)
        return _cmd_web_client(args.config, args.dir, args.jid, args.https_port,
                               tuple(args.allow_origin))
    except ConfigError as exc:
        print(f"{PROG}: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
