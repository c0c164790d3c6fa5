"""Snapshots and HealthReport alone, on a real REST server (the simulator)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from client_harness import sim_config

from upbit_tui.client.health import HealthReport
from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.client.snapshots import Snapshots
from upbit_tui.net.rest import UpbitRestClient
from upbit_tui.wire.events import DataType, MarketEvent, StreamType, TickerEvent


def snapshots(rest: UpbitRestClient, live: dict[str, MarketEvent]) -> Snapshots:
    return Snapshots(
        lambda: rest,
        lambda data_type, symbol: live.get(symbol),
        lambda data_type, symbol: None,
        lambda event: None,
        lambda epoch: True,
    )


async def test_a_streaming_symbol_is_answered_without_rest(rest: UpbitRestClient) -> None:
    streamed = TickerEvent(symbol="KRW-BTC", trade_price=1.0, epoch=4)
    before = rest.requests_sent
    found = await snapshots(rest, {"KRW-BTC": streamed}).tickers(["KRW-BTC", "KRW-ETH"])
    assert found[0] is streamed
    assert found[1].symbol == "KRW-ETH" and found[1].stream_type == StreamType.REST
    assert rest.requests_sent == before + 1  # only KRW-ETH was asked for


async def test_bad_snapshot_arguments_fail_before_any_request(rest: UpbitRestClient) -> None:
    parts = snapshots(rest, {})
    with pytest.raises(ValueError, match="depth"):
        await parts.orderbooks(["KRW-BTC"], depth=7)
    with pytest.raises(ValueError, match="count"):
        await parts.candles(["KRW-BTC"], "1m", count=0)
    assert rest.requests_sent == 0


async def test_the_current_candle_is_refreshed_after_a_reconnect(
    quiet_sim: Any, rest: UpbitRestClient
) -> None:
    published: list[MarketEvent] = []
    parts = Snapshots(
        lambda: rest, lambda t, s: None, lambda t, s: None, published.append, lambda e: e == 2
    )
    await parts.refresh_candles({DataType.CANDLE_1M: {"KRW-BTC"}}, epoch=2)
    await parts.refresh_candles({DataType.CANDLE_1M: {"KRW-BTC"}}, epoch=1)  # an old epoch
    assert [(c.symbol, c.epoch, c.stream_type) for c in published] == [
        ("KRW-BTC", 2, StreamType.REST)
    ]


async def test_health_names_a_refused_code_and_the_dashboard_has_every_section(
    quiet_sim: Any,
) -> None:
    async with GlobalWebSocketManager(sim_config(quiet_sim)) as manager:
        proxy = WebSocketClientProxy("pane", manager)
        await proxy.subscribe_ticker(["KRW-BTC", "KRW-ETH"], lambda e: None)
        await asyncio.wait_for(manager.wait_synced(), 5)
        report = HealthReport(manager)
        assert report.verdict() == (None, [])
        manager.refusals.refuse({"KRW-ETH"}, "INVALID_PARAM: KRW-ETH")
        critical, degraded = report.verdict()
        assert critical is None and "Upbit refused KRW-ETH" in degraded[0]
        health = report.health()
        assert health["status"] == "degraded" and health["refused_codes"] == {
            "KRW-ETH": "INVALID_PARAM: KRW-ETH"
        }
        assert {"connections", "trades", "private", "subscribers", "markets"} <= set(
            report.dashboard()
        )
