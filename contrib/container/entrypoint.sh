#!/bin/bash
# Entrypoint of the agentchat container: Prosody + `agentchat run`, configured from env vars.
#
# On every start it
#   1. checks XMPP_ADMIN_PASSWORD (refuses the unset/default "admin" unless
#      AGENTCHAT_LOCAL_TRIAL=1) and the other variables;
#   2. keeps, under $AGENT_CHAT_HOME/container/ (a volume), the component secret (generated
#      once), a self-signed certificate for XMPP_DOMAIN (generated once; replace it with your
#      own: certs/<domain>.crt + .key) and Prosody's data (accounts, rosters, offline messages);
#   3. writes /etc/prosody/prosody.cfg.lua (c2s on XMPP_C2S_PORT, all interfaces; the
#      component agents.<domain> on 127.0.0.1:XMPP_PORT; unless WEB_CLIENT=0 the web client
#      on XMPP_HTTPS_PORT, and on XMPP_HTTP_PORT for a local trial), /run/agentchat/config.json
#      and the web client's page (/run/agentchat/web);
#   4. creates (or updates the password of) the account XMPP_ADMIN_USERNAME@XMPP_DOMAIN;
#   5. starts Prosody, waits for its ports, starts agentchat;
#   6. on SIGTERM/SIGINT stops agentchat, then Prosody, and exits 0. If either dies on its
#      own, the other is stopped and the container exits non-zero.
#
# With arguments it just runs them (e.g. `podman run --rm -it IMAGE bash`). In a running
# container the generated config is at /run/agentchat/config.json:
#   podman exec agentchat agentchat prosody-config --config /run/agentchat/config.json
set -euo pipefail

PROG=agentchat-container
say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 2; }

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

# ------------------------------------------------------------------------------ settings
TRIAL="${AGENTCHAT_LOCAL_TRIAL:-0}"
case "$TRIAL" in 1|true|yes|on) TRIAL=1 ;; *) TRIAL=0 ;; esac

if [ "$TRIAL" != 1 ]; then
    case "${XMPP_ADMIN_PASSWORD:-}" in
        ""|admin) die "XMPP_ADMIN_PASSWORD is unset or the default 'admin'; set it (-e XMPP_ADMIN_PASSWORD=...) or set AGENTCHAT_LOCAL_TRIAL=1 for a local trial" ;;
    esac
fi

export AGENT_CHAT_HOME="${AGENT_CHAT_HOME:-/root/.agent-chat}"
XMPP_DOMAIN="${XMPP_DOMAIN:-localhost}"
XMPP_COMPONENT_DOMAIN="${XMPP_COMPONENT_DOMAIN:-agents.$XMPP_DOMAIN}"
ADMIN_USER="${XMPP_ADMIN_USERNAME:-admin}"
ADMIN_PASSWORD="${XMPP_ADMIN_PASSWORD:-admin}"
C2S_PORT="${XMPP_C2S_PORT:-5222}"
HTTPS_PORT="${XMPP_HTTPS_PORT:-5281}"
WEB_CLIENT="${WEB_CLIENT:-1}"
case "${WEB_CLIENT,,}" in 1|true|yes|on) WEB_CLIENT=1 ;; 0|false|no|off) WEB_CLIENT=0 ;; *) die "WEB_CLIENT: expected 1 or 0, got '$WEB_CLIENT'" ;; esac
export WEB_CLIENT
COMPONENT_PORT="${XMPP_PORT:-5347}"
# Files (XEP-0363): Prosody's upload service serves them over HTTP on this port; publish it.
HTTP_PORT="${XMPP_HTTP_PORT:-5280}"
# The address clients download files from, if not http://<XMPP_DOMAIN>:<XMPP_HTTP_PORT>/
# (e.g. https://files.example.com/ behind a TLS proxy).
HTTP_URL="${XMPP_HTTP_URL:-}"
PROSODY_LOG_LEVEL="${PROSODY_LOG_LEVEL:-info}"
AGENTCHAT_LOG_LEVEL="${AGENTCHAT_LOG_LEVEL:-info}"
export MANAGER_USERNAME="${MANAGER_USERNAME:-manager}"
export MCP_PORT="${MCP_PORT:-3001}"
export MCP_PERMISSION_TIMEOUT="${MCP_PERMISSION_TIMEOUT:-300000}"
export WORK_BASE_PATH="${WORK_BASE_PATH:-/work}"
export AGENTS_MAX_CONCURRENT="${AGENTS_MAX_CONCURRENT:-5}"
export CLAUDE_PATH="${CLAUDE_PATH:-/opt/agentchat/tools/node_modules/.bin/claude}"
# Claude Code's login, settings and session transcripts (needed to resume) live in the volume.
export CLAUDE_CONFIG_DIR="${CLAUDE_CONFIG_DIR:-$AGENT_CHAT_HOME/claude}"

# Values that go into Prosody's Lua config unquoted-safe: refuse anything unusual.
name_re='^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$'
[[ "$XMPP_DOMAIN" =~ $name_re ]] || die "XMPP_DOMAIN: expected a domain name, got '$XMPP_DOMAIN'"
[[ "$XMPP_COMPONENT_DOMAIN" =~ $name_re ]] || die "XMPP_COMPONENT_DOMAIN: expected a domain name, got '$XMPP_COMPONENT_DOMAIN'"
[ "${XMPP_COMPONENT_DOMAIN,,}" != "${XMPP_DOMAIN,,}" ] || die "XMPP_COMPONENT_DOMAIN must differ from XMPP_DOMAIN"
[[ "$ADMIN_USER" =~ ^[A-Za-z0-9._-]+$ ]] || die "XMPP_ADMIN_USERNAME: expected a simple user name (letters, digits, . _ -), got '$ADMIN_USER'"
[[ "$MANAGER_USERNAME" =~ ^[A-Za-z0-9._-]+$ ]] || die "MANAGER_USERNAME: expected a simple user name (letters, digits, . _ -), got '$MANAGER_USERNAME'"
for var in C2S_PORT COMPONENT_PORT MCP_PORT HTTP_PORT HTTPS_PORT; do
    val="${!var}"
    name="$var"
    case "$var" in C2S_PORT|HTTP_PORT|HTTPS_PORT) name="XMPP_$var" ;; esac
    [[ "$val" =~ ^[0-9]+$ ]] && [ "$val" -ge 1 ] && [ "$val" -le 65535 ] \
        || die "$name: expected a port number, got '$val'"
done
[[ -z "$HTTP_URL" || "$HTTP_URL" =~ ^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._~/-]*)?$ ]] \
    || die "XMPP_HTTP_URL: expected a URL like https://files.example.com/, got '$HTTP_URL'"
[ "$C2S_PORT" != "$COMPONENT_PORT" ] || die "XMPP_C2S_PORT and XMPP_PORT (component port) must differ"
case "$PROSODY_LOG_LEVEL" in debug|info|warn|error) ;; *) die "PROSODY_LOG_LEVEL: expected debug, info, warn or error" ;; esac
if [ "$TRIAL" = 1 ] && [ "$ADMIN_PASSWORD" = admin ]; then
    say "notice: local trial: $ADMIN_USER@$XMPP_DOMAIN gets the default password 'admin'"
fi
# Seed variables this design does not use (there are no bot accounts): say so once.
[ -z "${MANAGER_PASSWORD:-}" ] || say "notice: MANAGER_PASSWORD is not used (the manager is ${MANAGER_USERNAME}@${XMPP_COMPONENT_DOMAIN}, part of the component); ignored"

STATE_DIR="$AGENT_CHAT_HOME/container"
DATA_DIR="$STATE_DIR/prosody"
CERT_DIR="$STATE_DIR/certs"
SECRET_FILE="$STATE_DIR/component-secret"
RUN_DIR=/run/agentchat
WEB_DIR="$RUN_DIR/web"
PROSODY_CFG=/etc/prosody/prosody.cfg.lua
AGENTCHAT_CFG="$RUN_DIR/config.json"
umask 077
mkdir -p "$DATA_DIR" "$CERT_DIR" "$RUN_DIR" "$CLAUDE_CONFIG_DIR" "$WORK_BASE_PATH"

# ------------------------------------------------------------------------------ secrets, TLS
if [ -n "${XMPP_COMPONENT_SECRET:-}" ]; then
    COMPONENT_SECRET="$XMPP_COMPONENT_SECRET"
    [[ "$COMPONENT_SECRET" =~ ^[A-Za-z0-9._~+/=-]+$ ]] || die "XMPP_COMPONENT_SECRET: use letters, digits and . _ ~ + / = - only"
else
    if [ ! -s "$SECRET_FILE" ]; then
        openssl rand -hex 32 > "$SECRET_FILE.tmp" && mv "$SECRET_FILE.tmp" "$SECRET_FILE"
        say "generated the component secret ($SECRET_FILE)"
    fi
    COMPONENT_SECRET="$(cat "$SECRET_FILE")"
fi

CERT="$CERT_DIR/$XMPP_DOMAIN.crt"
KEY="$CERT_DIR/$XMPP_DOMAIN.key"
if [ ! -s "$CERT" ] || [ ! -s "$KEY" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
        -subj "/CN=$XMPP_DOMAIN" \
        -addext "subjectAltName=DNS:$XMPP_DOMAIN,DNS:$XMPP_COMPONENT_DOMAIN" \
        -keyout "$KEY.tmp" -out "$CERT.tmp" >/dev/null 2>&1 \
        || die "openssl could not create a self-signed certificate for $XMPP_DOMAIN"
    mv "$KEY.tmp" "$KEY"
    mv "$CERT.tmp" "$CERT"
    say "generated a self-signed certificate for $XMPP_DOMAIN ($CERT); replace it with a real one to avoid client warnings"
fi

# ------------------------------------------------------------------------------ Prosody config
# HTTP: the upload service (files, XEP-0363) on XMPP_HTTP_PORT, always. The web client
# (Converse.js, served by Prosody with a websocket) unless WEB_CLIENT=0: over HTTPS on
# XMPP_HTTPS_PORT (the same certificate as c2s); over plain HTTP only for a local trial, where
# the websocket counts as secure like the trial's plain c2s (otherwise the page sends browsers
# that come over HTTP to the HTTPS port).
web_global="-- Files (XEP-0363 upload service): clients download over HTTP (publish -p $HTTP_PORT:$HTTP_PORT).
http_ports = { $HTTP_PORT }
http_interfaces = { \"*\" }
-- Any Host header (an IP address, a proxy's name) reaches this VirtualHost's pages.
http_default_host = \"$XMPP_DOMAIN\""
web_host=''
if [ "$WEB_CLIENT" = 1 ]; then
    web_global="$web_global
-- The web client: its page and a websocket (see docs/web-client.md).
https_ports = { $HTTPS_PORT }
https_interfaces = { \"*\" }
https_ssl = { certificate = \"$CERT\"; key = \"$KEY\"; }"
    [ "$TRIAL" = 1 ] && web_global="$web_global
consider_websocket_secure = true"
    web_host="    modules_enabled = { \"websocket\"; \"http_files\" }
    http_files_dir = \"$WEB_DIR\"
    http_paths = { files = \"/\"; websocket = \"/xmpp-websocket\" }"
else
    web_global="$web_global
https_ports = { }"
fi

if [ "$TRIAL" = 1 ]; then
    tls_lines='-- AGENTCHAT_LOCAL_TRIAL=1: STARTTLS is offered, plain-text logins are allowed too.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true'
else
    tls_lines='-- Clients must use STARTTLS (self-signed certificate unless you replaced it).
c2s_require_encryption = true
allow_unencrypted_plain_auth = false'
fi

cat > "$PROSODY_CFG.tmp" <<EOF
-- Generated by /opt/agentchat/contrib/container/entrypoint.sh at every start: edits are lost.
-- Prosody runs as root inside the container; run_as_root allows it (and keeps prosodyctl
-- from switching to the prosody user).
run_as_root = true
pidfile = "$RUN_DIR/prosody.pid"
data_path = "$DATA_DIR"
certificates = "$CERT_DIR"
log = { { levels = { min = "$PROSODY_LOG_LEVEL" }, to = "console" } }
admins = { "$ADMIN_USER@$XMPP_DOMAIN" }

authentication = "internal_hashed"
storage = "internal"

modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "carbons"; "offline"; "ping"; "pep"; "private";
    "blocklist"; "bookmarks"; "vcard4"; "vcard_legacy"; "smacks"; "csi_simple";
    "time"; "uptime"; "version"; "admin_adhoc";
}

$tls_lines

-- Clients: all interfaces of the container (publish the port with -p 5222:5222).
c2s_ports = { $C2S_PORT }
c2s_interfaces = { "*" }
c2s_direct_tls_ports = { }
-- agentchat, the external component: loopback only.
component_ports = { $COMPONENT_PORT }
component_interfaces = { "127.0.0.1" }
-- No federation.
s2s_ports = { }
s2s_direct_tls_ports = { }
$web_global

VirtualHost "$XMPP_DOMAIN"
    ssl = { certificate = "$CERT"; key = "$KEY"; }
$web_host

Component "$XMPP_COMPONENT_DOMAIN"
    component_secret = "$COMPONENT_SECRET"

-- Files: users and agentchat (as the agents' JIDs) upload here; links name XMPP_DOMAIN.
Component "upload.$XMPP_DOMAIN" "http_file_share"
    http_file_share_access = { "$XMPP_DOMAIN", "$XMPP_COMPONENT_DOMAIN" }
    http_host = "$XMPP_DOMAIN"
$([ -n "$HTTP_URL" ] && printf '    http_external_url = "%s"\n' "$HTTP_URL")
EOF
mv "$PROSODY_CFG.tmp" "$PROSODY_CFG"

# agentchat's config (the container's env vars still override it, as usual).
COMPONENT_SECRET="$COMPONENT_SECRET" COMPONENT_PORT="$COMPONENT_PORT" \
XMPP_DOMAIN="$XMPP_DOMAIN" XMPP_COMPONENT_DOMAIN="$XMPP_COMPONENT_DOMAIN" \
python3 - "$AGENTCHAT_CFG" <<'EOF' || exit 2  # it printed why
import json, os, sys

def number(name):
    raw = os.environ[name]
    try:
        return int(raw)
    except ValueError:
        print(f"agentchat-container: error: {name}: expected an integer, got {raw!r}", file=sys.stderr)
        sys.exit(2)

env = os.environ
config = {
    "xmpp": {
        "host": "127.0.0.1",
        "port": number("COMPONENT_PORT"),
        "domain": env["XMPP_DOMAIN"],
        "componentDomain": env["XMPP_COMPONENT_DOMAIN"],
        "componentSecret": env["COMPONENT_SECRET"],
    },
    "manager": {"username": env["MANAGER_USERNAME"]},
    "mcp": {"port": number("MCP_PORT"), "permissionTimeout": number("MCP_PERMISSION_TIMEOUT")},
    "work": {"basePath": env["WORK_BASE_PATH"]},
    "agents": {"maxConcurrent": number("AGENTS_MAX_CONCURRENT"), "claudePath": env["CLAUDE_PATH"]},
}
path = sys.argv[1]
fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as fh:
    json.dump(config, fh, indent=2)
    fh.write("\n")
os.replace(path + ".tmp", path)
EOF

# The web client's page: Converse.js from the image, preconfigured for this domain.
if [ "$WEB_CLIENT" = 1 ]; then
    web_args=()
    [ "$TRIAL" = 1 ] || web_args=(--https-port "$HTTPS_PORT")
    # Uploads from the page, and their images, may go to the upload service's own address.
    [ -z "$HTTP_URL" ] || web_args+=(--allow-origin "$(printf '%s' "$HTTP_URL" | sed -E 's#^(https?://[^/]+).*#\1#')")
    agentchat web-client "$WEB_DIR" --config "$AGENTCHAT_CFG" --jid "$ADMIN_USER@$XMPP_DOMAIN" \
        "${web_args[@]}" >/dev/null \
        || die "could not write the web client into $WEB_DIR"
fi

# ------------------------------------------------------------------------------ account
# `register` on an existing account only sets its password (roster and data are kept).
if ! out="$(prosodyctl --config "$PROSODY_CFG" register "$ADMIN_USER" "$XMPP_DOMAIN" "$ADMIN_PASSWORD" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "prosodyctl could not create the account $ADMIN_USER@$XMPP_DOMAIN"
fi

# ------------------------------------------------------------------------------ processes
umask 022  # files the agents write into /work get ordinary modes
PROSODY_PID=""
AGENT_PID=""
STOPPING=0

# stop_child PID NAME SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL; sets CHILD_RC.
stop_child() {
    local pid="$1" name="$2" limit="$3" i
    CHILD_RC=0
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < limit * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name did not stop within ${limit}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || CHILD_RC=$?
}

on_signal() {
    STOPPING=1
}
trap on_signal TERM INT HUP

# Is something listening on TCP port $1? (Read from /proc: connecting would make Prosody log
# a client and a component that connect and go away.)
port_listening() {
    local hex
    hex="$(printf '%04X' "$1")"
    grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

say "starting Prosody for $XMPP_DOMAIN (clients: port $C2S_PORT, $([ "$TRIAL" = 1 ] && echo "TLS optional: local trial" || echo "STARTTLS required"))"
prosody --config "$PROSODY_CFG" -F &
PROSODY_PID=$!

for ((i = 0; i < 300; i++)); do
    if port_listening "$C2S_PORT" && port_listening "$COMPONENT_PORT"; then
        break
    fi
    if ! kill -0 "$PROSODY_PID" 2>/dev/null || [ "$STOPPING" = 1 ]; then
        break
    fi
    sleep 0.1
done
if [ "$STOPPING" = 1 ]; then
    stop_child "$PROSODY_PID" prosody 10
    exit 0
fi
if ! kill -0 "$PROSODY_PID" 2>/dev/null; then
    wait "$PROSODY_PID" 2>/dev/null || true
    say "error: Prosody exited during start-up (see its log above)"
    exit 1
fi
if ! port_listening "$C2S_PORT" || ! port_listening "$COMPONENT_PORT"; then
    say "error: Prosody did not open ports $C2S_PORT and $COMPONENT_PORT within 30s"
    stop_child "$PROSODY_PID" prosody 10
    exit 1
fi

say "log in as $ADMIN_USER@$XMPP_DOMAIN and chat with $MANAGER_USERNAME@$XMPP_COMPONENT_DOMAIN (send 'help')"
if [ "$WEB_CLIENT" = 1 ]; then
    if [ "$TRIAL" = 1 ]; then
        say "web client: http://<this host>:$HTTP_PORT/ (or https://<this host>:$HTTPS_PORT/, self-signed unless replaced)"
    else
        say "web client: https://$XMPP_DOMAIN:$HTTPS_PORT/ (self-signed certificate unless you replaced it)"
    fi
fi
# The seed's account variables stay out of agentchat's (and the agents') environment.
env -u XMPP_ADMIN_PASSWORD -u XMPP_ADMIN_USERNAME -u MANAGER_PASSWORD -u XMPP_COMPONENT_SECRET \
    agentchat run --config "$AGENTCHAT_CFG" --log-level "$AGENTCHAT_LOG_LEVEL" &
AGENT_PID=$!

EXIT_RC=0
while [ "$STOPPING" = 0 ]; do
    # Returns when a child ends or a trapped signal arrives.
    wait -n "$PROSODY_PID" "$AGENT_PID" 2>/dev/null || true
    [ "$STOPPING" = 0 ] || break
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then
        wait "$AGENT_PID" 2>/dev/null || EXIT_RC=$?
        [ "$EXIT_RC" != 0 ] || EXIT_RC=1
        say "error: agentchat exited (status $EXIT_RC); stopping Prosody"
        AGENT_PID=""
        break
    fi
    if ! kill -0 "$PROSODY_PID" 2>/dev/null; then
        say "error: Prosody exited; stopping agentchat"
        PROSODY_PID=""
        EXIT_RC=1
        break
    fi
done

stop_child "$AGENT_PID" agentchat 20
[ "$STOPPING" = 0 ] || [ "$CHILD_RC" = 0 ] || say "agentchat exited with status $CHILD_RC"
stop_child "$PROSODY_PID" prosody 10
if [ "$STOPPING" = 1 ]; then
    say "stopped"
    exit 0
fi
exit "$EXIT_RC"
