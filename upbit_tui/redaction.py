"""Bearer tokens and JWTs out of everything we print, log or raise.

A server may quote our own request back in an error message (the Authorization header, a token
in a URL); our JWTs carry the access key. `redact(text)` replaces

- `Bearer <token>` (any case) by `Bearer [redacted]`,
- anything shaped like a JWT (three base64url parts, the first starting with `eyJ`, which is
  how `{"` encodes) by `[redacted JWT]`,
- the user and password of a URL (`nats://alice:pw@host` -> `nats://***@host`; `redact_url`),

and leaves everything else as it was. Error messages built from server text apply it where they
are built; `install_log_redaction()` (called by the CLI and `setup_logging`) applies it to every
log record of the process, whatever handler writes it (the log file, headless stderr),
tracebacks included.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any, Final

REDACTED: Final = "[redacted]"
REDACTED_JWT: Final = "[redacted JWT]"

_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s,'\"]*@")


def redact_url(url: str) -> str:
    """`url` (or a comma-separated list of them) without user names, passwords or tokens."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}***@", url)


def url_has_credentials(url: str) -> bool:
    return _USERINFO.search(url) is not None


def redact(text: str) -> str:
    """`text` without bearer tokens and JWTs (see the module docstring)."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return redact_url(_JWT.sub(REDACTED_JWT, text))


def _redacted_record_factory(base: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it when formatting
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters use a pre-filled exc_text as is: the traceback is redacted too.
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text)
        return record

    make.redacting = True  # type: ignore[attr-defined]
    return make


def install_log_redaction() -> None:
    """Redact every log record this process creates (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "redacting", False):
        logging.setLogRecordFactory(_redacted_record_factory(current))
