"""Logs go to a file, never to the terminal the TUI draws on.

A stray StreamHandler (or logging's last-resort handler writing to stderr) would scribble over
the screen, so the root logger gets exactly one handler: a file rotated at `LOG_MAX_BYTES` with
`LOG_BACKUPS` old files kept, so a hostile server cannot fill the disk. On that handler:
- `RepeatFilter`: a message of one kind (same logger, level and format string) passes
  `burst` times per `interval`; the rest are counted, and the next one that passes says how many
  similar messages were suppressed (20k error frames must not write megabytes of the same line);
- `RedactingFormatter`: bearer tokens and JWTs never reach the file, tracebacks included
  (redaction.py).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import time
from collections.abc import Callable
from pathlib import Path

from upbit_tui.config import LoggingConfig
from upbit_tui.redaction import install_log_redaction, redact

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
# A message of one kind passes this many times per interval (seconds), then is counted.
REPEAT_BURST = 10
REPEAT_INTERVAL = 60.0


class LoggingSetupError(RuntimeError):
    """The log file cannot be opened; worded for the user."""


class RedactingFormatter(logging.Formatter):
    """The standard formatter, then `redact` over the whole line (message and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _Kind:
    __slots__ = ("passed", "started", "suppressed")

    def __init__(self, started: float) -> None:
        self.started = started
        self.passed = 0
        self.suppressed = 0


class RepeatFilter(logging.Filter):
    """Lets `burst` messages of a kind through per `interval` seconds; counts the rest."""

    MAX_KINDS = 1024  # f-string messages make a kind each: forget them all past this many

    def __init__(
        self,
        burst: int = REPEAT_BURST,
        interval: float = REPEAT_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval
        self._clock = clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}
        self.suppressed_total = 0

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        kind = self._kinds.get(key)
        suppressed = 0
        if kind is None or now - kind.started >= self.interval:
            if kind is not None:
                suppressed = kind.suppressed
            elif len(self._kinds) >= self.MAX_KINDS:
                self._kinds.clear()
            kind = self._kinds[key] = _Kind(now)
        if kind.passed >= self.burst:
            kind.suppressed += 1
            self.suppressed_total += 1
            return False
        kind.passed += 1
        if suppressed:
            # Said once the flood is over (the next message of its kind in a new interval).
            record.msg = f"{record.msg} [suppressed {suppressed} similar messages before this]"
        return True


def default_log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "upbit-tui" / "upbit-tui.log"


def setup_logging(config: LoggingConfig) -> Path:
    """Send all logging to the configured file (XDG state dir by default); return its path."""
    path = Path(config.file).expanduser() if config.file else default_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        raise LoggingSetupError(
            f"cannot write the log file {path}: {exc.strerror or exc} "
            "(set [logging] file in the config)"
        ) from None
    install_log_redaction()
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(config.level.upper())
    logging.captureWarnings(True)
    return path
