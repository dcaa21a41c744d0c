"""Free TCP ports on loopback for the private Prosody."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just had free on ``host``.

    The socket is closed before returning, so another process may take the port first; callers
    that bind it later must report a clear error in that case (``EmbeddedProsody.start`` does).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
