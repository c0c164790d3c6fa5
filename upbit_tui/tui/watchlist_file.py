"""Saving the watchlist back into the user's TOML config without disturbing the rest of it.

There is no TOML writer in the dependencies, and rewriting the whole file would lose the
user's comments; so only the watchlist's `symbols` assignment is replaced, in the layout it
had: a one-line array stays on one line, a multi-line one keeps one market per line, its
indentation and the comments inside it (a market's own comment goes with it). It may be
spelled in a `[watchlist]` table or as the dotted key `watchlist.symbols = [...]`; with neither,
a `[watchlist]` table is appended. Everything else in the file stays byte-for-byte as it was,
and the result is parsed again before it is written: what cannot be edited safely (an inline
table, a file that is not valid TOML, an edit that would change anything else) is refused with
a message, never guessed at. The write is atomic (a temporary file renamed over the target,
in the target's own directory), goes through a symlink to the real file, and keeps its mode.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]\s*(#.*)?$")
_KEY = r"""(?:symbols|"symbols"|'symbols')"""
_TABLE = r"""(?:watchlist|"watchlist"|'watchlist')"""
_SYMBOLS = re.compile(rf"^(\s*){_KEY}\s*=\s*")
_DOTTED = re.compile(rf"^(\s*){_TABLE}\s*\.\s*{_KEY}\s*=\s*")
_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")
DEFAULT_INDENT = "    "


class WatchlistSaveError(Exception):
    """The config cannot be edited safely; the message says why and what to do."""


def symbols_array(symbols: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{s}"' for s in symbols) + "]"


def symbols_line(symbols: Sequence[str]) -> str:
    return f"symbols = {symbols_array(symbols)}\n"


def _split_comment(line: str) -> tuple[str, str]:
    """(code, comment) of a TOML line: the comment starts at a '#' outside strings."""
    index = 0
    while index < len(line):
        char = line[index]
        if char in "\"'":
            match = _STRING.match(line, index)
            index = match.end() if match else len(line)
            continue
        if char == "#":
            return line[:index], line[index:].rstrip("\r\n")
        index += 1
    return line.rstrip("\r\n"), ""


@dataclass
class _Item:
    symbol: str
    comment: str = ""
    before: list[str] = field(default_factory=list)  # comment lines just above it


def _assignment_end(lines: list[str], start: int, column: int) -> int:
    """Index after the last line of the array assignment starting at lines[start][column:]."""
    depth = 0
    for index in range(start, len(lines)):
        code, _ = _split_comment(lines[index][column if index == start else 0 :])
        code = _STRING.sub("", code)
        depth += code.count("[") - code.count("]")
        if depth <= 0:
            return index + 1
    raise WatchlistSaveError("the watchlist symbols array is never closed with ']'")


def _rewrite(block: list[str], head: str, symbols: Sequence[str]) -> list[str]:
    """The assignment `block` (its first line starts with `head`, 'symbols = ') for `symbols`,
    in the block's layout."""
    newline = "\r\n" if block[0].endswith("\r\n") else "\n"
    first_code, first_comment = _split_comment(block[0][len(head) :])
    if len(block) == 1:
        after = first_code.strip()
        if not after.startswith("[") or not after.endswith("]"):
            raise WatchlistSaveError(f"cannot edit 'symbols = {after}': expected an array")
        gap = block[0][len(head) + len(first_code.rstrip()) : len(head) + len(first_code)]
        tail = f"{gap or ' '}{first_comment}" if first_comment else ""
        return [f"{head}{symbols_array(symbols)}{tail}{newline}"]
    items: list[_Item] = []
    pending: list[str] = []
    indent: str | None = None
    opening = first_comment
    inner = [first_code.strip().removeprefix("["), *block[1:-1]]
    last_code, last_comment = _split_comment(block[-1])
    if not last_code.strip().startswith("]"):
        inner.append(last_code.rsplit("]", 1)[0])  # items on the closing line
    for number, line in enumerate(inner):
        code, comment = _split_comment(line)
        found = _STRING.findall(code)
        if not found:
            if comment:
                pending.append(line.rstrip("\r\n").strip())
            continue
        if number > 0 and indent is None:
            indent = line[: len(line) - len(line.lstrip())]
        for position, literal in enumerate(found):
            items.append(_Item(literal[1:-1], comment if position == 0 else "", pending))
            pending = []
    indent = indent or DEFAULT_INDENT
    kept = {item.symbol: item for item in items}
    # Comment lines above a market that is gone move down to the next market still listed.
    carried: list[str] = []
    for item in items:
        if item.symbol not in symbols:
            carried += item.before
        elif carried:
            item.before = carried + item.before
            carried = []
    trailing = carried + pending
    out = [f"{head}[" + (f"  {opening}" if opening else "") + newline]
    for symbol in symbols:
        item = kept.get(symbol, _Item(symbol))
        out += [f"{indent}{line}{newline}" for line in item.before]
        comment = f"  {item.comment}" if item.comment else ""
        out.append(f'{indent}"{symbol}",{comment}{newline}')
    out += [f"{indent}{line}{newline}" for line in trailing]
    closing_indent = block[-1][: len(block[-1]) - len(block[-1].lstrip())]
    close = f"{closing_indent}]" + (f"  {last_comment}" if last_comment else "")
    ending = newline if block[-1].endswith("\n") else ""
    return [*out, close + ending]


def _parse(text: str, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WatchlistSaveError(f"{what} is not valid TOML ({exc}); fix it first") from None


def replace_watchlist(text: str, symbols: Sequence[str]) -> str:
    """The config text with the watchlist's symbols set to `symbols` (see the module doc)."""
    before = _parse(text, "the config")
    watchlist = before.get("watchlist")
    if watchlist is not None and not isinstance(watchlist, dict):
        raise WatchlistSaveError("'watchlist' in the config is not a table; cannot edit it")
    lines = text.splitlines(keepends=True)
    updated = _edited(lines, symbols)
    try:
        after: dict[str, Any] | None = tomllib.loads(updated)
    except tomllib.TOMLDecodeError:
        after = None
    expected = {**before, "watchlist": {**(watchlist or {}), "symbols": list(symbols)}}
    if after != expected:
        raise WatchlistSaveError(
            "cannot edit the watchlist in this config safely (is it an inline table?); "
            f"set it by hand: [watchlist] symbols = {symbols_array(symbols)}"
        )
    return updated


def _edited(lines: list[str], symbols: Sequence[str]) -> str:
    section: str | None = None  # None: the root table, before any header
    header_at: int | None = None
    for index, line in enumerate(lines):
        header = _SECTION.match(line)
        if header:
            if section == "watchlist":
                break  # the section ended without a symbols key
            section = re.sub(r"[\s\"']", "", header.group(1))
            header_at = index if section == "watchlist" else header_at
            continue
        match = None
        if section == "watchlist":
            match = _SYMBOLS.match(line)
        elif section is None:
            match = _DOTTED.match(line)
        if match:
            end = _assignment_end(lines, index, match.end())
            head = line[: match.end()]
            lines[index:end] = _rewrite(lines[index:end], head, symbols)
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


def save_watchlist(path: Path, symbols: Sequence[str]) -> Path:
    """Write the watchlist into `path` (created if missing, mode 0600) atomically; return the
    file written (a symlink's target). Raises WatchlistSaveError or OSError."""
    target = Path(os.path.realpath(path))
    try:
        info = target.stat()
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise WatchlistSaveError(f"{target} is not a regular file; not writing to it")
    text = target.read_text(encoding="utf-8") if info is not None else ""
    updated = replace_watchlist(text, symbols)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o600
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(updated)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
