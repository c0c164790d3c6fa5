"""Small builders for the collaborator tests: trades as Upbit streams them, a task spawner."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from upbit_tui.config import Config, ConnectionConfig, ExchangeConfig
from upbit_tui.wire.events import TradeEvent


def trade(sid: int, symbol: str = "KRW-BTC", ts: int | None = None) -> TradeEvent:
    """A live trade with sequential_id `sid` (timestamp grows with it unless given)."""
    return TradeEvent(
        symbol=symbol,
        trade_price=100.0,
        trade_volume=1.0,
        ask_bid="BID",
        sequential_id=sid,
        trade_timestamp=1_700_000_000_000 + sid if ts is None else ts,
    )


class Spawner:
    """Runs coroutines as tasks and remembers them, as the manager's `_spawn` does."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []

    def __call__(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.append(task)
        return task

    async def settle(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)


def sim_config(sim: Any, **connection: Any) -> Config:
    """A config pointing at the simulator `sim`, with short reconnect timings."""
    timings: dict[str, Any] = {
        "reconnect_initial_delay": 0.01,
        "reconnect_max_delay": 0.1,
        "batch_window": 0.02,
        "unsubscribe_grace": 0.0,
        **connection,
    }
    return Config(
        exchange=ExchangeConfig(
            websocket_url=sim.websocket_url,
            private_websocket_url=sim.private_websocket_url,
            rest_url=sim.rest_url,
        ),
        connection=ConnectionConfig(**timings),
    )
