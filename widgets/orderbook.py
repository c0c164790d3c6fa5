"""The order book of the selected market: asks above bids, depth bars, spread and totals."""

from __future__ import annotations

import logging

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.tui.runtime import Runtime
from upbit_tui.wire.events import OrderbookEvent, OrderbookUnit, TickerEvent
from widgets.market_format import (
    FALL_STYLE,
    RISE_STYLE,
    depth_bar,
    format_change_rate,
    format_price,
    format_size_column,
    format_volume,
)
from widgets.proxy_pane import ProxyPane
from widgets.ticker_table import cached_style

log = logging.getLogger(__name__)

ASK_BAR = "dodger_blue2"
BID_BAR = "red"


class OrderbookPane(ProxyPane):
    """Follows one market at a time; `set_symbol` retargets it."""

    KIND = "orderbook"

    def __init__(self, runtime: Runtime, symbol: str | None, *, id: str | None = None) -> None:
        super().__init__(runtime, id=id)
        self.symbol = symbol
        self.depth = runtime.config.ui.orderbook_depth
        self.book: OrderbookEvent | None = None
        self.ticker: TickerEvent | None = None
        self._subscribed: str | None = None
        self._dirty = False
        self.flushes = 0
        self._lines = Lines()
        self._paint_base: Style | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self._set_title()
        hz = self.runtime.config.ui.table_refresh_hz or 8.0
        # Half a period after the watchlist's flush: the two columns repaint in separate frames.
        self.flush_every(hz, self.flush, offset=0.5 / hz)

    @property
    def settled(self) -> bool:
        return self.book is not None and self.ticker is not None and not self._dirty

    def set_symbol(self, symbol: str | None) -> None:
        if symbol == self.symbol:
            return
        self.symbol = symbol
        self.book = None
        self.ticker = None
        self._set_title()
        self._redraw()
        self.want_update()

    def _set_title(self) -> None:
        self.border_title = f"Order book {self.symbol or ''}".rstrip()

    async def apply(self, proxy: WebSocketClientProxy) -> None:
        wanted = self.symbol
        if wanted == self._subscribed:
            return
        if self._subscribed is not None:
            await proxy.unsubscribe_orderbook()
            await proxy.unsubscribe_ticker()
            self._subscribed = None
        if wanted is None:
            return
        await proxy.subscribe_orderbook(
            [wanted],
            self._on_orderbook,
            depth=self.depth,
            error_handler=self._on_callback_error,
        )
        await proxy.subscribe_ticker(
            [wanted],
            self._on_ticker,
            error_handler=self._on_callback_error,
        )
        self._subscribed = wanted

    def _on_orderbook(self, event: OrderbookEvent) -> None:
        if event.symbol == self.symbol:
            self.book = event
            self._dirty = True

    def _on_ticker(self, event: TickerEvent) -> None:
        if event.symbol == self.symbol:
            self.ticker = event
            self._dirty = True

    def _on_callback_error(self, exc: BaseException) -> None:
        log.error("orderbook callback failed: %r", exc)

    def flush(self) -> None:
        if self._dirty:
            self._dirty = False
            self.flushes += 1
            self._redraw()

    def _layout(self) -> Lines:
        if self.symbol is None:
            return Lines("Select a market in the watchlist.", "dim")
        if self.book is None:
            waiting = "connecting..." if not self.runtime.ready else "waiting for the order book..."
            return Lines(self.last_error or waiting, "dim")
        return render_book(self.book, self.ticker, self.size.width, self.size.height)

    @property
    def text(self) -> str:
        """What the pane shows, as plain text."""
        return self._lines.plain

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        """Rebuild the lines; repaint only those that differ when the shape is the same."""
        old = self._lines.rows
        self._lines = self._layout()
        new = self._lines.rows
        if len(old) != len(new):
            self.refresh()
            return
        width = self.size.width
        regions = [Region(0, y, width, 1) for y, row in enumerate(new) if row != old[y]]
        if regions:
            self.refresh(*regions)

    def render_lines(self, crop: Region) -> list[Strip]:
        # The base style once per paint, not once per line (each lookup walks the DOM).
        self._paint_base = self.rich_style
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        # Lines are built once per flush from pre-styled segments; a frame only copies them.
        base = self._paint_base or self.rich_style
        width = self.size.width
        if y >= len(self._lines.rows):
            return Strip.blank(width, base)
        segments = [Segment(s.text, base + s.style) for s in self._lines.rows[y]]
        return Strip(segments).crop_extend(0, width, base)


class Lines:
    """Styled text built line by line straight into segments (no Rich layout pass)."""

    def __init__(self, text: str = "", style: str = "") -> None:
        self.rows: list[list[Segment]] = [[]]
        if text:
            self.append(text, style)

    def append(self, text: str, style: str = "") -> None:
        for index, part in enumerate(text.split("\n")):
            if index:
                self.rows.append([])
            if part:
                self.rows[-1].append(Segment(part, cached_style(style)))

    @property
    def plain(self) -> str:
        return "\n".join("".join(s.text for s in row) for row in self.rows)


def render_book(book: OrderbookEvent, ticker: TickerEvent | None, width: int, height: int) -> Lines:
    """Asks (highest first) above bids, each row: price, % vs previous close, size, bar."""
    symbol = book.symbol
    units = book.orderbook_units
    rows = max(1, min(len(units), (height - 4) // 2))
    shown = units[:rows]
    largest = max((max(u.ask_size, u.bid_size) for u in shown), default=0.0)
    prev_close = ticker.prev_closing_price if ticker else 0.0
    price_w = max(len(format_price(u.ask_price, symbol)) for u in shown) if shown else 10
    size_w = 11
    rate_w = 7
    bar_w = max(0, width - price_w - rate_w - size_w - 3)
    # One column for both sides, so every decimal point lines up.
    sizes = format_size_column([u.ask_size for u in shown] + [u.bid_size for u in shown])
    ask_sizes, bid_sizes = sizes[: len(shown)], sizes[len(shown) :]
    out = Lines()
    header = f"{'Price':>{price_w}} {'%':>{rate_w}} {'Size':>{size_w}} "
    out.append(header + "\n", style="bold")
    for unit, size_text in reversed(list(zip(shown, ask_sizes, strict=True))):
        _book_row(
            out,
            unit.ask_price,
            unit.ask_size,
            size_text,
            largest,
            prev_close,
            symbol,
            (price_w, rate_w, size_w, bar_w),
            ASK_BAR,
        )
    _spread_line(out, units, symbol, width)
    for unit, size_text in zip(shown, bid_sizes, strict=True):
        _book_row(
            out,
            unit.bid_price,
            unit.bid_size,
            size_text,
            largest,
            prev_close,
            symbol,
            (price_w, rate_w, size_w, bar_w),
            BID_BAR,
        )
    totals = f"asks {format_volume(book.total_ask_size)}  bids {format_volume(book.total_bid_size)}"
    out.append(totals[:width], style="bold")
    return out


def _book_row(
    out: Lines,
    price: float,
    size: float,
    size_text: str,
    largest: float,
    prev_close: float,
    symbol: str,
    widths: tuple[int, int, int, int],
    bar_style: str,
) -> None:
    price_w, rate_w, size_w, bar_w = widths
    style = ""
    rate_text = ""
    if prev_close > 0:
        rate = (price - prev_close) / prev_close
        shown = round(rate * 100, 2)
        style = RISE_STYLE if shown > 0 else FALL_STYLE if shown < 0 else ""
        rate_text = format_change_rate(rate)
    out.append(f"{format_price(price, symbol):>{price_w}} ", style=style)
    out.append(f"{rate_text:>{rate_w}} ", style=style)
    out.append(f"{size_text:>{size_w}} ")
    out.append(depth_bar(size, largest, bar_w), style=bar_style)
    out.append("\n")


def _spread_line(out: Lines, units: list[OrderbookUnit], symbol: str, width: int) -> None:
    if not units:
        out.append("(empty book)\n", style="dim")
        return
    best_ask, best_bid = units[0].ask_price, units[0].bid_price
    spread = best_ask - best_bid
    mid = (best_ask + best_bid) / 2
    percent = spread / mid * 100 if mid else 0.0
    line = f"spread {format_price(spread, symbol)} ({percent:.3f}%)"
    out.append(f"{line:^{width}}"[:width] + "\n", style="reverse")
