"""Balances: available / locked per asset and its KRW value at live prices.

Without API keys (or when the exchange refuses them) the pane says why and how to fix it,
instead of an empty table.
"""

from __future__ import annotations

import logging

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.tui.runtime import Runtime
from upbit_tui.wire.events import Asset, BalanceEvent, TickerEvent
from widgets.market_format import (
    change_style,
    fit_units,
    format_amount,
    format_krw,
    format_price,
)
from widgets.proxy_pane import ProxyPane
from widgets.ticker_table import Column, TickerTable

log = logging.getLogger(__name__)

HOW_TO_ENABLE = (
    "To see balances, give upbit-tui an Upbit API key with the 'view assets' permission: "
    "set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY in the environment, or access_key and "
    "secret_key under [auth] in the config file (chmod 600), then restart. "
    "`upbit-tui --demo` uses the simulator's test keys."
)
COLUMNS = [
    Column("asset", "Asset", 6, "left"),
    Column("available", "Available", 14),
    Column("locked", "Locked", 10),
    Column("price", "Price", 12),
    Column("value", "Value (KRW)", 14),
]
# Columns given up, in this order, when the pane is too narrow for all of them.
DROP_ORDER = ("locked", "price")


def price_route(currency: str, listed: frozenset[str] | None) -> tuple[str, ...]:
    """The markets that value `currency` in KRW: ('KRW-X',), or ('BTC-X', 'KRW-BTC') /
    ('USDT-X', 'KRW-USDT') for a coin Upbit lists only against BTC or USDT; () for none.
    Without the market list (unavailable now) the KRW market is assumed."""
    direct = f"KRW-{currency}"
    if listed is None or direct in listed:
        return (direct,)
    for quote in ("BTC", "USDT"):
        if f"{quote}-{currency}" in listed and f"KRW-{quote}" in listed:
            return (f"{quote}-{currency}", f"KRW-{quote}")
    return ()


class BalancesPane(ProxyPane):
    KIND = "balances"
    CONNECTION = "private"

    def __init__(self, runtime: Runtime, *, id: str | None = None) -> None:
        super().__init__(runtime, id=id)
        self.assets: dict[str, Asset] = {}
        self.prices: dict[str, TickerEvent] = {}
        self.unavailable: str | None = None
        self._balance_subscribed = False
        self._ticker_subscribed: set[str] = set()
        # currency -> the markets whose prices multiply to its KRW value (see price_route).
        self._routes: dict[str, tuple[str, ...]] = {}
        self._dirty = False
        self.flushes = 0

    def compose(self) -> ComposeResult:
        yield Static("connecting...", id="balances-notice")
        yield TickerTable(COLUMNS, show_cursor=False, drop_order=DROP_ORDER)

    def on_mount(self) -> None:
        super().on_mount()
        self.border_title = "Balances"
        hz = self.runtime.config.ui.table_refresh_hz or 8.0
        self.flush_every(hz, self.flush)
        self.query_one(TickerTable).display = False

    @property
    def settled(self) -> bool:
        """Either the reason private data is off is shown, or every asset has its value."""
        if self._dirty or self.flushes == 0:
            return False
        if self.unavailable is not None:
            return True
        return bool(self.assets) and all(self._priced(a) for a in self.assets.values())

    def total_krw(self) -> float:
        return sum(self._value(asset) or 0.0 for asset in self.assets.values())

    async def apply(self, proxy: WebSocketClientProxy) -> None:
        if not proxy.is_private_available():
            self.unavailable = proxy.private_unavailable_reason or "no API keys configured"
            self._dirty = True
            return
        self.unavailable = None
        if not self._balance_subscribed:
            await proxy.subscribe_balance(self._on_balance, error_handler=self._on_callback_error)
            self._balance_subscribed = True
        listed = await self.runtime_markets().listed()
        self._routes = {
            c: price_route(c, listed) for c in self.assets if c != "KRW" and c not in self._routes
        } | {c: r for c, r in self._routes.items() if c in self.assets}
        wanted = {market for route in self._routes.values() for market in route}
        gone = sorted(self._ticker_subscribed - wanted)
        new = sorted(wanted - self._ticker_subscribed)
        if gone:
            await proxy.unsubscribe_ticker(gone)
            self._ticker_subscribed.difference_update(gone)
        if new:
            await proxy.subscribe_ticker(
                new,
                self._on_ticker,
                error_handler=self._on_callback_error,
            )
            self._ticker_subscribed.update(new)
        self._dirty = True

    def _on_balance(self, event: BalanceEvent) -> None:
        before = set(self.assets)
        for asset in event.assets:
            if asset.balance == 0 and asset.locked == 0:
                self.assets.pop(asset.currency, None)
            else:
                known = self.assets.get(asset.currency)
                if asset.avg_buy_price is None and known is not None:
                    # myAsset does not carry avg_buy_price; keep the one REST gave us.
                    asset = Asset(
                        currency=asset.currency,
                        balance=asset.balance,
                        locked=asset.locked,
                        avg_buy_price=known.avg_buy_price,
                        unit_currency=asset.unit_currency,
                    )
                self.assets[asset.currency] = asset
        if set(self.assets) != before:
            self.want_update()
        self._dirty = True

    def _on_ticker(self, event: TickerEvent) -> None:
        self.prices[event.symbol] = event
        self._dirty = True

    def _on_callback_error(self, exc: BaseException) -> None:
        log.error("balances callback failed: %r", exc)

    def _value(self, asset: Asset) -> float | None:
        """KRW value: through the KRW market, else through BTC or USDT and their KRW price."""
        amount = asset.balance + asset.locked
        if asset.currency == "KRW":
            return amount
        route = self._routes.get(asset.currency, (f"KRW-{asset.currency}",))
        value = amount
        for market in route:
            ticker = self.prices.get(market)
            if ticker is None:
                return None
            value *= ticker.trade_price
        return value if route else None

    def _priced(self, asset: Asset) -> bool:
        """Valued, or not tradable against KRW, BTC or USDT at all (shown as '-')."""
        return self._value(asset) is not None or self._routes.get(asset.currency) == ()

    def flush(self) -> None:
        proxy = self.proxy
        if proxy is not None and self.unavailable is None and not proxy.is_private_available():
            # Keys were refused after we subscribed: show the reason.
            self.unavailable = proxy.private_unavailable_reason or "private data unavailable"
            self._dirty = True
        elif proxy is not None and self.unavailable is not None and proxy.is_private_available():
            self.want_update()
        if not self._dirty:
            return
        self._dirty = False
        self.flushes += 1
        notice = self.query_one("#balances-notice", Static)
        table = self.query_one(TickerTable)
        if self.unavailable is not None:
            notice.update(
                Text.assemble(
                    ("Private data unavailable: ", "bold yellow"),
                    # The how-to below says how to give keys; the reason need not say it twice.
                    self.unavailable.partition(":")[0]
                    if self.unavailable.startswith("no Upbit API keys")
                    else self.unavailable,
                    "\n\n",
                    (HOW_TO_ENABLE, "dim"),
                )
            )
            notice.display = True
            table.display = False
            self.set_note("")
            return
        if not self.assets:
            notice.update(
                Text(
                    "waiting for balances..." if self._balance_subscribed else "connecting...",
                    style="dim",
                )
            )
            notice.display = True
            table.display = False
            return
        if notice.display or not table.display:
            notice.display = False
            table.display = True
        self._paint(table)
        table.refresh_changed()
        subtitle = f"total ≈ {format_krw(self.total_krw())}"
        self.set_note(subtitle)

    def _paint(self, table: TickerTable) -> bool:
        changed = False
        for stale in [c for c in table.rows if c not in self.assets]:
            table.remove_row(stale)
            changed = True
        for currency in sorted(self.assets, key=lambda c: (c != "KRW", c)):
            asset = self.assets[currency]
            route = self._routes.get(currency, (f"KRW-{currency}",))
            ticker = self.prices.get(route[0]) if route else None
            value = self._value(asset)
            if ticker is not None:
                price = (
                    format_price(ticker.trade_price, ticker.symbol),
                    change_style(ticker.change),
                )
            else:
                price = ("" if currency == "KRW" else "-", "")
            cells = {
                "asset": (currency, "bold"),
                "available": (format_amount(asset.balance), ""),
                "locked": (format_amount(asset.locked, width=10), ""),
                "price": price,
                "value": ("-" if value is None else fit_units(value, 14, f"{value:,.0f}"), ""),
            }
            if currency not in table.rows:
                table.add_row(currency, cells)
                changed = True
            else:
                changed = table.set_cells(currency, cells) or changed
        return changed
