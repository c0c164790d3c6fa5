"""Our client's trade backfill against the simulator's deeper trade history (issue 10 item 4).

Only the public API: a WebSocketClientProxy's subscribe_trade through a GlobalWebSocketManager,
a simulator fault, and the simulator's ground truth at /_sim/stats. The simulator's clock is
the test's: the outage lasts two hours of exchange time (1,200 trades) and spans 00:00 UTC, yet
the test runs in seconds.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import aiohttp
from sim_harness import API_KEYS, FIXED_NOW

from upbit_tui import GlobalWebSocketManager, TradeEvent, WebSocketClientProxy
from upbit_tui.config import Config, ConnectionConfig, ExchangeConfig
from upbit_tui.exchange import ExchangeServer
from upbit_tui.exchange.history import DAY_S, utc_midnight

TIMEOUT = 20.0 * float(os.environ.get("UPBIT_TUI_TEST_TIMEOUT_FACTOR", "1"))
MIDNIGHT = utc_midnight(FIXED_NOW) + DAY_S
CODE = "KRW-BTC"


class Clock:
    """The simulator's clock, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_config(sim: ExchangeServer) -> Config:
    return Config(
        exchange=ExchangeConfig(
            websocket_url=sim.websocket_url,
            private_websocket_url=sim.private_websocket_url,
            rest_url=sim.rest_url,
        ),
        connection=ConnectionConfig(
            ping_interval=0.2,
            ping_timeout=0.3,
            open_timeout=2.0,
            reconnect_initial_delay=0.01,
            reconnect_max_delay=0.1,
            reconnect_jitter=0.2,
            batch_window=0.02,
            unsubscribe_grace=0.1,
        ),
    )


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def ground_truth(sim: ExchangeServer) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.rest_url}/_sim/stats") as response,
    ):
        stats: dict[str, Any] = await response.json()
    market: dict[str, Any] = stats["markets"][CODE]
    return market


def trade_now(sim: ExchangeServer, clock: Clock, count: int, step_s: float) -> list[int]:
    """`count` trades in CODE, the clock moving `step_s` before each (no await in between)."""
    ids = []
    for _ in range(count):
        clock.now += step_s
        ids.append(sim.generate_trades(1, CODE)[0].sequential_id)
    return ids


async def test_a_two_hour_outage_across_midnight_is_backfilled_exactly() -> None:
    clock = Clock(MIDNIGHT - 90.0)  # 23:58:30 UTC
    async with ExchangeServer(
        seed=6, markets=5, rate=0.0, clock=clock, api_keys=API_KEYS, candle_interval=3600.0
    ) as sim, GlobalWebSocketManager(client_config(sim)) as manager:  # fmt: skip
        got: list[TradeEvent] = []
        proxy = WebSocketClientProxy("backfill-test", manager)
        await proxy.subscribe_trade([CODE], got.append, queue_size=10_000)  # holds the backfill
        await until(lambda: any(e.sequential_id for e in got), "the trade snapshot")
        before = trade_now(sim, clock, 20, 1.0)
        await until(lambda: got[-1].sequential_id == before[-1], "live trades")

        sim.faults.reject_handshakes(2, status=429)  # the reconnect waits a while
        sim.faults.drop_all(endpoint="public")
        missed = trade_now(sim, clock, 1_200, 6.0)  # two hours of exchange time, past 00:00
        await until(lambda: got[-1].sequential_id == missed[-1], "the backfill")
        after = trade_now(sim, clock, 10, 1.0)
        await until(lambda: got[-1].sequential_id == after[-1], "live trades after it")
        await proxy.cleanup()

        truth = await ground_truth(sim)
        assert truth["trades"] == len(before) + len(missed) + len(after)
        first = truth["first_sequential_id"]
        delivered = [e.sequential_id for e in got if e.sequential_id >= first]
        assert delivered == before + missed + after  # every trade, once, in order
        assert delivered[-1] == truth["last_sequential_id"]
        filled = [e for e in got if e.backfilled]
        assert len(filled) >= 1_000  # most of the outage came from REST
        days = {e.trade_timestamp // 86_400_000 for e in filled}
        assert days == {MIDNIGHT // DAY_S - 1, MIDNIGHT // DAY_S}  # on both sides of 00:00
        assert {e.prev_closing_price for e in filled if e.trade_timestamp >= MIDNIGHT * 1000} == {
            sim.model.trades(CODE, 1, to_ms=MIDNIGHT * 1000)[0].trade_price
        }  # after 00:00 the previous close is the last price before it
