"""UpbitRestClient against the simulator over loopback: shapes, paging, backfill, faults, auth."""

from __future__ import annotations

import asyncio
import logging

import pytest

from upbit_tui.exchange import ExchangeServer
from upbit_tui.net.auth import NO_KEYS_REASON, Credentials
from upbit_tui.net.ratelimit import GlobalRateLimiter
from upbit_tui.net.rest import (
    PrivateUnavailableError,
    UnknownSymbolError,
    UpbitAuthError,
    UpbitBlockedError,
    UpbitConnectionError,
    UpbitRestClient,
    UpbitServerError,
)
from upbit_tui.wire.events import DataType, StreamType
from upbit_tui.wire.symbols import SymbolError

ACCESS_KEY = "test-access"  # the `sim` fixture's key pair (see conftest.py)


def _fast(sim: ExchangeServer, creds: Credentials | None = None, **kw: float) -> UpbitRestClient:
    options: dict[str, float] = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, **kw}
    return UpbitRestClient(sim.rest_url, GlobalRateLimiter(), creds, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- quotation


async def test_markets_list_every_listed_market(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    markets = await client.get_markets()
    assert [m.market for m in markets] == sim.model.market_codes()
    btc = markets[0]
    assert btc.market == "KRW-BTC" and btc.english_name == "Bitcoin" and btc.korean_name


async def test_tickers_come_back_typed_in_the_order_asked(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    tickers = await client.get_tickers(["krw-eth", "KRW-BTC"])
    assert [t.symbol for t in tickers] == ["KRW-ETH", "KRW-BTC"]
    for ticker in tickers:
        truth = sim.model.ticker(ticker.symbol)
        assert ticker.trade_price == truth.trade_price
        assert ticker.stream_type == StreamType.REST and ticker.epoch == 0
        assert ticker.timestamp_ms > 0 and ticker.timestamp.year >= 2025
        assert ticker.change in ("RISE", "FALL", "EVEN")


async def test_too_many_codes_for_one_call_are_split(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    assert client.codes_per_call == 100  # Upbit's; 8 here keeps the simulator small
    client.codes_per_call = 8
    codes = sim.model.market_codes()
    tickers = await client.get_tickers(codes)
    books = await client.get_orderbooks(codes, depth=1)
    assert [t.symbol for t in tickers] == codes == [b.symbol for b in books]
    assert client.requests_sent == 6  # 20 codes = 8 + 8 + 4, twice


async def test_orderbook_depth_and_shape(sim: ExchangeServer, client: UpbitRestClient) -> None:
    books = await client.get_orderbooks(["KRW-BTC", "KRW-ETH"], depth=5)
    assert [b.symbol for b in books] == ["KRW-BTC", "KRW-ETH"]
    for book in books:
        assert len(book.orderbook_units) == 5
        best = book.orderbook_units[0]
        assert best.ask_price > best.bid_price
        assert book.stream_type == StreamType.REST
    with pytest.raises(ValueError, match="depth 7"):
        await client.get_orderbooks("KRW-BTC", depth=7)


@pytest.mark.parametrize("timeframe", ["1m", "minute1", DataType.CANDLE_1M, "candle.1m"])
async def test_candles_accept_every_timeframe_spelling(
    client: UpbitRestClient, timeframe: str
) -> None:
    candles = await client.get_candles("KRW-BTC", timeframe, count=3)
    assert len(candles) == 3
    assert all(c.type == "candle.1m" and c.timeframe == "1m" for c in candles)


async def test_candles_beyond_200_paginate_oldest_first(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    candles = await client.get_candles("KRW-ETH", "5m", count=450)
    assert len(candles) == 450
    starts = [c.start for c in candles]
    assert starts == sorted(starts) and len(set(starts)) == 450
    assert client.requests_sent == 3  # 200 + 200 + 50
    truth = list(reversed(sim.model.candles("KRW-ETH", "5m", count=450)))
    assert [c.candle_date_time_utc for c in candles] == [t.candle_date_time_utc for t in truth]
    assert [c.trade_price for c in candles] == [t.trade_price for t in truth]


async def test_seconds_and_day_candles(client: UpbitRestClient) -> None:
    seconds = await client.get_candles("KRW-BTC", "1s", count=5)
    days = await client.get_candles("KRW-BTC", "1d", count=250)
    assert seconds and all(c.type == "candle.1s" for c in seconds)
    assert len(days) == 250 and all(c.type == "candle.1d" for c in days)
    assert all(c.candle_date_time_utc.endswith("T00:00:00") for c in days)
    assert [c.start for c in days] == sorted(c.start for c in days)


async def test_bad_timeframe_and_count_are_clear_errors(client: UpbitRestClient) -> None:
    with pytest.raises(ValueError, match="unknown candle timeframe 'minut1'"):
        await client.get_candles("KRW-BTC", "minut1")
    with pytest.raises(ValueError, match="count must be a whole number"):
        await client.get_candles("KRW-BTC", "1m", count=0)
    assert client.requests_sent == 0


async def test_trades_oldest_first_with_cursor_paging(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    sim.generate_trades(30, "KRW-XRP")
    newest = await client.get_trades("KRW-XRP", count=10)
    older = await client.get_trades("KRW-XRP", count=10, cursor=newest[0].sequential_id)
    truth = list(reversed(sim.model.trades("KRW-XRP", count=20)))
    assert [t.sequential_id for t in older + newest] == [t.sequential_id for t in truth]
    assert all(not t.backfilled for t in newest)


async def test_trades_since_return_exactly_the_missed_trades(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    sim.generate_trades(5, "KRW-BTC")
    last_seen = sim.model.trades("KRW-BTC", count=1)[0]
    sim.generate_trades(1200, "KRW-BTC")  # more than two pages of 500
    sim.generate_trades(50, "KRW-ETH")  # other markets do not leak in

    missed = await client.get_trades_since(
        "KRW-BTC",
        since_sequential_id=last_seen.sequential_id,
        since_timestamp_ms=last_seen.trade_timestamp,
    )
    # Newer by time, not by id: Upbit's ids are unique but not ordered (nor the simulator's).
    newest_first = [t.sequential_id for t in sim.model.trades("KRW-BTC", count=5000)]
    truth = newest_first[: newest_first.index(last_seen.sequential_id)][::-1]
    assert [t.sequential_id for t in missed] == truth
    assert len(missed) == 1200
    assert all(t.backfilled and t.symbol == "KRW-BTC" for t in missed)
    assert client.requests_sent == 3


async def test_trades_since_the_newest_trade_is_empty(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    sim.generate_trades(3, "KRW-SOL")
    last = sim.model.trades("KRW-SOL", count=1)[0]
    assert await client.get_trades_since("KRW-SOL", since_sequential_id=last.sequential_id) == []


async def test_unknown_market_names_the_culprit(client: UpbitRestClient) -> None:
    with pytest.raises(UnknownSymbolError) as info:
        await client.get_tickers(["KRW-BTC", "KRW-NOPE"])
    assert info.value.symbols == ["KRW-NOPE"]
    assert "KRW-NOPE" in str(info.value) and "KRW-BTC," not in str(info.value)
    with pytest.raises(UnknownSymbolError, match="KRW-NOPE"):
        await client.get_candles("KRW-NOPE", "1m")


async def test_malformed_market_code_fails_before_any_request(client: UpbitRestClient) -> None:
    with pytest.raises(SymbolError, match="not an Upbit market code"):
        await client.get_tickers(["BTC"])
    assert client.requests_sent == 0


# ---------------------------------------------------------------------------- faults and limits


async def test_server_errors_are_retried(sim: ExchangeServer, client: UpbitRestClient) -> None:
    sim.faults.fail_rest(2, status=500)
    tickers = await client.get_tickers("KRW-BTC")
    assert tickers[0].symbol == "KRW-BTC"
    assert client.retries == 2


async def test_server_errors_give_up_after_the_retry_budget(sim: ExchangeServer) -> None:
    sim.faults.fail_rest(10, status=503)
    async with _fast(sim, max_retries=1) as client:
        with pytest.raises(UpbitServerError) as info:
            await client.get_tickers("KRW-BTC")
    assert info.value.status == 503
    assert client.requests_sent == 2


async def test_429_backs_off_and_retries(
    sim: ExchangeServer, client: UpbitRestClient, caplog: pytest.LogCaptureFixture
) -> None:
    sim.faults.fail_rest(1, status=429)
    tickers = await client.get_tickers("KRW-ETH")
    assert tickers[0].symbol == "KRW-ETH"
    assert client.retries == 1
    assert "group 'ticker'; pausing 1.0 s" in caplog.text  # the answer's Retry-After: 1


async def test_short_418_block_is_waited_out(sim: ExchangeServer) -> None:
    blocks: list[tuple[str, float]] = []
    limiter = GlobalRateLimiter(on_block=lambda g, s: blocks.append((g, s)))
    async with UpbitRestClient(sim.rest_url, limiter, max_block_wait=5.0) as client:
        sim.faults.fail_rest(1, status=418)
        books = await client.get_orderbooks("KRW-BTC")
    assert books[0].symbol == "KRW-BTC"
    assert blocks == [("orderbook", 1.0)]


async def test_long_418_block_raises_at_once(sim: ExchangeServer) -> None:
    async with _fast(sim, max_block_wait=0.1) as client:
        sim.faults.fail_rest(1, status=418)
        with pytest.raises(UpbitBlockedError) as info:
            await client.get_tickers("KRW-BTC")
        assert info.value.status == 418 and "ticker" in str(info.value)
        assert client.rate_limiter.blocks().keys() == {"ticker"}
        # Other groups are not blocked.
        assert (await client.get_orderbooks("KRW-BTC"))[0].symbol == "KRW-BTC"


async def test_a_burst_of_calls_never_trips_upbits_limit(client: UpbitRestClient) -> None:
    results = await asyncio.gather(*(client.get_tickers("KRW-BTC") for _ in range(20)))
    assert len(results) == 20
    assert client.retries == 0  # the simulator enforces 10/s: no 429 was ever answered


async def test_unreachable_server_is_a_connection_error() -> None:
    async with UpbitRestClient(
        "http://127.0.0.1:9", max_retries=1, retry_base_delay=0.01
    ) as client:
        with pytest.raises(UpbitConnectionError, match="cannot reach Upbit"):
            await client.get_markets()


# ---------------------------------------------------------------------------- private


async def test_accounts_decode_string_amounts(sim: ExchangeServer, client: UpbitRestClient) -> None:
    balances = await client.get_accounts()
    truth = {b.currency: b for b in sim.model.accounts(ACCESS_KEY)}
    assert {a.currency for a in balances.assets} == set(truth)
    for asset in balances.assets:
        assert isinstance(asset.balance, float)
        assert asset.balance == pytest.approx(truth[asset.currency].balance)
        assert asset.locked == pytest.approx(truth[asset.currency].locked)
    assert balances.stream_type == StreamType.REST


async def test_open_orders_after_placing_one(sim: ExchangeServer, client: UpbitRestClient) -> None:
    assert await client.get_open_orders() == []
    price = sim.model.ticker("KRW-BTC").trade_price
    bid = price // 2 // 1000 * 1000
    placed = await client.request(
        "POST",
        "/orders",
        group="order",
        auth=True,
        json_body={
            "market": "KRW-BTC",
            "side": "bid",
            "ord_type": "limit",
            "price": str(int(bid)),
            "volume": "0.01",
        },
    )
    orders = await client.get_open_orders()
    assert [o.uuid for o in orders] == [placed["uuid"]]
    order = orders[0]
    assert (order.symbol, order.ask_bid, order.order_type, order.state) == (
        "KRW-BTC",
        "BID",
        "limit",
        "wait",
    )
    assert order.price == bid and order.volume == 0.01 and order.remaining_volume == 0.01
    assert order.order_timestamp > 0
    assert await client.get_open_orders("KRW-ETH") == []


async def test_private_call_without_keys_says_how_to_fix_it(sim: ExchangeServer) -> None:
    async with _fast(sim) as client:
        with pytest.raises(PrivateUnavailableError) as info:
            await client.get_accounts()
    assert str(info.value) == NO_KEYS_REASON
    assert client.requests_sent == 0


@pytest.mark.parametrize(
    ("which", "name", "fix"),
    [
        ("secret", "jwt_verification", "UPBIT_SECRET_KEY"),
        ("access", "invalid_access_key", "UPBIT_ACCESS_KEY"),
    ],
)
async def test_bad_keys_are_rejected_with_a_fix_and_no_secret(
    sim: ExchangeServer,
    caplog: pytest.LogCaptureFixture,
    creds: Credentials,
    which: str,
    name: str,
    fix: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    if which == "secret":
        bad = Credentials(creds.access_key, "wrong-secret-key-0000000000000000000000")
    else:
        bad = Credentials("unknown-access-key-000", creds.secret_key)
    async with _fast(sim, bad) as client:
        with pytest.raises(UpbitAuthError) as info:
            await client.get_accounts()
        with pytest.raises(UpbitAuthError):
            await client.get_open_orders()
    error = info.value
    assert error.status == 401 and error.name == name
    assert fix in str(error)
    for text in (str(error), repr(error), caplog.text, repr(client.__dict__)):
        assert bad.secret_key not in text
        assert bad.access_key not in text


async def test_fixed_keys_work_without_a_new_client(
    sim: ExchangeServer, creds: Credentials
) -> None:
    async with _fast(sim, Credentials(ACCESS_KEY, "wrong-secret-0000000000000000000000000")) as c:
        with pytest.raises(UpbitAuthError):
            await c.get_accounts()
        c.set_credentials(creds)
        assert (await c.get_accounts()).assets
