"""The main screen's narrow layouts: driven by terminal resizes against the real simulator."""

from __future__ import annotations

from typing import Any

from app_harness import SIZE, SYMBOLS, sim_config, wait_for
from sim_requests import last_request_types

from upbit_tui.tui.app import UpbitApp, make_app
from upbit_tui.tui.layout import NARROW_WIDTH, TINY_WIDTH
from widgets.ticker_table import TickerTable

NAMES = ("watchlist", "balances", "candles", "orderbook")


def shown(app: UpbitApp) -> set[str]:
    """The panes the user can see (mounted, displayed, in a displayed column)."""
    out = set()
    for name in NAMES:
        pane = app.pane(name)
        if (
            pane is not None
            and pane.display
            and getattr(pane.parent, "display", False)
            and pane.region.area > 0
        ):
            out.add(name)
    return out


def subscribed(sim: Any, app: UpbitApp) -> bool:
    types = last_request_types(sim)
    return (
        all(getattr(app.pane(n), "settled", False) for n in ("watchlist", "orderbook", "candles"))
        and "orderbook" in types
        and set(SYMBOLS) <= types.get("ticker", set())
        and any(t.startswith("candle.") for t in types)
    )


async def test_resizing_across_the_threshold_changes_the_layout_not_the_subscriptions(
    sim: Any,
) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: subscribed(sim, app), "every pane subscribed")
        panes = {n: app.pane(n) for n in NAMES}
        before = last_request_types(sim)
        assert app.layout_mode == "wide" and shown(app) == set(NAMES)

        await pilot.resize_terminal(NARROW_WIDTH - 10, 36)
        await wait_for(pilot, lambda: app.layout_mode == "narrow", "the narrow layout")
        assert app.screen_stack[0].has_class("-narrow")
        assert shown(app) == {"watchlist", "candles", "orderbook"}
        watchlist, book = app.pane("watchlist"), app.pane("orderbook")
        assert watchlist is not None and book is not None
        assert watchlist.region.width == NARROW_WIDTH - 10  # full width, on top
        assert book.region.y >= watchlist.region.bottom

        await pilot.resize_terminal(TINY_WIDTH - 20, 24)
        await wait_for(pilot, lambda: app.layout_mode == "tiny", "the tiny layout")
        assert shown(app) == {"watchlist", "candles"}

        await pilot.resize_terminal(*SIZE)
        await wait_for(pilot, lambda: app.layout_mode == "wide", "the wide layout again")
        assert not app.screen_stack[0].has_class("-narrow")
        assert shown(app) == set(NAMES)
        # Same pane objects (nothing re-created) and the exchange sees the same subscription.
        assert {n: app.pane(n) for n in NAMES} == panes
        await pilot.pause(0.1)
        assert last_request_types(sim) == before


async def test_pane_keys_in_the_narrow_layouts(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=(TINY_WIDTH - 20, 24)) as pilot:
        await wait_for(pilot, lambda: subscribed(sim, app), "every pane subscribed")
        assert shown(app) == {"watchlist", "candles"}

        await pilot.press("o")  # the book is mounted but behind the chart: bring it forward
        await pilot.pause()
        assert shown(app) == {"watchlist", "orderbook"}
        assert app.pane("candles") is not None  # still there (and subscribed), only hidden
        await pilot.press("o")  # in front already: hide it, the chart comes back
        await wait_for(pilot, lambda: app.pane("orderbook") is None, "the book removed")
        assert shown(app) == {"watchlist", "candles"}
        await wait_for(
            pilot, lambda: "orderbook" not in last_request_types(sim), "book unsubscribed"
        )

        await pilot.press("b")
        await pilot.pause()
        assert shown(app) == {"watchlist", "balances", "candles"}
        balances, chart = app.pane("balances"), app.pane("candles")
        assert balances is not None and chart is not None
        assert balances.region.height >= 4  # borders, header and a row: not squeezed out
        assert chart.region.y >= balances.region.bottom
        await pilot.press("b")
        await wait_for(pilot, lambda: app.pane("balances") is None, "the balances removed")

        await pilot.press("w")
        await wait_for(pilot, lambda: app.pane("watchlist") is None, "the watchlist removed")
        candles = app.pane("candles")
        assert candles is not None and shown(app) == {"candles"}
        assert candles.region.height >= 20  # the chart takes the whole screen height

        # One column left: it fills the screen whatever the width (no narrow grid).
        assert app.layout_mode == "wide"
        await pilot.resize_terminal(NARROW_WIDTH - 10, 36)
        await pilot.pause()
        assert app.layout_mode == "wide" and candles.region.width == NARROW_WIDTH - 10
        await pilot.press("o")
        await wait_for(pilot, lambda: "orderbook" in shown(app), "the book back")
        assert app.layout_mode == "narrow"
        book = app.pane("orderbook")
        assert book is not None and candles.region.y == book.region.y  # side by side
        await pilot.press("w")
        await wait_for(pilot, lambda: "watchlist" in shown(app), "the watchlist back")


async def test_tables_drop_whole_columns_instead_of_clipping(sim: Any) -> None:
    app = make_app(sim_config(sim), health_interval=None)
    # The wide layout at its narrowest: the side columns are capped (46% / 35%).
    async with app.run_test(size=(NARROW_WIDTH, 40)) as pilot:
        await wait_for(pilot, lambda: subscribed(sim, app), "every pane subscribed")
        assert app.layout_mode == "wide"
        watchlist = app.screen.query_one("#watchlist TickerTable", TickerTable)
        balances = app.screen.query_one("#balances TickerTable", TickerTable)
        assert [c.key for c in watchlist.columns] == ["market", "price", "rate", "volume", "value"]
        assert [c.key for c in balances.columns] == ["asset", "available", "price", "value"]
        for table in (watchlist, balances):
            assert table.virtual_size.width <= table.size.width

        await pilot.resize_terminal(*SIZE)
        await wait_for(pilot, lambda: len(watchlist.columns) == 6, "every watchlist column")
        assert len(balances.columns) == 5
        assert "Value 24h" in "".join(s.text for s in watchlist.render_line(0))


def test_fit_columns_drops_in_order() -> None:
    from widgets.watchlist import COLUMNS, DROP_ORDER

    table = TickerTable(COLUMNS, drop_order=DROP_ORDER)
    table.fit_columns(40)
    assert [c.key for c in table.columns] == ["market", "price", "rate"]
    table.fit_columns(1000)
    assert [c.key for c in table.columns] == [c.key for c in COLUMNS]
