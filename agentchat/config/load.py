"""Load ``Config`` from ``config.json`` and environment variables, with one-line errors.

Layers, lowest first: built-in defaults, ``defaults`` given by the caller (embedded mode),
the JSON file, the environment. Every value is type- and range-checked here, before cattrs
builds the attrs classes, so that an error can name the camelCase key path and the exact
source (``config.json: xmpp.port: ...`` or ``env XMPP_PORT: ...``) instead of a cattrs
exception group. Reading files and the environment is kept to ``load_config``; the rest is
pure.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs

from agentchat.config.model import Config
from agentchat.jid import normalize_domain, normalize_jid

DEFAULT_HOME = "~/.agent-chat"
CONFIG_FILENAME = "config.json"
HOME_ENV = "AGENT_CHAT_HOME"
MISSING_SOURCE = "config"

Kind = Literal["str", "int", "bool", "list", "path", "types"]


class ConfigError(Exception):
    """A bad configuration value; ``str()`` is the single line shown to the user."""

    def __init__(self, key: str, source: str, message: str, *, show_key: bool = True) -> None:
        self.key = key
        self.source = source
        self.message = message
        parts = [source, key, message] if show_key and key else [source, message]
        super().__init__(": ".join(p for p in parts if p))


@attrs.frozen
class LoadedConfig:
    """The config plus what the user should be told about it and where it was read from."""

    config: Config
    notices: tuple[str, ...] = ()
    config_file: Path | None = None


# --------------------------------------------------------------------------- schema

_Check = Callable[[Any], str | None]


@attrs.frozen
class _Field:
    section: str
    key: str  # camelCase JSON key
    attr: str  # snake_case attribute of the section class
    env: str
    kind: Kind
    check: _Check | None = None
    secret: bool = False

    @property
    def path(self) -> str:
        return f"{self.section}.{self.key}"


# Characters that are invalid in (or would need escaping in Prosody's Lua config for) a
# domain or local part; not a full JID validator, just enough to catch typos early.
_BAD_NAME_CHARS = re.compile(r"[\s@/\\\"'<>&:]")
_BAD_LOCAL_CHARS = _BAD_NAME_CHARS


def _port(v: int) -> str | None:
    return None if 1 <= v <= 65535 else f"expected a port number 1-65535, got {v}"


def _positive_ms(v: int) -> str | None:
    return None if v >= 1 else f"expected a positive number of milliseconds, got {v}"


def _at_least_one(v: int) -> str | None:
    return None if v >= 1 else f"expected an integer >= 1, got {v}"


def _sandbox_mode(v: str) -> str | None:
    return None if v in ("auto", "on", "off") else f'expected "auto", "on" or "off", got {_show(v)}'


def _nonempty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


def _hostname(v: str) -> str | None:
    if not v:
        return "must not be empty"
    if _BAD_NAME_CHARS.search(v):
        return f"expected a domain name, got {_show(v)}"
    return None


def _host(v: str) -> str | None:
    if not v.strip() or any(c.isspace() for c in v):
        return f"expected a host name or IP address, got {_show(v)}"
    return None


def _localpart(v: str) -> str | None:
    if not v:
        return "must not be empty"
    if _BAD_LOCAL_CHARS.search(v):
        return f"expected a JID local part (no spaces, @, /, quotes or :), got {_show(v)}"
    return None


def _download_host_problem(entry: str) -> str | None:
    """Why ``entry`` is not ``host`` or ``host:port`` (no scheme, path or wildcard)."""
    host, colon, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
    if not host or _BAD_NAME_CHARS.search(host) or "*" in host or (
            colon and not (port.isdigit() and 1 <= int(port) <= 65535)):
        return f'expected a host name like "files.example.com" or "files.example.com:5281", ' \
               f"got {_show(entry)}"
    return None


def jid_pattern_problem(entry: str) -> str | None:
    """Why ``entry`` is not a bare JID or ``*@domain`` pattern, or None if it is one."""
    local, at, domain = entry.partition("@")
    if not at or not local or not domain:
        return (
            f'expected a bare JID like "user@example.com" or a pattern like '
            f'"*@example.com", got {_show(entry)}'
        )
    if "/" in domain:
        return f"expected a bare JID (without /resource), got {_show(entry)}"
    if (local != "*" and _BAD_LOCAL_CHARS.search(local)) or _BAD_NAME_CHARS.search(domain):
        return f"not a valid JID: {_show(entry)}"
    return None


FIELDS: tuple[_Field, ...] = (
    _Field("xmpp", "host", "host", "XMPP_HOST", "str", _host),
    _Field("xmpp", "port", "port", "XMPP_PORT", "int", _port),
    _Field("xmpp", "domain", "domain", "XMPP_DOMAIN", "str", _hostname),
    _Field("xmpp", "componentDomain", "component_domain", "XMPP_COMPONENT_DOMAIN", "str",
           _hostname),
    _Field("xmpp", "componentSecret", "component_secret", "XMPP_COMPONENT_SECRET", "str",
           _nonempty, secret=True),
    _Field("manager", "username", "username", "MANAGER_USERNAME", "str", _localpart),
    _Field("mcp", "port", "port", "MCP_PORT", "int", _port),
    _Field("mcp", "permissionTimeout", "permission_timeout", "MCP_PERMISSION_TIMEOUT", "int",
           _positive_ms),
    _Field("mcp", "permissionReminder", "permission_reminder", "MCP_PERMISSION_REMINDER", "int",
           _positive_ms),
    _Field("work", "basePath", "base_path", "WORK_BASE_PATH", "path", _nonempty),
    _Field("work", "worktrees", "worktrees", "WORK_WORKTREES", "bool"),
    _Field("agents", "maxConcurrent", "max_concurrent", "AGENTS_MAX_CONCURRENT", "int",
           _at_least_one),
    _Field("agents", "idleTimeout", "idle_timeout", "AGENTS_IDLE_TIMEOUT", "int", _positive_ms),
    _Field("agents", "claudePath", "claude_path", "CLAUDE_PATH", "str", _nonempty),
    _Field("agents", "claudeArgs", "claude_args", "CLAUDE_ARGS", "list"),
    _Field("agents", "streaming", "streaming", "AGENTS_STREAMING", "bool"),
    _Field("agents", "silenceWarning", "silence_warning", "AGENTS_SILENCE_WARNING", "int",
           _positive_ms),
    _Field("agents", "sandbox", "sandbox", "AGENTS_SANDBOX", "str", _sandbox_mode),
    _Field("agents", "types", "types", "AGENTS_TYPES", "types"),
    _Field("agents", "allowBypass", "allow_bypass", "AGENTS_ALLOW_BYPASS", "bool"),
    _Field("access", "allowedJids", "allowed_jids", "ALLOWED_JIDS", "list", None),
    _Field("files", "maxSize", "max_size", "FILES_MAX_SIZE", "int", _at_least_one),
    _Field("files", "downloadHosts", "download_hosts", "FILES_DOWNLOAD_HOSTS", "list", None),
    _Field("web", "client", "client", "WEB_CLIENT", "bool"),
)

SECTIONS: tuple[str, ...] = (
    "xmpp", "manager", "mcp", "work", "agents", "access", "files", "web",
)

# Seed keys that a component-based agentchat does not need; accepted so seed configs start.
OBSOLETE_KEYS: Mapping[tuple[str, str], str] = {
    ("xmpp", "adminUsername"): "XMPP_ADMIN_USERNAME",
    ("xmpp", "adminPassword"): "XMPP_ADMIN_PASSWORD",
    ("manager", "password"): "MANAGER_PASSWORD",
}
_OBSOLETE_WHY = "is not used by agentchat (it connects to Prosody as a component); ignored"

_BY_SECTION: dict[str, dict[str, _Field]] = {
    s: {f.key: f for f in FIELDS if f.section == s} for s in SECTIONS
}
_REQUIRED = ("xmpp.componentSecret", "work.basePath")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


# --------------------------------------------------------------------------- values


def _show(value: object, limit: int = 60) -> str:
    """Render a value as JSON for an error message, shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(field: _Field, value: object) -> str:
    if field.secret:
        return {str: "a string", bool: "a boolean", int: "a number", float: "a number",
                list: "a list", dict: "an object", type(None): "null"}.get(type(value), "a value")
    return _show(value)


@attrs.frozen
class _Value:
    value: Any
    source: str  # file path, "env NAME" or "defaults"
    from_env: bool = False
    base_dir: Path | None = None  # for relative paths from a file

    def error(self, field: _Field, message: str, index: int | None = None) -> ConfigError:
        if self.from_env:
            item = f"item {index + 1}: " if index is not None else ""
            return ConfigError(field.path, self.source, item + message, show_key=False)
        key = field.path if index is None else f"{field.path}[{index}]"
        return ConfigError(key, self.source, message)


class _Invalid(Exception):
    """A value failed to parse; the caller adds key and source (``index``: list item)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


_TYPE_KEYS = ("backend", "label", "command", "args", "env")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _agent_types(value: object) -> tuple[dict[str, Any], ...]:
    """``agents.types``: a list of type names, or an object name → {backend, label, command,
    args, env}; returns one dict per type, in order (built into ``AgentTypeConfig``)."""
    if isinstance(value, list):
        value = {name: {} for name in value} if all(isinstance(n, str) for n in value) else value
    if not isinstance(value, dict):
        raise _Invalid(f"expected an object of agent types (or a list of names), got "
                       f"{_show(value)}")
    out = []
    for name, body in value.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise _Invalid(f"expected a type name of a-z, 0-9, '-', '_' or '.', got {_show(name)}")
        if not isinstance(body, dict):
            raise _Invalid(f"{name}: expected an object, got {_show(body)}")
        entry: dict[str, Any] = {"name": name}
        for key, item in body.items():
            if key not in _TYPE_KEYS:
                raise _Invalid(f"{name}.{key}: {_unknown(key, _TYPE_KEYS)}")
            if key == "args":
                if not isinstance(item, list) or not all(isinstance(a, str) for a in item):
                    raise _Invalid(f"{name}.args: expected a list of strings, got {_show(item)}")
                item = tuple(item)
            elif key == "env":
                if not isinstance(item, dict) or not all(
                        isinstance(k, str) and isinstance(v, str) for k, v in item.items()):
                    raise _Invalid(f"{name}.env: expected an object of strings, got {_show(item)}")
            elif not isinstance(item, str):
                raise _Invalid(f"{name}.{key}: expected a string, got {_show(item)}")
            elif key == "backend" and item not in ("claude", "acp"):
                raise _Invalid(f'{name}.backend: expected "claude" or "acp", got {_show(item)}')
            entry[key] = item
        out.append(entry)
    return tuple(out)


def _from_json(field: _Field, value: object) -> Any:
    """Type-check one JSON value; returns the Python value for the attrs field."""
    if field.kind == "types":
        return _agent_types(value)
    got = _describe(field, value)
    if field.kind in ("str", "path"):
        if not isinstance(value, str):
            raise _Invalid(f"expected a string, got {got}")
        return value
    if field.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"expected an integer, got {got}")
        return value
    if field.kind == "bool":
        if not isinstance(value, bool):
            raise _Invalid(f"expected true or false, got {got}")
        return value
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of strings, got {got}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _Invalid(f"expected a string, got {_show(item)}", i)
    return tuple(value)


def _from_env(field: _Field, raw: str) -> Any:
    """Parse one environment string into the Python value for the attrs field."""
    got = _show(raw) if not field.secret else "a string"
    if field.kind in ("str", "path"):
        return raw
    if field.kind == "int":
        try:
            return int(raw.strip(), 10)
        except ValueError:
            raise _Invalid(f"expected an integer, got {got}") from None
    if field.kind == "bool":
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise _Invalid(f"expected true or false (or 1/0, yes/no, on/off), got {got}")
    if field.kind == "types":  # JSON as in config.json, or "claude-code,gemini"
        if raw.lstrip().startswith(("{", "[")):
            try:
                return _agent_types(json.loads(raw))
            except json.JSONDecodeError as exc:
                raise _Invalid(f"invalid JSON: {exc.msg}") from None
        return _agent_types([n.strip() for n in raw.split(",") if n.strip()])
    if field.env == "CLAUDE_ARGS":
        try:
            return tuple(shlex.split(raw))
        except ValueError as exc:
            raise _Invalid(f"cannot split into arguments: {exc}") from None
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _check_value(field: _Field, value: Any) -> None:
    if field.check is not None:
        problem = field.check(value)
        if problem:
            raise _Invalid(problem)
    if field.attr == "allowed_jids":
        for i, entry in enumerate(value):
            problem = jid_pattern_problem(entry)
            if problem:
                raise _Invalid(problem, i)
    if field.attr == "download_hosts":
        for i, entry in enumerate(value):
            problem = _download_host_problem(entry)
            if problem:
                raise _Invalid(problem, i)


def _layer_from_mapping(
    data: object, source: str, base_dir: Path | None, notices: list[str]
) -> dict[_Field, _Value]:
    """Validate a camelCase document (file or caller defaults) into field values."""
    if not isinstance(data, dict):
        raise ConfigError("", source, f"expected a JSON object at the top level, got {_show(data)}")
    out: dict[_Field, _Value] = {}
    for section, body in data.items():
        if section not in _BY_SECTION:
            raise ConfigError(section, source, _unknown(section, SECTIONS))
        if not isinstance(body, dict):
            raise ConfigError(section, source, f"expected an object, got {_show(body)}")
        fields = _BY_SECTION[section]
        for key, raw in body.items():
            if (section, key) in OBSOLETE_KEYS:
                notices.append(f"{source}: {section}.{key} {_OBSOLETE_WHY}")
                continue
            field = fields.get(key)
            if field is None:
                known = [*fields, *(k for s, k in OBSOLETE_KEYS if s == section)]
                raise ConfigError(f"{section}.{key}", source, _unknown(key, known))
            holder = _Value(None, source, base_dir=base_dir)
            try:
                value = _from_json(field, raw)
                _check_value(field, value)
            except _Invalid as exc:
                raise holder.error(field, exc.message, exc.index) from None
            out[field] = attrs.evolve(holder, value=value)
    return out


def _unknown(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if not close:
        lower = {k.lower(): k for k in known}
        if key.replace("_", "").lower() in lower:
            close = [lower[key.replace("_", "").lower()]]
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f"unknown key{hint}"


def _layer_from_env(env: Mapping[str, str], notices: list[str]) -> dict[_Field, _Value]:
    """Parse every environment variable we know; empty values count as unset."""
    out: dict[_Field, _Value] = {}
    for (section, key), name in OBSOLETE_KEYS.items():
        if env.get(name):
            notices.append(f"env {name} ({section}.{key}) {_OBSOLETE_WHY}")
    for field in FIELDS:
        raw = env.get(field.env)
        if not raw:
            continue
        holder = _Value(None, f"env {field.env}", from_env=True)
        try:
            value = _from_env(field, raw)
            _check_value(field, value)
        except _Invalid as exc:
            raise holder.error(field, exc.message, exc.index) from None
        out[field] = attrs.evolve(holder, value=value)
    return out


def check_env(env: Mapping[str, str]) -> tuple[str, ...]:
    """Validate the environment alone (embedded mode has no file); returns notices."""
    notices: list[str] = []
    _layer_from_env(env, notices)
    return tuple(notices)


# --------------------------------------------------------------------------- assembly


def home_dir(env: Mapping[str, str]) -> Path:
    """``AGENT_CHAT_HOME`` or ``~/.agent-chat``, expanded and absolute."""
    return Path(env.get(HOME_ENV) or DEFAULT_HOME).expanduser().resolve()


def default_config_path(env: Mapping[str, str]) -> Path:
    return home_dir(env) / CONFIG_FILENAME


def resolve_allowed_jids(config: Config) -> tuple[str, ...]:
    """The effective allow list: the configured one, or every account of ``xmpp.domain``."""
    return config.access.allowed_jids or (f"*@{config.xmpp.domain}",)


def _read_json(path: Path) -> object:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError("", source, "cannot read: is a directory") from None
    except FileNotFoundError:
        raise ConfigError("", source, "cannot read: no such file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("", source, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError("", source, f"cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            "", source, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def _missing(field: _Field, config_file: Path | None, home: Path) -> ConfigError:
    where = config_file or home / CONFIG_FILENAME
    return ConfigError(
        field.path, str(config_file) if config_file else MISSING_SOURCE,
        f"missing; set it in {where} or env {field.env}",
    )


def _finish_path(field: _Field, v: _Value) -> Path:
    """Expand ``~``, resolve relative to the config file, require an existing directory."""
    path = Path(v.value).expanduser()
    if not path.is_absolute():
        path = (v.base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.exists():
        raise v.error(field, f"directory does not exist: {path}")
    if not path.is_dir():
        raise v.error(field, f"not a directory: {path}")
    return path


_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(Path, lambda v, _: Path(v))
_ATTR_TO_KEY = {(f.section, f.attr): f.key for f in FIELDS}


def _structure(data: dict[str, Any]) -> Config:
    """Build the attrs classes; a failure here is translated to a camelCase key path."""
    try:
        return _converter.structure(data, Config)
    except cattrs.BaseValidationError as exc:
        first = cattrs.transform_error(exc, path="")[0]
        message, _, where = first.rpartition(" @ ")
        parts = [p for p in where.split(".") if p]
        if len(parts) >= 2:
            parts[1] = _ATTR_TO_KEY.get((parts[0], parts[1]), parts[1])
        raise ConfigError(".".join(parts), MISSING_SOURCE, message or first) from None


def _build_config(
    layers: list[dict[_Field, _Value]], *, home: Path, config_file: Path | None
) -> tuple[Config, list[str]]:
    """Merge validated layers (later wins), apply derived defaults and cross-field checks."""
    merged: dict[_Field, _Value] = {}
    for layer in layers:
        merged.update(layer)
    by_path = {f.path: f for f in FIELDS}
    for path in _REQUIRED:
        if by_path[path] not in merged:
            raise _missing(by_path[path], config_file, home)

    notices: list[str] = []
    data: dict[str, Any] = {s: {} for s in SECTIONS}
    for field, v in merged.items():
        value: Any = _finish_path(field, v) if field.kind == "path" else v.value
        if field.attr == "claude_path" and ("/" in value or value.startswith("~")):
            value = str(Path(value).expanduser())
        if field.attr == "allowed_jids":
            value = tuple(normalize_jid(e) for e in value)
        if field.attr == "download_hosts":
            value = tuple(e.strip().lower() for e in value)
        if field.attr in ("domain", "component_domain"):
            value = normalize_domain(value)  # JID domains are case-insensitive
        data[field.section][field.attr] = value
    data["home"] = home

    xmpp = data["xmpp"]
    domain = xmpp.get("domain", "localhost")
    comp_field = by_path["xmpp.componentDomain"]
    if comp_field not in merged:
        xmpp["component_domain"] = f"agents.{domain}"
    elif normalize_domain(xmpp["component_domain"]) == normalize_domain(domain):
        raise merged[comp_field].error(
            comp_field, f"must differ from xmpp.domain ({domain}); e.g. agents.{domain}"
        )
    port_field = by_path["xmpp.port"]
    if merged.get(port_field) and merged[port_field].value == 5222:
        notices.append(
            f"{merged[port_field].source}: xmpp.port is 5222, the usual client port; "
            "agentchat needs Prosody's component port (component_ports, usually 5347)"
        )
    return _structure(data), notices


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """Load the configuration; raises ``ConfigError`` with one line naming key and source.

    ``path`` None means ``$AGENT_CHAT_HOME/config.json`` if it exists. ``defaults`` is a
    camelCase document below the file and env (used by embedded mode for generated values).
    """
    env = os.environ if env is None else env
    home = home_dir(env)
    if path is None:
        candidate = home / CONFIG_FILENAME
        config_file = candidate if candidate.exists() else None
    else:
        config_file = path.expanduser().absolute()

    notices: list[str] = []
    layers: list[dict[_Field, _Value]] = []
    if defaults is not None:
        layers.append(_layer_from_mapping(dict(defaults), "defaults", None, notices))
    if config_file is not None:
        data = _read_json(config_file)
        layers.append(_layer_from_mapping(data, str(config_file), config_file.parent, notices))
    layers.append(_layer_from_env(env, notices))
    config, more = _build_config(layers, home=home, config_file=config_file)
    return LoadedConfig(config=config, notices=(*notices, *more), config_file=config_file)


_CONFIGURING_ENV = tuple(f.env for f in FIELDS if f.section == "xmpp")


def is_configured(path: Path | None = None, env: Mapping[str, str] | None = None) -> bool:
    """True if the user pointed us at their own Prosody (file given/present or XMPP_* env).

    False means ``agentchat run`` starts its own embedded Prosody.
    """
    env = os.environ if env is None else env
    if path is not None:
        return True
    if default_config_path(env).exists():
        return True
    return any(env.get(name) for name in _CONFIGURING_ENV)
