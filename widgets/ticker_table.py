"""A keyed table for hundreds of live rows, drawn with Textual's line API.

DataTable renders every visible cell through Rich on each change; with the whole KRW market
(200+ rows) changing several times a second that was most of the app's CPU. Here each row is
one cached Strip of pre-styled segments, rebuilt only when one of its cells changed, and a frame
only copies the visible rows' strips. `refresh_changed()` repaints just the visible rows that
changed: Textual re-renders and re-composites only those lines, not the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    justify: str = "right"  # "left" or "right"


@lru_cache(maxsize=256)
def cached_style(spec: str) -> Style:
    """A parsed Rich style, parsed once per spelling."""
    return Style.parse(spec) if spec else Style()


def _justify(text: str, column: Column) -> str:
    if len(text) > column.width:
        # Never a cut number (2,668.36 for 2.67T): right-aligned (numeric) cells that do not fit
        # show '#' as a spreadsheet does; the formatters pick units so this stays rare.
        text = "#" * column.width if column.justify == "right" else text[: column.width]
    return text.rjust(column.width) if column.justify == "right" else text.ljust(column.width)


class TickerTable(ScrollView, can_focus=True):
    """Rows keyed by market code; a cursor row selects one."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"ticker-table--header", "ticker-table--cursor"}
    DEFAULT_CSS = """
    TickerTable {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 0;
    }
    TickerTable > .ticker-table--header {
        text-style: bold;
        background: $panel;
    }
    TickerTable > .ticker-table--cursor {
        background: $foreground 12%;
    }
    TickerTable:focus > .ticker-table--cursor {
        background: $foreground 22%;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0)

    @dataclass
    class CursorMoved(Message):
        """The cursor is on another market."""

        table: TickerTable
        symbol: str

        @property
        def control(self) -> TickerTable:
            return self.table

    def __init__(
        self,
        columns: list[Column],
        *,
        id: str | None = None,
        show_cursor: bool = True,
        drop_order: tuple[str, ...] = (),
    ) -> None:
        super().__init__(id=id, disabled=False)
        self.show_cursor = show_cursor
        self.can_focus = show_cursor
        self.all_columns = list(columns)
        self.drop_order = drop_order
        self.columns = list(columns)
        self.rows: list[str] = []
        self._index: dict[str, int] = {}
        self._cells: dict[str, dict[str, tuple[str, str]]] = {}
        self._strips: dict[str, list[Segment]] = {}
        # Finished lines of rows without the cursor, in the widget's base style.
        self._lines: dict[str, Strip] = {}
        self._lines_base: Style | None = None
        # Rows whose cells changed since the last refresh_changed().
        self._changed: set[str] = set()
        self._width = sum(c.width + 2 for c in columns)
        self._paint_styles: tuple[Style, Style, Style] | None = None

    # -- data ---------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def selected(self) -> str | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def add_row(self, key: str, cells: dict[str, tuple[str, str]]) -> None:
        if key in self._index:
            return
        self._index[key] = len(self.rows)
        self.rows.append(key)
        self._cells[key] = dict(cells)
        self._widen_for(cells)
        self._resize()
        if len(self.rows) == 1:
            self.post_message(self.CursorMoved(self, key))

    def remove_row(self, key: str) -> None:
        if key not in self._index:
            return
        self.rows.remove(key)
        self._index = {k: i for i, k in enumerate(self.rows)}
        self._cells.pop(key, None)
        self._strips.pop(key, None)
        self._lines.pop(key, None)
        self._resize()
        if self.rows:
            self.cursor = min(self.cursor, len(self.rows) - 1)
            self.post_message(self.CursorMoved(self, self.rows[self.cursor]))

    def set_cells(self, key: str, cells: dict[str, tuple[str, str]]) -> bool:
        """Update some cells of a row: (text, rich style). True if anything changed."""
        row = self._cells.get(key)
        if row is None:
            return False
        changed = False
        for column, value in cells.items():
            if row.get(column) != value:
                row[column] = value
                changed = True
        if changed:
            self._strips.pop(key, None)
            self._lines.pop(key, None)
            self._changed.add(key)
            self._widen_for(cells)
        return changed

    def refresh_changed(self) -> None:
        """Repaint the visible rows changed by `set_cells` since the last call (only those)."""
        changed, self._changed = self._changed, set()
        top = self.scroll_offset.y
        visible = self.scrollable_content_region.height - 1  # below the header
        width = max(self.virtual_size.width, self.size.width)
        rows = [self._index.get(key) for key in changed]
        regions = [
            Region(0, i + 1 - top, width, 1)
            for i in rows
            if i is not None and 0 <= i - top < visible
        ]
        if regions:
            self.refresh(*regions)

    def cell(self, key: str, column: str) -> str:
        return self._cells.get(key, {}).get(column, ("", ""))[0]

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self.rows) + 1)
        self.refresh()

    # -- fitting the width --------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns(event.size.width)

    def _widen_for(self, cells: dict[str, tuple[str, str]]) -> None:
        """Widen a left-aligned (text) column to its longest cell: a market code such as
        USDT-TRUMP is never cut to fit the width its column started with."""
        wider = {
            c.key: len(cells[c.key][0])
            for c in self.all_columns
            if c.justify == "left" and c.key in cells and len(cells[c.key][0]) > c.width
        }
        if not wider:
            return
        self.all_columns = [
            replace(c, width=wider[c.key]) if c.key in wider else c for c in self.all_columns
        ]
        # Not laid out yet (width 0): show every column until the first resize fits them.
        self.fit_columns(self.size.width or sum(c.width + 2 for c in self.all_columns))

    def fit_columns(self, width: int) -> None:
        """Show whole columns only: drop the least important (`drop_order`, first goes first)
        until the rest fit in `width` cells, rather than cutting the right-most one."""
        shown = list(self.all_columns)
        for key in self.drop_order:
            if sum(c.width + 2 for c in shown) <= width:
                break
            shown = [c for c in shown if c.key != key]
        if shown == self.columns:
            return
        self.columns = shown
        self._width = sum(c.width + 2 for c in shown)
        self._strips.clear()
        self._lines.clear()
        self._resize()

    # -- drawing ------------------------------------------------------------------------------

    def _row_segments(self, key: str) -> list[Segment]:
        cached = self._strips.get(key)
        if cached is not None:
            return cached
        cells = self._cells[key]
        segments = []
        for column in self.columns:
            text, spec = cells.get(column.key, ("", ""))
            segments.append(Segment(f" {_justify(text, column)} ", cached_style(spec)))
        self._strips[key] = segments
        return segments

    @property
    def styled(self) -> bool:
        """Whether the stylesheet has given this table its component styles.

        Not yet before the stylesheet first reaches it, and no longer once it is pruned: the
        screen's compositor can still paint a table removed with its pane (or one mounted under
        a busy loop) before the next layout, and asking for a component style then raises
        KeyError ("No 'ticker-table--header' key in COMPONENT_CLASSES").
        """
        return all(name in self._component_styles for name in self.COMPONENT_CLASSES)

    def render_lines(self, crop: Region) -> list[Strip]:
        if not self.styled:
            # Blank until styled; the stylesheet refreshes the table when its styles arrive.
            return [Strip.blank(crop.width)] * crop.height
        # Styles resolved once per paint, not once per line (each lookup walks the DOM).
        self._paint_styles = (
            self.rich_style,
            self.get_component_rich_style("ticker-table--header"),
            self.get_component_rich_style("ticker-table--cursor"),
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if self._paint_styles is None and not self.styled:
            return Strip.blank(self.scrollable_content_region.width)
        base, header_style, cursor_style = self._paint_styles or (
            self.rich_style,
            self.get_component_rich_style("ticker-table--header"),
            self.get_component_rich_style("ticker-table--cursor"),
        )
        if y == 0:
            header = [Segment(f" {_justify(c.label, c)} ") for c in self.columns]
            strip = Strip(header).apply_style(base + header_style)
            return strip.crop_extend(scroll_x, scroll_x + width, base + header_style)
        index = y - 1 + scroll_y
        if index >= len(self.rows):
            return Strip.blank(width, base)
        key = self.rows[index]
        if index == self.cursor and self.show_cursor:
            row_style = base + cursor_style
            segments = [Segment(s.text, row_style + s.style) for s in self._row_segments(key)]
            return Strip(segments).crop_extend(scroll_x, scroll_x + width, row_style)
        if self._lines_base != base:  # theme or focus changed: every cached line is stale
            self._lines.clear()
            self._lines_base = base
        line = self._lines.get(key)
        if line is None:
            line = Strip([Segment(s.text, base + s.style) for s in self._row_segments(key)])
            self._lines[key] = line
        return line.crop_extend(scroll_x, scroll_x + width, base)

    # -- cursor -------------------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.rows) - 1)) if self.rows else 0

    def watch_cursor(self, old: int, new: int) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)
        if new < self.scroll_offset.y:
            self.scroll_to(y=new, animate=False)
        elif new >= self.scroll_offset.y + visible:
            self.scroll_to(y=new - visible + 1, animate=False)
        self.refresh()
        if self.rows and old != new:
            self.post_message(self.CursorMoved(self, self.rows[new]))

    def action_cursor(self, step: int) -> None:
        self.cursor += step

    def action_page(self, step: int) -> None:
        self.cursor += step * max(1, self.scrollable_content_region.height - 2)

    def action_jump(self, where: int) -> None:
        self.cursor = where if where >= 0 else len(self.rows) - 1

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.cursor = event.y - 1 + self.scroll_offset.y
