"""Fixtures for the collaborator tests: a real simulator on 127.0.0.1 and a REST client to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from upbit_tui.exchange import ExchangeServer
from upbit_tui.net.rest import UpbitRestClient


@pytest.fixture
async def quiet_sim() -> AsyncIterator[Any]:
    """A simulator that trades only when told (rate 0)."""
    async with ExchangeServer(seed=3, markets=10, rate=0.0, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
async def rest(quiet_sim: Any) -> AsyncIterator[UpbitRestClient]:
    async with UpbitRestClient(quiet_sim.rest_url) as client:
        yield client
