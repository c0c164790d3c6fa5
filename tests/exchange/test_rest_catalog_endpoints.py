"""The rest of Upbit's REST surface on the simulator: period candles, list parameters as
pyupbit sends them, JSON errors for unknown paths, wallet status, API keys, deposits."""

from __future__ import annotations

from datetime import date

import pytest
from rest_harness import Rest, rest
from sim_harness import ACCESS

__all__ = ["rest"]  # the fixture

PERIOD_CANDLE_KEYS = [
    "market",
    "candle_date_time_utc",
    "candle_date_time_kst",
    "opening_price",
    "high_price",
    "low_price",
    "trade_price",
    "timestamp",
    "candle_acc_trade_price",
    "candle_acc_trade_volume",
    "first_day_of_period",
]


@pytest.mark.parametrize(
    ("period", "first_day"),
    # FIXED_NOW is Wednesday 2026-08-26.
    [("weeks", "2026-08-24"), ("months", "2026-08-01"), ("years", "2026-01-01")],
)
async def test_period_candles_as_recorded(rest: Rest, period: str, first_day: str) -> None:
    status, candles = await rest.call(
        "GET", f"/v1/candles/{period}", [("market", "KRW-BTC"), ("count", "3")], signed=False
    )
    assert status == 200 and len(candles) >= 2
    newest = candles[0]
    assert list(newest) == PERIOD_CANDLE_KEYS
    assert newest["first_day_of_period"] == first_day
    assert newest["candle_date_time_utc"] == f"{first_day}T00:00:00"
    assert newest["candle_date_time_kst"] == f"{first_day}T09:00:00"
    starts = [date.fromisoformat(c["first_day_of_period"]) for c in candles]
    assert starts == sorted(starts, reverse=True)
    if period == "weeks":
        assert all(day.weekday() == 0 for day in starts)


async def test_week_candles_sum_their_days(rest: Rest) -> None:
    days = (
        await rest.call(
            "GET", "/v1/candles/days", [("market", "KRW-ETH"), ("count", "3")], signed=False
        )
    )[1]  # Wed, Tue, Mon of the current week
    _, (week,) = await rest.call("GET", "/v1/candles/weeks", [("market", "KRW-ETH")], signed=False)
    assert week["trade_price"] == days[0]["trade_price"]
    assert week["opening_price"] == days[-1]["opening_price"]
    assert week["high_price"] == max(d["high_price"] for d in days)
    assert week["candle_acc_trade_volume"] == pytest.approx(
        sum(d["candle_acc_trade_volume"] for d in days)
    )


async def test_period_candles_page_back_with_to(rest: Rest) -> None:
    params = [("market", "KRW-BTC"), ("to", "2026-08-01T00:00:00"), ("count", "2")]
    status, months = await rest.call("GET", "/v1/candles/months", params, signed=False)
    assert status == 200
    assert [m["first_day_of_period"] for m in months] == ["2026-07-01", "2026-06-01"]


async def test_repeated_markets_give_every_market_like_the_comma_form(rest: Rest) -> None:
    repeated = [("markets", "KRW-BTC"), ("markets", "KRW-ETH")]
    for path in ("/v1/ticker", "/v1/orderbook", "/v1/orderbook/instruments"):
        status, answer = await rest.call("GET", path, repeated, signed=False)
        assert status == 200 and [a["market"] for a in answer] == ["KRW-BTC", "KRW-ETH"]
        _, comma = await rest.call("GET", path, [("markets", "KRW-BTC,KRW-ETH")], signed=False)
        assert [a["market"] for a in comma] == ["KRW-BTC", "KRW-ETH"]


async def test_is_details_in_both_spellings(rest: Rest) -> None:
    for name in ("is_details", "isDetails"):
        _, markets = await rest.call("GET", "/v1/market/all", [(name, "true")], signed=False)
        assert "market_event" in markets[0], name


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/no/such/endpoint", 404),
        ("GET", "/nowhere", 404),
        ("PUT", "/v1/orders", 405),
        ("POST", "/v1/ticker", 405),
    ],
)
async def test_unknown_paths_and_methods_answer_json(
    rest: Rest, method: str, path: str, status: int
) -> None:
    async with rest.session.request(method, rest.sim.rest_url + path) as r:
        assert r.status == status
        assert r.headers["Content-Type"] == "application/json;charset=UTF-8"
        body = await r.json()
    assert body["error"]["name"] == status and isinstance(body["error"]["message"], str)


async def test_wallet_status_and_api_keys(rest: Rest) -> None:
    status, wallets = await rest.call("GET", "/v1/status/wallet")
    assert status == 200 and {w["currency"] for w in wallets} >= {"BTC", "ETH"}
    assert list(wallets[0]) == [
        "currency",
        "wallet_state",
        "block_state",
        "block_height",
        "block_updated_at",
        "block_elapsed_minutes",
        "net_type",
        "network_name",
    ]
    status, keys = await rest.call("GET", "/v1/api_keys")
    assert status == 200
    assert keys == [{"access_key": ACCESS, "expire_at": "2027-08-26T00:00:00+09:00"}]


async def test_deposits_record_the_starting_balances(rest: Rest) -> None:
    status, deposits = await rest.call("GET", "/v1/deposits", [("currency", "BTC")])
    assert status == 200 and len(deposits) == 1
    (btc,) = deposits
    assert btc["amount"] == "0.5" and btc["state"] == "ACCEPTED" and btc["type"] == "deposit"
    status, one = await rest.call("GET", "/v1/deposit", [("uuid", btc["uuid"])])
    assert (status, one) == (200, btc)
    status, error = await rest.call("GET", "/v1/deposit", [("uuid", "nope")])
    assert status == 404 and error["error"]["name"] == "deposit_not_found"
    assert (await rest.call("GET", "/v1/deposits/coin_addresses")) == (200, [])
