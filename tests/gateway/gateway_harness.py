"""Helpers of the gateway tests: fast configs, unique subject prefixes, waiting for conditions."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from upbit_tui.config import Config, ConnectionConfig, ExchangeConfig, PrivateConfig
from upbit_tui.gateway.service import GatewaySettings

TIMEOUT_FACTOR = float(os.environ.get("UPBIT_TUI_TEST_TIMEOUT_FACTOR", "1"))
ACCESS = "test-access"
SECRET = "test-secret"


def fast_config(sim: Any) -> Config:
    """A config pointing at `sim` with millisecond reconnect timings and a short grace."""
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
            reconnect_reset_after=0.5,
            stale_after=5.0,
            batch_window=0.02,
            unsubscribe_grace=0.1,
        ),
        private=PrivateConfig(rest_poll_interval=0.2),
    )


def unique_prefix() -> str:
    """Subjects, stream and KV bucket of one test, so tests sharing a server never meet."""
    return f"t{uuid.uuid4().hex[:10]}"


def fast_settings(prefix: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {"prefix": prefix, "lease_ttl": 3.0, "active_ttl": 1.0}
    values.update(overrides)
    return GatewaySettings(**values)


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0, what: str = ""
) -> None:
    """Poll `condition` until true; fail after `within` x TIMEOUT_FACTOR seconds.

    Used only where no event exists to await (state in another process or in the simulator).
    """
    try:
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            while True:
                result = condition()
                if not isinstance(result, bool):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what or condition}")


def live_subscription(sim: Any) -> dict[str, set[str]]:
    """What the simulator's open public connection carries: type -> codes."""
    items = sim.stats()["connections"]["items"]
    live = [s for s in items if s["open"] and s["endpoint"] == "public"]
    out: dict[str, set[str]] = {}
    for session in live:
        for item in session["subscription"] or ():
            out.setdefault(item["type"], set()).update(item["codes"] or ())
    return out


def public_connections_opened(sim: Any) -> int:
    return sum(1 for s in sim.stats()["connections"]["items"] if s["endpoint"] == "public")


class Collector:
    """A callback recording events; a test awaits a predicate over them."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[Collector], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
