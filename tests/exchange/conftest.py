"""Fixtures of the simulator's own tests: a real ExchangeServer on 127.0.0.1, port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sim_harness import API_KEYS, FIXED_NOW

from upbit_tui.exchange import ExchangeServer


@pytest.fixture
async def sim() -> AsyncIterator[ExchangeServer]:
    """A quiet, deterministic exchange: fixed clock, no automatic trades, manual candle pushes,
    limits high enough not to interfere (their own tests lower them)."""
    async with ExchangeServer(
        seed=1,
        markets=10,
        rate=0.0,
        api_keys=API_KEYS,
        clock=lambda: FIXED_NOW,
        candle_interval=3600.0,
        websocket_connects_per_second=1000,
        websocket_messages_per_second=1000,
        websocket_messages_per_minute=100_000,
    ) as server:
        yield server
