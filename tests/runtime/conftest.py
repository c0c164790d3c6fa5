"""Fixtures for the runtime tests: a real simulator on 127.0.0.1 and a manager using it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import runtime_helpers
from runtime_helpers import ACCESS, SECRET, fast_config

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.exchange import ExchangeServer
from upbit_tui.net.transport import TRANSPORTS

_TRANSPORTS = os.environ.get("UPBIT_TUI_TEST_TRANSPORTS", "websockets,picows").split(",")


@pytest.fixture(autouse=True, params=[t for t in _TRANSPORTS if t in TRANSPORTS])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every runtime test runs once per WebSocket transport (picows must be installed: dev)."""
    monkeypatch.setattr(runtime_helpers, "TRANSPORT", request.param)
    return str(request.param)


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
