"""Bursts reach the reader intact and in order, batched (no compression) or one by one (deflate)."""

from __future__ import annotations

import json

import pytest
from sim_harness import recv, subscription, sync
from websockets.asyncio.client import connect

from upbit_tui.exchange import ExchangeServer
from upbit_tui.exchange.session import frame_header


def test_frame_header_matches_rfc_6455_lengths() -> None:
    assert frame_header(5) == b"\x82\x05"
    assert frame_header(125) == b"\x82\x7d"
    assert frame_header(126) == b"\x82\x7e\x00\x7e"
    assert frame_header(65_535) == b"\x82\x7e\xff\xff"
    assert frame_header(65_536) == b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_a_burst_of_frames_arrives_complete_and_in_order(compression: str | None) -> None:
    async with ExchangeServer(seed=2, markets=4, rate=0.0, rate_limits=False) as sim:
        async with connect(sim.websocket_url, compression=compression, max_size=None) as ws:
            codes = ["KRW-BTC", "KRW-ETH"]
            types = [
                {"type": t, "codes": codes, "is_only_realtime": True}
                for t in ("trade", "ticker", "orderbook")
            ]
            await ws.send(json.dumps(subscription(*types)))
            await sync(ws)
            trades = sim.generate_trades(400)
            expected = [t.sequential_id for t in trades if t.market in codes]
            received = []
            for _ in range(3 * len(expected)):
                message = await recv(ws)
                assert message["stream_type"] == "REALTIME"
                if message["type"] == "trade":
                    received.append(message["sequential_id"])
            assert received == expected
            assert await sync(ws) == []  # nothing more, nothing less
        stats = sim.stats()["connections"]["items"][0]
        assert stats["messages_sent"] == 3 * len(expected) + 2  # + the two LIST_SUBSCRIPTIONS
