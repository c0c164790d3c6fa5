"""A late subscriber through the gateway gets the latest value at once, as it does locally.

Locally, the router hands a new subscriber of a streaming (type, code) its cached latest value
(current epoch only; never a myOrder). Through the gateway, a second remote process joining a
code the gateway already streams must get the same: the gateway's cached event, unchanged
(epoch, stream type, timestamp), with no REST call. The simulator runs with no automatic
trades (rate 0), so after Upbit's subscription snapshot nothing else arrives: whatever the
late joiner receives can only be that replay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway_harness import ACCESS, SECRET, Collector, fast_config, fast_settings, unique_prefix

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.exchange import ExchangeServer
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.remote import RemoteWebSocketManager
from upbit_tui.gateway.service import GatewayService
from upbit_tui.wire.events import DataType, MarketEvent


@pytest.fixture
async def quiet_sim() -> AsyncIterator[Any]:
    async with ExchangeServer(
        seed=3, markets=10, rate=0.0, host="127.0.0.1", port=0, api_keys={ACCESS: SECRET}
    ) as server:
        yield server


async def _subscribe(proxy: WebSocketClientProxy, data_type: DataType, into: Collector) -> None:
    if data_type is DataType.ORDERBOOK:
        await proxy.subscribe_orderbook("KRW-BTC", into, depth=5)
    else:
        await proxy.subscribe_ticker("KRW-BTC", into)


def _key(event: MarketEvent) -> tuple[Any, ...]:
    return (event.symbol, event.timestamp_ms, event.epoch, event.stream_type)  # type: ignore[attr-defined]


@pytest.mark.parametrize("data_type", [DataType.TICKER, DataType.ORDERBOOK])
async def test_local_late_subscriber_gets_the_latest_value(
    quiet_sim: Any, data_type: DataType
) -> None:
    """The behaviour mirrored below, on the local manager."""
    first, late = Collector(), Collector()
    async with GlobalWebSocketManager(fast_config(quiet_sim)) as manager:
        a, b = WebSocketClientProxy("a", manager), WebSocketClientProxy("b", manager)
        await _subscribe(a, data_type, first)
        await first.wait_for(lambda c: len(c.events) >= 1)
        rest = quiet_sim.stats()["rest"]["requests"]
        await _subscribe(b, data_type, late)
        await late.wait_for(lambda c: len(c.events) >= 1)
        assert _key(late.events[0]) == _key(first.events[-1])
        assert quiet_sim.stats()["rest"]["requests"] == rest


@pytest.mark.parametrize("data_type", [DataType.TICKER, DataType.ORDERBOOK])
async def test_second_remote_client_gets_the_gateway_latest_value_at_once(
    quiet_sim: Any, nats_server: LocalNatsServer, data_type: DataType
) -> None:
    prefix = unique_prefix()
    first, late = Collector(), Collector()
    async with (
        GatewayService(
            fast_config(quiet_sim), nats_url=nats_server.url, settings=fast_settings(prefix)
        ) as gateway,
        RemoteWebSocketManager(nats_server.url, prefix=prefix, name="one") as one,
        RemoteWebSocketManager(nats_server.url, prefix=prefix, name="two") as two,
    ):
        await gateway.wait_active()
        a, b = WebSocketClientProxy("a", one), WebSocketClientProxy("b", two)
        await _subscribe(a, data_type, first)
        await first.wait_for(lambda c: len(c.events) >= 1)
        rest = quiet_sim.stats()["rest"]["requests"]
        await _subscribe(b, data_type, late)
        await late.wait_for(lambda c: len(c.events) >= 1)
        got, seen = late.events[0], first.events[-1]
        assert _key(got) == _key(seen)  # the gateway's cached event, epoch and all
        assert got.epoch >= 1
        if data_type is DataType.ORDERBOOK:
            assert len(got.orderbook_units) == 5  # type: ignore[attr-defined]  # trimmed here
        assert quiet_sim.stats()["rest"]["requests"] == rest  # from the cache, not REST
        assert len(late.events) == 1 and len(first.events) == 1  # nobody else got it again
