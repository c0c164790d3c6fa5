"""Fixtures for the hostile-server tests: a scripted Upbit and a manager connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hostile_server import HostileUpbit

from upbit_tui.client.manager import GlobalWebSocketManager

MARKETS = ["KRW-BTC", "KRW-ETH"]


@pytest.fixture
async def upbit() -> AsyncIterator[HostileUpbit]:
    async with HostileUpbit(MARKETS) as server:
        yield server


@pytest.fixture
async def manager(upbit: HostileUpbit) -> AsyncIterator[GlobalWebSocketManager]:
    async with GlobalWebSocketManager(upbit.config()) as m:
        yield m
