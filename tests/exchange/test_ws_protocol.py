"""Upbit's WebSocket request semantics over a real socket (upbit-protocol.md sections 1-4)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sim_harness import TIMEOUT, fixture, recv, recv_raw, send, subscription, sync
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from upbit_tui.exchange import ExchangeServer


def codes_of(messages: list[dict[str, object]]) -> set[object]:
    return {m.get("code", m.get("cd")) for m in messages}


async def test_success_is_silent_and_snapshot_comes_first(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(ws, subscription({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]}))
        before = await sync(ws)
        assert [m["stream_type"] for m in before] == ["SNAPSHOT", "SNAPSHOT"]
        assert codes_of(before) == {"KRW-BTC", "KRW-ETH"}
        trade = sim.generate_trades(1, "KRW-ETH")[0]
        realtime = await recv(ws)
        assert realtime["stream_type"] == "REALTIME" and realtime["code"] == "KRW-ETH"
        assert realtime["trade_price"] == trade.trade_price


async def test_new_request_replaces_the_whole_subscription(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(ws, subscription({"type": "ticker", "codes": ["KRW-BTC"]}))
        await sync(ws)
        await send(ws, subscription({"type": "trade", "codes": ["KRW-ETH"]}))
        assert [m["type"] for m in await sync(ws)] == ["trade"]
        sim.generate_trades(1, "KRW-BTC")
        sim.generate_trades(1, "KRW-ETH")
        after = await sync(ws)
        assert [(m["type"], m["code"]) for m in after] == [("trade", "KRW-ETH")]


async def test_snapshot_and_realtime_flags_in_both_spellings(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        for flag in ("is_only_snapshot", "isOnlySnapshot"):
            await send(ws, subscription({"type": "trade", "codes": ["KRW-BTC"], flag: True}))
            snap = await sync(ws)
            assert [m["stream_type"] for m in snap] == ["SNAPSHOT"]
            sim.generate_trades(2, "KRW-BTC")
            assert await sync(ws) == []
        for flag in ("is_only_realtime", "isOnlyRealtime"):
            await send(ws, subscription({"type": "trade", "codes": ["KRW-BTC"], flag: True}))
            assert await sync(ws) == []
            sim.generate_trades(1, "KRW-BTC")
            assert [m["stream_type"] for m in await sync(ws)] == ["REALTIME"]


async def test_format_object_in_any_position_and_list_formats(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(
            ws, [{"ticket": "t"}, {"format": "SIMPLE"}, {"type": "ticker", "codes": ["KRW-BTC"]}]
        )
        (snapshot,) = await sync(ws)
        assert snapshot["ty"] == "ticker" and snapshot["cd"] == "KRW-BTC"
        await send(
            ws, subscription({"type": "trade", "codes": ["KRW-BTC", "KRW-ETH"]}, fmt="JSON_LIST")
        )
        (listed,) = await sync(ws)
        assert isinstance(listed, list) and codes_of(listed) == {"KRW-BTC", "KRW-ETH"}
        sim.generate_trades(1, "KRW-BTC")
        (realtime,) = await sync(ws)
        assert isinstance(realtime, list) and realtime[0]["stream_type"] == "REALTIME"
        # A later request without a format object is DEFAULT again.
        await send(ws, subscription({"type": "trade", "codes": ["KRW-BTC"]}))
        (plain,) = await sync(ws)
        assert isinstance(plain, dict) and plain["type"] == "trade"


@pytest.mark.parametrize(
    ("code", "units"),
    [
        ("KRW-BTC.1", 1),
        ("KRW-BTC.5", 5),
        ("KRW-BTC.15", 15),
        ("KRW-BTC.30", 30),
        ("KRW-BTC", 30),
        ("KRW-BTC.3", 30),
        ("KRW-BTC.100", 30),
    ],
)
async def test_orderbook_depth_suffix(sim: ExchangeServer, code: str, units: int) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(ws, subscription({"type": "orderbook", "codes": [code]}))
        book = await recv(ws)
        assert book["code"] == "KRW-BTC" and len(book["orderbook_units"]) == units
        best = book["orderbook_units"][0]
        assert best["bid_price"] < best["ask_price"]
        assert book["total_ask_size"] == pytest.approx(
            sum(u["ask_size"] for u in book["orderbook_units"])
        )


async def test_orderbook_level_aggregates_and_unsupported_level_sends_nothing(
    sim: ExchangeServer,
) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(
            ws,
            subscription(
                {"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 100000},
                {"type": "orderbook", "codes": ["KRW-ETH.5"], "level": 3},
            ),
        )
        (book,) = await sync(ws)
        assert book["code"] == "KRW-BTC" and book["level"] == 100000
        assert all(u["ask_price"] % 100000 == 0 for u in book["orderbook_units"])
        sim.generate_trades(1, "KRW-ETH")
        assert await sync(ws) == []


async def test_candle_snapshot_and_push_only_when_changed(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(ws, subscription({"type": "candle.1m", "codes": ["KRW-BTC", "KRW-ETH"]}))
        snapshots = await sync(ws)
        latest = sim.model.latest_candle("KRW-BTC", "1m")
        btc = next(m for m in snapshots if m["code"] == "KRW-BTC")
        assert btc["candle_date_time_utc"] == latest.candle_date_time_utc
        trade = sim.generate_trades(1, "KRW-BTC")[0]
        assert await sync(ws) == []  # candles are not pushed per trade
        sim.push_candles()
        (pushed,) = await sync(ws)
        assert pushed["code"] == "KRW-BTC" and pushed["stream_type"] == "REALTIME"
        assert pushed["trade_price"] == trade.trade_price
        sim.push_candles()
        assert await sync(ws) == []  # nothing traded: nothing sent


async def test_list_subscriptions_reports_and_format_applies(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(ws, [{"ticket": "x"}, {"method": "LIST_SUBSCRIPTIONS"}])
        empty = await recv(ws)
        assert empty == {"method": "LIST_SUBSCRIPTIONS", "result": [], "ticket": "x"}
        await send(
            ws,
            subscription(
                {"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"], "is_only_realtime": True},
                {"type": "orderbook", "codes": ["KRW-BTC", "KRW-ETH"], "is_only_realtime": True},
            ),
        )
        await send(ws, [{"method": "LIST_SUBSCRIPTIONS"}, {"ticket": "unique uuid"}])
        listed = await recv(ws)
        assert listed == fixture("ws/list_subscriptions.json")[0]  # the docs' example
        await send(ws, [{"ticket": "y"}, {"method": "LIST_SUBSCRIPTIONS"}, {"format": "SIMPLE"}])
        simple = await recv(ws)
        assert list(simple) == ["mthd", "rslt", "tckt"] and simple["rslt"][0]["ty"] == "ticker"
        sim.generate_trades(1, "KRW-BTC")
        assert (await recv(ws))["ty"] == "ticker"  # the running stream switched to SIMPLE


async def test_ping_starts_a_status_up_every_interval() -> None:
    """The docs: after PING, {"status":"UP"} every 10 s while the connection lives."""
    async with (
        ExchangeServer(rate=0.0, markets=2, status_up_interval=0.2) as sim,
        connect(sim.websocket_url) as ws,
        connect(sim.websocket_url) as quiet,
    ):
        loop = asyncio.get_running_loop()
        await ws.send("PING")
        started = loop.time()
        arrivals = []
        for _ in range(4):
            assert await recv_raw(ws) == b'{"status":"UP"}'
            arrivals.append(loop.time() - started)
        assert arrivals[0] < 0.15 and arrivals[-1] >= 0.55  # one at once, then one per 0.2 s
        await send(quiet, [{"ticket": "t"}, {"method": "LIST_SUBSCRIPTIONS"}])
        assert (await recv(quiet))["method"] == "LIST_SUBSCRIPTIONS"  # no PING: no UP


async def test_text_ping_gets_status_up_and_ping_frames_get_pongs(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await ws.send("PING")
        data = await recv_raw(ws)
        assert data == b'{"status":"UP"}'
        latency = await asyncio.wait_for(await ws.ping(), TIMEOUT)
        assert latency >= 0


async def test_idle_connection_is_closed() -> None:
    async with (
        ExchangeServer(rate=0.0, markets=2, idle_timeout=0.2) as sim,
        connect(sim.websocket_url, ping_interval=None) as ws,
    ):
        with pytest.raises(ConnectionClosed):
            await recv_raw(ws)
        assert ws.close_code == 1001 and ws.close_reason == "idle timeout"


@pytest.mark.parametrize(
    ("request_text", "name"),
    [
        ("not json", "WRONG_FORMAT"),
        ('{"ticket": "t"}', "WRONG_FORMAT"),
        ('[{"ticket": "t"}, "ticker"]', "WRONG_FORMAT"),
        ('[{"ticket": "t"}, {"type": "ticker", "codes": "KRW-BTC"}]', "WRONG_FORMAT"),
        ('[{"ticket": "t"}, {"type": "ticker", "codes": [1, 2]}]', "WRONG_FORMAT"),
        ('[{"ticket": "t"}, {"type": 7, "codes": ["KRW-BTC"]}]', "WRONG_FORMAT"),
        ('[{"ticket": ["t"]}, {"type": "ticker", "codes": ["KRW-BTC"]}]', "WRONG_FORMAT"),
        (
            '[{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": "y"}]',
            "WRONG_FORMAT",
        ),
        (
            '[{"ticket": "t"}, {"type": "orderbook", "codes": ["KRW-BTC"], "level": "lots"}]',
            "WRONG_FORMAT",
        ),
        (
            '[{"ticket": "t"}, {"type": "ticker", "codes": ["KRW-BTC"]}, {"format": 1}]',
            "WRONG_FORMAT",
        ),
        ('[{"type": "ticker", "codes": ["KRW-BTC"]}]', "NO_TICKET"),
        ('[{"ticket": ""}, {"type": "ticker", "codes": ["KRW-BTC"]}]', "NO_TICKET"),
        ("[]", "NO_TICKET"),
        ('[{"ticket": "t"}]', "NO_TYPE"),
        ('[{"ticket": "t"}, {"codes": ["KRW-BTC"]}]', "NO_TYPE"),
        ('[{"ticket": "t"}, {"type": "ticker"}]', "NO_CODES"),
        ('[{"ticket": "t"}, {"type": "trade", "codes": []}]', "NO_CODES"),
        ('[{"ticket": "t"}, {"type": "tickers", "codes": ["KRW-BTC"]}]', "INVALID_PARAM"),
        ('[{"ticket": "t"}, {"type": "candle.2m", "codes": ["KRW-BTC"]}]', "INVALID_PARAM"),
        (
            '[{"ticket": "t"}, {"type": "ticker", "codes": ["KRW-BTC"]}, {"format": "XML"}]',
            "INVALID_PARAM",
        ),
        ('[{"ticket": "t"}, {"method": "UNSUBSCRIBE"}]', "INVALID_PARAM"),
        ('[{"ticket": "t"}, {"type": "ticker", "codes": ["KRW-NOPE"]}]', "INVALID_PARAM"),
        ('[{"ticket": "t"}, {"type": "ticker", "codes": ["krw-btc"]}]', "INVALID_PARAM"),
        ('[{"ticket": "t"}, {"type": "myOrder"}]', "INVALID_AUTH"),
        ("[" * 100_000 + "]" * 100_000, "WRONG_FORMAT"),
    ],
)
async def test_bad_requests_get_upbits_error_and_keep_the_subscription(
    sim: ExchangeServer, request_text: str, name: str
) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(
            ws, subscription({"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True})
        )
        await ws.send(request_text)
        error = await recv(ws)
        assert list(error) == ["error"] and list(error["error"]) == ["name", "message"]
        assert error["error"]["name"] == name and error["error"]["message"]
        sim.generate_trades(1, "KRW-BTC")
        (trade,) = await sync(ws)
        assert trade["type"] == "trade"  # the previous subscription still runs


async def test_binary_requests_and_invalid_utf8(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await ws.send(json.dumps(subscription({"type": "ticker", "codes": ["KRW-BTC"]})).encode())
        assert (await recv(ws))["type"] == "ticker"
        await ws.send(b"\xff\xfe[")
        assert (await recv(ws))["error"]["name"] == "WRONG_FORMAT"


async def test_huge_message_closes_the_connection_and_the_server_lives_on(
    sim: ExchangeServer,
) -> None:
    async with connect(sim.websocket_url, max_size=None) as ws:
        await ws.send("[" + " " * (2 << 20) + "]")
        with pytest.raises(ConnectionClosed):
            await recv_raw(ws)
        assert ws.close_code == 1009
    async with connect(sim.websocket_url) as ws:
        await send(ws, subscription({"type": "ticker", "codes": ["KRW-BTC"]}))
        assert (await recv(ws))["type"] == "ticker"


async def test_unknown_codes_can_be_ignored() -> None:
    async with (
        ExchangeServer(rate=0.0, markets=2, unknown_codes="ignore") as sim,
        connect(sim.websocket_url) as ws,
    ):
        await send(ws, subscription({"type": "ticker", "codes": ["KRW-NOPE", "KRW-BTC"]}))
        assert codes_of(await sync(ws)) == {"KRW-BTC"}


async def test_same_seed_and_clock_serve_identical_bytes() -> None:
    frames = []
    for _ in range(2):
        async with ExchangeServer(
            seed=5, rate=0.0, markets=5, clock=lambda: 1_780_000_000.0
        ) as sim:
            sim.generate_trades(50)
            async with connect(sim.websocket_url) as ws:
                await send(
                    ws,
                    subscription(
                        {"type": "ticker", "codes": ["KRW-BTC", "KRW-XRP"]},
                        {"type": "trade", "codes": ["KRW-ETH"]},
                        {"type": "orderbook", "codes": ["KRW-SOL"]},
                        {"type": "candle.5m", "codes": ["KRW-DOGE"]},
                    ),
                )
                frames.append([await recv_raw(ws) for _ in range(5)])
    assert frames[0] == frames[1]


async def test_orderbook_level_may_be_a_numeric_string(sim: ExchangeServer) -> None:
    # Upbit's own SDK types `level` as a string.
    async with connect(sim.websocket_url) as ws:
        await send(
            ws, subscription({"type": "orderbook", "codes": ["KRW-BTC.5"], "level": "10000"})
        )
        book = await recv(ws)
        assert book["level"] == 10000 and len(book["orderbook_units"]) == 5


async def test_list_subscriptions_in_a_list_format_is_an_array(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(
            ws,
            subscription(
                {"type": "candle.1s", "codes": ["KRW-BTC"], "is_only_realtime": True},
                fmt="SIMPLE_LIST",
            ),
        )
        await send(ws, [{"ticket": "q"}, {"method": "LIST_SUBSCRIPTIONS"}])
        assert await recv(ws) == [
            {"mthd": "LIST_SUBSCRIPTIONS", "rslt": [{"ty": "candle.1s", "cds": ["KRW-BTC"]}],
             "tckt": "q"}
        ]  # fmt: skip
        # Errors and keep-alives look the same in every format.
        await ws.send("PING")
        assert await recv(ws) == {"status": "UP"}
        await send(ws, [{"ticket": "q"}])
        assert await recv(ws) == {
            "error": {"name": "NO_TYPE", "message": "type 필드가 존재하지 않습니다."}
        }
