"""Exceptions as a person reads them: "cannot reach api.upbit.com: name not resolved", not
"gaierror: [Errno -2] Name or service not known". For notifications and the status line; the
log keeps the full exception.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}


def _host_of(exc: BaseException) -> str | None:
    host = getattr(exc, "host", None)  # aiohttp's ClientConnectorError
    if isinstance(host, str) and host:
        return host
    return None


def _os_error_text(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "name not resolved"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed"
    if exc.errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """One line for the user: what failed and, for network errors, which host."""
    cause: BaseException | None = exc
    host = None
    seen = 0
    # Network errors arrive wrapped (aiohttp's ClientConnectorError, websockets' InvalidURI...):
    # walk to the OS error, remembering the host named on the way.
    while cause is not None and seen < 8:
        host = host or _host_of(cause)
        os_error = getattr(cause, "os_error", None)
        if isinstance(os_error, OSError):
            cause = os_error
            continue
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            where = f"cannot reach {host}" if host else "network error"
            return f"{where}: {_os_error_text(cause)}"
        if isinstance(cause, TimeoutError | asyncio.TimeoutError):
            return f"{host}: timed out" if host else "timed out"
        cause = cause.__cause__ or cause.__context__
        seen += 1
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
