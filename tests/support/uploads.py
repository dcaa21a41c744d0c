"""What an XMPP client does to share a file (XEP-0363 slot, HTTP PUT, XEP-0066 link), and a
bystander HTTP server that records whether anyone fetched from it."""

from __future__ import annotations

import asyncio
import struct
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import httpx
from slixmpp.exceptions import IqError

from tests.support.xmpp_client import ChatClient

UPLOAD_NS = "urn:xmpp:http:upload:0"
OOB_NS = "jabber:x:oob"


def png(width: int = 4, height: int = 3) -> bytes:
    """A small valid RGB PNG (red pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


async def upload(client: ChatClient, data: bytes, filename: str,
                 content_type: str = "application/octet-stream") -> str:
    """Upload like a client: find the service in disco, ask for a slot, PUT; the GET URL."""
    items = await client.xmpp.plugin["xep_0030"].get_items(jid=client.xmpp.boundjid.domain)
    service = None
    for jid, _node, _name in items["disco_items"]["items"]:
        try:
            info = await client.xmpp.plugin["xep_0030"].get_info(jid=jid)
        except IqError:
            continue  # e.g. agents.example.com while no service is connected
        if UPLOAD_NS in info["disco_info"]["features"]:
            service = jid
            break
    assert service is not None, "the server announces no upload service"
    iq = client.xmpp.make_iq_get(ito=service)
    iq.xml.append(ET.Element(f"{{{UPLOAD_NS}}}request", {
        "filename": filename, "size": str(len(data)), "content-type": content_type}))
    result = await client.iq(iq)
    assert result["type"] == "result", f"slot refused: {result}"
    slot = result.xml.find(f"{{{UPLOAD_NS}}}slot")
    put = slot.find(f"{{{UPLOAD_NS}}}put")
    headers = {h.get("name"): h.text for h in put.findall(f"{{{UPLOAD_NS}}}header")}
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.put(put.get("url"), content=data,
                                  headers={**headers, "Content-Type": content_type})
    assert response.status_code in (200, 201), response.text
    return str(slot.find(f"{{{UPLOAD_NS}}}get").get("url"))


def send_link(client: ChatClient, to: str, url: str) -> str:
    """A shared file as clients send it: the URL as the body plus XEP-0066 data."""
    msg = client.xmpp.make_message(mto=to, mbody=url, mtype="chat")
    msg["id"] = client.xmpp.new_id()
    ET.SubElement(ET.SubElement(msg.xml, f"{{{OOB_NS}}}x"), f"{{{OOB_NS}}}url").text = url
    msg.send()
    return str(msg["id"])


def oob_url(msg: Any) -> str | None:
    return msg.xml.findtext(f"{{{OOB_NS}}}x/{{{OOB_NS}}}url")


async def download(url: str) -> bytes:
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.get(url)
    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    return response.content


class Bystander:
    """A loopback TCP server that only counts connections: "nothing was fetched from here"."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Bystander:
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _on_connect(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\x89PNG\r\n\x1a\n")
        await writer.drain()
        writer.close()

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
