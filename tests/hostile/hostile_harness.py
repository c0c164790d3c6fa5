"""Helpers for the hostile-server tests: a config pointing the public stream at the server."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from hostile_server import HostileServer
from suite_harness import TIMEOUT_FACTOR as TIMEOUT_FACTOR  # re-exported
from suite_harness import wait_until as wait_until

from upbit_tui.client.interface import AbstractWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.config import Config, ConnectionConfig, ExchangeConfig, PrivateConfig


def hostile_config(server: HostileServer | str, sim: Any, **connection: Any) -> Config:
    """Public WebSocket on the hostile server (or a URL), REST on the simulator; fast,
    jitter-free timings."""
    timings: dict[str, Any] = {
        "ping_interval": 0.5,
        "ping_timeout": 0.5,
        "open_timeout": 2.0,
        "reconnect_initial_delay": 0.01,
        "reconnect_max_delay": 0.1,
        "reconnect_jitter": 0.0,
        "reconnect_reset_after": 30.0,
        "stale_after": 30.0,
        "batch_window": 0.01,
        "unsubscribe_grace": 0.1,
        **connection,
    }
    return Config(
        exchange=ExchangeConfig(
            websocket_url=server if isinstance(server, str) else server.url,
            private_websocket_url=sim.private_websocket_url,
            rest_url=sim.rest_url,
        ),
        connection=ConnectionConfig(**timings),
        private=PrivateConfig(rest_poll_interval=0.2),
    )


def with_connection(config: Config, **connection: Any) -> Config:
    return dataclasses.replace(
        config, connection=dataclasses.replace(config.connection, **connection)
    )


@contextlib.asynccontextmanager
async def watching_ticker(
    manager: AbstractWebSocketManager, *codes: str, seen: list[Any] | None = None
) -> AsyncIterator[WebSocketClientProxy]:
    """A proxy subscribed to tickers of `codes` (KRW-BTC by default) for the block's length."""
    async with WebSocketClientProxy("hostile-test", manager) as proxy:
        await proxy.subscribe_ticker(
            list(codes or ("KRW-BTC",)), seen.append if seen is not None else lambda event: None
        )
        yield proxy
