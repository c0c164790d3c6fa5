"""Fixtures for the REST client, auth and rate-limiter tests."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from upbit_tui.exchange import ExchangeServer
from upbit_tui.net.auth import Credentials
from upbit_tui.net.ratelimit import GlobalRateLimiter
from upbit_tui.net.rest import UpbitRestClient

T = TypeVar("T")


class _FastForwardSelector:
    """A selector that, when nothing is ready, jumps the loop's clock instead of sleeping."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = self._real.select(0)
        if not ready and timeout is not None:
            # Like a real clock, time moves a little on every loop iteration; without that a
            # timer due "now" up to float rounding could be re-armed forever.
            self._loop.advance(max(timeout, 1e-6))
        elif not ready and timeout is None:
            ready = self._real.select(None)
        return ready

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock only moves when every task is waiting on a timer.

    Rate-limiter behaviour (how many acquisitions fit in a second) is then exact and instant,
    with the real aiolimiter code scheduling its real timers.
    """

    def __init__(self) -> None:
        self._virtual_now = 1000.0
        super().__init__(selector=_FastForwardSelector(self))  # type: ignore[arg-type]

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def _run_virtual(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(factory())
    finally:
        loop.close()


@pytest.fixture
def run_virtual() -> Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]:
    """`run_virtual(lambda: coro())`: run it on a fresh VirtualTimeLoop (use in a sync test)."""
    return _run_virtual


ACCESS_KEY = "test-access"
SECRET_KEY = "test-secret-0123456789abcdef0123456789ab"


@pytest.fixture
def creds() -> Credentials:
    """The key pair the `sim` fixture accepts."""
    return Credentials(ACCESS_KEY, SECRET_KEY)


@pytest.fixture
async def sim() -> AsyncIterator[ExchangeServer]:
    """A quiet simulator (no automatic trades) on a loopback port."""
    async with ExchangeServer(
        seed=1, markets=20, rate=0.0, host="127.0.0.1", port=0, api_keys={ACCESS_KEY: SECRET_KEY}
    ) as server:
        yield server


@pytest.fixture
async def client(sim: ExchangeServer) -> AsyncIterator[UpbitRestClient]:
    """A REST client with valid keys and fast retries, talking to `sim`."""
    async with UpbitRestClient(
        sim.rest_url,
        GlobalRateLimiter(),
        Credentials(ACCESS_KEY, SECRET_KEY),
        retry_base_delay=0.01,
        retry_max_delay=0.05,
    ) as rest:
        yield rest
