"""Terminal text with SGR colour codes (plotext's output) turned straight into Strips.

`Text.from_ansi` + `Console.render_lines` cost about as much as plotext's own build for a
full-screen chart (a Style addition per code, a Text span per run, then a layout pass). A
chart uses a few dozen distinct colour changes, so here each (style, code) transition is
worked out once, by Rich's own AnsiDecoder so the styles are exactly Rich's, and every run of
text becomes one Segment. Only SGR sequences (ESC [ ... m) are understood; plotext emits no
other escape sequences.
"""

from __future__ import annotations

import re

from rich.ansi import AnsiDecoder
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

_SGR = re.compile(r"\x1b\[([0-9;]*)m")


class AnsiLines:
    """Reusable converter; remembers the style transitions it has seen (not thread-safe)."""

    def __init__(self) -> None:
        self._decoder = AnsiDecoder()
        self._transitions: dict[tuple[Style, str], Style] = {}

    def _after(self, style: Style, codes: str) -> Style:
        key = (style, codes)
        found = self._transitions.get(key)
        if found is None:
            self._decoder.style = style
            self._decoder.decode_line(f"\x1b[{codes}m")
            found = self._transitions[key] = self._decoder.style
        return found

    def strips(self, ansi: str, width: int, height: int) -> list[Strip]:
        """At most `height` lines, each cropped or padded (unstyled spaces) to `width` cells."""
        style = Style.null()
        null = Style.null()
        out: list[Strip] = []
        for line in ansi.split("\n")[:height]:
            segments: list[Segment] = []
            position = 0
            for match in _SGR.finditer(line):
                start = match.start()
                if start > position:
                    segments.append(Segment(line[position:start], style or null))
                style = self._after(style, match.group(1))
                position = match.end()
            if position < len(line):
                segments.append(Segment(line[position:], style or null))
            length = sum(cell_len(s.text) for s in segments)
            strip = Strip(segments, length)
            out.append(strip.adjust_cell_length(width) if length != width else strip)
        return out
