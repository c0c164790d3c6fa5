"""Fixtures for the hostile-server tests.

Two servers of the tests' own, both on 127.0.0.1 port 0: HostileServer (hostile_server.py), a
raw misbehaving WebSocket (handshake refusals, odd frames and close codes), and HostileUpbit
(hostile_upbit.py), a scripted Upbit with just enough REST for a manager to trade against.
A real simulator serves REST where only the public stream needs to misbehave.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hostile_server import HostileServer
from hostile_upbit import HostileUpbit

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.exchange import ExchangeServer

MARKETS = ["KRW-BTC", "KRW-ETH"]


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


@pytest.fixture
async def rest_sim() -> AsyncIterator[Any]:
    async with ExchangeServer(seed=1, markets=5, rate=0.0, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
async def upbit() -> AsyncIterator[HostileUpbit]:
    async with HostileUpbit(MARKETS) as server:
        yield server


@pytest.fixture
async def manager(upbit: HostileUpbit) -> AsyncIterator[GlobalWebSocketManager]:
    async with GlobalWebSocketManager(upbit.config()) as m:
        yield m
