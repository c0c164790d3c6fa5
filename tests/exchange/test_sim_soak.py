"""Long run: the simulator's memory stays flat under a sustained stream (opt in: --run-soak)."""

from __future__ import annotations

import asyncio
import gc

import psutil
import pytest
from sim_harness import TIMEOUT_FACTOR, recv, send, subscription
from websockets.asyncio.client import connect

from upbit_tui.exchange import ExchangeServer


@pytest.mark.soak
async def test_memory_is_flat_under_a_sustained_stream() -> None:
    process = psutil.Process()
    async with (
        ExchangeServer(rate=400.0, markets=30, rate_limits=False, candle_interval=0.2) as sim,
        connect(sim.websocket_url, compression=None) as ws,
    ):
        codes = sim.model.market_codes()
        await send(
            ws,
            subscription(
                {"type": "trade", "codes": codes},
                {"type": "ticker", "codes": codes},
                {"type": "orderbook", "codes": codes},
                {"type": "candle.1s", "codes": codes},
            ),
        )

        async def read_for(seconds: float) -> int:
            count = 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds * TIMEOUT_FACTOR
            while loop.time() < deadline:
                await recv(ws)
                count += 1
            return count

        await read_for(20)  # warm up: history caches, bar lists, limiter state
        gc.collect()
        before = process.memory_info().rss
        received = await read_for(60)
        gc.collect()
        grown = process.memory_info().rss - before
    assert received > 10_000
    assert grown < 30 * 1024 * 1024, f"RSS grew {grown / 1e6:.1f} MB over {received} messages"
