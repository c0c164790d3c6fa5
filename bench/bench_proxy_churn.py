"""RSS after 10,000 proxy create/destroy cycles vs before (goal: flat).

A keeper proxy holds five tickers so the connection stays up; each cycle creates a proxy,
subscribes it to a ticker and a trade stream (sometimes on a market nobody else holds, so the
union on the wire changes too), and destroys it: half the cycles by `cleanup()`, half by simply
dropping the proxy (garbage collection must clean up). Baseline = the same process after a
1,000-cycle warm-up; reported as growth in MB and the ratio after/before, plus leftovers
(clients, router subscribers, tasks) that must all be back to the baseline.

    .venv/bin/python bench/bench_proxy_churn.py [--cycles 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from typing import Any

import psutil

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "runtime"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))  # suite_harness

from runtime_helpers import fast_config

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.exchange import ExchangeServer

KEEP = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]
ROTATE = [*KEEP, "KRW-ADA", "KRW-TRX", "KRW-LINK"]


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def leftovers(manager: GlobalWebSocketManager) -> dict[str, int]:
    return {
        "clients": len(manager._clients),
        "subscribers": manager._router.subscriber_count,
        "tasks": len(asyncio.all_tasks()),
    }


async def churn(manager: GlobalWebSocketManager, cycles: int, start: int) -> None:
    def on_event(event: Any) -> None:
        pass

    for i in range(start, start + cycles):
        proxy = WebSocketClientProxy(f"pane-{i % 50}", manager)
        symbol = ROTATE[i % len(ROTATE)]
        await proxy.subscribe_ticker([symbol], on_event)
        await proxy.subscribe_trade([symbol], lambda event: None)
        if i % 2:
            await proxy.cleanup()
        del proxy
        if i % 100 == 0:
            gc.collect()
            await asyncio.sleep(0)  # let finalizer-scheduled cleanups run


async def main(cycles: int) -> None:
    async with ExchangeServer(seed=1, markets=20, rate=20.0, port=0) as sim:
        config = fast_config(sim, unsubscribe_grace=0.05)
        async with GlobalWebSocketManager(config) as manager:
            keeper = WebSocketClientProxy("keeper", manager)
            await keeper.subscribe_ticker(KEEP, lambda event: None)
            await churn(manager, 1000, 0)
            gc.collect()
            await asyncio.sleep(0.5)
            before_rss, before = rss_mb(), leftovers(manager)
            await churn(manager, cycles, 1000)
            gc.collect()
            await asyncio.sleep(0.5)
            gc.collect()
            after_rss, after = rss_mb(), leftovers(manager)
            health = await keeper.health_check()
            await keeper.cleanup()
    print(f"cycles: {cycles} (half cleanup(), half garbage-collected)")
    growth = after_rss - before_rss
    print(f"RSS before {before_rss:.1f} MB, after {after_rss:.1f} MB: growth {growth:+.1f} MB")
    print(f"ratio {after_rss / before_rss:.3f}x (goal ~1.0x)")
    print(f"leftovers before {before}, after {after}")
    print(
        f"status {health['status']} {health['reasons']}, reconnects {health['reconnection_count']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().cycles))
