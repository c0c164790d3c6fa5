"""Saving the watchlist back into the user's TOML config without disturbing the rest of it.

There is no TOML writer in the dependencies, and rewriting the whole file would lose the
user's comments; so only the `symbols = [...]` assignment of `[watchlist]` is replaced (or the
section is appended). Everything else in the file stays byte-for-byte as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")
_SYMBOLS = re.compile(r"^\s*symbols\s*=")


def symbols_line(symbols: Sequence[str]) -> str:
    return "symbols = [" + ", ".join(f'"{s}"' for s in symbols) + "]\n"


def replace_watchlist(text: str, symbols: Sequence[str]) -> str:
    """The config text with [watchlist] symbols set to `symbols`."""
    lines = text.splitlines(keepends=True)
    section: str | None = None
    header_at: int | None = None
    for index, line in enumerate(lines):
        header = _SECTION.match(line)
        if header:
            if section == "watchlist":
                break  # the section ended without a symbols key
            section = header.group(1)
            header_at = index if section == "watchlist" else header_at
            continue
        if section == "watchlist" and _SYMBOLS.match(line):
            lines[index : _assignment_end(lines, index)] = [symbols_line(symbols)]
            return "".join(lines)
    if header_at is not None:
        if not lines[header_at].endswith("\n"):
            lines[header_at] += "\n"
        lines.insert(header_at + 1, symbols_line(symbols))
        return "".join(lines)
    prefix = "".join(lines)
    if prefix and not prefix.endswith("\n"):
        prefix += "\n"
    if prefix:
        prefix += "\n"
    return prefix + "[watchlist]\n" + symbols_line(symbols)


def _assignment_end(lines: list[str], start: int) -> int:
    """Index after the last line of a (possibly multi-line) array assignment."""
    depth = 0
    for index in range(start, len(lines)):
        code = lines[index].split("#", 1)[0]
        depth += code.count("[") - code.count("]")
        if depth <= 0:
            return index + 1
    return len(lines)


def save_watchlist(path: Path, symbols: Sequence[str]) -> Path:
    """Write the watchlist into `path` (created if missing) atomically; return the path."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    updated = replace_watchlist(text, symbols)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(updated)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
