"""Orders over the simulator's REST API as the real exchange reports them (recorded answers of
2026-03, shared/upbit-protocol.md section 7): creation, fills, cancels, queries, bulk cancels."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from rest_harness import Rest, best_prices, plain, rest
from sim_harness import ACCESS

from upbit_tui.exchange import ExchangeServer
from upbit_tui.exchange.ledger import Ledger, as_placed
from upbit_tui.exchange.ticks import round_price

__all__ = ["rest"]  # the fixture

CREATE_KEYS = [
    "uuid",
    "side",
    "ord_type",
    "price",
    "state",
    "market",
    "created_at",
    "volume",
    "remaining_volume",
    "prevented_volume",
    "reserved_fee",
    "remaining_fee",
    "paid_fee",
    "locked",
    "prevented_locked",
    "executed_volume",
    "trades_count",
]
MARKET_BUY_KEYS = [
    k for k in CREATE_KEYS if k not in ("volume", "remaining_volume", "prevented_volume")
]
MARKET_SELL_KEYS = [k for k in CREATE_KEYS if k != "price"]
TRADE_KEYS = ["market", "uuid", "price", "volume", "funds", "trend", "created_at", "side"]


def resting_bid(rest: Rest, market: str = "KRW-BTC", **extra: str) -> dict[str, str]:
    bid, _ = best_prices(rest.sim, market)
    price = round_price(bid * 0.7)
    volume = f"{20_000 / price:.8f}"
    return {"market": market, "side": "bid", "volume": volume, "price": plain(price),
            "ord_type": "limit", **extra}  # fmt: skip


async def place(rest: Rest, body: dict[str, str]) -> dict[str, Any]:
    status, created = await rest.call("POST", "/v1/orders", body=body)
    assert status == 201, created
    return dict(created)


async def get_order(rest: Rest, uuid: str) -> dict[str, Any]:
    status, order = await rest.call("GET", "/v1/order", [("uuid", uuid)])
    assert status == 200, order
    return dict(order)


def test_market_buy_matches_the_recorded_answer_to_the_last_digit() -> None:
    """Recorded 2026-03-22: 10,000 KRW at a best ask of 102,945,000 buys 0.00009713 BTC for
    9999.04785 KRW; the fee is exact and the unspent rest ends the order `cancel`."""
    ledger = Ledger([ACCESS], seed=1, emit=lambda _: None)
    order = ledger.place(
        ACCESS, "KRW-BTC", "bid", "price", 10_000.0, None,
        now_ms=1_774_183_628_000, best_bid=102_902_000.0, best_ask=102_945_000.0,
    )  # fmt: skip
    assert order.state == "cancel"
    assert str(order.executed_volume) == "0.00009713"
    assert order.trades[0].funds == Decimal("9999.04785")
    assert order.paid_fee == Decimal("4.999523925")
    assert order.remaining_fee == Decimal("0.000476075")
    assert order.locked == Decimal("0.952626075")  # what was returned, as Upbit shows it
    placed = as_placed(order)
    assert (placed.state, placed.locked, placed.reserved_fee) == ("wait", 10_005, 5)
    krw = ledger.balance(ACCESS, "KRW")
    assert krw.balance == Decimal(100_000_000) - Decimal("9999.04785") - Decimal("4.999523925")
    assert krw.locked == 0


async def test_limit_order_answers_wait_then_get_shows_done_with_its_trades(rest: Rest) -> None:
    _, ask = best_prices(rest.sim, "KRW-BTC")
    body = {"market": "KRW-BTC", "side": "bid", "volume": "0.001", "price": plain(ask),
            "ord_type": "limit"}  # fmt: skip
    created = await place(rest, body)
    # The order crossed and filled at once, but the creation answer shows it untouched.
    assert list(created) == CREATE_KEYS
    assert created["state"] == "wait" and created["executed_volume"] == "0"
    assert created["trades_count"] == 0 and created["remaining_volume"] == "0.001"
    order = await get_order(rest, created["uuid"])
    assert list(order) == [*CREATE_KEYS, "trades"]  # no executed_funds, as recorded
    assert order["state"] == "done" and order["executed_volume"] == "0.001"
    assert order["locked"] == "0" and order["remaining_fee"] == "0"
    (trade,) = order["trades"]
    assert list(trade) == TRADE_KEYS
    assert trade["side"] == "bid" and trade["trend"] == "up"
    assert Decimal(trade["funds"]) == Decimal(trade["price"]) * Decimal("0.001")
    assert Decimal(order["paid_fee"]) == Decimal(trade["funds"]) * Decimal("0.0005")


async def test_market_buy_ends_cancel_and_market_sell_ends_done(rest: Rest) -> None:
    buy = await place(rest, {"market": "KRW-ETH", "side": "bid", "price": "10000",
                             "ord_type": "price"})  # fmt: skip
    assert list(buy) == MARKET_BUY_KEYS
    assert (buy["state"], buy["locked"], buy["reserved_fee"]) == ("wait", "10005", "5")
    bought = await get_order(rest, buy["uuid"])
    assert bought["state"] == "cancel" and Decimal(bought["locked"]) > 0
    volume = bought["executed_volume"]
    sell = await place(rest, {"market": "KRW-ETH", "side": "ask", "volume": volume,
                              "ord_type": "market"})  # fmt: skip
    assert list(sell) == MARKET_SELL_KEYS
    sold = await get_order(rest, sell["uuid"])
    assert sold["state"] == "done" and sold["remaining_volume"] == "0"
    assert sold["trades"][0]["trend"] == "down"
    for amount in (bought["paid_fee"], sold["paid_fee"], bought["locked"]):
        assert len(amount) < 20 and "e" not in amount.lower()  # exact, never float noise


async def test_cancel_answers_the_order_as_it_was(rest: Rest) -> None:
    created = await place(rest, resting_bid(rest, identifier="mine-1"))
    status, cancelled = await rest.call("DELETE", "/v1/order", [("identifier", "mine-1")])
    assert status == 200 and list(cancelled) == [*CREATE_KEYS, "identifier"]
    assert cancelled["state"] == "wait" and cancelled["locked"] == created["locked"]
    order = await get_order(rest, created["uuid"])
    assert order["state"] == "cancel" and order["locked"] == created["locked"]
    krw = next(b for b in rest.sim.model.accounts(ACCESS) if b.currency == "KRW")
    assert krw.locked == 0


async def test_ioc_and_fok_remainders_are_cancelled_at_once(rest: Rest) -> None:
    for tif in ("ioc", "fok"):
        created = await place(rest, resting_bid(rest, time_in_force=tif))
        assert created["state"] == "wait" and created["time_in_force"] == tif
        order = await get_order(rest, created["uuid"])
        assert order["state"] == "cancel" and order["executed_volume"] == "0"
    status, open_orders = await rest.call("GET", "/v1/orders/open")
    assert (status, open_orders) == (200, [])


async def test_best_orders_need_ioc_or_fok_and_fill_at_the_best_price(rest: Rest) -> None:
    status, error = await rest.call("POST", "/v1/orders", body={
        "market": "KRW-BTC", "side": "bid", "price": "10000", "ord_type": "best"})  # fmt: skip
    assert status == 400 and error["error"]["name"] == "create_bid_error"
    bid, ask = best_prices(rest.sim, "KRW-BTC")
    buy = await place(rest, {"market": "KRW-BTC", "side": "bid", "price": "10000",
                             "ord_type": "best", "time_in_force": "ioc"})  # fmt: skip
    bought = await get_order(rest, buy["uuid"])
    assert bought["state"] == "cancel" and bought["trades"][0]["price"] == plain(ask)
    sell = await place(rest, {"market": "KRW-BTC", "side": "ask", "volume": "0.001",
                              "ord_type": "best", "time_in_force": "fok"})  # fmt: skip
    sold = await get_order(rest, sell["uuid"])
    assert sold["state"] == "done" and sold["trades"][0]["price"] == plain(bid)


async def test_post_only_that_would_cross_is_refused(rest: Rest) -> None:
    _, ask = best_prices(rest.sim, "KRW-BTC")
    crossing = {"market": "KRW-BTC", "side": "bid", "volume": "0.001", "price": plain(ask),
                "ord_type": "limit", "time_in_force": "post_only"}  # fmt: skip
    status, error = await rest.call("POST", "/v1/orders", body=crossing)
    assert status == 400 and error["error"]["name"] == "invalid_post_only"
    resting = await place(rest, resting_bid(rest, time_in_force="post_only"))
    assert (await get_order(rest, resting["uuid"]))["state"] == "wait"


async def test_closed_orders_and_orders_by_uuid(rest: Rest) -> None:
    kept = await place(rest, resting_bid(rest))
    gone = await place(rest, resting_bid(rest, "KRW-ETH"))
    await rest.call("DELETE", "/v1/order", [("uuid", gone["uuid"])])
    status, closed = await rest.call("GET", "/v1/orders/closed")
    assert status == 200 and [o["uuid"] for o in closed] == [gone["uuid"]]
    assert "executed_funds" in closed[0] and closed[0]["state"] == "cancel"
    status, done_only = await rest.call("GET", "/v1/orders/closed", [("state", "done")])
    assert (status, done_only) == (200, [])
    params = [("uuids[]", kept["uuid"]), ("uuids[]", gone["uuid"])]
    status, by_ids = await rest.call("GET", "/v1/orders/uuids", params)
    assert status == 200 and [o["state"] for o in by_ids] == ["cancel", "wait"]
    status, result = await rest.call("DELETE", "/v1/orders/uuids", params)
    assert status == 200
    assert result["success"] == {"count": 1, "orders": [{"uuid": kept["uuid"],
                                                         "market": "KRW-BTC"}]}  # fmt: skip
    assert result["failed"]["count"] == 1 and result["failed"]["orders"][0]["uuid"] == gone["uuid"]
    status, error = await rest.call("GET", "/v1/orders/closed", [("limit", "1001")])
    assert status == 400 and error["error"]["name"] == "invalid_parameter"


async def test_cancel_all_open_orders_answers_success_and_failed(rest: Rest) -> None:
    first = await place(rest, resting_bid(rest))
    second = await place(rest, resting_bid(rest, "KRW-ETH"))
    status, result = await rest.call("DELETE", "/v1/orders/open", [("pairs", "KRW-ETH")])
    assert status == 200
    assert result == {
        "success": {"count": 1, "orders": [{"uuid": second["uuid"], "market": "KRW-ETH"}]},
        "failed": {"count": 0, "orders": []},
    }
    status, result = await rest.call("DELETE", "/v1/orders/open")
    assert status == 200 and result["success"]["orders"][0]["uuid"] == first["uuid"]


async def test_cancel_all_is_limited_to_one_call_per_two_seconds() -> None:
    async with (
        ExchangeServer(seed=3, markets=3, rate=0.0) as sim,
        aiohttp.ClientSession() as session,
    ):
        calls = Rest(sim, session)
        first = await calls.call("DELETE", "/v1/orders/open")
        second = await calls.call("DELETE", "/v1/orders/open")
    assert first[0] == 200 and second[0] == 429
    assert second[1]["error"]["name"] == "too_many_requests"


async def test_cancel_and_new_replaces_an_order_on_its_market_and_side(rest: Rest) -> None:
    prev = await place(rest, resting_bid(rest))
    new_price = plain(round_price(float(prev["price"]) * 1.01))
    status, answer = await rest.call("POST", "/v1/orders/cancel_and_new", body={
        "new_ord_type": "limit", "prev_order_uuid": prev["uuid"],
        "new_volume": "remain_only", "new_price": new_price})  # fmt: skip
    assert status == 200, answer
    assert list(answer) == [*CREATE_KEYS, "new_order_uuid"]
    assert answer["uuid"] == prev["uuid"] and answer["state"] == "wait"
    assert (await get_order(rest, prev["uuid"]))["state"] == "cancel"
    new = await get_order(rest, answer["new_order_uuid"])
    assert (new["side"], new["price"], new["volume"]) == ("bid", new_price, prev["volume"])


async def test_test_order_validates_without_placing(rest: Rest) -> None:
    status, answer = await rest.call("POST", "/v1/orders/test", body=resting_bid(rest))
    assert status == 201 and list(answer) == CREATE_KEYS and answer["state"] == "wait"
    assert (await rest.call("GET", "/v1/orders/open"))[1] == []
    too_big = {**resting_bid(rest), "volume": "100000"}
    status, error = await rest.call("POST", "/v1/orders/test", body=too_big)
    assert status == 400 and error["error"]["name"] == "insufficient_funds_bid"


async def test_order_chance_as_recorded(rest: Rest) -> None:
    status, chance = await rest.call("GET", "/v1/orders/chance", [("market", "KRW-BTC")])
    assert status == 200
    assert list(chance) == [
        "bid_fee", "ask_fee", "maker_bid_fee", "maker_ask_fee", "market", "bid_account",
        "ask_account",
    ]  # fmt: skip
    assert chance["bid_fee"] == "0.0005" and chance["market"]["name"] == "BTC/KRW"
    assert chance["market"]["bid"] == {"currency": "KRW", "min_total": "5000"}
    assert chance["market"]["max_total"] == "1000000000"
    assert chance["bid_account"]["balance"] == "100000000"
    assert chance["ask_account"]["currency"] == "BTC"


@pytest.mark.parametrize("path", ["/v1/order", "/v1/orders/closed", "/v1/orders/chance"])
async def test_new_order_endpoints_need_a_token(rest: Rest, path: str) -> None:
    status, error = await rest.call("GET", path, [("uuid", "x")], signed=False)
    assert status == 401 and error["error"]["name"] == "no_authorization_token"
