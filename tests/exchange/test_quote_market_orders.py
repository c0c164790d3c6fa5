"""Orders on BTC- and USDT-quoted markets over REST and the private WebSocket: the quote
currency pays and is paid, with that quote's fee rate (0.25%), minimum total (0.00005 BTC,
0.5 USDT) and tick table, amounts exact to the last digit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from rest_harness import Rest, best_prices
from sim_harness import API_KEYS, FIXED_NOW, bearer, send, subscription, sync
from websockets.asyncio.client import ClientConnection, connect

from upbit_tui.exchange import ExchangeServer

FEE = Decimal("0.0025")  # BTC and USDT markets, taker and maker
START = {"KRW": Decimal(100_000_000), "BTC": Decimal("0.5"), "ETH": Decimal(5),
         "USDT": Decimal(1_000)}  # fmt: skip


@pytest.fixture
async def rest() -> AsyncIterator[Rest]:
    """A quiet exchange listing KRW-BTC and KRW-USDT and 8 BTC and 8 USDT markets."""
    async with (
        ExchangeServer(
            seed=3,
            markets=10,
            btc_markets=8,
            usdt_markets=8,
            rate=0.0,
            api_keys=API_KEYS,
            clock=lambda: FIXED_NOW,
            candle_interval=3600.0,
            rate_limits=False,
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        yield Rest(sim, session)


def exact(value: float) -> str:
    """A float price as a client sends it, every digit (repr, never an exponent here)."""
    text = repr(value)
    assert "e" not in text
    return text


def limit(market: str, side: str, price: object, volume: str, **extra: str) -> dict[str, str]:
    return {"market": market, "side": side, "ord_type": "limit", "price": str(price),
            "volume": volume, **extra}  # fmt: skip


async def place(rest: Rest, body: dict[str, str]) -> dict[str, Any]:
    status, created = await rest.call("POST", "/v1/orders", body=body)
    assert status == 201, created
    return dict(created)


async def order(rest: Rest, uuid: str) -> dict[str, Any]:
    status, answer = await rest.call("GET", "/v1/order", [("uuid", uuid)])
    assert status == 200, answer
    return dict(answer)


async def balances(rest: Rest) -> dict[str, tuple[Decimal, Decimal]]:
    status, accounts = await rest.call("GET", "/v1/accounts")
    assert status == 200, accounts
    return {a["currency"]: (Decimal(a["balance"]), Decimal(a["locked"])) for a in accounts}


async def refused(rest: Rest, body: dict[str, str]) -> dict[str, str]:
    status, error = await rest.call("POST", "/v1/orders", body=body)
    assert status == 400, error
    return dict(error["error"])


async def private_ws(rest: Rest, *types: dict[str, Any]) -> ClientConnection:
    ws = await connect(rest.sim.private_websocket_url, additional_headers=bearer())
    await send(ws, subscription(*types))
    await sync(ws)
    return ws


@pytest.mark.parametrize(("market", "quote", "base"), [("BTC-ETH", "BTC", "ETH"),
                                                        ("USDT-BTC", "USDT", "BTC")])  # fmt: skip
async def test_limit_buy_fills_paying_the_quote_currency_exactly(
    rest: Rest, market: str, quote: str, base: str
) -> None:
    _, ask = best_prices(rest.sim, market)
    volume = Decimal("0.005")
    ws = await private_ws(rest, {"type": "myOrder", "codes": [market]}, {"type": "myAsset"})
    async with ws:
        created = await place(rest, limit(market, "bid", exact(ask), str(volume)))
        messages = await sync(ws)
    funds = Decimal(exact(ask)) * volume
    fee = funds * FEE
    # Created `wait` with the quote locked: funds plus the fee reserve, to the last digit.
    assert created["state"] == "wait" and created["market"] == market
    assert Decimal(created["locked"]) == funds + fee
    assert Decimal(created["reserved_fee"]) == fee
    done = await order(rest, created["uuid"])
    assert done["state"] == "done" and done["executed_volume"] == str(volume)
    assert Decimal(done["paid_fee"]) == fee and done["locked"] == "0"
    (trade,) = done["trades"]
    assert Decimal(trade["funds"]) == funds and trade["price"] == exact(ask)
    after = await balances(rest)
    assert after[quote] == (START[quote] - funds - fee, 0)
    assert after[base] == (START[base] + volume, 0)

    orders = [m for m in messages if m["type"] == "myOrder"]
    assert [m["state"] for m in orders] == ["wait", "trade", "done"]
    assert {m["code"] for m in orders} == {market}
    assert orders[1]["trade_fee"] == float(fee) and orders[0]["locked"] == float(funds + fee)
    assets = [m for m in messages if m["type"] == "myAsset"]
    locked = {a["currency"]: a for a in assets[0]["assets"]}  # right after the order was placed
    assert locked[quote]["locked"] == float(funds + fee)
    final = {a["currency"]: a for a in assets[-1]["assets"]}
    assert final[quote] == {"currency": quote, "balance": float(START[quote] - funds - fee),
                            "locked": 0.0}  # fmt: skip
    assert final[base]["balance"] == float(START[base] + volume)


@pytest.mark.parametrize(("market", "quote", "base", "volume"),
                         [("BTC-ETH", "BTC", "ETH", "0.3"),
                          ("USDT-BTC", "USDT", "BTC", "0.002")])  # fmt: skip
async def test_market_sell_credits_the_quote_less_its_fee(
    rest: Rest, market: str, quote: str, base: str, volume: str
) -> None:
    bid, _ = best_prices(rest.sim, market)
    ws = await private_ws(rest, {"type": "myAsset"})
    async with ws:
        created = await place(rest, {"market": market, "side": "ask", "ord_type": "market",
                                     "volume": volume})  # fmt: skip
        messages = await sync(ws)
    assert "price" not in created and created["locked"] == volume
    sold = await order(rest, created["uuid"])
    funds = Decimal(exact(bid)) * Decimal(volume)
    assert sold["state"] == "done" and sold["trades"][0]["price"] == exact(bid)
    assert Decimal(sold["paid_fee"]) == funds * FEE and sold["reserved_fee"] == "0"
    after = await balances(rest)
    assert after[quote] == (START[quote] + funds - funds * FEE, 0)
    assert after[base] == (START[base] - Decimal(volume), 0)
    final = {a["currency"]: a for a in messages[-1]["assets"]}
    assert final[quote]["balance"] == float(START[quote] + funds - funds * FEE)


async def test_under_the_quote_minimum_is_refused_with_upbits_error(rest: Rest) -> None:
    _, ask = best_prices(rest.sim, "BTC-ETH")
    # 0.00005 BTC is the BTC market's minimum: 90% of it is refused, exactly it is not.
    at_minimum = Decimal("0.00005") / Decimal(exact(ask))
    small = f"{at_minimum * Decimal('0.9'):.8f}"
    error = await refused(rest, limit("BTC-ETH", "bid", exact(ask), small))
    assert error["name"] == "under_min_total_bid" and "0.00005 BTC" in error["message"]
    error = await refused(rest, {"market": "BTC-ETH", "side": "bid", "ord_type": "price",
                                 "price": "0.00004999"})  # fmt: skip
    assert error["name"] == "under_min_total_bid"
    await place(rest, {"market": "BTC-ETH", "side": "bid", "ord_type": "price",
                       "price": "0.00005"})  # fmt: skip
    # USDT: 0.5 USDT; a market sell is measured at the best bid.
    error = await refused(rest, {"market": "USDT-BTC", "side": "ask", "ord_type": "market",
                                 "volume": "0.000001"})  # fmt: skip
    assert error["name"] == "under_min_total_ask" and "0.5 USDT" in error["message"]
    error = await refused(rest, {"market": "USDT-XRP", "side": "bid", "ord_type": "price",
                                 "price": "0.49"})  # fmt: skip
    assert error["name"] == "under_min_total_bid"
    # Nothing was locked by the refusals.
    assert all(locked == 0 for _, locked in (await balances(rest)).values())


async def test_prices_off_the_quote_tick_table_are_refused(rest: Rest) -> None:
    bid, _ = best_prices(rest.sim, "USDT-BTC")  # above 10 USDT: the tick is 0.01
    below = Decimal(exact(bid))
    error = await refused(rest, limit("USDT-BTC", "bid", below - Decimal("0.005"), "0.001"))
    assert error["name"] == "invalid_price_bid"
    on = limit("USDT-BTC", "bid", below - Decimal("0.01"), "0.001")
    status, _ = await rest.call("POST", "/v1/orders/test", body=on)
    assert status == 201
    # BTC markets: one tick of 0.00000001 BTC, whatever the price.
    _, btc_ask = best_prices(rest.sim, "BTC-ETH")
    above = Decimal(exact(btc_ask))
    error = await refused(rest, limit("BTC-ETH", "ask", above + Decimal("0.000000005"), "0.1"))
    assert error["name"] == "invalid_price_ask"
    tick_above = limit("BTC-ETH", "ask", above + Decimal("0.00000001"), "0.1")
    status, _ = await rest.call("POST", "/v1/orders/test", body=tick_above)
    assert status == 201


@pytest.mark.parametrize(("market", "quote", "base", "minimum"),
                         [("BTC-ETH", "BTC", "ETH", "0.00005"),
                          ("USDT-BTC", "USDT", "BTC", "0.5")])  # fmt: skip
async def test_order_chance_names_the_quote_its_fees_and_minimum(
    rest: Rest, market: str, quote: str, base: str, minimum: str
) -> None:
    status, chance = await rest.call("GET", "/v1/orders/chance", [("market", market)])
    assert status == 200
    assert [chance[k] for k in ("bid_fee", "ask_fee", "maker_bid_fee", "maker_ask_fee")] == [
        "0.0025"
    ] * 4
    body = chance["market"]
    assert body["id"] == market and body["name"] == f"{base}/{quote}"
    assert body["bid"] == {"currency": quote, "min_total": minimum}
    assert body["ask"] == {"currency": base, "min_total": minimum}
    assert "max_total" not in body  # KRW markets only
    assert chance["bid_account"]["currency"] == quote
    assert Decimal(chance["bid_account"]["balance"]) == START[quote]
    assert chance["ask_account"]["currency"] == base


async def test_resting_order_locks_the_quote_until_cancelled(rest: Rest) -> None:
    bid, _ = best_prices(rest.sim, "BTC-ETH")
    price = Decimal(exact(bid)) - Decimal("0.001")
    created = await place(rest, limit("BTC-ETH", "bid", price, "1", identifier="q-1"))
    locked = price + price * FEE
    assert (await balances(rest))["BTC"] == (START["BTC"] - locked, locked)
    status, open_orders = await rest.call("GET", "/v1/orders/open", [("market", "BTC-ETH")])
    assert status == 200 and [o["uuid"] for o in open_orders] == [created["uuid"]]
    status, _ = await rest.call("DELETE", "/v1/order", [("identifier", "q-1")])
    assert status == 200
    cancelled = await order(rest, created["uuid"])
    assert cancelled["state"] == "cancel" and Decimal(cancelled["locked"]) == locked
    assert (await balances(rest))["BTC"] == (START["BTC"], 0)
    # IOC and FOK that do not cross, and post_only that would, change nothing either.
    for tif in ("ioc", "fok"):
        gone = await place(rest, limit("BTC-ETH", "bid", price, "1", time_in_force=tif))
        assert (await order(rest, gone["uuid"]))["state"] == "cancel"
    _, ask = best_prices(rest.sim, "BTC-ETH")
    crossing = limit("BTC-ETH", "bid", exact(ask), "1", time_in_force="post_only")
    error = await refused(rest, crossing)
    assert error["name"] == "invalid_post_only"
    assert (await balances(rest))["BTC"] == (START["BTC"], 0)


async def test_best_bid_on_a_usdt_market_spends_its_total_at_the_best_ask(rest: Rest) -> None:
    _, ask = best_prices(rest.sim, "USDT-ETH")
    created = await place(rest, {"market": "USDT-ETH", "side": "bid", "ord_type": "best",
                                 "price": "100", "time_in_force": "ioc"})  # fmt: skip
    bought = await order(rest, created["uuid"])
    volume = (Decimal(100) / Decimal(exact(ask))).quantize(Decimal("0.00000001"), "ROUND_DOWN")
    funds = volume * Decimal(exact(ask))
    assert bought["executed_volume"] == str(volume) and bought["trades"][0]["price"] == exact(ask)
    assert (await balances(rest))["USDT"] == (START["USDT"] - funds - funds * FEE, 0)


async def test_a_btc_market_purchase_averages_in_at_the_krw_price_of_btc(rest: Rest) -> None:
    """avg_buy_price stays in KRW (unit_currency): the funds count at KRW-BTC's last price."""
    _, ask = best_prices(rest.sim, "BTC-ETH")
    await place(rest, limit("BTC-ETH", "bid", exact(ask), "1"))
    krw_btc = Decimal(exact(rest.sim.model.ticker("KRW-BTC").trade_price))
    _, accounts = await rest.call("GET", "/v1/accounts")
    eth = next(a for a in accounts if a["currency"] == "ETH")
    expected = (5 * Decimal(5_000_000) + Decimal(exact(ask)) * krw_btc) / 6
    assert Decimal(eth["avg_buy_price"]) == expected.quantize(Decimal("0.00000001"))
    assert eth["unit_currency"] == "KRW"


async def test_the_control_api_places_orders_on_quote_markets(rest: Rest) -> None:
    async with rest.session.post(
        f"{rest.sim.rest_url}/_sim/orders",
        params={"market": "USDT-BTC", "side": "ask", "ord_type": "market", "volume": "0.001"},
    ) as response:
        answer = await response.json()
    assert response.status == 200, answer
    assert (await balances(rest))["BTC"] == (START["BTC"] - Decimal("0.001"), 0)


@pytest.mark.parametrize("market", ["KRW-BTC", "BTC-ETH", "USDT-BTC"])
async def test_absurd_prices_are_a_clear_refusal(rest: Rest, market: str) -> None:
    """`1e999999` made float() infinite and the tick check raise: a 500 before."""
    for price in ("1e999999", "1e40", "1e-30"):
        error = await refused(rest, limit(market, "bid", price, "1"))
        assert error["name"] == "invalid_price_bid", price
