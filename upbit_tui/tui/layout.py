"""Which panes exist and where they sit for the terminal's width (wide, narrow, tiny).

Kept out of app.py so the palette can list the panes without importing the app.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget

# Toggleable panes: name -> (container id, position in it, label).
PANES: dict[str, tuple[str, int, str]] = {
    "watchlist": ("left", 0, "watchlist"),
    "balances": ("left", 1, "balances"),
    "candles": ("center", 0, "candles"),
    "orderbook": ("right", 0, "order book"),
}

# Below NARROW_WIDTH columns the watchlist goes on top at full width, the order book and chart
# share the row below and the balances show only when asked for (b); below TINY_WIDTH only one
# of the order book and the chart shows at a time (o / c picks it).
NARROW_WIDTH = 150
TINY_WIDTH = 100


def layout_mode(screen: Screen[object] | None) -> str:
    """ "wide", "narrow" or "tiny": the main screen's layout for the terminal's width."""
    if screen is None or not screen.has_class("-narrow"):
        return "wide"
    return "tiny" if screen.has_class("-tiny") else "narrow"


def apply_layout(
    screen: Screen[object],
    width: int,
    mounted: Mapping[str, Widget],
    *,
    narrow_balances: bool,
    tiny_front: str,
) -> None:
    """Show each column that holds a visible pane; wide: with the chart hidden, the
    right-most visible column takes the free width; narrow (see NARROW_WIDTH) only when
    panes of more than one column are mounted (a single column fills the screen anyway)."""
    in_use = {PANES[n][0] for n in mounted}
    narrow = width < NARROW_WIDTH and len(in_use) > 1
    screen.set_class(narrow, "-narrow")
    screen.set_class(narrow and width < TINY_WIDTH, "-tiny")
    mode = layout_mode(screen)
    main = screen.query_one("#main", Horizontal)
    columns = [screen.query_one(f"#{c}", Vertical) for c in ("left", "center", "right")]
    for column in columns:
        column.styles.width = None  # back to app.tcss
        column.styles.max_width = None
        column.styles.column_span = None
    main.styles.grid_rows = None
    front = tiny_front
    if front not in mounted:
        front = "orderbook" if front == "candles" else "candles"
    for name, pane in mounted.items():
        shown = True
        if mode != "wide" and name == "balances":
            shown = narrow_balances
        if mode == "tiny" and name in ("candles", "orderbook"):
            shown = name == front
        pane.display = shown
    balances = mounted.get("balances")
    screen.set_class(mode != "wide" and balances is not None and balances.display, "-with-balances")
    for column in columns:
        column.display = any(
            isinstance(w, Widget) and w.id in PANES and w.display for w in column.children
        )
    visible = [c for c in columns if c.display]
    for hint in screen.query("#all-hidden"):
        hint.display = not visible
    if mode == "wide":
        if visible and not columns[1].display:
            visible[-1].styles.width = "1fr"
            visible[-1].styles.max_width = "100%"
        return
    bottom = [c for c in columns[1:] if c.display]
    if len(bottom) == 1:
        bottom[0].styles.column_span = 2
    if not (columns[0].display and bottom):
        main.styles.grid_rows = "1fr"
