"""Fixtures for the runtime tests: a real simulator on 127.0.0.1 and a manager using it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from runtime_helpers import ACCESS, SECRET, fast_config

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.exchange import ExchangeServer


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with ExchangeServer(
        seed=1, markets=20, rate=200.0, host="127.0.0.1", port=0, api_keys={ACCESS: SECRET}
    ) as server:
        yield server


@pytest.fixture
async def manager(sim: Any) -> AsyncIterator[GlobalWebSocketManager]:
    async with GlobalWebSocketManager(fast_config(sim)) as m:
        yield m
