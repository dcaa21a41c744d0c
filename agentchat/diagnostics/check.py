"""``agentchat check``: verify each external dependency and say precisely what is wrong.

Each check returns a ``CheckResult`` instead of raising, so one failure doesn't hide the
others. The XEP-0114 handshake is done by hand (asyncio streams + a pull parser) because it
is a few lines and lets us map each Prosody stream error to an actionable message.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import shutil
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import quoteattr

import attrs

from agentchat.agents.environment import agent_environment
from agentchat.agents.sandbox import agent_policy, bwrap_argv, detect
from agentchat.agents.types import AgentType, configured_types, package_version
from agentchat.config.model import Config
from agentchat.workspace import WorkspaceError, list_repos
from agentchat.xmpp import upload

MIN_CLAUDE_VERSION = (2, 1, 0)
STREAMS_NS = "http://etherx.jabber.org/streams"
STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"
COMPONENT_NS = "jabber:component:accept"
_WRONG_PORT = {"jabber:client": "client (c2s)", "jabber:server": "server-to-server (s2s)"}


@attrs.frozen
class CheckResult:
    name: str
    ok: bool
    message: str


def format_result(result: CheckResult) -> str:
    """One output line: ``ok   name: message`` or ``FAIL name: message``."""
    return f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.message}"


# --------------------------------------------------------------------------- prosody


class _HandshakeFailed(Exception):
    pass


def handshake_digest(stream_id: str, secret: str) -> str:
    """XEP-0114: lowercase hex SHA-1 of the stream id followed by the secret."""
    return hashlib.sha1((stream_id + secret).encode("utf-8")).hexdigest()


def stream_header(component_domain: str) -> bytes:
    return (
        "<?xml version='1.0'?>"
        f"<stream:stream xmlns='{COMPONENT_NS}' xmlns:stream='{STREAMS_NS}'"
        f" to={quoteattr(component_domain)}>"
    ).encode()


def explain_stream_error(condition: str, text: str, config: Config) -> str:
    """Turn a stream error condition into what the user should do about it."""
    domain = config.xmpp.component_domain
    detail = f" ({text})" if text else ""
    if condition == "host-unknown":
        return (
            f"Prosody does not know the component domain {domain}: add "
            f'Component "{domain}" with component_secret to its config '
            "(see `agentchat prosody-config`)" + detail
        )
    if condition == "not-authorized":
        return (
            f"Prosody rejected the component secret for {domain}: xmpp.componentSecret "
            "must equal component_secret in Prosody's config" + detail
        )
    if condition == "conflict":
        return f"component domain {domain} already connected (is agentchat already running?)"
    return f"Prosody closed the stream with error {condition}{detail}"


class _Stream:
    """Reads a stream one top-level element at a time (tracks depth across calls)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(
            events=("start-ns", "start", "end")
        )
        self.depth = 0
        self.default_ns: str | None = None  # the stream's xmlns: tells which port we hit

    async def next(self, timeout: float) -> tuple[str, ET.Element]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # Items are (event, Element), or (event, (prefix, uri)) for start-ns.
            events = cast("Iterator[tuple[str, Any]]", self.parser.read_events())
            for event, item in events:
                if event == "start-ns":
                    prefix, uri = item
                    if self.depth == 0 and prefix == "":
                        self.default_ns = uri
                elif event == "start":
                    self.depth += 1
                    if self.depth == 1:
                        return "header", item
                elif event == "end":
                    self.depth -= 1
                    if self.depth == 1:
                        return "child", item
                    if self.depth == 0:
                        raise _HandshakeFailed("Prosody closed the stream without a reason")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            data = await asyncio.wait_for(self.reader.read(4096), remaining)
            if not data:
                raise _HandshakeFailed("Prosody closed the connection without a reason")
            try:
                self.parser.feed(data)
            except ET.ParseError as exc:
                raise _HandshakeFailed(f"Prosody sent invalid XML: {exc}") from None


def _stream_error(elem: ET.Element) -> tuple[str, str]:
    condition, text = "undefined-condition", ""
    for child in elem:
        ns, _, local = child.tag.partition("}")
        if ns.lstrip("{") == STREAM_ERRORS_NS:
            if local == "text":
                text = (child.text or "").strip()
            else:
                condition = local
    return condition, text


async def check_prosody(config: Config, timeout: float = 5.0) -> CheckResult:
    """Connect to the component port and perform the XEP-0114 handshake, then leave."""
    return (await check_prosody_and_uploads(config, timeout, uploads=False))[0]


async def check_prosody_and_uploads(
    config: Config, timeout: float = 5.0, *, uploads: bool = True
) -> list[CheckResult]:
    """The handshake, then (over the same connection: Prosody allows one per component)
    whether the component can get upload slots; [prosody] or [prosody, uploads]."""
    name = "prosody"
    host, port = config.xmpp.host, config.xmpp.port
    where = f"{host}:{port}"
    not_checked = [CheckResult("uploads", False, "not checked: the component could not "
                               "connect")] if uploads else []
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return [CheckResult(name, False, f"cannot reach component port {where}: timed out"),
                *not_checked]
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return [CheckResult(
            name, False,
            f"cannot reach component port {where}: {reason} (is Prosody running with "
            "component_ports including this port?)",
        ), *not_checked]
    stream = _Stream(reader)
    result = await _handshake(config, stream, writer, timeout)
    try:
        if not result.ok or not uploads:
            return [result, *not_checked]
        return [result, await _check_uploads(config, stream, writer, timeout)]
    finally:
        await _close(writer, reader)


async def _handshake(config: Config, stream: _Stream, writer: asyncio.StreamWriter,
                     timeout: float) -> CheckResult:
    name = "prosody"
    host, port, domain = config.xmpp.host, config.xmpp.port, config.xmpp.component_domain
    where = f"{host}:{port}"
    try:
        writer.write(stream_header(domain))
        await writer.drain()
        kind, elem = await stream.next(timeout)
        if kind != "header" or elem.tag != f"{{{STREAMS_NS}}}stream":
            return CheckResult(name, False, f"{where} did not answer with an XMPP stream")
        if stream.default_ns in _WRONG_PORT:
            return CheckResult(name, False, f"{where} is Prosody's {_WRONG_PORT[stream.default_ns]}"
                               " port, not its component port (component_ports, usually 5347)")
        stream_id = elem.get("id") or ""
        if not stream_id:
            # Prosody answers an unknown domain with an empty id and then a stream error.
            kind, elem = await stream.next(timeout)
            if elem.tag == f"{{{STREAMS_NS}}}error":
                return CheckResult(name, False, explain_stream_error(*_stream_error(elem), config))
            return CheckResult(name, False, f"{where}: stream header without an id")
        writer.write(f"<handshake>{handshake_digest(stream_id, config.xmpp.component_secret)}"
                     "</handshake>".encode())
        await writer.drain()
        kind, elem = await stream.next(timeout)
        if elem.tag == f"{{{COMPONENT_NS}}}handshake":
            return CheckResult(name, True, f"component handshake accepted for {domain}")
        if elem.tag == f"{{{STREAMS_NS}}}error":
            return CheckResult(name, False, explain_stream_error(*_stream_error(elem), config))
        return CheckResult(name, False, f"unexpected answer to the handshake: <{elem.tag}>")
    except TimeoutError:
        return CheckResult(name, False, f"{where} accepted the connection but did not answer "
                           "(is this Prosody's component port?)")
    except _HandshakeFailed as exc:
        return CheckResult(name, False, f"{where}: {exc}")
    except OSError as exc:
        return CheckResult(name, False, f"{where}: connection failed: {exc.strerror or exc}")


# --------------------------------------------------------------------------- uploads


async def _iq(stream: _Stream, writer: asyncio.StreamWriter, iq_id: str, to: str, sender: str,
              payload: ET.Element, timeout: float) -> ET.Element:
    """One IQ get over the component stream; its answer (result or error)."""
    payload_text = ET.tostring(payload, encoding="unicode")  # prefixed namespace: valid XML
    writer.write(f"<iq type='get' id={quoteattr(iq_id)} to={quoteattr(to)} "
                 f"from={quoteattr(sender)}>{payload_text}</iq>".encode())
    await writer.drain()
    while True:
        _, elem = await stream.next(timeout)
        if elem.tag == f"{{{COMPONENT_NS}}}iq" and elem.get("id") == iq_id:
            return elem
        if elem.tag == f"{{{STREAMS_NS}}}error":
            raise _HandshakeFailed("Prosody closed the stream: "
                                   + _stream_error(elem)[0])


async def _check_uploads(config: Config, stream: _Stream, writer: asyncio.StreamWriter,
                         timeout: float) -> CheckResult:
    """Find the server's XEP-0363 service (disco) and ask it for a slot as the component."""
    name = "uploads"
    domain, component = config.xmpp.domain, config.xmpp.component_domain
    missing = (f"{domain} announces no HTTP upload service (XEP-0363): agents can neither "
               "send nor receive files; add Prosody's http_file_share component (see "
               "`agentchat prosody-config`)")
    try:
        items = await _iq(stream, writer, "up1", domain, component,
                          ET.Element(f"{{{upload.DISCO_ITEMS_NS}}}query"), timeout)
        jids = [domain] + [i.get("jid") or "" for i in items.iter(
            f"{{{upload.DISCO_ITEMS_NS}}}item") if not i.get("node")]
        service: upload.UploadService | None = None
        for n, jid in enumerate(j for j in jids if j and j != component):
            info = await _iq(stream, writer, f"up2-{n}", jid, component,
                             ET.Element(f"{{{upload.DISCO_INFO_NS}}}query"), timeout)
            query = info.find(f"{{{upload.DISCO_INFO_NS}}}query")
            if info.get("type") == "result" and query is not None:
                service = upload.parse_upload_service(jid, query)
                if service is not None:
                    break
        if service is None:
            return CheckResult(name, False, missing)
        answer = await _iq(stream, writer, "up3", service.jid, component,
                           upload.slot_request("agentchat-check.txt", 1, "text/plain"), timeout)
    except TimeoutError:
        return CheckResult(name, False, "no answer from Prosody to a disco or slot request")
    except _HandshakeFailed as exc:
        return CheckResult(name, False, str(exc))
    if answer.get("type") != "result":
        error = answer.find(f"{{{COMPONENT_NS}}}error")
        condition, text = _stanza_error(error)
        return CheckResult(name, False, f"{service.jid}: "
                           + upload.explain_slot_error(condition, text, component, error))
    try:
        slot = upload.parse_slot(answer.find(f"{{{upload.UPLOAD_NS}}}slot"))
    except upload.UploadError as exc:
        return CheckResult(name, False, f"{service.jid}: {exc}")
    limit = f", files up to {service.max_size:,} bytes" if service.max_size else ""
    where = slot.get_url.rsplit("/", 2)[0] + "/"
    return CheckResult(name, True, f"{service.jid} gives {component} upload slots{limit}; "
                       f"files are served from {where} (clients must reach it)")


def _stanza_error(error: ET.Element | None) -> tuple[str, str]:
    condition, text = "undefined-condition", ""
    for child in error if error is not None else ():
        ns, _, local = child.tag.partition("}")
        if ns.lstrip("{") == upload.STANZA_ERRORS_NS:
            if local == "text":
                text = (child.text or "").strip()
            else:
                condition = local
    return condition, text


async def _close(writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
    """Close our stream and wait for Prosody's close, so the component slot is free again
    when the check returns (an ``agentchat run`` right after must not get ``conflict``)."""
    with contextlib.suppress(OSError, TimeoutError):
        if not writer.is_closing():
            writer.write(b"</stream:stream>")
            await writer.drain()
            async with asyncio.timeout(2):
                while await reader.read(4096):
                    pass
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 2)


# --------------------------------------------------------------------------- claude

_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_claude_version(output: str) -> tuple[int, int, int] | None:
    """``2.1.331 (Claude Code)`` → (2, 1, 331); None if no version number is found."""
    m = _VERSION_RE.search(output)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def _dotted(v: tuple[int, ...]) -> str:
    return ".".join(map(str, v))


async def check_claude(config: Config, timeout: float = 30.0) -> CheckResult:
    """Run ``<claudePath> --version`` and require at least ``MIN_CLAUDE_VERSION``."""
    name = "claude"
    claude = config.agents.claude_path
    resolved = shutil.which(claude) if os.sep not in claude else claude
    hint = "set agents.claudePath or CLAUDE_PATH"
    if resolved is None or not Path(resolved).exists():
        return CheckResult(name, False, f"claude binary not found: {claude} ({hint})")
    env = {**os.environ, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    try:
        proc = await asyncio.create_subprocess_exec(
            resolved, "--version", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )
    except OSError as exc:
        return CheckResult(name, False, f"cannot run {resolved}: {exc.strerror or exc} ({hint})")
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return CheckResult(name, False, f"{resolved} --version did not finish in {timeout:g}s")
    text = out.decode(errors="replace").strip()
    if proc.returncode != 0:
        first = (err.decode(errors="replace").strip() or text).splitlines()[:1]
        why = f": {first[0]}" if first else ""
        return CheckResult(name, False,
                           f"{resolved} --version exited with {proc.returncode}{why}")
    version = parse_claude_version(text)
    if version is None:
        shown = text.splitlines()[0][:80] if text else "(nothing)"
        return CheckResult(name, False,
                           f"cannot parse a version from {resolved} --version: {shown}")
    if version < MIN_CLAUDE_VERSION:
        return CheckResult(name, False, f"claude {_dotted(version)} at {resolved} is too old; "
                           f"agentchat needs >= {_dotted(MIN_CLAUDE_VERSION)}")
    return CheckResult(name, True, f"claude {_dotted(version)} at {resolved}")


# --------------------------------------------------------------------------- sandbox


async def check_sandbox(config: Config, timeout: float = 30.0) -> CheckResult:
    """Whether agents get a bubblewrap sandbox here, and the CLI runs inside one."""
    name = "sandbox"
    status = await asyncio.to_thread(detect, config.agents.sandbox)
    if status.bwrap is None:
        # "off" is the operator's choice (ok, with a warning); "auto" without bwrap is ok but
        # unsafe: say what to change. "on" without a working bwrap is a failure.
        return CheckResult(name, status.ok and config.agents.sandbox == "off", status.message)
    claude = config.agents.claude_path
    resolved = shutil.which(claude) if os.sep not in claude else claude
    if resolved is None:
        return CheckResult(name, True, status.message + "; the CLI itself is checked above")
    policy = agent_policy(status.bwrap, agentchat_home=config.home,
                          base_path=config.work.base_path, command=claude)
    env = agent_environment(os.environ, own={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"})
    argv = bwrap_argv(policy, [resolved, "--version"], Path("/"))
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except OSError as exc:
        return CheckResult(name, False, f"cannot run {status.bwrap}: {exc.strerror or exc}")
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return CheckResult(name, False, f"{resolved} --version in the sandbox did not finish "
                                        f"in {timeout:g}s")
    if proc.returncode != 0:
        lines = (err or out).decode(errors="replace").strip().splitlines()
        why = lines[-1] if lines else f"exit code {proc.returncode}"
        return CheckResult(name, False, f"{resolved} does not run in the sandbox: {why} (is it "
                                        "installed under a hidden directory it needs?)")
    return CheckResult(name, True, f"{status.message}; agents see the system read-only, their "
                                   "own repository and home read-write")
# --------------------------------------------------------------------------- agent types


async def check_agent_type(kind: AgentType, timeout: float = 30.0) -> CheckResult:
    """An ``agents.types`` entry: found and which version, or how to install it."""
    name = f"type {kind.name}"
    found = kind.resolve()
    if found is None:
        how = f"; install: {kind.install}" if kind.install else ""
        return CheckResult(name, False, f"{kind.label}: {kind.command or '(no command)'} not "
                           f"found (set agents.types.{kind.name}.command{how})")
    version = package_version(found) or await _version_output(found, timeout)
    shown = f" {version}" if version else ""
    return CheckResult(name, True, f"{kind.label}{shown} at {found}")


async def _version_output(executable: str, timeout: float) -> str | None:
    try:
        proc = await asyncio.create_subprocess_exec(
            executable, "--version", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except (OSError, TimeoutError):
        return None
    version = parse_claude_version(out.decode(errors="replace"))
    return _dotted(version) if version else None


# --------------------------------------------------------------------------- work, mcp


def check_work(config: Config) -> CheckResult:
    name = "work"
    base = config.work.base_path
    if not base.exists():
        return CheckResult(name, False, f"work.basePath does not exist: {base}")
    if not base.is_dir():
        return CheckResult(name, False, f"work.basePath is not a directory: {base}")
    if not os.access(base, os.R_OK | os.X_OK):
        return CheckResult(name, False, f"work.basePath is not readable: {base}")
    try:
        count = len(list_repos(base))  # the same listing the manager's `repos` shows
    except WorkspaceError as exc:
        return CheckResult(name, False, str(exc))
    if count == 0:
        return CheckResult(name, True, f"{base} has no repositories (subdirectories) yet")
    plural = "repository" if count == 1 else "repositories"
    return CheckResult(name, True, f"{base} has {count} {plural}")


def check_mcp_port(config: Config) -> CheckResult:
    """The MCP server binds 127.0.0.1:mcp.port; see whether we could bind it now."""
    name = "mcp"
    port = config.mcp.port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return CheckResult(name, False, f"port {port} on 127.0.0.1 is taken "
                                   "(is agentchat already running? set mcp.port or MCP_PORT)")
            return CheckResult(name, False,
                               f"cannot bind 127.0.0.1:{port}: {exc.strerror or exc}")
    return CheckResult(name, True, f"port {port} on 127.0.0.1 is free")


async def run_checks(
    config: Config, *, config_source: str | None = None, timeout: float = 5.0
) -> list[CheckResult]:
    """All checks, in a fixed order; the config itself was validated by loading it."""
    where = config_source or "defaults and environment"
    results = [CheckResult("config", True, f"valid ({where})")]
    component, claude, sandbox = await asyncio.gather(
        check_prosody_and_uploads(config, timeout), check_claude(config), check_sandbox(config)
    )
    results += [*component, claude, sandbox]
    if config.agents.types:  # without agents.types Claude Code is the only type
        others = [k for k in configured_types(config) if k.backend != "claude"]
        results += await asyncio.gather(*(check_agent_type(k) for k in others))
    results += [check_work(config), check_mcp_port(config)]
    return results
