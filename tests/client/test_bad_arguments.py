"""Bad arguments fail with one clear line and change nothing (issue 9, item 15)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from client_harness import sim_config

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.client.snapshots import MAX_CANDLES


@pytest.mark.parametrize(
    "options",
    [
        {"queue_size": 0},
        {"queue_size": -5},
        {"queue_size": 2.5},
        {"throttle_per_second": 0},
        {"throttle_per_second": -1.0},
        {"throttle_per_second": float("nan")},
        {"throttle_per_second": float("inf")},
    ],
)
async def test_a_zero_or_negative_queue_or_throttle_is_refused_not_defaulted(
    quiet_sim: Any, options: dict[str, Any]
) -> None:
    async with GlobalWebSocketManager(sim_config(quiet_sim)) as manager:
        proxy = WebSocketClientProxy("pane", manager)
        name = next(iter(options))
        with pytest.raises(ValueError, match=name):
            await proxy.subscribe_ticker(["KRW-BTC"], lambda e: None, **options)
        assert manager.consolidated_subscription() == {}
        assert manager.subscriber_stats() == []


async def test_explicit_queue_and_throttle_are_kept(quiet_sim: Any) -> None:
    async with GlobalWebSocketManager(sim_config(quiet_sim)) as manager:
        proxy = WebSocketClientProxy("pane", manager)
        await proxy.subscribe_ticker(
            ["KRW-BTC"], lambda e: None, policy="throttle", queue_size=7, throttle_per_second=0.5
        )
        (subscriber,) = manager._router.subscribers()
        assert (subscriber.queue_size, subscriber.throttle_per_second) == (7, 0.5)


async def test_a_candle_snapshot_larger_than_the_cap_is_refused_before_any_request(
    quiet_sim: Any,
) -> None:
    async with GlobalWebSocketManager(sim_config(quiet_sim)) as manager:
        proxy = WebSocketClientProxy("chart", manager)
        with pytest.raises(ValueError, match="1 to 10,000"):
            await proxy.get_candle_snapshot(["KRW-BTC"], "1m", count=MAX_CANDLES + 1)
        with pytest.raises(ValueError, match="1 to 10,000"):
            await proxy.get_candle_snapshot(["KRW-BTC"], "1m", count=10**6)
        assert manager._rest is None or manager._rest.requests_sent == 0


async def test_wait_synced_after_stop_says_the_manager_is_not_running(quiet_sim: Any) -> None:
    manager = GlobalWebSocketManager(sim_config(quiet_sim))
    async with manager:
        proxy = WebSocketClientProxy("pane", manager)
        await proxy.subscribe_ticker(["KRW-BTC"], lambda e: None)
        await asyncio.wait_for(manager.wait_synced(), 5)
    with pytest.raises(RuntimeError, match="not running"):
        await asyncio.wait_for(manager.wait_synced(), 5)
