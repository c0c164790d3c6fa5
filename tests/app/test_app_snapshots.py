"""What the user sees, pinned as SVG snapshots in snapshots/test_app_snapshots/.

Deterministic: the app's own simulator runs with a fixed seed, no automatic trades (rate=0) and
a fixed clock; each snapshot is taken once the data it shows has been painted (a condition, not
a sleep). Accept changes with `pytest --snapshot-update` only after looking at the images.
"""

from __future__ import annotations

from typing import Any

from app_harness import SIZE, demo_app, wait_for
from textual.pilot import Pilot

from upbit_tui.tui.app import UpbitApp
from upbit_tui.tui.screens import AddSymbolScreen
from widgets.candles import CandlesPane
from widgets.dashboard import DashboardPane


def settled(app: UpbitApp, *names: str) -> bool:
    """Each pane painted its data; the chart also got the exchange's candle snapshot (it may
    differ from the REST candle of the same minute, and arrives on its own schedule)."""
    panes = [app.pane(name) for name in names]
    if not all(p is not None and getattr(p, "settled", False) for p in panes):
        return False
    chart = app.pane("candles")
    return "candles" not in names or (isinstance(chart, CandlesPane) and chart.live_events > 0)


def test_main_screen(snap_compare: Any) -> None:
    app = demo_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(
            pilot,
            lambda: settled(app, "watchlist", "orderbook", "candles", "balances"),
            "every pane to show data",
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_watchlist_pane(snap_compare: Any) -> None:
    app = demo_app(panes=("watchlist",))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: settled(app, "watchlist"), "the watchlist")

    assert snap_compare(app, terminal_size=(100, 16), run_before=run_before)


def test_orderbook_pane(snap_compare: Any) -> None:
    app = demo_app(panes=("orderbook",))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: settled(app, "orderbook"), "the order book")

    assert snap_compare(app, terminal_size=(80, 40), run_before=run_before)


def test_candles_pane(snap_compare: Any) -> None:
    app = demo_app(panes=("candles",))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: settled(app, "candles"), "the candle chart")

    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_btc_and_usdt_markets(snap_compare: Any) -> None:
    """BTC- and USDT-quoted markets as a user adds them: prices in their tick's decimals (BTC 8,
    USDT-BTC 2, USDT-SHIB 8), 24h value in their quote currency, named; BTC-ETH's book and chart."""
    app = demo_app(symbols=("BTC-ETH", "USDT-BTC", "USDT-SHIB", "KRW-BTC"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(
            pilot,
            lambda: settled(app, "watchlist", "orderbook", "candles", "balances"),
            "every pane to show data",
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_balances_pane(snap_compare: Any) -> None:
    app = demo_app(panes=("balances",))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: settled(app, "balances"), "valued balances")

    assert snap_compare(app, terminal_size=(90, 18), run_before=run_before)


def test_balances_pane_without_keys(snap_compare: Any) -> None:
    app = demo_app(keys=False, panes=("balances",))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: settled(app, "balances"), "the no-keys notice")

    assert snap_compare(app, terminal_size=(90, 18), run_before=run_before)


def test_unlisted_market_error(snap_compare: Any) -> None:
    app = demo_app(panes=("watchlist",))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: settled(app, "watchlist"), "the watchlist")
        app.add_symbol("KRW-BTCC")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, AddSymbolScreen) and "did you mean" in app.screen.error_text
            ),
            "the dialog to refuse the unlisted market and suggest KRW-BTC",
        )

    assert snap_compare(app, terminal_size=(100, 20), run_before=run_before)


def test_help_screen(snap_compare: Any) -> None:
    app = demo_app(panes=("watchlist",))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: settled(app, "watchlist"), "the watchlist")

    assert snap_compare(
        app, terminal_size=(110, 44), press=["question_mark"], run_before=run_before
    )


def steady_figures(data: dict[str, Any], health: dict[str, Any]) -> None:
    """Pin the dashboard figures that depend on elapsed wall time (uptime, rates, latency,
    refilling rate-limit tokens, RSS, CPU) to fixed values, in place. Everything else on the
    screen (connections and their states, epochs, reconnects, every client's subscriptions,
    queues, policies, health status) is what the real manager reported."""
    for conn in data["connections"].values():
        conn["uptime"] = 75.0
    data["rate_limit_tokens"] = dict.fromkeys(data["rate_limit_tokens"], 3.0)
    for sub in data["subscribers"]:
        sub["delivered"] = 1
    health.update(
        messages_per_second=12.5,
        average_latency_ms=3.2,
        p50_latency_ms=2.1,
        p99_latency_ms=9.8,
        max_latency_ms=14.0,
        memory_usage_mb=80.0,
        cpu_usage_percent=4.0,
    )


def test_dashboard(snap_compare: Any) -> None:
    # The simulator's clock is real here (latency is measured against it); the market data it
    # drives is not on this screen.
    app = demo_app(fixed_exchange_clock=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(
            pilot,
            lambda: settled(app, "watchlist", "orderbook", "candles", "balances"),
            "every pane to show data",
        )
        await pilot.press("d")
        dashboard = app.screen.query_one(DashboardPane)
        await wait_for(
            pilot,
            lambda: dashboard.refreshes >= 1 and dashboard.health is not None,
            "the dashboard",
        )
        await pilot.press("p")  # freeze it, as a user would to read it
        assert dashboard.paused and dashboard.data is not None and dashboard.health is not None
        steady_figures(dashboard.data, dashboard.health)
        dashboard.rates.clear()
        dashboard.rates.extend([30.0, 12.0, 8.0, 15.0, 12.5] * 4)
        dashboard.frame_rates = dict.fromkeys(dashboard.data["connections"], 12.5)
        dashboard.show(dashboard.data, dashboard.health)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_main_screen_narrow(snap_compare: Any) -> None:
    """Below NARROW_WIDTH: watchlist on top, chart and order book side by side, no balances."""
    app = demo_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(
            pilot, lambda: settled(app, "watchlist", "orderbook", "candles"), "the panes' data"
        )

    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_main_screen_narrow_tiny(snap_compare: Any) -> None:
    """An 80x24 terminal: the watchlist and one of chart / order book (the chart at start)."""
    app = demo_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: settled(app, "watchlist", "candles"), "the panes' data")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
