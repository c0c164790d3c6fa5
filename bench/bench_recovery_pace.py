"""How long recovery takes with the default reconnect timings (issue 9, items 3 and 14).

1. Closes in a row: the server closes the stream cleanly every `--every` seconds while data
   flows; reported is the time from each close to the stream being live again (a new epoch).
   Before the backoff reset for connections that delivered data it doubled every time
   (1, 2, 4 ... 60 s); from calm it is about one initial delay.
2. A handshake refused with 429 and no Retry-After (tests/hostile/hostile_server.py on
   loopback): the silence until the next accepted handshake (was 60 s per refusal).

Runs against whichever `upbit_tui` is importable, so a baseline is measured by pointing
PYTHONPATH at an older tree (`git archive <commit> upbit_tui | tar -x -C /tmp/base`):

    .venv/bin/python bench/bench_recovery_pace.py
    PYTHONPATH=/tmp/base .venv/bin/python bench/bench_recovery_pace.py
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "hostile"))

from hostile_server import HostileServer

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.config import Config, ExchangeConfig
from upbit_tui.exchange import ExchangeServer


def _config(websocket_url: str, sim: Any) -> Config:
    """Default connection timings (1 s initial delay, 60 s cap, reset after 30 s)."""
    return dataclasses.replace(
        Config(),
        exchange=ExchangeConfig(
            websocket_url=websocket_url,
            private_websocket_url=sim.private_websocket_url,
            rest_url=sim.rest_url,
        ),
    )


async def _until(condition: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return False


async def closes_in_a_row(sim: Any, closes: int, every: float) -> list[float]:
    seen: list[int] = []
    async with GlobalWebSocketManager(_config(sim.websocket_url, sim)) as manager:
        proxy = WebSocketClientProxy("pace", manager)
        await proxy.subscribe_trade(["KRW-BTC", "KRW-ETH"], lambda e: seen.append(e.epoch))
        conn = manager.connections()["public"]
        await _until(lambda: conn.is_live and bool(seen), 30)
        recoveries = []
        for _ in range(closes):
            epoch = conn.epoch
            await _until(lambda e=epoch: bool(seen) and seen[-1] == e, 30)  # type: ignore[misc]
            await asyncio.sleep(every)
            closed = time.monotonic()
            sim.faults.close_all(1001, "going away", endpoint="public")
            ok = await _until(lambda e=epoch: conn.epoch > e and conn.is_live, 120)  # type: ignore[misc]
            recoveries.append(round(time.monotonic() - closed, 2) if ok else float("inf"))
        await proxy.cleanup()
    return recoveries


async def refused_without_retry_after(sim: Any) -> float:
    async with HostileServer() as hostile:
        manager = GlobalWebSocketManager(_config(hostile.url, sim))
        async with manager:
            proxy = WebSocketClientProxy("pace", manager)
            await proxy.subscribe_ticker(["KRW-BTC"], lambda e: None)
            await hostile.next_connection(within=30)
            hostile.refuse_next(429)
            hostile.drop_all()
            dropped = time.monotonic()
            await hostile.next_connection(within=120)
            silence = time.monotonic() - dropped
            await proxy.cleanup()
    return round(silence, 2)


async def main(closes: int, every: float) -> dict[str, Any]:
    async with ExchangeServer(seed=1, markets=5, rate=50.0, port=0) as sim:
        return {
            "close_every_s": every,
            "recovery_after_each_close_s": await closes_in_a_row(sim, closes, every),
            "silence_after_one_bare_429_s": await refused_without_retry_after(sim),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closes", type=int, default=6)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between closes")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.closes, args.every))))
