"""File system errors in words a chat user and an operator understand, in one line."""

from __future__ import annotations

import errno

_WORDS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def describe(exc: OSError) -> str:
    """``disk full (/path)``: what went wrong, then where (no errno numbers, no traceback)."""
    words = _WORDS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
    where = exc.filename if isinstance(exc.filename, str) else None
    return f"{words} ({where})" if where else words
