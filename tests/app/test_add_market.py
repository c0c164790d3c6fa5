"""Adding a market: checked before it is added; symbols and names are searches (issue 12.4)."""

from __future__ import annotations

from typing import Any

import pytest
from app_harness import SIZE, sim_config, wait_for
from textual.widgets import Input

from upbit_tui.net.rest import MarketInfo
from upbit_tui.tui.app import UpbitApp, make_app
from upbit_tui.tui.market_search import search_markets
from upbit_tui.tui.screens import AddSymbolScreen
from widgets.watchlist import WatchlistPane

MARKETS = [
    MarketInfo(market="KRW-BTC", korean_name="비트코인", english_name="Bitcoin"),
    MarketInfo(market="KRW-BCH", korean_name="비트코인캐시", english_name="Bitcoin Cash"),
    MarketInfo(market="USDT-BTC", korean_name="비트코인", english_name="Bitcoin"),
    MarketInfo(market="BTC-DOT", korean_name="폴카닷", english_name="Polkadot"),
    MarketInfo(market="KRW-DOT", korean_name="폴카닷", english_name="Polkadot"),
]


@pytest.mark.parametrize(
    ("text", "code", "choices"),
    [
        ("dot", None, ("KRW-DOT", "BTC-DOT")),
        ("폴카닷", None, ("KRW-DOT", "BTC-DOT")),
        ("bitcoin cash", "KRW-BCH", ()),
        ("비트코인캐시", "KRW-BCH", ()),
        ("bitcoin", None, ("KRW-BTC", "USDT-BTC")),
        ("coin", None, ("KRW-BCH", "KRW-BTC", "USDT-BTC")),
    ],
)
def test_symbols_and_names_resolve_to_a_code_or_choices(
    text: str, code: str | None, choices: tuple[str, ...]
) -> None:
    lookup = search_markets(text, MARKETS)
    assert (lookup.code, lookup.choices) == (code, choices)


def test_nothing_found_says_what_can_be_typed() -> None:
    lookup = search_markets("zzz", MARKETS)
    assert lookup.code is None and "no Upbit market matches 'zzz'" in lookup.error


async def _dialog(app: UpbitApp, pilot: Any, text: str) -> AddSymbolScreen:
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, AddSymbolScreen), "the add dialog")
    dialog = app.screen
    assert isinstance(dialog, AddSymbolScreen)
    dialog.query_one(Input).value = text
    await pilot.press("enter")
    return dialog


async def test_the_add_dialog_checks_first_and_stays_open_with_suggestions(sim: Any) -> None:
    app = make_app(sim_config(sim, symbols=("KRW-BTC",)), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        watchlist: WatchlistPane = app.pane("watchlist")  # type: ignore[assignment]
        await wait_for(pilot, lambda: watchlist.settled, "the watchlist")

        dialog = await _dialog(app, pilot, "krw-btcc")
        await wait_for(pilot, lambda: "did you mean KRW-BTC" in dialog.error_text, "the refusal")
        assert app.screen is dialog and dialog.query_one(Input).value == "krw-btcc"
        assert watchlist.symbols == ("KRW-BTC",)
        await pilot.press("escape")

        # A base symbol naming one market adds it.
        await _dialog(app, pilot, "dot")
        await wait_for(pilot, lambda: "KRW-DOT" in watchlist.symbols, "KRW-DOT added")
        assert not isinstance(app.screen, AddSymbolScreen)

        # A name matching several markets offers them; ↓ then Enter picks one.
        dialog = await _dialog(app, pilot, "bit")
        await wait_for(pilot, lambda: len(dialog.choices) > 1, "the choices")
        assert dialog.choices[:3] == ["KRW-BCH", "KRW-BTC", "KRW-BTT"]
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: "KRW-BCH" in watchlist.symbols, "KRW-BCH picked")
        await wait_for(pilot, lambda: watchlist.settled, "its row filled")

        # A Korean name.
        await _dialog(app, pilot, "에이다")
        await wait_for(pilot, lambda: "KRW-ADA" in watchlist.symbols, "KRW-ADA added")
