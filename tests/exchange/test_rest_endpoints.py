"""The simulator's REST API over a real loopback socket, checked against the docs' examples.

The client side is plain aiohttp (not our client library): these tests read Upbit's wire format
directly, with the fixtures in shared/fixtures/rest/ as the reference for keys and types.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import aiohttp
import pytest
import pytest_asyncio
from multidict import CIMultiDictProxy

from upbit_tui.exchange import ExchangeServer
from upbit_tui.exchange.limits import RateLimits
from upbit_tui.exchange.ticks import round_price

pytestmark = pytest.mark.asyncio(loop_scope="module")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upbit_docs" / "rest"

ACCESS, SECRET = "test-access", "test-secret"
NOW = 1_773_240_059.0  # 2026-03-11T14:40:59Z, the moment of the real recorded responses

REAL_ORDERBOOK_UNIT_KEYS = ["bid_price", "bid_size", "ask_price", "ask_size"]
REAL_DAY_CANDLE_KEYS = [
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
    "prev_closing_price",
    "change_price",
    "change_rate",
]
REAL_ORDER_KEYS = [
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
    "executed_funds",
    "trades_count",
]


def plain(price: float) -> str:
    """A KRW price as a client would send it: "118000000", not "1.18e8"."""
    return f"{price:f}".rstrip("0").rstrip(".")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Server:
    """A running simulator, its clock, and a plain aiohttp session pointed at its REST base."""

    def __init__(
        self, sim: ExchangeServer, clock: FakeClock, session: aiohttp.ClientSession
    ) -> None:
        self.sim = sim
        self.clock = clock
        self.session = session
        self.base = sim.rest_url

    async def get(
        self, path: str, params: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, CIMultiDictProxy[str]]:
        async with self.session.get(self.base + path, params=params, headers=headers) as r:
            text = await r.text()
            if text and r.content_type != "application/json":
                return r.status, text, r.headers  # Upbit's plain-text quotation 429
            return r.status, (json.loads(text) if text else None), r.headers


async def running(
    markets: int, seed: int, quotation_429_body: Any = "text", **limits: Any
) -> AsyncIterator[Server]:
    """A simulator with no automatic trades on a fixed clock; rate limits on that clock too."""
    clock = FakeClock()
    async with ExchangeServer(
        seed=seed,
        markets=markets,
        rate=0.0,
        clock=clock,
        api_keys={ACCESS: SECRET},
        quotation_429_body=quotation_429_body,
    ) as sim:
        sim.limits = RateLimits(clock=clock, **limits)
        async with aiohttp.ClientSession() as session:
            yield Server(sim, clock, session)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[Server]:
    """Read-only tests share one simulator; limits high enough not to interfere."""
    async for s in running(20, 1, quotation_per_second=10_000, default_per_second=10_000):
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def limited() -> AsyncIterator[Server]:
    """Upbit's real limits, on a clock the test moves."""
    async for s in running(5, 2):
        yield s


def token(params: Any = None, *, secret: str = SECRET, alg: str = "HS512", nonce: str = "") -> str:
    claims: dict[str, Any] = {"access_key": ACCESS, "nonce": nonce or str(uuid.uuid4())}
    if params:
        query = unquote(urlencode(params, doseq=True))
        claims["query_hash"] = hashlib.sha512(query.encode()).hexdigest()
        claims["query_hash_alg"] = "SHA512"

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    digest = hashlib.sha512 if alg == "HS512" else hashlib.sha256
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), digest).digest()
    return f"Bearer {head}.{body}.{b64(mac)}"


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def assert_same_shape(actual: dict[str, Any], example: dict[str, Any]) -> None:
    assert list(actual) == list(example)
    for key, value in example.items():
        if value is None or actual[key] is None:
            continue
        assert json_type(actual[key]) == json_type(value), key


# -- shapes against the docs' examples ---------------------------------------------------------


async def test_market_all_with_details_matches_the_docs(server: Server) -> None:
    status, body, headers = await server.get("/v1/market/all", {"is_details": "true"})
    assert status == 200 and len(body) == 20
    example = fixture("market_all.json")[0]
    for item in body:
        assert_same_shape(item, example)
        assert_same_shape(item["market_event"], example["market_event"])
        assert_same_shape(item["market_event"]["caution"], example["market_event"]["caution"])
    assert body[0]["market"] == "KRW-BTC" and body[0]["korean_name"] == "비트코인"
    assert headers["Remaining-Req"].startswith("group=market; min=")


async def test_market_all_without_details_has_no_market_event(server: Server) -> None:
    for params in (None, {"is_details": "false"}):
        status, body, _ = await server.get("/v1/market/all", params)
        assert status == 200
        assert all(list(item) == ["market", "korean_name", "english_name"] for item in body)


async def test_ticker_matches_the_docs(server: Server) -> None:
    status, body, _ = await server.get("/v1/ticker", {"markets": "KRW-ETH,KRW-BTC,KRW-ETH"})
    assert status == 200
    assert [t["market"] for t in body] == ["KRW-ETH", "KRW-BTC"]  # request order, once each
    example = fixture("ticker_all.json")[0]
    for item in body:
        assert_same_shape(item, example)
        assert len(item["trade_date"]) == 8 and len(item["trade_time"]) == 6
        assert item["change"] in ("RISE", "EVEN", "FALL")
        assert item["change_price"] >= 0 and item["change_rate"] >= 0


async def test_ticker_all_serves_every_krw_market(server: Server) -> None:
    status, body, headers = await server.get("/v1/ticker/all", {"quote_currencies": "KRW"})
    assert status == 200 and len(body) == 20
    assert all(item["market"].startswith("KRW-") for item in body)
    assert_same_shape(body[0], fixture("ticker_all.json")[0])
    assert headers["Remaining-Req"].startswith("group=ticker;")
    status, body, _ = await server.get("/v1/ticker/all", {"quote_currencies": "BTC,USDT"})
    assert (status, body) == (200, [])


async def test_orderbook_matches_the_docs_with_real_unit_order(server: Server) -> None:
    status, body, headers = await server.get("/v1/orderbook", {"markets": "KRW-BTC,KRW-XRP"})
    assert status == 200 and [b["market"] for b in body] == ["KRW-BTC", "KRW-XRP"]
    example = fixture("orderbook.json")[0]
    for book in body:
        assert set(book) == set(example) and list(book)[-1] == "level"
        assert [json_type(book[k]) for k in example] == [json_type(v) for v in example.values()]
        assert len(book["orderbook_units"]) == 30
        for unit in book["orderbook_units"]:
            assert list(unit) == REAL_ORDERBOOK_UNIT_KEYS
            assert set(unit) == set(example["orderbook_units"][0])
        best = book["orderbook_units"][0]
        assert best["bid_price"] < best["ask_price"]
        assert book["level"] == 0 and isinstance(book["level"], int)
        total = sum(u["ask_size"] for u in book["orderbook_units"])
        assert book["total_ask_size"] == pytest.approx(total)
    assert headers["Limit-By-Ip"] == "Yes"


async def test_orderbook_count_and_level(server: Server) -> None:
    _, body, _ = await server.get("/v1/orderbook", {"markets": "KRW-BTC", "count": "5"})
    assert len(body[0]["orderbook_units"]) == 5
    _, body, _ = await server.get("/v1/orderbook", {"markets": "KRW-BTC", "count": "50"})
    assert len(body[0]["orderbook_units"]) == 30
    _, body, _ = await server.get("/v1/orderbook", {"markets": "KRW-BTC", "level": "100000"})
    assert body[0]["level"] == 100000
    assert all(u["bid_price"] % 100000 == 0 for u in body[0]["orderbook_units"])
    # An unsupported level: Upbit answers no data for that market, not an error.
    status, body, _ = await server.get(
        "/v1/orderbook", {"markets": "KRW-BTC,KRW-ETH", "level": "100000000"}
    )
    assert status == 200 and [b["market"] for b in body] == ["KRW-BTC"]


async def test_orderbook_instruments_are_strings(server: Server) -> None:
    status, body, _ = await server.get("/v1/orderbook/instruments", {"markets": "KRW-BTC,KRW-BTT"})
    assert status == 200
    assert body[0] == {
        "market": "KRW-BTC",
        "quote_currency": "KRW",
        "tick_size": "1000",
        "supported_levels": ["0", "10000", "100000", "1000000", "10000000", "100000000"],
    }
    assert body[1]["tick_size"] == "0.000001"
    assert all("e" not in level for level in body[1]["supported_levels"])


async def test_minute_candles_match_the_docs(server: Server) -> None:
    example = fixture("candles_minutes.json")[0]
    for unit in (1, 3, 5, 10, 15, 30, 60, 240):
        status, body, headers = await server.get(
            f"/v1/candles/minutes/{unit}", {"market": "KRW-BTC", "count": "3"}
        )
        assert status == 200 and len(body) == 3
        for candle in body:
            assert_same_shape(candle, example)
            assert candle["unit"] == unit
        starts = [c["candle_date_time_utc"] for c in body]
        assert starts == sorted(starts, reverse=True)  # newest first
        assert headers["Remaining-Req"].startswith("group=candles;")


async def test_second_and_day_candles(server: Server) -> None:
    minute_keys = list(fixture("candles_minutes.json")[0])
    status, body, _ = await server.get("/v1/candles/seconds", {"market": "KRW-BTC"})
    assert status == 200 and len(body) == 1  # count defaults to 1
    assert list(body[0]) == [k for k in minute_keys if k != "unit"]

    status, body, _ = await server.get("/v1/candles/days", {"market": "KRW-BTC", "count": "3"})
    assert status == 200 and len(body) == 3
    for candle in body:
        assert list(candle) == REAL_DAY_CANDLE_KEYS
        assert candle["candle_date_time_utc"].endswith("T00:00:00")
        assert candle["candle_date_time_kst"].endswith("T09:00:00")
    newest, previous = body[0], body[1]
    assert newest["prev_closing_price"] == previous["trade_price"]
    assert newest["change_price"] == pytest.approx(
        newest["trade_price"] - newest["prev_closing_price"]
    )

    _, body, _ = await server.get(
        "/v1/candles/days", {"market": "KRW-BTC", "converting_price_unit": "KRW"}
    )
    assert list(body[0]) == [*REAL_DAY_CANDLE_KEYS, "converted_trade_price"]


async def test_trades_match_the_docs(server: Server) -> None:
    status, body, headers = await server.get("/v1/trades/ticks", {"market": "KRW-BTC"})
    assert status == 200 and len(body) == 1
    assert_same_shape(body[0], fixture("trades_ticks.json")[0])
    assert body[0]["ask_bid"] in ("ASK", "BID")
    assert headers["Remaining-Req"].startswith("group=crix-trades;")


# -- pagination --------------------------------------------------------------------------------


async def test_trades_cursor_pages_back_without_gaps(server: Server) -> None:
    _, everything, _ = await server.get("/v1/trades/ticks", {"market": "KRW-BTC", "count": "60"})
    ids = [t["sequential_id"] for t in everything]
    assert len(ids) == 60 and ids == sorted(ids, reverse=True) and len(set(ids)) == 60
    stamps = [t["timestamp"] for t in everything]
    assert stamps == sorted(stamps, reverse=True)

    pages: list[int] = []
    cursor: int | None = None
    while len(pages) < 60:
        params = {"market": "KRW-BTC", "count": "25"}
        if cursor is not None:
            params["cursor"] = str(cursor)
        _, page, _ = await server.get("/v1/trades/ticks", params)
        pages += [t["sequential_id"] for t in page]
        cursor = page[-1]["sequential_id"]
    assert pages[:60] == ids


async def test_trades_to_is_an_exclusive_time_of_day(server: Server) -> None:
    _, latest, _ = await server.get("/v1/trades/ticks", {"market": "KRW-BTC", "count": "30"})
    boundary = latest[10]["trade_time_utc"]  # "HH:mm:ss"
    for to in (boundary, boundary.replace(":", "")):
        status, body, _ = await server.get(
            "/v1/trades/ticks", {"market": "KRW-BTC", "count": "5", "to": to}
        )
        assert status == 200 and body
        assert all(t["trade_time_utc"] < boundary for t in body)
        assert all(t["trade_date_utc"] == latest[0]["trade_date_utc"] for t in body)


async def test_trades_days_ago_is_that_utc_day_only(server: Server) -> None:
    status, body, _ = await server.get(
        "/v1/trades/ticks", {"market": "KRW-BTC", "count": "500", "days_ago": "1"}
    )
    assert status == 200
    assert all(t["trade_date_utc"] == "2026-03-10" for t in body)


async def test_candles_to_pages_back_without_gaps(server: Server) -> None:
    _, everything, _ = await server.get(
        "/v1/candles/minutes/5", {"market": "KRW-ETH", "count": "200"}
    )
    starts = [c["candle_date_time_utc"] for c in everything]
    assert len(starts) == 200 and starts == sorted(starts, reverse=True)

    pages: list[str] = []
    to = None
    while len(pages) < 200:
        params = {"market": "KRW-ETH", "count": "70"}
        if to is not None:
            params["to"] = to
        _, page, _ = await server.get("/v1/candles/minutes/5", params)
        pages += [c["candle_date_time_utc"] for c in page]
        to = page[-1]["candle_date_time_utc"]  # zone-less = UTC, exclusive
    assert pages[:200] == starts


@pytest.mark.parametrize(
    "to",
    ["2026-03-11T05:00:00Z", "2026-03-11 05:00:00", "2026-03-11T14:00:00+09:00"],
)
async def test_candle_to_formats(server: Server, to: str) -> None:
    status, body, _ = await server.get(
        "/v1/candles/minutes/1", {"market": "KRW-BTC", "count": "2", "to": to}
    )
    assert status == 200
    assert [c["candle_date_time_utc"] for c in body] == [
        "2026-03-11T04:59:00",
        "2026-03-11T04:58:00",
    ]


async def test_candle_to_with_unescaped_plus(server: Server) -> None:
    url = "/v1/candles/minutes/1?market=KRW-BTC&count=1&to=2026-03-11T14:00:00+09:00"
    async with server.session.get(server.base + url) as r:
        assert r.status == 200
        assert (await r.json())[0]["candle_date_time_utc"] == "2026-03-11T04:59:00"


# -- parameter errors --------------------------------------------------------------------------

MISSING = {
    "error": {
        "name": 400,
        "message": "Missing request parameter error. Check the required parameters!",
    }
}
INVALID = {"error": {"name": 400, "message": "Invalid parameter. Check the given value!"}}
MISMATCH = {"error": {"name": 400, "message": "Type mismatch error. Check the parameters type!"}}
NOT_FOUND = {"error": {"name": 404, "message": "Code not found"}}


@pytest.mark.parametrize(
    ("path", "params", "status", "expected"),
    [
        ("/v1/ticker", None, 400, MISSING),
        ("/v1/ticker", {"markets": ""}, 400, MISSING),
        ("/v1/ticker", {"markets": "KRW-BTC,KRW-NOPE"}, 404, NOT_FOUND),
        ("/v1/ticker", {"markets": "krw-btc"}, 404, NOT_FOUND),
        ("/v1/ticker", {"markets": "KRW-BTC,,KRW-ETH"}, 400, INVALID),
        ("/v1/ticker/all", None, 400, MISSING),
        ("/v1/ticker/all", {"quote_currencies": "EUR"}, 400, INVALID),
        ("/v1/market/all", {"is_details": "yes"}, 400, MISMATCH),
        ("/v1/orderbook", {"markets": "KRW-BTC", "count": "x"}, 400, MISMATCH),
        ("/v1/orderbook", {"markets": "KRW-BTC", "count": "0"}, 400, INVALID),
        ("/v1/orderbook", {"markets": "KRW-BTC", "level": "big"}, 400, MISMATCH),
        ("/v1/orderbook", {"markets": "KRW-NOPE"}, 404, NOT_FOUND),
        ("/v1/orderbook/instruments", None, 400, MISSING),
        ("/v1/candles/minutes/1", None, 400, MISSING),
        ("/v1/candles/minutes/2", {"market": "KRW-BTC"}, 400, INVALID),
        ("/v1/candles/minutes/one", {"market": "KRW-BTC"}, 400, MISMATCH),
        ("/v1/candles/minutes/1", {"market": "KRW-NOPE"}, 404, NOT_FOUND),
        ("/v1/candles/minutes/1", {"market": "KRW-BTC", "count": "201"}, 400, INVALID),
        ("/v1/candles/minutes/1", {"market": "KRW-BTC", "count": "1.5"}, 400, MISMATCH),
        ("/v1/candles/minutes/1", {"market": "KRW-BTC", "to": "yesterday"}, 400, INVALID),
        ("/v1/candles/seconds", {"market": "KRW-BTC", "count": "-1"}, 400, INVALID),
        ("/v1/candles/days", {"market": "KRW-BTC", "converting_price_unit": "USD"}, 400, INVALID),
        ("/v1/trades/ticks", None, 400, MISSING),
        ("/v1/trades/ticks", {"market": "KRW-NOPE"}, 404, NOT_FOUND),
        ("/v1/trades/ticks", {"market": "KRW-BTC", "count": "501"}, 400, INVALID),
        ("/v1/trades/ticks", {"market": "KRW-BTC", "days_ago": "8"}, 400, INVALID),
        ("/v1/trades/ticks", {"market": "KRW-BTC", "days_ago": "0"}, 400, INVALID),
        ("/v1/trades/ticks", {"market": "KRW-BTC", "to": "25:00:00"}, 400, INVALID),
        ("/v1/trades/ticks", {"market": "KRW-BTC", "to": "12:3456"}, 400, INVALID),
        ("/v1/trades/ticks", {"market": "KRW-BTC", "cursor": "abc"}, 400, MISMATCH),
    ],
)
async def test_parameter_errors(
    server: Server, path: str, params: Any, status: int, expected: Any
) -> None:
    got_status, body, headers = await server.get(path, params)
    assert (got_status, body) == (status, expected)
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "Remaining-Req" in headers


# -- headers -----------------------------------------------------------------------------------


async def test_quotation_headers_as_recorded_from_upbit(server: Server) -> None:
    status, _, headers = await server.get(
        "/v1/ticker", {"markets": "KRW-BTC"}, headers={"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    assert headers["Limit-By-Ip"] == "Yes"
    assert headers["Cache-Control"] == "no-cache, no-store, max-age=0, must-revalidate"
    assert headers["Content-Encoding"] == "gzip"
    etag = headers["ETag"]
    assert etag.startswith('W/"0') and len(etag) == 37
    status, body, again = await server.get(
        "/v1/ticker", {"markets": "KRW-BTC"}, headers={"If-None-Match": etag}
    )
    assert (status, body) == (304, None)
    assert again["ETag"] == etag


async def test_exchange_headers_have_no_ip_limit_marker(server: Server) -> None:
    status, _, headers = await server.get("/v1/accounts", headers={"Authorization": token()})
    assert status == 200
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "Limit-By-Ip" not in headers and "ETag" not in headers
    assert headers["Remaining-Req"].startswith("group=default; min=")


# -- the private endpoints ---------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
async def test_accounts_match_the_docs(server: Server, alg: str) -> None:
    status, body, _ = await server.get("/v1/accounts", headers={"Authorization": token(alg=alg)})
    assert status == 200 and body
    example = fixture("accounts.json")[0]
    for row in body:
        assert_same_shape(row, example)
        for key in ("balance", "locked", "avg_buy_price"):
            assert isinstance(row[key], str) and "e" not in row[key]
            float(row[key])
    assert body[0]["currency"] == "KRW" and body[0]["unit_currency"] == "KRW"


@pytest.mark.parametrize(
    ("make_header", "name"),
    [
        (lambda: None, "no_authorization_token"),
        (lambda: "Bearer", "no_authorization_token"),
        (lambda: token(secret="wrong-secret"), "jwt_verification"),
        (lambda: "Bearer not.a.jwt", "jwt_verification"),
        (lambda: token({"market": "KRW-BTC"}), "invalid_query_payload"),
    ],
)
async def test_accounts_refused(server: Server, make_header: Any, name: str) -> None:
    header = make_header()
    status, body, headers = await server.get(
        "/v1/accounts", headers={"Authorization": header} if header else None
    )
    assert status == 401 and body["error"]["name"] == name
    assert isinstance(body["error"]["message"], str) and SECRET not in json.dumps(body)
    assert headers["Remaining-Req"].startswith("group=default;")


async def test_reused_nonce_is_refused(server: Server) -> None:
    header = token(nonce=str(uuid.uuid4()))
    assert (await server.get("/v1/accounts", headers={"Authorization": header}))[0] == 200
    status, body, _ = await server.get("/v1/accounts", headers={"Authorization": header})
    assert status == 401 and body["error"]["name"] == "nonce_used"


@pytest_asyncio.fixture(loop_scope="module")
async def trader() -> AsyncIterator[Server]:
    async for s in running(5, 3, default_per_second=10_000):
        yield s


def place_resting_bids(server: Server, market: str, count: int) -> list[str]:
    """Limit bids far below the market (they rest), one simulated second apart."""
    model = server.sim.model
    book = model.orderbook(market, depth=1)
    assert book is not None
    uuids = []
    for i in range(count):
        price = round_price(book.orderbook_units[0].bid_price * (0.5 + 0.01 * i))
        server.clock.now += 1.0  # distinct created_at
        volume = round(20_000 / price + 0.00000001, 8)
        order = model.place_order(ACCESS, market, "bid", "limit", price=price, volume=volume)
        uuids.append(order.uuid)
    return uuids


async def test_open_orders_shape_and_paging(trader: Server) -> None:
    placed = place_resting_bids(trader, "KRW-BTC", 5) + place_resting_bids(trader, "KRW-ETH", 2)

    async def open_orders(params: list[tuple[str, str]] | None = None) -> Any:
        status, body, _ = await trader.get(
            "/v1/orders/open", params, headers={"Authorization": token(params)}
        )
        assert status == 200, body
        return body

    everything = await open_orders()
    assert [o["uuid"] for o in everything] == placed[::-1]  # newest first by default
    closed_example = fixture("orders_closed.json")[0]
    for order in everything:
        assert list(order) == REAL_ORDER_KEYS
        assert set(closed_example) <= set(order)
        assert order["state"] == "wait" and order["side"] == "bid"
        assert order["created_at"].endswith("+09:00")
        assert isinstance(order["trades_count"], int)
        for key in REAL_ORDER_KEYS:
            if key not in ("uuid", "side", "ord_type", "state", "market", "created_at"):
                assert key == "trades_count" or isinstance(order[key], str), key

    btc = await open_orders([("market", "KRW-BTC")])
    assert [o["uuid"] for o in btc] == placed[:5][::-1]
    ascending = await open_orders([("order_by", "asc"), ("limit", "3"), ("page", "2")])
    assert [o["uuid"] for o in ascending] == placed[3:6]
    both = await open_orders([("states[]", "wait"), ("states[]", "watch")])
    assert len(both) == 7
    assert await open_orders([("state", "watch")]) == []
    assert await open_orders([("page", "9")]) == []


@pytest.mark.parametrize(
    "params",
    [
        [("state", "done")],
        [("state", "wait"), ("states[]", "wait")],
        [("order_by", "sideways")],
        [("limit", "101")],
        [("page", "0")],
        [("page", "x")],
    ],
)
async def test_open_orders_invalid_parameters(trader: Server, params: Any) -> None:
    status, body, _ = await trader.get(
        "/v1/orders/open", params, headers={"Authorization": token(params)}
    )
    assert status == 400
    assert body["error"]["name"] == "invalid_parameter"
    assert isinstance(body["error"]["name"], str)


async def test_query_hash_covers_the_array_parameters(trader: Server) -> None:
    params = [("states[]", "wait"), ("states[]", "watch")]
    wrong = token([("states[]", "wait")])
    status, body, _ = await trader.get("/v1/orders/open", params, headers={"Authorization": wrong})
    assert status == 401 and body["error"]["name"] == "invalid_query_payload"
    # The query travels percent-encoded (states%5B%5D); the hash is over states[]=wait&...
    status, _, _ = await trader.get(
        "/v1/orders/open", params, headers={"Authorization": token(params)}
    )
    assert status == 200


# -- rate limits and faults --------------------------------------------------------------------


async def test_remaining_req_counts_down_then_429_then_418(limited: Server) -> None:
    remaining = []
    for _ in range(10):
        status, _, headers = await limited.get("/v1/ticker", {"markets": "KRW-BTC"})
        assert status == 200
        remaining.append(headers["Remaining-Req"])
    assert remaining == [f"group=ticker; min=600; sec={n}" for n in range(9, -1, -1)]

    status, body, headers = await limited.get("/v1/ticker/all", {"quote_currencies": "KRW"})
    assert status == 429  # /v1/ticker and /v1/ticker/all share the ticker group
    assert body == "Too many API requests."  # plain text, as pyupbit found on the real server
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["Remaining-Req"] == "group=ticker; min=600; sec=0"
    assert headers["Retry-After"] == "1"

    statuses = [(await limited.get("/v1/ticker", {"markets": "KRW-BTC"}))[0] for _ in range(10)]
    assert statuses == [429] * 9 + [418]
    status, body, headers = await limited.get("/v1/ticker", {"markets": "KRW-BTC"})
    assert status == 418 and body["error"]["name"] == 418
    assert "blocked for 5 seconds" in body["error"]["message"]
    assert headers["Retry-After"] == "5"

    # Other groups are not blocked; the block outlives the second it started in.
    assert (await limited.get("/v1/orderbook", {"markets": "KRW-BTC"}))[0] == 200
    limited.clock.now += 1.0
    assert (await limited.get("/v1/ticker", {"markets": "KRW-BTC"}))[0] == 418
    limited.clock.now += 5.0
    status, _, headers = await limited.get("/v1/ticker", {"markets": "KRW-BTC"})
    assert status == 200 and headers["Remaining-Req"] == "group=ticker; min=600; sec=9"


async def test_quotation_429_body_can_be_upbit_style_json() -> None:
    async for limited in running(5, 2, quotation_429_body="json"):
        for _ in range(10):
            assert (await limited.get("/v1/ticker", {"markets": "KRW-BTC"}))[0] == 200
        status, body, headers = await limited.get("/v1/ticker", {"markets": "KRW-BTC"})
        assert status == 429 and headers["Content-Type"] == "application/json;charset=UTF-8"
        assert body == {"error": {"name": 429, "message": "Too Many Requests"}}


async def test_exchange_limit_is_per_access_key(limited: Server) -> None:
    for expected in range(29, -1, -1):
        status, _, headers = await limited.get("/v1/accounts", headers={"Authorization": token()})
        assert status == 200
        assert headers["Remaining-Req"] == f"group=default; min=1800; sec={expected}"
    status, body, headers = await limited.get("/v1/accounts", headers={"Authorization": token()})
    assert status == 429
    assert body == {"error": {"name": "too_many_requests", "message": "Too Many Requests"}}
    # The quotation groups of the same machine are untouched.
    assert (await limited.get("/v1/market/all"))[0] == 200


async def test_rest_faults_answer_instead_and_consume_nothing(limited: Server) -> None:
    limited.sim.faults.fail_rest(1, status=429)
    limited.sim.faults.fail_rest(1, status=503)
    limited.sim.faults.fail_rest(1, status=418)
    status, body, headers = await limited.get("/v1/trades/ticks", {"market": "KRW-BTC"})
    assert status == 429 and body == "Too many API requests."  # as the limit's own 429
    assert headers["Remaining-Req"] == "group=crix-trades; min=600; sec=0"
    status, body, _ = await limited.get("/v1/trades/ticks", {"market": "KRW-BTC"})
    assert status == 503 and body == {"error": {"name": 503, "message": "Service Unavailable"}}
    status, body, _ = await limited.get("/v1/accounts", headers={"Authorization": token()})
    assert status == 418 and body["error"]["name"] == "blocked"
    status, _, headers = await limited.get("/v1/trades/ticks", {"market": "KRW-BTC"})
    assert status == 200 and headers["Remaining-Req"] == "group=crix-trades; min=600; sec=9"


# -- placing and cancelling orders -------------------------------------------------------------

REAL_CREATE_KEYS = [k for k in REAL_ORDER_KEYS if k != "executed_funds"]


def body_token(body: dict[str, Any], **kwargs: Any) -> str:
    """Upbit: a POST's query_hash covers its JSON body rendered k=v&k2=v2."""
    return token(list(body.items()), **kwargs)


async def test_place_and_cancel_an_order(trader: Server) -> None:
    model = trader.sim.model
    book = model.orderbook("KRW-BTC", depth=1)
    assert book is not None
    price = round_price(book.orderbook_units[0].bid_price * 0.8)
    body = {
        "market": "KRW-BTC",
        "side": "bid",
        "volume": "0.001",
        "price": plain(price),
        "ord_type": "limit",
    }
    url = trader.base + "/v1/orders"
    async with trader.session.post(
        url, json=body, headers={"Authorization": body_token(body)}
    ) as r:
        assert r.status == 201, await r.text()
        assert r.headers["Remaining-Req"] == "group=order; min=480; sec=7"
        created = await r.json()
    assert list(created) == REAL_CREATE_KEYS
    assert created["state"] == "wait" and created["volume"] == "0.001"
    assert created["price"] == plain(price) and created["locked"] != "0"

    params = [("uuid", created["uuid"])]
    url = trader.base + "/v1/order"
    async with trader.session.delete(
        url, params=params, headers={"Authorization": token(params)}
    ) as r:
        assert r.status == 200, await r.text()
        cancelled = await r.json()
    assert list(cancelled) == REAL_CREATE_KEYS
    assert cancelled["uuid"] == created["uuid"] and cancelled["state"] == "wait"
    status, body_open, _ = await trader.get("/v1/orders/open", headers={"Authorization": token()})
    assert (status, body_open) == (200, [])

    async with trader.session.delete(
        url, params=params, headers={"Authorization": token(params)}
    ) as r:
        assert r.status == 404
        assert (await r.json())["error"]["name"] == "order_not_found"


async def test_order_body_is_covered_by_the_query_hash(trader: Server) -> None:
    body = {
        "market": "KRW-BTC",
        "side": "bid",
        "price": "10000000",
        "volume": "0.001",
        "ord_type": "limit",
    }
    signed_other = body_token({**body, "volume": "100"})
    url = trader.base + "/v1/orders"
    async with trader.session.post(url, json=body, headers={"Authorization": signed_other}) as r:
        assert r.status == 401
        assert (await r.json())["error"]["name"] == "invalid_query_payload"
    assert trader.sim.model.open_orders(ACCESS) == []


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (
            {
                "market": "KRW-BTC",
                "side": "bid",
                "price": "10000001",
                "volume": "0.001",
                "ord_type": "limit",
            },
            "invalid_price_bid",
        ),
        (
            {
                "market": "KRW-BTC",
                "side": "bid",
                "price": "1000",
                "volume": "1",
                "ord_type": "limit",
            },
            "under_min_total_bid",
        ),
        (
            {
                "market": "KRW-BTC",
                "side": "up",
                "price": "10000000",
                "volume": "1",
                "ord_type": "limit",
            },
            "validation_error",
        ),
        (
            {
                "market": "KRW-BTC",
                "side": "bid",
                "price": "lots",
                "volume": "1",
                "ord_type": "limit",
            },
            "validation_error",
        ),
        (
            {"side": "bid", "price": "10000000", "volume": "1", "ord_type": "limit"},
            "validation_error",
        ),
    ],
)
async def test_refused_orders(trader: Server, body: dict[str, Any], name: str) -> None:
    url = trader.base + "/v1/orders"
    async with trader.session.post(
        url, json=body, headers={"Authorization": body_token(body)}
    ) as r:
        assert r.status == 400
        error = (await r.json())["error"]
        assert error["name"] == name and isinstance(error["message"], str)


async def test_malformed_order_body(trader: Server) -> None:
    url = trader.base + "/v1/orders"
    for raw in (b"{not json", b"[1, 2]"):
        async with trader.session.post(
            url, data=raw, headers={"Authorization": token(), "Content-Type": "application/json"}
        ) as r:
            assert r.status == 400
            assert (await r.json())["error"]["name"] == "validation_error"


async def test_browser_origin_gets_one_request_per_ten_seconds(limited: Server) -> None:
    origin = {"Origin": "https://example.com"}
    limited.clock.now = 1_773_240_060.0  # the start of a 10-second window
    status, _, headers = await limited.get("/v1/ticker", {"markets": "KRW-BTC"}, origin)
    assert status == 200 and headers["Remaining-Req"] == "group=ticker; min=6; sec=0"
    status, _, headers = await limited.get("/v1/market/all", headers=origin)
    assert status == 429 and headers["Retry-After"] == "10"
    assert (await limited.get("/v1/market/all"))[0] == 200
    limited.clock.now += 10.0
    assert (await limited.get("/v1/market/all", headers=origin))[0] == 200
