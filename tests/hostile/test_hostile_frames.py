"""Hostile frames on the public stream: no crash, nothing poisoned, the log stays readable."""

from __future__ import annotations

from typing import Any

from hostile_harness import hostile_config, wait_until, watching_ticker
from hostile_server import HostileServer, ticker_frame

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.net.metrics import HEALTHY


async def test_an_implausible_timestamp_never_reaches_latency_statistics(
    hostile: HostileServer, rest_sim: Any
) -> None:
    seen: list[Any] = []
    async with (
        GlobalWebSocketManager(hostile_config(hostile, rest_sim)) as manager,
        watching_ticker(manager, seen=seen),
    ):
        await hostile.next_connection()
        await wait_until(lambda: bool(hostile.received), what="the subscription request")
        # One at a time, each delivered before the next: the router samples latency from the
        # first event of every batch.
        for frame in (10**30, None, -(10**15), None, 1, None):
            count = len(seen)
            await hostile.send_all(ticker_frame(timestamp=frame))
            await wait_until(lambda n=count: len(seen) > n, what="the ticker delivered")
        metrics = manager.metrics()
    assert metrics.implausible_timestamp_count == 3, metrics
    assert 0 <= metrics.average_latency_ms < 60_000, metrics.average_latency_ms
    assert abs(metrics.max_latency_ms) < 60_000
    assert metrics.status == HEALTHY, metrics.reasons
