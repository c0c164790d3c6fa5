"""Faults on demand (Python and /_sim/ HTTP) and the /_sim/stats ground truth."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from sim_harness import TIMEOUT, TIMEOUT_FACTOR, bearer, recv, recv_raw, send, subscription, sync
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from upbit_tui.exchange import ExchangeServer

TRADES_BTC = subscription({"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True})


async def control(sim: ExchangeServer, path: str, **params: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sim.rest_url}/_sim/{path}", params={k: str(v) for k, v in params.items()}
        ) as r,
    ):
        return r.status, await r.json()


async def subscribed(sim: ExchangeServer) -> ClientConnection:
    ws = await connect(sim.websocket_url, ping_interval=None)
    await send(ws, TRADES_BTC)
    await sync(ws)
    return ws


async def test_drop_all_aborts_without_a_close_frame(sim: ExchangeServer) -> None:
    ws = await subscribed(sim)
    assert sim.faults.drop_all() == 1
    with pytest.raises(ConnectionClosed):
        await recv_raw(ws)
    assert ws.protocol.close_rcvd is None and ws.close_code == 1006  # no close frame
    await ws.close()


@pytest.mark.parametrize("over_http", [False, True])
async def test_close_all_closes_cleanly(sim: ExchangeServer, over_http: bool) -> None:
    ws = await subscribed(sim)
    if over_http:
        assert await control(sim, "faults/close", code=4000, reason="bye") == (
            200,
            {"ok": True, "connections": 1},
        )
    else:
        sim.faults.close_all(4000, "bye")
    with pytest.raises(ConnectionClosed):
        await recv_raw(ws)
    assert (ws.close_code, ws.close_reason) == (4000, "bye")


async def test_stall_stops_data_and_pongs_until_resumed(sim: ExchangeServer) -> None:
    ws = await subscribed(sim)
    assert sim.faults.stall() == 1
    sim.generate_trades(3, "KRW-BTC")
    await ws.send("PING")
    pong = await ws.ping()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(pong), 0.3 * TIMEOUT_FACTOR)
    with pytest.raises(TimeoutError):
        await recv_raw(ws, 0.1 * TIMEOUT_FACTOR)
    item = sim.stats()["connections"]["items"][0]
    assert item["stalled"] and item["messages_discarded"] >= 3
    assert sim.faults.resume() == 1
    trade = sim.generate_trades(1, "KRW-BTC")[0]
    assert (await recv(ws))["sequential_id"] == trade.sequential_id
    await asyncio.wait_for(await ws.ping(), TIMEOUT)
    await ws.close()


async def test_error_and_malformed_frames(sim: ExchangeServer) -> None:
    ws = await subscribed(sim)
    sim.faults.send_error("INVALID_PARAM", "boom")
    assert await recv(ws) == {"error": {"name": "INVALID_PARAM", "message": "boom"}}
    assert (await control(sim, "faults/malformed"))[0] == 200
    garbage = await recv_raw(ws)
    assert isinstance(garbage, bytes)
    with pytest.raises(ValueError):
        json.loads(garbage)
    await ws.close()


@pytest.mark.parametrize("status", [429, 418])
async def test_handshake_rejections(sim: ExchangeServer, status: int) -> None:
    sim.faults.reject_handshakes(1, status)
    assert (await control(sim, "faults/reject-handshakes", count=1, status=status))[0] == 200
    for _ in range(2):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(sim.websocket_url):
                pass
        assert refused.value.response.status_code == status
    async with connect(sim.websocket_url):
        pass


async def test_rest_faults(sim: ExchangeServer) -> None:
    sim.faults.fail_rest(1, 503)
    assert (await control(sim, "faults/rest", count=1, status=429))[0] == 200
    statuses = []
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.get(f"{sim.rest_url}/v1/market/all") as response:
                statuses.append(response.status)
    assert statuses == [503, 429, 200]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("faults/close", {"code": 1006}),
        ("faults/stall", {"seconds": "soon"}),
        ("faults/drop", {"endpoint": "both"}),
        ("faults/reject-handshakes", {"count": 1, "status": 500}),
        ("faults/rest", {"count": 1, "status": 200}),
        ("faults/rest", {}),
        ("trades", {"market": "KRW-NOPE"}),
        ("rate", {"trades_per_second": -1}),
    ],
)
async def test_control_api_rejects_bad_parameters(
    sim: ExchangeServer, path: str, params: dict[str, Any]
) -> None:
    status, body = await control(sim, path, **params)
    assert status == 400 and body["error"]


async def test_stats_are_ground_truth(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(ws, TRADES_BTC)
        await ws.send("PING")
        status, body = await control(sim, "trades", count=5, market="KRW-BTC")
        assert status == 200 and body["generated"] == 5
        sim.generate_trades(2, "KRW-ETH")
        received = [await recv(ws) for _ in range(6)]
    trades = [m for m in received if m.get("type") == "trade"]
    assert len(trades) == 5
    async with aiohttp.ClientSession() as http, http.get(f"{sim.rest_url}/_sim/stats") as r:
        stats = await r.json()
    btc = stats["markets"]["KRW-BTC"]
    assert btc == {
        "trades": 5,
        "first_sequential_id": trades[0]["sequential_id"],
        "last_sequential_id": trades[-1]["sequential_id"],
    }
    assert stats["markets"]["KRW-ETH"]["trades"] == 2
    assert stats["markets"]["KRW-XRP"] == {
        "trades": 0,
        "first_sequential_id": None,
        "last_sequential_id": None,
    }
    (item,) = stats["connections"]["items"]
    assert [
        json.loads(r["message"]) if r["message"] != "PING" else "PING" for r in item["requests"]
    ] == [
        TRADES_BTC,
        "PING",
    ]
    assert item["messages_sent"] == 6 and stats["messages_sent"] == 6
    assert stats["connections"]["open"] == 0 and stats["connections"]["accepted_total"] == 1


async def test_a_consumer_that_cannot_keep_up_is_disconnected() -> None:
    async with (
        ExchangeServer(rate=0.0, markets=2, max_backlog=50) as sim,
        connect(sim.websocket_url) as ws,
    ):
        await send(ws, subscription({"type": "orderbook", "codes": ["KRW-BTC"]}))
        await sync(ws)
        sim.generate_trades(100, "KRW-BTC")  # queued at once: more than the backlog allows
        with pytest.raises(ConnectionClosed):
            while True:
                await recv(ws)
        assert (ws.close_code, ws.close_reason) == (1008, "consumer too slow")
        assert sim.stats()["connections"]["items"][0]["close_reason"] == "1008 consumer too slow"


async def test_orders_over_the_control_api_drive_the_private_streams(sim: ExchangeServer) -> None:
    async with connect(sim.private_websocket_url, additional_headers=bearer()) as ws:
        await send(ws, subscription({"type": "myOrder"}))
        await sync(ws)
        status, body = await control(
            sim, "orders", market="KRW-XRP", side="bid", ord_type="price", price=10_000
        )
        # A market buy ends `cancel` once its unspent remainder is returned, as on Upbit.
        assert status == 200 and body["order"]["state"] == "cancel"
        states = [m["state"] for m in await sync(ws)]
        assert states == ["wait", "trade", "cancel"]
    status, body = await control(sim, "orders", market="KRW-XRP", side="bid", price=1, volume=1)
    assert status == 400 and body["error"]["name"] == "under_min_total_bid"
    status, body = await control(sim, "orders/cancel", uuid="no-such-order")
    assert status == 404 and body["error"]["name"] == "order_not_found"


async def test_a_reader_that_stopped_reading_is_cut_off_without_hanging() -> None:
    async with ExchangeServer(rate=0.0, markets=2, max_backlog=500, rate_limits=False) as sim:
        ws = await connect(sim.websocket_url, max_queue=1, compression=None)
        await send(ws, subscription({"type": "orderbook", "codes": ["KRW-BTC"]}))
        # Never read again: TCP buffers fill up, then the server's queue does.
        for _ in range(200):
            sim.generate_trades(50, "KRW-BTC")
            await asyncio.sleep(0)
            if not sim.sessions():
                break
        await asyncio.wait_for(sim.wait_for_connections(0), TIMEOUT)
        item = sim.stats()["connections"]["items"][0]
        assert item["close_reason"] == "1008 consumer too slow" and item["messages_discarded"] > 0
        ws.transport.abort()
