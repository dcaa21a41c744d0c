"""XEP-0363 HTTP File Upload as the component uses it: find the server's upload services and
ask one for a slot, as any JID of the component's domain.

Pure parsing (``parse_*``) is kept apart from the two IQ round trips, so the protocol is
unit-tested without a server. Prosody's ``http_file_share`` answers slot requests only from JIDs
it lets upload (its ``http_file_share_access`` list): a refusal is reported with that hint.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Any

import attrs
from slixmpp.exceptions import IqError, IqTimeout

log = logging.getLogger(__name__)

UPLOAD_NS = "urn:xmpp:http:upload:0"
DISCO_INFO_NS = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS_NS = "http://jabber.org/protocol/disco#items"
XDATA_NS = "jabber:x:data"
STANZA_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
# XEP-0363 §5: the only headers a client may take from the slot into its PUT.
PUT_HEADERS = frozenset({"authorization", "cookie", "expires"})


class UploadError(Exception):
    """No upload service, or it refused; ``str()`` is a sentence for the chat."""


@attrs.frozen
class UploadService:
    jid: str
    max_size: int | None  # the service's announced limit, None if it names none


@attrs.frozen
class Slot:
    put_url: str
    get_url: str
    headers: tuple[tuple[str, str], ...] = ()


def parse_upload_service(jid: str, query: ET.Element) -> UploadService | None:
    """A disco#info ``<query/>`` of ``jid``: an UploadService if it offers XEP-0363."""
    features = {f.get("var") for f in query.findall(f"{{{DISCO_INFO_NS}}}feature")}
    if UPLOAD_NS not in features:
        return None
    max_size: int | None = None
    for form in query.findall(f"{{{XDATA_NS}}}x"):
        fields = {f.get("var"): f for f in form.findall(f"{{{XDATA_NS}}}field")}
        form_type = fields.get("FORM_TYPE")
        if form_type is None or form_type.findtext(f"{{{XDATA_NS}}}value") != UPLOAD_NS:
            continue
        size = fields.get("max-file-size")
        text = size.findtext(f"{{{XDATA_NS}}}value") if size is not None else None
        if text and text.strip().isdigit():
            max_size = int(text.strip())
    return UploadService(jid, max_size)


def slot_request(filename: str, size: int, content_type: str) -> ET.Element:
    return ET.Element(f"{{{UPLOAD_NS}}}request", {
        "filename": filename, "size": str(size), "content-type": content_type})


def parse_slot(slot: ET.Element | None) -> Slot:
    """The ``<slot/>`` of a result; raises UploadError if it lacks the URLs."""
    if slot is None:
        raise UploadError("the upload service answered without a slot")
    put = slot.find(f"{{{UPLOAD_NS}}}put")
    get = slot.find(f"{{{UPLOAD_NS}}}get")
    put_url = put.get("url") if put is not None else None
    get_url = get.get("url") if get is not None else None
    if not put_url or not get_url or not put_url.startswith(("http://", "https://")) \
            or not get_url.startswith(("http://", "https://")):
        raise UploadError("the upload service answered with a slot without usable URLs")
    headers: list[tuple[str, str]] = []
    for header in put.findall(f"{{{UPLOAD_NS}}}header") if put is not None else ():
        name = (header.get("name") or "").strip()
        value = (header.text or "").replace("\r", "").replace("\n", "").strip()
        if name.lower() in PUT_HEADERS:
            headers.append((name, value))
    return Slot(put_url, get_url, tuple(headers))


def explain_slot_error(condition: str, text: str, uploader: str, error: ET.Element | None) -> str:
    """A refused slot request, as the owner or operator should read it."""
    if error is not None:
        too_large = error.find(f"{{{UPLOAD_NS}}}file-too-large")
        if too_large is not None:
            limit = too_large.findtext(f"{{{UPLOAD_NS}}}max-file-size")
            return f"the file is larger than the upload service accepts ({limit} bytes)"
    if condition == "forbidden":
        return (f"the upload service does not let {uploader} upload (add its domain to "
                "http_file_share_access in Prosody's config; see `agentchat prosody-config`)")
    return f"the upload service refused: {condition}" + (f" ({text})" if text else "")


class UploadClient:
    """Discovery (cached) and slot requests over the component's stream."""

    def __init__(self, stream: Any, server_domain: str, component_domain: str,
                 timeout: float = 10.0) -> None:
        self._stream = stream  # the AgentComponent (slixmpp is untyped)
        self.server_domain = server_domain
        self.component_domain = component_domain
        self.timeout = timeout
        self._services: list[UploadService] | None = None

    async def _query(self, to: str, ns: str) -> ET.Element:
        iq = self._stream.make_iq_get(queryxmlns=ns, ito=to, ifrom=self.component_domain)
        result = await iq.send(timeout=self.timeout)
        query = result.xml.find(f"{{{ns}}}query")
        return query if query is not None else ET.Element(f"{{{ns}}}query")

    async def services(self, *, refresh: bool = False) -> list[UploadService]:
        """The upload services the server announces (disco#items of its domain, then
        disco#info of each item and of the domain itself); cached until ``refresh``."""
        if self._services is not None and not refresh:
            return self._services
        try:
            items = await self._query(self.server_domain, DISCO_ITEMS_NS)
        except (IqError, IqTimeout) as exc:
            raise UploadError(f"the server {self.server_domain} did not list its services "
                              f"({_why(exc)})") from None
        candidates = [self.server_domain]
        for item in items.findall(f"{{{DISCO_ITEMS_NS}}}item"):
            jid = item.get("jid")
            if jid and not item.get("node") and jid != self.component_domain:
                candidates.append(jid)
        found: list[UploadService] = []
        for jid in candidates:
            try:
                info = await self._query(jid, DISCO_INFO_NS)
            except (IqError, IqTimeout) as exc:
                log.debug("disco#info of %s failed: %s", jid, _why(exc))
                continue
            service = parse_upload_service(jid, info)
            if service is not None:
                found.append(service)
        self._services = found or None  # none yet: ask again next time (config reloaded?)
        log.info("upload services of %s: %s", self.server_domain,
                 ", ".join(s.jid for s in found) or "none")
        return found

    async def request_slot(self, uploader: str, filename: str, size: int,
                           content_type: str) -> tuple[UploadService, Slot]:
        """A slot for ``uploader`` (a JID of our domain) on the first upload service."""
        services = await self.services()
        if not services:
            raise UploadError(f"the server {self.server_domain} announces no HTTP upload "
                              "service (XEP-0363); see `agentchat check`")
        service = services[0]
        if service.max_size is not None and size > service.max_size:
            raise UploadError(f"the file is larger than the upload service accepts "
                              f"({service.max_size:,} bytes)")
        iq = self._stream.make_iq_get(ito=service.jid, ifrom=uploader)
        iq.xml.append(slot_request(filename, size, content_type))
        try:
            result = await iq.send(timeout=self.timeout)
        except IqTimeout:
            raise UploadError(f"the upload service {service.jid} did not answer") from None
        except IqError as exc:
            error = exc.iq.xml.find("{jabber:component:accept}error")
            if error is None:
                error = exc.iq.xml.find("{jabber:client}error")
            raise UploadError(explain_slot_error(exc.condition, exc.text, uploader,
                                                 error)) from None
        return service, parse_slot(result.xml.find(f"{{{UPLOAD_NS}}}slot"))


def _why(exc: IqError | IqTimeout) -> str:
    if isinstance(exc, IqTimeout):
        return "no answer"
    return str(exc.condition)
