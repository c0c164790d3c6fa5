"""Logs go to a file, never to the terminal the TUI draws on.

A stray StreamHandler (or logging's last-resort handler writing to stderr) would scribble over
the screen, so the root logger gets exactly one FileHandler.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from upbit_tui.config import LoggingConfig

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class LoggingSetupError(RuntimeError):
    """The log file cannot be opened; worded for the user."""


def default_log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "upbit-tui" / "upbit-tui.log"


def setup_logging(config: LoggingConfig) -> Path:
    """Send all logging to the configured file (XDG state dir by default); return its path."""
    path = Path(config.file).expanduser() if config.file else default_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise LoggingSetupError(
            f"cannot write the log file {path}: {exc.strerror or exc} "
            "(set [logging] file in the config)"
        ) from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(config.level.upper())
    logging.captureWarnings(True)
    return path
