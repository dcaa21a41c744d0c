"""Byte pipes between a TCP port and a Unix socket: how a sandboxed client reaches our Prosody.

Dino has no host/port setting: it connects to port 5222 of the account's domain. The test runs
Dino in its own network namespace (bubblewrap), where 127.0.0.1:5222 is free however many
tests run at once; inside, ``tcp-to-unix`` listens there and hands each connection to a Unix
socket in a shared directory, where ``unix-to-tcp`` (in the test process) connects it to the
private Prosody's real port.

Run inside the sandbox as ``python -m tests.support.unix_bridge LISTEN_PORT SOCKET``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _join(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))


@contextlib.asynccontextmanager
async def unix_to_tcp(socket_path: Path, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``socket_path``; each connection is joined to a new TCP connection to host:port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await _join((reader, writer), upstream)

    server = await asyncio.start_unix_server(handle, path=str(socket_path))
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


async def tcp_to_unix(listen_port: int, socket_path: str) -> None:
    """Listen on 127.0.0.1:listen_port; each connection is joined to ``socket_path``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await asyncio.open_unix_connection(socket_path)
        except OSError:
            writer.close()
            return
        await _join((reader, writer), upstream)

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("bridge ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(tcp_to_unix(int(sys.argv[1]), sys.argv[2]))
