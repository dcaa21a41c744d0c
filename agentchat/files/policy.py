"""Which links agentchat downloads: only the upload service's own, never any URL a message names.

Pure. A link is fetched only if it lies under a download prefix the upload service handed out
(learned from a slot it gave us: scheme, host, port and path), on the upload service's own host
name (its JID, which is how Prosody names it in URLs by default), or on a host the operator
listed. Everything else, including redirects, is refused before any connection is made.
"""

from __future__ import annotations

import urllib.parse

import attrs

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int] | None:
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port


def download_prefix(get_url: str) -> str | None:
    """The folder a slot's GET URL lives in, one level above the slot: ``…/file_share/``.

    Prosody's URLs are ``<base>/<slot id>/<file name>``; everything under ``<base>/`` is the
    service's.
    """
    parts = urllib.parse.urlsplit(get_url)
    origin = _origin(parts)
    segments = parts.path.split("/")
    if origin is None or len(segments) < 3:
        return None
    scheme, host, port = origin
    return f"{scheme}://{host}:{port}{'/'.join(segments[:-2])}/"


@attrs.frozen
class DownloadPolicy:
    service_hosts: frozenset[str] = frozenset()  # upload services' JIDs (= default URL host)
    prefixes: frozenset[str] = frozenset()  # from download_prefix
    operator_hosts: frozenset[str] = frozenset()  # "host" or "host:port", lower case

    def refusal(self, url: str) -> str | None:
        """None if ``url`` may be fetched; else why not (one sentence)."""
        try:
            parts = urllib.parse.urlsplit(url.strip())
        except ValueError:
            return "the link is not a valid URL"
        origin = _origin(parts)
        if origin is None:
            return "only http and https links of the upload service are downloaded"
        if parts.username is not None or parts.password is not None:
            return "links with a user name or password are not downloaded"
        segments = urllib.parse.unquote(parts.path).split("/")
        if any(s in (".", "..") for s in segments):
            return "the link's path leaves its folder"
        scheme, host, port = origin
        if host in self.service_hosts:
            return None
        if host in self.operator_hosts or f"{host}:{port}" in self.operator_hosts:
            return None
        normalized = f"{scheme}://{host}:{port}{parts.path}"
        if any(normalized.startswith(prefix) for prefix in self.prefixes):
            return None
        shown = host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
        where = f"{shown}{parts.path}" if self._same_origin_as_a_prefix(origin) else shown
        return (f"{where} is not this server's upload service; agentchat downloads only files "
                "uploaded to it (or from hosts the operator lists in files.downloadHosts)")

    def _same_origin_as_a_prefix(self, origin: tuple[str, str, int]) -> bool:
        scheme, host, port = origin
        return any(p.startswith(f"{scheme}://{host}:{port}/") for p in self.prefixes)
