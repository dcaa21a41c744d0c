"""Prosody configuration text: the private server's whole config and the operator's snippet.

Pure functions, so the exact text is unit-testable and ``agentchat prosody-config`` can print the
same ``Component`` block the embedded server uses.
"""

from __future__ import annotations

from pathlib import Path

import attrs

# A default-ish Debian set, so the private server behaves like a real deployment: carbons copy a
# user's messages to their other clients, offline storage keeps what agents send to an offline
# owner, smacks and csi_simple are what phones use. Left out on purpose: tls (no certificates:
# plain c2s on loopback), dialback/s2s (no federation), limits (would throttle bursts of agent
# output), register (accounts are made with prosodyctl), mam (no message archive to grow).
MODULES_ENABLED: tuple[str, ...] = (
    "roster",
    "saslauth",
    "disco",
    "carbons",
    "offline",
    "ping",
    "pep",
    "private",
    "blocklist",
    "bookmarks",
    "vcard4",
    "vcard_legacy",
    "smacks",
    "csi_simple",
    "time",
    "uptime",
    "version",
)


@attrs.frozen
class ProsodySettings:
    """What identifies one Prosody: its domains, the component secret and its listening ports."""

    domain: str
    component_domain: str
    component_secret: str = attrs.field(repr=False)
    c2s_port: int
    component_port: int
    c2s_interface: str = "127.0.0.1"
    # More (domain, secret) components on the same port: a second agentchat instance beside
    # the first (agents-b.<domain>, see the README's Scaling), or the benchmarks' raw echo.
    extra_components: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)
    # Prosody's HTTP server on this port: the upload service upload.<domain> (files,
    # XEP-0363) and, with ``web_root``, the web client (agentchat.web.site) and a websocket.
    http_port: int | None = None
    web_root: str | None = None
    # Prosody's own group chat service (XEP-0045), where people invite agents into rooms.
    muc_domain: str | None = None

    @property
    def upload_domain(self) -> str:
        return upload_domain_for(self.domain)

    @property
    def http_interface(self) -> str:
        """Loopback for the upload service alone; beside c2s when browsers need it too."""
        return self.c2s_interface if self.web_root is not None else "127.0.0.1"


def upload_domain_for(domain: str) -> str:
    """The usual name of a server's HTTP upload component."""
    return f"upload.{domain}"


def lua_string(value: str) -> str:
    """Quote ``value`` as a Lua string literal (secrets and paths may hold any character)."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03d}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_component_block(
    component_domain: str, component_secret: str, component_port: int,
    domain: str | None = None,
) -> str:
    """The snippet an operator adds to an existing Prosody so agentchat can connect to it
    (and, given the users' ``domain``, share files through the server's upload service)."""
    return _component_block(component_domain, component_secret, component_port) + (
        _operator_upload_block(domain, component_domain) if domain else "")


def _operator_upload_block(domain: str, component_domain: str) -> str:
    upload = upload_domain_for(domain)
    return f"""
-- Files (XEP-0363 HTTP upload): agents send files as links to the server's upload service,
-- and take the files users upload there. agentchat uploads as the agents' JIDs, so the
-- upload service must let {component_domain} upload. If you already have an http_file_share
-- component, add the access line below to it instead of adding this one (an access list
-- replaces the default "local users only": keep {domain} in it). Clients download from its
-- HTTP server: open http_ports/https_ports to them and set http_external_url if needed.
{render_upload_block(upload, (domain, component_domain))}"""


def _component_block(component_domain: str, component_secret: str, component_port: int) -> str:
    return f"""\
-- agentchat: the external component (XEP-0114) that presents the manager bot and the agents.
-- Save as /etc/prosody/conf.d/agentchat.cfg.lua (Debian's prosody.cfg.lua includes conf.d/),
-- or paste the two port lines into the GLOBAL section (before any VirtualHost) and the
-- Component block at the end. Then: prosodyctl reload (or restart prosody).
-- Component connections are unauthenticated apart from the secret: keep them on loopback.
component_ports = {{ {component_port:d} }}
component_interfaces = {{ "127.0.0.1" }}

-- Every address @{component_domain} is handled by agentchat. Users of other servers can only
-- reach it if DNS for {component_domain} points at this Prosody (s2s).
Component {lua_string(component_domain)}
    component_secret = {lua_string(component_secret)}
"""


def render_upload_block(
    upload_domain: str, uploaders: tuple[str, ...], *, http_host: str | None = None
) -> str:
    """Prosody's built-in HTTP upload service (XEP-0363), with an access list naming the
    users' domain AND agentchat's component domain: agents upload as their own JIDs, and an
    access list replaces Prosody's default ("local users only"), so both must be listed."""
    access = ", ".join(lua_string(u) for u in uploaders)
    host_line = (f"    -- Links name {http_host}, where its HTTP server listens.\n"
                 f"    http_host = {lua_string(http_host)}\n") if http_host else ""
    return f"""\
Component {lua_string(upload_domain)} "http_file_share"
    http_file_share_access = {{ {access} }}
{host_line}"""


def _upload_lines(settings: ProsodySettings) -> str:
    """The private server's HTTP port (loopback only) and upload service, if it has files."""
    if settings.http_port is None:
        return ""
    others = tuple(domain for domain, _secret in settings.extra_components)
    return "\n" + render_upload_block(
        settings.upload_domain, (settings.domain, settings.component_domain, *others),
        http_host=LOOPBACK_HTTP_HOST)


def _http_ports_line(settings: ProsodySettings) -> str:
    if settings.http_port is None:
        return "http_ports = { }"
    lines = (f"http_ports = {{ {settings.http_port:d} }}\n"
             f"http_interfaces = {{ {lua_string(settings.http_interface)} }}")
    if settings.web_root is not None:
        lines += (
            "\n-- The web client (agentchat.web): requests with any Host header go to the\n"
            "-- VirtualHost's pages; its websocket counts as secure, like plain c2s.\n"
            f"http_default_host = {lua_string(LOOPBACK_HTTP_HOST)}\n"
            "consider_websocket_secure = true"
        )
    return lines


WEB_MODULES: tuple[str, ...] = ("websocket", "http_files")
LOOPBACK_HTTP_HOST = "127.0.0.1"  # the private server's HTTP host name (links, page)


def render_web_client_lines(web_root: str, indent: str = "") -> str:
    """The VirtualHost lines that serve the web client: its files at ``/`` and XMPP over a
    websocket at ``/xmpp-websocket`` (the path the page connects to)."""
    modules = "; ".join(lua_string(m) for m in WEB_MODULES)
    return (
        f"{indent}modules_enabled = {{ {modules} }}\n"
        f"{indent}http_files_dir = {lua_string(web_root)}\n"
        f'{indent}http_paths = {{ files = "/"; websocket = "/xmpp-websocket" }}\n'
    )


def render_web_client_block(domain: str, web_root: str, http_port: int = 5280,
                            https_port: int = 5281) -> str:
    """The snippet an operator adds to an existing Prosody to serve agentchat's web client."""
    return f"""\
-- agentchat web client: Converse.js served by this Prosody, XMPP over a websocket.
-- 1. Write the page (Converse.js and its settings for this deployment, ~6 MB):
--        agentchat web-client {web_root}
--    (again after upgrading agentchat). The files hold no secret: readable by prosody.
-- These lines go to two places, so they are comments: paste them without the "--".
-- 2. In the GLOBAL section (before any VirtualHost): Prosody's HTTP server. Browsers need
--    TLS to reach it from another machine: use https_ports (the certificate of your
--    VirtualHost is used), or a TLS reverse proxy to http_ports on loopback and
--    consider_websocket_secure = true.
--        http_ports = {{ {http_port:d} }}
--        http_interfaces = {{ "127.0.0.1" }}
--        https_ports = {{ {https_port:d} }}
-- 3. In YOUR VirtualHost (add the two modules to its modules_enabled if it has one):
--    VirtualHost {lua_string(domain)}
{render_web_client_lines(web_root, "--        ")}\
-- Then prosodyctl restart and open https://{domain}:{https_port:d}/ (or your proxy's URL).
"""


def render_prosody_config(
    settings: ProsodySettings, data_dir: Path, pidfile: Path, as_root: bool
) -> str:
    """The complete config of a private Prosody: plain c2s and the component, loopback only.

    Run it in the foreground (``prosody -F``). ``as_root`` sets ``run_as_root``: Prosody refuses
    to run as root without it, and it also stops ``prosodyctl`` from dropping to the ``prosody``
    user, so the server and prosodyctl share one owner and no file modes need loosening.
    """
    base = data_dir.parent
    modules = "\n".join(f"    {lua_string(m)};" for m in MODULES_ENABLED)
    extra = "".join(
        f"\nComponent {lua_string(domain)}\n    component_secret = {lua_string(secret)}\n"
        for domain, secret in settings.extra_components
    )
    if settings.muc_domain:
        extra += (
            "\n-- Group chats. Agents must see who speaks (only the people their owner allowed "
            "may\n-- instruct them), so new rooms show members' real JIDs to everyone.\n"
            f"Component {lua_string(settings.muc_domain)} \"muc\"\n"
            "    muc_room_default_public_jids = true\n"
        )
    root_lines = (
        "-- We run as root: allow it, and keep prosodyctl from switching to the prosody user.\n"
        "run_as_root = true\n"
        if as_root
        else ""
    )
    web_lines = "" if settings.web_root is None else (
        # One HTTP host for the page, its websocket and the upload service's links, whatever
        # Host header the browser sends (see http_default_host).
        f"    http_host = {lua_string(LOOPBACK_HTTP_HOST)}\n"
        + render_web_client_lines(settings.web_root, "    "))
    return f"""\
-- Generated by agentchat: a private Prosody for {settings.domain}. Do not edit; it is rewritten
-- on every start.
{root_lines}pidfile = {lua_string(str(pidfile))}
data_path = {lua_string(str(data_dir))}
certificates = {lua_string(str(base / "certs"))}
log = {{ {{ levels = {{ min = "info" }}, to = "console" }} }}

authentication = "internal_hashed"
storage = "internal"

-- Plain c2s: the private server is reached over loopback (or a trusted interface).
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_ports = {{ {settings.c2s_port:d} }}
c2s_interfaces = {{ {lua_string(settings.c2s_interface)} }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
component_ports = {{ {settings.component_port:d} }}
component_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
s2s_direct_tls_ports = {{ }}
{_http_ports_line(settings)}
https_ports = {{ }}
-- No Nagle: a stanza that follows another to the same client (an agent's reply after its
-- presence, a permission prompt after a tool line) would otherwise wait for the client's
-- delayed ACK, ~40 ms on loopback.
network_settings = {{ nagle = false }}

modules_enabled = {{
{modules}
}}

VirtualHost {lua_string(settings.domain)}
{web_lines}
Component {lua_string(settings.component_domain)}
    component_secret = {lua_string(settings.component_secret)}
{_upload_lines(settings)}{extra}"""
