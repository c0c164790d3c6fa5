"""The terminal app attached to a gateway: its panes subscribe through the gateway's socket."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from gateway_harness import (
    TIMEOUT_FACTOR,
    fast_config,
    fast_settings,
    public_connections_opened,
    wait_until,
)

from upbit_tui.config import LoggingConfig, WatchlistConfig
from upbit_tui.gateway.attach import with_gateway
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.remote import RemoteWebSocketManager
from upbit_tui.gateway.service import GatewayService
from upbit_tui.tui.app import make_app

SYMBOLS = ("KRW-BTC", "KRW-ETH")


async def test_terminal_app_streams_through_a_gateway(
    sim: Any, nats_server: LocalNatsServer
) -> None:
    async with asyncio.timeout(20 * TIMEOUT_FACTOR):  # a hang fails, with its place
        # The app attaches with the default subject prefix, as `upbit-tui --gateway URL` does.
        async with GatewayService(
            fast_config(sim), nats_url=nats_server.url, settings=fast_settings("upbit")
        ) as gateway:
            async with asyncio.timeout(10 * TIMEOUT_FACTOR):
                await gateway.wait_active()
            config = dataclasses.replace(
                fast_config(sim),
                watchlist=WatchlistConfig(symbols=SYMBOLS),
                logging=LoggingConfig(level="DEBUG", file=""),
            )
            app = make_app(with_gateway(config, nats_server.url), health_interval=None)
            async with app.run_test(size=(160, 48)):
                await wait_until(lambda: app.runtime.manager is not None, what="the manager runs")
                assert isinstance(app.runtime.manager, RemoteWebSocketManager)

                def app_tickers() -> set[str]:
                    out: set[str] = set()
                    for client in gateway.status()["clients"]:
                        for held in client["subscriptions"].values():
                            out.update(held.get("ticker") or ())
                    return out

                await wait_until(lambda: set(SYMBOLS) <= app_tickers(), what="the panes' wishes")
                assert public_connections_opened(sim) == 1  # the gateway's, not the app's own
