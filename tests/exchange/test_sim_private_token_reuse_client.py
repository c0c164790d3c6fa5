"""Our client's private reconnect works whether the exchange accepts a reused handshake token
(what ccxt's behaviour shows of Upbit, the simulator's default) or refuses it (issue 10 item 6).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Literal

import pytest
from sim_harness import ACCESS, SECRET

from upbit_tui import GlobalWebSocketManager, OrderEvent, WebSocketClientProxy
from upbit_tui.config import AuthConfig, Config, ConnectionConfig, ExchangeConfig
from upbit_tui.exchange import ExchangeServer

TIMEOUT = 10.0 * float(os.environ.get("UPBIT_TUI_TEST_TIMEOUT_FACTOR", "1"))


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def private_subscribed(sim: ExchangeServer) -> list[dict[str, Any]]:
    """Private connections (open or closed) that subscribed to myOrder."""
    return [
        item
        for item in sim.stats()["connections"]["items"]
        if item["endpoint"] == "private"
        and any(t["type"] == "myOrder" for t in item["subscription"] or [])
    ]


@pytest.mark.parametrize("reuse", ["accept", "refuse"])
async def test_private_reconnect_works_whatever_the_token_rule(
    reuse: Literal["accept", "refuse"],
) -> None:
    async with ExchangeServer(
        seed=3, markets=3, rate=0.0, api_keys={ACCESS: SECRET}, private_token_reuse=reuse
    ) as sim:
        config = Config(
            exchange=ExchangeConfig(
                websocket_url=sim.websocket_url,
                private_websocket_url=sim.private_websocket_url,
                rest_url=sim.rest_url,
            ),
            auth=AuthConfig(access_key=ACCESS, secret_key=SECRET),
            connection=ConnectionConfig(
                ping_interval=0.2, ping_timeout=0.3, reconnect_initial_delay=0.01,
                reconnect_max_delay=0.1, batch_window=0.02,
            ),
        )  # fmt: skip
        async with GlobalWebSocketManager(config) as manager:
            orders: list[OrderEvent] = []
            proxy = WebSocketClientProxy("orders", manager)
            await proxy.subscribe_orders(orders.append)
            await until(lambda: len(private_subscribed(sim)) == 1, "the private subscription")
            sim.faults.drop_all(endpoint="private")
            await until(lambda: len(private_subscribed(sim)) == 2, "the private reconnect")
            price = round(sim.model.ticker("KRW-BTC").trade_price * 0.8, -3)
            order = sim.model.place_order(ACCESS, "KRW-BTC", "bid", "limit", price, 0.001)
            await until(lambda: any(o.uuid == order.uuid for o in orders), "the order event")
            await proxy.cleanup()
        assert sim.stats()["connections"]["refused"] == {}  # no handshake was turned away
