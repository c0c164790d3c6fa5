"""Exceptions as a person reads them: "cannot reach api.upbit.com: name not resolved", not
"gaierror: [Errno -2] Name or service not known". For notifications and the status line; the
log keeps the full exception.
"""

from __future__ import annotations

import asyncio
import errno
import re
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


_ERRNO_IN_TEXT = re.compile(r"(?:\w+Error|gaierror): \[Errno (-?\d+)\] ([^;()\]]*)(?:\([^()]*\))?")
_EAI_TEXT = {-2: "name not resolved", -3: "name not resolved", -5: "name not resolved"}


def humanize_reason(text: str, host: str | None = None) -> str:
    """A reason string from the connection layer without exception reprs:
    'connect failed: gaierror: [Errno -2] Name or service not known' ->
    'cannot reach api.upbit.com: name not resolved'."""

    def plain(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return _EAI_TEXT.get(number) or _ERRNO_TEXT.get(number) or match.group(2).strip().lower()

    out = _ERRNO_IN_TEXT.sub(plain, text)
    out = re.sub(r"\bTimeoutError(: )?", "timed out", out)
    return out.replace("connect failed: ", f"cannot reach {host}: " if host else "cannot connect: ")
