"""Shared pieces of the app tests: a config pointed at a simulator, waiting on conditions.

Everything talks to the real simulator over 127.0.0.1; nothing in the app is mocked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suite_harness import TIMEOUT_FACTOR as TIMEOUT_FACTOR  # re-exported
from textual.pilot import Pilot

from upbit_tui.config import (
    AuthConfig,
    Config,
    ConnectionConfig,
    ExchangeConfig,
    LoggingConfig,
    WatchlistConfig,
)
from upbit_tui.tui.app import PANES, UpbitApp, make_app

# 2026-11-27 06:30:00 UTC = 15:30 KST: every clock the snapshots depend on reads this.
FIXED_NOW = 1795761000.0
SEED = 7
MARKETS = 20
SYMBOLS = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-SHIB")
ACCESS_KEY = "test-access"
SECRET_KEY = "test-secret"
SIZE = (160, 48)


def fixed_clock() -> float:
    return FIXED_NOW


def app_config(
    *,
    websocket_url: str = "ws://127.0.0.1:9/websocket/v1",
    private_websocket_url: str = "ws://127.0.0.1:9/websocket/v1/private",
    rest_url: str = "http://127.0.0.1:9",
    keys: bool = True,
    symbols: tuple[str, ...] = SYMBOLS,
    source: Path | None = None,
) -> Config:
    """Fast batching and no unsubscribe grace, so the simulator sees changes at once."""
    return Config(
        exchange=ExchangeConfig(
            websocket_url=websocket_url,
            private_websocket_url=private_websocket_url,
            rest_url=rest_url,
        ),
        auth=AuthConfig(ACCESS_KEY, SECRET_KEY) if keys else AuthConfig(),
        watchlist=WatchlistConfig(symbols=symbols),
        connection=dataclasses.replace(
            ConnectionConfig(),
            batch_window=0.01,
            unsubscribe_grace=0.0,
            reconnect_initial_delay=0.05,
            reconnect_max_delay=0.2,
        ),
        logging=LoggingConfig(level="DEBUG", file=""),
        source=source,
    )


def sim_config(sim: Any, **kwargs: Any) -> Config:
    return app_config(
        websocket_url=sim.websocket_url,
        private_websocket_url=sim.private_websocket_url,
        rest_url=sim.rest_url,
        **kwargs,
    )


def demo_app(
    *,
    keys: bool = True,
    panes: tuple[str, ...] = tuple(PANES),
    symbols: tuple[str, ...] = SYMBOLS,
    fixed_exchange_clock: bool = True,
) -> UpbitApp:
    """The app with its in-process simulator: fixed seed, no automatic trades, fixed clock."""
    options: dict[str, Any] = {
        "seed": SEED,
        "markets": MARKETS,
        "rate": 0.0,
        "clock": fixed_clock if fixed_exchange_clock else None,
        "api_keys": {ACCESS_KEY: SECRET_KEY} if keys else {},
    }
    return make_app(
        app_config(symbols=symbols),
        demo=True,
        clock=fixed_clock,
        demo_options=options,
        health_interval=None,
        panes=panes,
    )


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, seconds: float = 10.0
) -> None:
    """Let the app run until `condition()` holds; fail with `what` after the timeout."""
    deadline = time.monotonic() + seconds * TIMEOUT_FACTOR
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause()


async def wait_async(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds * TIMEOUT_FACTOR
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
