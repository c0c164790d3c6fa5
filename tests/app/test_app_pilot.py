"""The app driven like a user would, against the real simulator on 127.0.0.1."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from app_harness import (
    SIZE,
    SYMBOLS,
    demo_app,
    fixed_clock,
    sim_config,
    wait_for,
)
from sim_requests import last_request_types
from textual.command import CommandList, CommandPalette
from textual.message import Message
from textual.notifications import Notify
from textual.worker import WorkerState

from upbit_tui.config import load_config
from upbit_tui.tui.app import UpbitApp, make_app
from upbit_tui.tui.screens import AddSymbolScreen, ConfirmScreen
from widgets.balances import HOW_TO_ENABLE, BalancesPane
from widgets.candles import CandlesPane
from widgets.dashboard import DashboardPane
from widgets.market_format import format_price
from widgets.orderbook import OrderbookPane
from widgets.watchlist import WatchlistPane


def pane(app: UpbitApp, name: str) -> Any:
    found = app.pane(name)
    assert found is not None, f"{name} pane is not mounted"
    return found


async def test_selecting_a_market_retargets_order_book_and_candles(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        book: OrderbookPane = pane(app, "orderbook")
        candles: CandlesPane = pane(app, "candles")
        await wait_for(pilot, lambda: book.settled and candles.settled, "KRW-BTC book and chart")
        assert book.book is not None and book.book.symbol == "KRW-BTC"

        await pilot.press("down")
        await wait_for(
            pilot,
            lambda: book.book is not None and book.book.symbol == "KRW-ETH" and book.settled,
            "the order book to follow the cursor to KRW-ETH",
        )
        await wait_for(pilot, lambda: candles.symbol == "KRW-ETH" and candles.settled, "chart")
        assert book.border_title == "Order book KRW-ETH"
        best_ask = book.book.orderbook_units[0].ask_price
        assert format_price(best_ask, "KRW-ETH") in book.text
        # The exchange now streams the ETH book and no longer the BTC one.
        await wait_for(
            pilot,
            lambda: last_request_types(sim).get("orderbook", set()) == {"KRW-ETH"},
            "the consolidated request to carry only the KRW-ETH order book",
        )


async def test_hiding_a_pane_removes_exactly_its_subscriptions(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot,
            lambda: (
                all(pane(app, n).settled for n in ("watchlist", "orderbook", "candles"))
                and "orderbook" in last_request_types(sim)
                and set(SYMBOLS) <= last_request_types(sim).get("ticker", set())
            ),
            "every pane subscribed",
        )
        tickers_before = last_request_types(sim)["ticker"]

        await pilot.press("o")
        assert app.pane("orderbook") is None
        await wait_for(
            pilot,
            lambda: "orderbook" not in last_request_types(sim),
            "the orderbook type to leave the consolidated request",
        )
        # The other panes' subscriptions are untouched.
        assert last_request_types(sim)["ticker"] == tickers_before
        assert any(t.startswith("candle.") for t in last_request_types(sim))

        await pilot.press("o")
        again: OrderbookPane = pane(app, "orderbook")
        await wait_for(pilot, lambda: again.settled, "the re-created order book")
        await wait_for(
            pilot, lambda: "orderbook" in last_request_types(sim), "orderbook subscribed again"
        )


async def test_quit_cancels_the_manager_worker_and_closes_sockets(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pane(app, "watchlist").settled, "the watchlist")
        worker = app.runtime_worker
        assert worker is not None and worker.state == WorkerState.RUNNING
        await pilot.press("q")
    assert worker.state == WorkerState.CANCELLED
    assert app.return_code == 0
    assert sim.stats()["connections"]["open"] == 0


async def test_watchlist_add_remove_and_bad_symbols(sim: Any, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# mine\n[watchlist]\nsymbols = ["KRW-BTC", "KRW-ETH"]\n')
    app = make_app(
        sim_config(sim, symbols=("KRW-BTC", "KRW-ETH"), source=path), health_interval=None
    )
    notes = NotificationLog()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        watchlist: WatchlistPane = pane(app, "watchlist")
        await wait_for(pilot, lambda: watchlist.settled, "the watchlist")

        app.add_symbol("krw-nope")  # well-formed, but not listed: the dialog says so
        await wait_for(pilot, lambda: isinstance(app.screen, AddSymbolScreen), "the dialog")
        dialog = app.screen
        assert isinstance(dialog, AddSymbolScreen)
        await wait_for(pilot, lambda: "not listed on Upbit" in dialog.error_text, "the error")
        assert watchlist.symbols == ("KRW-BTC", "KRW-ETH")
        await pilot.press("escape")

        # The command palette adds a market typed into it.
        await pilot.press("ctrl+p")
        await pilot.press(*"KRW-XRP")
        await wait_for(pilot, lambda: _palette_offers(app, "Add KRW-XRP"), "the palette hit")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: watchlist.settled and "KRW-XRP" in watchlist.symbols,
            "KRW-XRP in the watchlist",
        )
        await wait_for(pilot, lambda: "KRW-XRP" in last_request_types(sim)["ticker"], "ticker")

        app.remove_symbol("KRW-ETH")
        await pilot.press("s")
        await wait_for(pilot, lambda: "Saved" in notes.last, "saved")
    assert load_config(path).watchlist.symbols == ("KRW-BTC", "KRW-XRP")
    assert path.read_text().startswith("# mine\n")


async def test_timeframe_switch_resubscribes_candles(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        candles: CandlesPane = pane(app, "candles")
        await wait_for(pilot, lambda: candles.settled, "the chart")
        assert candles.timeframe == "1m" and len(candles.bars) == 200
        await pilot.press("t")
        await wait_for(pilot, lambda: candles.timeframe == "3m" and candles.settled, "3m chart")
        await wait_for(
            pilot,
            lambda: (
                "candle.3m" in last_request_types(sim)
                and "candle.1m" not in last_request_types(sim)
            ),
            "candle.3m replacing candle.1m on the wire",
        )
        app.set_timeframe("1d")
        await wait_for(pilot, lambda: candles.timeframe == "1d" and candles.settled, "day chart")
        assert not any(t.startswith("candle.") for t in last_request_types(sim))


async def test_balances_without_keys_say_why_and_how(sim: Any) -> None:
    app = make_app(sim_config(sim, keys=False), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        balances: BalancesPane = pane(app, "balances")
        await wait_for(pilot, lambda: balances.settled, "the balances notice")
        assert balances.unavailable
        notice = str(balances.query_one("#balances-notice").render())
        assert "Private data unavailable" in notice and notice.count("UPBIT_ACCESS_KEY") == 1
        assert HOW_TO_ENABLE[:40] in notice.replace("\n", " ")


async def test_balances_with_keys_show_krw_values(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        balances: BalancesPane = pane(app, "balances")
        await wait_for(pilot, lambda: balances.settled, "valued balances")
        assert "KRW" in balances.assets
        assert balances.total_krw() > 0
        assert balances.unavailable is None


async def test_dashboard_lists_connections_and_clients(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pane(app, "watchlist").settled, "the watchlist")
        await pilot.press("d")
        dashboard = app.screen.query_one(DashboardPane)
        await wait_for(pilot, lambda: dashboard.refreshes >= 2, "two dashboard refreshes")
        assert dashboard.health is not None and dashboard.health["status"] == "healthy"
        clients = dashboard.health["subscriptions"]
        assert any(c.startswith("watchlist-") for c in clients)
        assert any(c.startswith("orderbook-") for c in clients)
        proxy = dashboard.proxy
        assert proxy is not None and not proxy.closed
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.screen.query(DashboardPane), "the main screen")
        assert proxy.closed  # the dashboard's proxy left with its screen


async def test_connection_trouble_becomes_a_health_alert_not_a_traceback(sim: Any) -> None:
    config = sim_config(sim)
    config = config.replace(
        connection=dataclasses.replace(config.connection, reconnect_critical_after=2)
    )
    app = make_app(config, health_interval=0.1)
    notes = NotificationLog()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await wait_for(pilot, lambda: pane(app, "watchlist").settled, "the watchlist")
        sim.faults.reject_handshakes(1000, 429)
        sim.faults.drop_all()
        await wait_for(
            pilot, lambda: any(t == "Health: critical" for t in notes.titles), "a critical alert"
        )
        assert app.status_bar is not None and "critical" in str(app.status_bar.render())
        assert app.runtime_worker is not None
        assert app.runtime_worker.state == WorkerState.RUNNING  # still trying, not crashed
        sim.faults.clear()
        await wait_for(
            pilot,
            lambda: app.last_health is not None and app.last_health["status"] == "healthy",
            "the connection to recover",
        )


async def test_chart_retries_its_history_after_rest_errors(sim: Any) -> None:
    sim.faults.fail_rest(1000, 500)
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        candles: CandlesPane = pane(app, "candles")
        await wait_for(
            pilot,
            lambda: "500" in str(candles.query_one("#candles-status").render()),
            "the REST error shown in the chart pane",
        )
        sim.faults.clear()
        await wait_for(pilot, lambda: candles.settled, "the history on a later attempt", 20)
        assert len(candles.bars) == 200 and candles.last_error is None


class NotificationLog:
    """Collects toasts through run_test's message hook (Textual's public testing seam)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.titles: list[str] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.messages.append(str(message.notification.message))
            self.titles.append(str(message.notification.title))

    @property
    def last(self) -> str:
        return self.messages[-1] if self.messages else ""

    @property
    def text(self) -> str:
        return "\n".join(self.messages)


def _palette_offers(app: UpbitApp, text: str) -> bool:
    if not isinstance(app.screen, CommandPalette):
        return False
    hits = app.screen.query_one(CommandList)
    first = hits.highlighted_option
    return hits.option_count > 0 and first is not None and text in str(first.prompt)


async def test_removing_the_highlighted_row_keeps_highlight_book_and_chart_together(
    sim: Any,
) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        watchlist: WatchlistPane = pane(app, "watchlist")
        book: OrderbookPane = pane(app, "orderbook")
        candles: CandlesPane = pane(app, "candles")
        await wait_for(pilot, lambda: watchlist.settled and book.settled, "the first market")
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: app.selected_symbol == SYMBOLS[2], "the third row")
        await pilot.press("x")
        following = SYMBOLS[3]
        await wait_for(
            pilot,
            lambda: (
                watchlist.selected_symbol == following
                and app.selected_symbol == following
                and book.book is not None
                and book.book.symbol == following
                and candles.symbol == following
            ),
            f"highlight, book and chart on {following}",
        )


async def test_t_and_shift_t_reach_one_second_candles(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        candles: CandlesPane = pane(app, "candles")
        await wait_for(pilot, lambda: candles.settled, "the 1m chart")
        await pilot.press("T")
        await wait_for(pilot, lambda: candles.timeframe == "1s" and candles.settled, "1s chart")
        assert candles.border_title is not None and "1s candles" in str(candles.border_title)
        await wait_for(
            pilot, lambda: "candle.1s" in last_request_types(sim), "candle.1s on the wire"
        )
        await pilot.press("T")
        await wait_for(pilot, lambda: candles.timeframe == "1d", "back round to day candles")


async def test_saving_in_the_demo_asks_before_creating_the_user_config(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    target = tmp_path / "upbit-tui" / "config.toml"
    app = demo_app(symbols=("KRW-BTC", "KRW-ETH"))
    notes = NotificationLog()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert str(target) in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "no")
        assert not target.exists()
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: target.exists(), "the config created")
    assert load_config(target).watchlist.symbols == ("KRW-BTC", "KRW-ETH")


async def test_a_config_that_cannot_be_edited_safely_is_refused_with_a_message(
    sim: Any, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    text = 'watchlist = { symbols = ["KRW-BTC"] }\n'
    path.write_text(text)
    app = make_app(sim_config(sim, symbols=("KRW-BTC",), source=path), health_interval=None)
    notes = NotificationLog()
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: "Not saved" in notes.last, "the refusal")
        assert "set it by hand" in notes.last
    assert path.read_text() == text


async def test_a_lost_exchange_marks_panes_stale_and_says_when_it_retries(sim: Any) -> None:
    config = sim_config(sim)
    config = config.replace(
        connection=dataclasses.replace(
            config.connection, reconnect_initial_delay=3.0, reconnect_max_delay=3.0
        )
    )
    app = make_app(config, clock=fixed_clock, health_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        watchlist: WatchlistPane = pane(app, "watchlist")
        book: OrderbookPane = pane(app, "orderbook")
        await wait_for(pilot, lambda: watchlist.settled and book.settled, "live data")
        assert not watchlist.has_class("-stale")
        sim.faults.reject_handshakes(1000, 429)
        sim.faults.drop_all()
        await wait_for(
            pilot,
            lambda: all(p.has_class("-stale") for p in (watchlist, book)),
            "the panes marked stale",
        )
        assert watchlist.border_subtitle == "stale since 15:30:00"
        await wait_for(
            pilot,
            lambda: "retrying in" in str(app.status_bar.render()),  # type: ignore[union-attr]
            "the retry countdown",
        )
        assert "disconnected" in str(app.status_bar.render())  # type: ignore[union-attr]
        sim.faults.clear()
        await wait_for(
            pilot,
            lambda: not watchlist.has_class("-stale") and not book.has_class("-stale"),
            "live again",
            seconds=20,
        )
        assert watchlist.border_subtitle == ""
        assert "disconnected" not in str(app.status_bar.render())  # type: ignore[union-attr]


async def test_monitor_latency_ignores_snapshot_age() -> None:
    """The seeded exchange's clock is days behind ours: a snapshot's age counted as latency
    would read as days and trip the latency alert."""
    app = demo_app()
    app.health_interval = 0.1
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pane(app, "watchlist").settled, "the snapshots")
        await wait_for(pilot, lambda: app.last_health is not None, "a health check")
        await pilot.press("d")
        dashboard = app.screen.query_one(DashboardPane)
        await wait_for(pilot, lambda: dashboard.health is not None, "the dashboard")
        health = dashboard.health
        assert health is not None
        assert health["max_latency_ms"] < 1_000
        assert not any("latency" in str(r) for r in health.get("reasons") or [])
