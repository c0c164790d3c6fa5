"""The balances pane after trades on BTC- and USDT-quoted markets: the quote currencies go
down by what the exchange debited, and coins bought there that no KRW market lists are valued
through their quote's KRW price."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from app_harness import ACCESS_KEY, SECRET_KEY, SIZE, sim_config, wait_for

from upbit_tui.exchange import ExchangeServer
from upbit_tui.tui.app import make_app
from widgets.balances import BalancesPane
from widgets.ticker_table import TickerTable

# With 10 KRW markets, KRW-BTC and KRW-USDT are listed but KRW-XLM and KRW-SHIB are not.
ROUTES = {"XLM": ("BTC-XLM", "KRW-BTC"), "SHIB": ("USDT-SHIB", "KRW-USDT")}


@pytest.fixture
async def quote_sim() -> AsyncIterator[Any]:
    async with ExchangeServer(
        seed=7,
        markets=10,
        btc_markets=8,
        usdt_markets=8,
        rate=0.0,
        port=0,
        api_keys={ACCESS_KEY: SECRET_KEY},
    ) as server:
        yield server


def subscribed_to_my_assets(sim: Any) -> bool:
    """The app's private connection has its myAsset subscription applied by the simulator."""
    return any(
        session["endpoint"] == "private"
        and session["open"]
        and any(item["type"] == "myAsset" for item in session["subscription"] or ())
        for session in sim.stats()["connections"]["items"]
    )


def krw_value(sim: Any, currency: str, amount: float) -> float:
    if currency == "KRW":
        return amount
    route = ROUTES.get(currency, (f"KRW-{currency}",))
    for market in route:
        amount *= sim.model.ticker(market).trade_price
    return amount


async def test_balances_follow_trades_on_btc_and_usdt_markets(quote_sim: Any) -> None:
    sim = quote_sim
    app = make_app(sim_config(sim), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        balances = app.pane("balances")
        assert isinstance(balances, BalancesPane)
        await wait_for(pilot, lambda: balances.settled, "the starting balances")
        assert {"BTC", "USDT"} <= set(balances.assets)
        await wait_for(pilot, lambda: subscribed_to_my_assets(sim), "the myAsset subscription")

        ask = sim.model.orderbook("BTC-XLM", depth=1).orderbook_units[0].ask_price
        sim.model.place_order(ACCESS_KEY, "BTC-XLM", "bid", "limit", price=ask, volume=500.0)
        sim.model.place_order(ACCESS_KEY, "USDT-SHIB", "bid", "price", price=50.0)
        # Exact amounts: BTC fees have more than 8 decimals, and myAsset carries every digit.
        held = {b.currency: b for b in sim.model.ledger.exact_accounts(ACCESS_KEY)}

        def caught_up() -> bool:
            shown = balances.assets
            return (
                balances.settled
                and set(shown) == set(held)
                and all(shown[c].balance == float(held[c].balance) for c in held)
            )

        await wait_for(pilot, caught_up, "the balances after the trades")
        table = balances.query_one(TickerTable)
        for currency in ("XLM", "SHIB"):
            assert currency in table.rows and table.cell(currency, "value") != "-"
        expected = sum(krw_value(sim, c, float(b.balance + b.locked)) for c, b in held.items())
        assert balances.total_krw() == pytest.approx(expected, rel=1e-9)
        assert held["BTC"].balance < 0.5 and held["USDT"].balance < 1_000
