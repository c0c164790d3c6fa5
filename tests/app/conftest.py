"""Fixtures shared by the app tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from app_harness import ACCESS_KEY, MARKETS, SECRET_KEY, SEED

from upbit_tui.exchange import ExchangeServer


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    """The seeded simulator with no automatic trades: the app shows what the seed made."""
    async with ExchangeServer(
        seed=SEED,
        markets=MARKETS,
        rate=0.0,
        host="127.0.0.1",
        port=0,
        api_keys={ACCESS_KEY: SECRET_KEY},
    ) as server:
        yield server
