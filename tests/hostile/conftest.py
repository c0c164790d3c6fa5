"""Fixtures for the hostile-server tests: our own misbehaving WebSocket server on 127.0.0.1
(hostile_server.py) for the public stream, and a real simulator for REST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hostile_server import HostileServer

from upbit_tui.exchange import ExchangeServer


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


@pytest.fixture
async def rest_sim() -> AsyncIterator[Any]:
    async with ExchangeServer(seed=1, markets=5, rate=0.0, host="127.0.0.1", port=0) as server:
        yield server
