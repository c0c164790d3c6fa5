"""What every test directory's harness shares: the timing factor, the test keys, a config with
millisecond timings pointing at a simulator, and polling for a condition.

tests/ is not a package: pytest puts this folder on sys.path for tests/conftest.py, so each
directory's harness imports this module by name.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from upbit_tui.config import AuthConfig, Config, ConnectionConfig, ExchangeConfig, PrivateConfig

# Timing constants in tests scale with one factor for slow machines (as python-websockets does).
TIMEOUT_FACTOR = float(os.environ.get("UPBIT_TUI_TEST_TIMEOUT_FACTOR", "1"))
# The simulator's test keys.
ACCESS = "test-access"
SECRET = "test-secret"


def fast_config(sim: Any, *, keys: bool = False, secret: str = SECRET, **connection: Any) -> Config:
    """A config pointing at `sim` with millisecond reconnect timings (and fast REST polling);
    `connection` overrides [connection] settings."""
    timings: dict[str, Any] = {
        "ping_interval": 0.2,
        "ping_timeout": 0.3,
        "open_timeout": 2.0,
        "reconnect_initial_delay": 0.01,
        "reconnect_max_delay": 0.1,
        "reconnect_jitter": 0.2,
        "reconnect_reset_after": 0.5,
        "stale_after": 5.0,
        "batch_window": 0.02,
        "unsubscribe_grace": 0.1,
        **connection,
    }
    return Config(
        exchange=ExchangeConfig(
            websocket_url=sim.websocket_url,
            private_websocket_url=sim.private_websocket_url,
            rest_url=sim.rest_url,
        ),
        auth=AuthConfig(access_key=ACCESS, secret_key=secret) if keys else AuthConfig(),
        connection=ConnectionConfig(**timings),
        private=PrivateConfig(rest_poll_interval=0.2),
    )


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0, what: str = ""
) -> None:
    """Poll `condition` (sync or async) until true; fail after `within` x TIMEOUT_FACTOR.

    Only where no event exists to await: state in another process or inside the simulator.
    """
    try:
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            while True:
                result = condition()
                if not isinstance(result, bool):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what or condition}")
