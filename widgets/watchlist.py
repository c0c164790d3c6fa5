"""The ticker watchlist: one row per market, price flashing on change, Upbit colours."""

from __future__ import annotations

import logging
import time

from textual.app import ComposeResult

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.tui.messages import SymbolSelected, WatchlistChanged
from upbit_tui.tui.runtime import Runtime
from upbit_tui.wire.events import TickerEvent
from widgets.market_format import (
    FALL_FLASH,
    RISE_FLASH,
    change_style,
    format_change_rate,
    format_price,
    format_signed_price,
    format_traded_value,
    format_volume,
)
from widgets.proxy_pane import ProxyPane
from widgets.symbol_check import split_listed
from widgets.ticker_table import Column, TickerTable

log = logging.getLogger(__name__)

FLASH_SECONDS = 0.6
COLUMNS = [
    Column("market", "Market", 9, "left"),
    Column("price", "Price", 12),
    Column("change", "Change", 11),
    Column("rate", "Chg %", 7),
    Column("volume", "Vol 24h", 8),
    Column("value", "Value 24h", 10),
]
# Columns given up, in this order, when the pane is too narrow for all of them.
DROP_ORDER = ("change", "value", "volume")


class WatchlistPane(ProxyPane):
    """Tickers of the configured markets; moving the cursor selects a market."""

    KIND = "watchlist"
    BORDER_TITLE = "Watchlist"

    def __init__(
        self, runtime: Runtime, symbols: tuple[str, ...], *, id: str | None = None
    ) -> None:
        super().__init__(runtime, id=id)
        self._symbols: list[str] = list(symbols)
        self._subscribed: set[str] = set()
        self._latest: dict[str, TickerEvent] = {}
        self._shown_price: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._flash_until: dict[str, tuple[float, str]] = {}
        self.flushes = 0

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._symbols)

    @property
    def settled(self) -> bool:
        """Every market has data on screen and nothing is waiting to be painted."""
        return (
            bool(self._symbols)
            and not self._dirty
            and all(s in self._shown_price for s in self._symbols)
        )

    def latest(self, symbol: str) -> TickerEvent | None:
        return self._latest.get(symbol)

    def compose(self) -> ComposeResult:
        yield TickerTable(COLUMNS, drop_order=DROP_ORDER)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(TickerTable)
        for symbol in self._symbols:
            self._add_row(table, symbol)
        hz = self.runtime.config.ui.table_refresh_hz or 8.0
        self.flush_every(hz, self.flush)

    # -- what the user asks for -------------------------------------------------------------

    def add_symbol(self, symbol: str) -> bool:
        """Add a market (already normalised); False if it is listed already."""
        if symbol in self._symbols:
            return False
        self._symbols.append(symbol)
        self._add_row(self.query_one(TickerTable), symbol)
        self.post_message(WatchlistChanged(self.symbols))
        self.want_update()
        return True

    def remove_symbol(self, symbol: str) -> bool:
        if symbol not in self._symbols:
            return False
        self._symbols.remove(symbol)
        self._latest.pop(symbol, None)
        self._shown_price.pop(symbol, None)
        self.query_one(TickerTable).remove_row(symbol)
        self.post_message(WatchlistChanged(self.symbols))
        self.want_update()
        return True

    def select(self, symbol: str) -> bool:
        """Put the cursor on `symbol`'s row; False if it is not in the watchlist."""
        table = self.query_one(TickerTable)
        if symbol not in table.rows:
            return False
        table.cursor = table.rows.index(symbol)
        return True

    @property
    def selected_symbol(self) -> str | None:
        return self.query_one(TickerTable).selected

    def on_ticker_table_cursor_moved(self, event: TickerTable.CursorMoved) -> None:
        event.stop()
        self.post_message(SymbolSelected(event.symbol))

    # -- the proxy side ---------------------------------------------------------------------

    async def apply(self, proxy: WebSocketClientProxy) -> None:
        wanted = list(self._symbols)
        gone = [s for s in self._subscribed if s not in wanted]
        if gone:
            await proxy.unsubscribe_ticker(gone)
            self._subscribed.difference_update(gone)
        new = [s for s in wanted if s not in self._subscribed]
        if not new:
            return
        listed, unlisted = await split_listed(self.runtime_markets(), new)
        for symbol, reason in unlisted.items():
            self.notify(f"{reason}; removed from the watchlist", severity="error", timeout=10)
            self.remove_symbol(symbol)
        if listed:
            await proxy.subscribe_ticker(
                listed,
                self._on_ticker,
                error_handler=self._on_callback_error,
            )
            self._subscribed.update(listed)

    def _on_ticker(self, event: TickerEvent) -> None:
        if event.symbol not in self._shown_price and event.symbol not in self._symbols:
            return
        previous = self._latest.get(event.symbol)
        if (
            previous is not None
            and event.timestamp_ms
            and event.timestamp_ms < previous.timestamp_ms
        ):
            return  # an older snapshot after a newer live tick
        self._latest[event.symbol] = event
        self._dirty.add(event.symbol)

    def _on_callback_error(self, exc: BaseException) -> None:
        log.error("watchlist callback failed: %r", exc)

    # -- painting ---------------------------------------------------------------------------

    def flush(self) -> None:
        now = time.monotonic()
        expired = {s for s, (until, _) in self._flash_until.items() if until <= now}
        todo = self._dirty | expired
        if not todo:
            return
        for symbol in expired:
            self._flash_until.pop(symbol, None)
        self._dirty.clear()
        table = self.query_one(TickerTable)
        for symbol in todo:
            event = self._latest.get(symbol)
            if event is not None and symbol in self._symbols:
                self._paint_row(table, event, now)
        table.refresh_changed()
        self.flushes += 1

    def _paint_row(self, table: TickerTable, event: TickerEvent, now: float) -> bool:
        symbol = event.symbol
        shown = self._shown_price.get(symbol)
        if shown is not None and event.trade_price != shown:
            flash = RISE_FLASH if event.trade_price > shown else FALL_FLASH
            self._flash_until[symbol] = (now + FLASH_SECONDS, flash)
        self._shown_price[symbol] = event.trade_price
        style = change_style(event.change)
        flash_style = ""
        if symbol in self._flash_until and self._flash_until[symbol][0] > now:
            flash_style = " " + self._flash_until[symbol][1]
        return table.set_cells(
            symbol,
            {
                "price": (format_price(event.trade_price, symbol), style + flash_style),
                "change": (
                    format_signed_price(event.signed_change_price, symbol, event.trade_price),
                    style,
                ),
                "rate": (format_change_rate(event.signed_change_rate), style),
                "volume": (format_volume(event.acc_trade_volume_24h), ""),
                "value": (format_traded_value(event.acc_trade_price_24h, symbol), ""),
            },
        )

    def _add_row(self, table: TickerTable, symbol: str) -> None:
        cells = {c.key: ("-", "") for c in COLUMNS}
        cells["market"] = (symbol, "bold")
        table.add_row(symbol, cells)
