"""Upbit's WebSocket rate limits as the simulator enforces them (upbit-protocol.md section 5)."""

from __future__ import annotations

import json
import time
from collections import Counter

import aiohttp
import pytest
from sim_harness import recv, recv_raw, send, subscription
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from upbit_tui.exchange import ExchangeServer


async def handshake_status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        async with connect(url, additional_headers=headers):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def test_connects_beyond_five_per_second_get_429_then_418() -> None:
    async with ExchangeServer(rate=0.0, markets=2) as sim:
        attempts: list[tuple[int, int, int]] = []  # (window before, window after, status)
        while len(attempts) < 300 and (not attempts or attempts[-1][2] != 418):
            before = time.time()
            status = await handshake_status(sim.websocket_url)
            attempts.append((int(before), int(time.time()), status))
        statuses = [status for _, _, status in attempts]
        assert 429 in statuses and statuses[-1] == 418
        assert statuses.index(429) >= 5  # the first five of a second are accepted
        # Windows are whole clock seconds: never more than five accepted in one.
        accepted = Counter(b for b, a, status in attempts if status == 101 and b == a)
        assert max(accepted.values()) <= 5
        refused = sim.stats()["connections"]["refused"]
        assert refused["429"] == statuses.count(429) and refused["418"] == 1


async def test_messages_beyond_the_limit_are_refused_then_the_connection_is_closed() -> None:
    async with ExchangeServer(rate=0.0, markets=2) as sim:
        async with connect(sim.websocket_url) as ws:
            request = json.dumps(
                subscription({"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True})
            )
            names = []
            with pytest.raises(ConnectionClosed):
                for _ in range(60):
                    await ws.send(request)
                while True:
                    message = await recv(ws)
                    names.append(message["error"]["name"])
            assert "Too Many Requests" in names and names[-1] == "I'm a teapot"
            assert ws.close_code == 1008
        items = sim.stats()["connections"]["items"]
        assert items[0]["requests_received"] >= len(names)


async def test_text_pings_do_not_count_against_the_message_limit() -> None:
    async with ExchangeServer(rate=0.0, markets=2) as sim, connect(sim.websocket_url) as ws:
        for _ in range(20):
            await ws.send("PING")
        assert await recv_raw(ws) == b'{"status":"UP"}'
        await send(ws, [{"ticket": "t"}, {"method": "LIST_SUBSCRIPTIONS"}])
        assert (await recv(ws))["method"] == "LIST_SUBSCRIPTIONS"  # not "Too Many Requests"


async def test_an_origin_header_limits_quotation_handshakes_to_one_per_ten_seconds() -> None:
    async with ExchangeServer(rate=0.0, markets=2) as sim:
        browser = {"Origin": "https://example.com"}
        assert await handshake_status(sim.websocket_url, browser) == 101
        assert await handshake_status(sim.websocket_url, browser) == 429
        assert await handshake_status(sim.websocket_url) == 101  # no Origin: the usual limit
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{sim.rest_url}/v1/ticker", params={"markets": "KRW-BTC"},
                     headers=browser) as response,
        ):  # fmt: skip
            assert response.status == 429  # one Origin budget for quotation REST and WebSocket


async def test_rate_limits_can_be_switched_off_for_benchmarks() -> None:
    async with ExchangeServer(rate=0.0, markets=2, rate_limits=False) as sim:
        statuses = [await handshake_status(sim.websocket_url) for _ in range(12)]
        assert statuses == [101] * 12


async def test_hundred_messages_per_minute_is_enforced_too() -> None:
    # Scaled down (8 per minute) so the test stays fast; 17 messages in any split over two
    # minute windows put more than 8 into one of them, and 9 refusals stay below the block.
    async with (
        ExchangeServer(
            rate=0.0,
            markets=2,
            websocket_messages_per_second=1_000,
            websocket_messages_per_minute=8,
        ) as sim,
        connect(sim.websocket_url) as ws,
    ):
        for _ in range(17):
            await ws.send(json.dumps([{"ticket": "t"}, {"method": "LIST_SUBSCRIPTIONS"}]))
        answers = [await recv(ws) for _ in range(17)]
        refused = [a for a in answers if "error" in a]
        assert refused and all(a["error"]["name"] == "Too Many Requests" for a in refused)
        assert len(answers) - len(refused) <= 16
