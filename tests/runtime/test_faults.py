"""Every way a connection dies, injected by the simulator; recovery must cost nothing (issue 4).

Each scenario streams trades (three markets), a ticker and an orderbook, injects one fault and
then checks: the subscription is restored exactly, the epoch advanced, no event of an older
epoch reached a callback, no trade is missing or duplicated compared with the simulator's own
trade record, and no connection exceeded Upbit's message limits.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from runtime_helpers import (
    Collector,
    assert_trades_exact,
    assert_within_message_limits,
    fast_config,
    on_wire,
    sessions,
    wait_until,
)

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.exchange import ExchangeServer
from upbit_tui.net.connection import ConnectionState
from upbit_tui.net.ratelimit import GlobalRateLimiter
from upbit_tui.net.rest import UpbitRestClient
from upbit_tui.wire.events import StreamType, TradeEvent

TRADE_CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP"]
EXPECTED = {
    "trade": set(TRADE_CODES),
    "ticker": {"KRW-SOL", "KRW-BTC"},
    "orderbook": {"KRW-BTC.5"},
}


class EpochRecorder(Collector):
    """Records events with the connection's epoch at the moment the callback ran."""

    def __init__(self, manager: GlobalWebSocketManager) -> None:
        super().__init__()
        self.manager = manager
        self.stale: list[Any] = []

    def __call__(self, event: Any) -> None:
        current = self.manager.epochs.current("public")
        if event.epoch and event.epoch != current:
            self.stale.append((event, current))
        super().__call__(event)


async def _scenario(
    sim: Any,
    manager: GlobalWebSocketManager,
    inject: Callable[[], Any],
    *,
    after: Callable[[], Any] | None = None,
) -> EpochRecorder:
    trades, quotes = EpochRecorder(manager), EpochRecorder(manager)
    proxy = WebSocketClientProxy("faulty", manager)
    await proxy.subscribe_trade(TRADE_CODES, trades)
    await proxy.subscribe_ticker(["KRW-SOL", "KRW-BTC"], quotes)
    await proxy.subscribe_orderbook(["KRW-BTC"], quotes, depth=5)
    await on_wire(sim, EXPECTED)
    await trades.wait_for(lambda c: len(c.events) >= 30)
    epoch = manager.epochs.current("public")
    conn = manager.connections()["public"]
    inject()
    await wait_until(
        lambda: manager.epochs.current("public") > epoch and conn.is_live, what="reconnect"
    )
    if after is not None:
        after()
    await on_wire(sim, EXPECTED)  # restored exactly, on the new connection
    mark = len(trades.events)
    await trades.wait_for(
        lambda c: len(c.events) >= mark + 30 and not manager._backfills, within=10
    )
    assert not trades.stale and not quotes.stale, "an older epoch's event reached a callback"
    assert assert_trades_exact(sim, trades.events, TRADE_CODES) >= 60
    assert_within_message_limits(sim)
    assert manager.backfill_failures == 0
    await proxy.cleanup()
    return trades


async def test_abrupt_drop_recovers_without_losing_a_trade(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    trades = await _scenario(sim, manager, lambda: sim.faults.drop_all(endpoint="public"))
    assert manager.connections()["public"].reconnects >= 1
    # The outage was filled from REST and marked as such.
    backfilled = [e for e in trades.events if isinstance(e, TradeEvent) and e.backfilled]
    assert all(e.stream_type == StreamType.REST for e in backfilled)


async def test_clean_close_recovers(sim: Any, manager: GlobalWebSocketManager) -> None:
    await _scenario(sim, manager, lambda: sim.faults.close_all(code=1001, endpoint="public"))
    assert "1001" in (sessions(sim, "public")[0]["close_reason"] or "")


async def test_half_open_connection_is_detected_by_ping_timeout(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    # The server stops sending and stops answering pings; only the ping timeout can tell.
    await _scenario(
        sim, manager, lambda: sim.faults.stall(endpoint="public"), after=sim.faults.resume
    )


async def test_a_server_that_stops_answering_is_left_by_the_staleness_watchdog(sim: Any) -> None:
    # Pings off: only the watchdog can tell. Its LIST_SUBSCRIPTIONS probe goes unanswered.
    config = fast_config(sim, stale_after=0.4, ping_interval=0)
    async with GlobalWebSocketManager(config) as manager:
        await _scenario(
            sim, manager, lambda: sim.faults.stall(endpoint="public"), after=sim.faults.resume
        )
        conn = manager.connections()["public"]
        assert conn.stale_closes >= 1
        assert conn.probes_sent >= 1
        assert conn.resubscribes == 0


@pytest.mark.parametrize("status", [429, 418])
async def test_handshake_refusal_waits_as_the_server_asks(sim: Any, status: int) -> None:
    async with GlobalWebSocketManager(fast_config(sim)) as manager:
        started: list[float] = []

        def inject() -> None:
            sim.faults.reject_handshakes(2, status=status)
            started.append(time.monotonic())
            sim.faults.drop_all(endpoint="public")

        await _scenario(sim, manager, inject)
        assert sim.stats()["connections"]["refused"].get(str(status)) == 2
        # Each refusal carried Retry-After: 1; the reconnect waited it out both times, although
        # the configured backoff is at most 0.1 s.
        conn = manager.connections()["public"]
        assert conn.state is ConnectionState.LIVE
        assert conn.uptime <= time.monotonic() - started[0] - 2.0 + 0.5
        # Two seconds without a socket: the trades of that gap came from REST, in order.
        assert manager.backfilled_trades > 0


async def test_current_candle_is_right_after_an_outage() -> None:
    async with (
        ExchangeServer(seed=9, markets=20, rate=0.0, port=0, candle_interval=0.2) as sim,
        GlobalWebSocketManager(fast_config(sim)) as manager,
    ):
        candles = Collector()
        proxy = WebSocketClientProxy("chart", manager)
        await proxy.subscribe_candle(["KRW-BTC"], "1m", candles)
        await on_wire(sim, {"candle.1m": {"KRW-BTC"}})
        await candles.wait_for(lambda c: len(c.events) >= 1)
        epoch = manager.epochs.current("public")
        sim.faults.reject_handshakes(1, status=429)  # a one-second outage
        sim.faults.drop_all(endpoint="public")
        sim.generate_trades(5, market="KRW-BTC")  # traded while we were away
        await wait_until(lambda: manager.epochs.current("public") > epoch, what="reconnect")
        (truth,) = sim.model.candles("KRW-BTC", "1m", count=1)

        def current(c: Collector) -> bool:
            last = c.events[-1]
            return (
                last.candle_date_time_utc == truth.candle_date_time_utc
                and last.trade_price == truth.trade_price
                and last.candle_acc_trade_volume == pytest.approx(truth.candle_acc_trade_volume)
            )

        await candles.wait_for(current)
        assert all(e.timeframe == "1m" for e in candles.events)
        await proxy.cleanup()


async def test_never_gives_up_critical_after_the_configured_attempts_then_recovers() -> None:
    with socket.socket() as probe:  # a port nobody listens on (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/websocket/v1"
    config = fast_config(
        SimpleNamespace(
            websocket_url=url, private_websocket_url=url, rest_url=f"http://127.0.0.1:{port}"
        ),
        reconnect_critical_after=3,
        reconnect_max_delay=0.05,
    )
    async with GlobalWebSocketManager(config) as manager:
        ticks = Collector()
        proxy = WebSocketClientProxy("patient", manager)
        await proxy.subscribe_ticker(["KRW-BTC"], ticks)
        conn = manager.connections()["public"]
        await wait_until(lambda: conn.recovery.attempts >= 3, what="3 failed attempts")
        health = await proxy.health_check()
        assert health["status"] == "critical"
        assert any("public connection" in r for r in health["reasons"]), health["reasons"]
        await wait_until(lambda: conn.recovery.attempts >= 8, what="still trying")
        async with ExchangeServer(seed=1, markets=20, rate=50.0, port=port):
            await ticks.wait_for(lambda c: len(c.events) >= 1)
            assert conn.is_live
            assert (await proxy.health_check())["status"] != "critical"
        await proxy.cleanup()


async def test_events_queued_before_a_reconnect_never_reach_the_callback() -> None:
    async with (
        ExchangeServer(seed=4, markets=20, rate=0.0, port=0) as sim,
        GlobalWebSocketManager(fast_config(sim)) as manager,
    ):
        gate = asyncio.Event()
        seen = EpochRecorder(manager)

        async def slow(event: Any) -> None:
            seen(event)  # the epoch is checked as the callback starts
            await gate.wait()

        proxy = WebSocketClientProxy("slow", manager)
        await proxy.subscribe_ticker(["KRW-BTC"], slow)
        await on_wire(sim, {"ticker": {"KRW-BTC"}})
        await seen.wait_for(lambda c: len(c.events) == 1)  # the snapshot, now blocking
        sim.generate_trades(20, market="KRW-BTC")
        await wait_until(lambda: manager.subscriber_stats()[0]["queue_depth"] >= 20, what="queue")
        sim.faults.drop_all(endpoint="public")
        await wait_until(lambda: manager.epochs.current("public") == 2, what="epoch 2")
        await on_wire(sim, {"ticker": {"KRW-BTC"}})
        gate.set()
        await seen.wait_for(lambda c: any(e.epoch == 2 for e in c.events))
        assert not seen.stale
        assert [e.epoch for e in seen.events] == [1, 2]  # the 20 queued ones were dropped
        assert manager.subscriber_stats()[0]["stale"] == 20
        await proxy.cleanup()


async def test_user_requested_reconnect_is_gap_free(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    pending: list[Any] = []
    await _scenario(
        sim, manager, lambda: pending.append(asyncio.ensure_future(manager.reconnect()))
    )
    await asyncio.gather(*pending)
    assert manager.connections()["public"].recovery.attempts == 0  # backoff was reset


async def test_a_failed_trade_backfill_releases_live_trades_and_reports_the_gap(sim: Any) -> None:
    config = fast_config(sim)
    limiter = GlobalRateLimiter()
    # No REST-level retries: the backfill's own attempts are what is tested. (The simulator's
    # faulted answers say `Remaining-Req: sec=0`, so each attempt waits out a second.)
    rest = UpbitRestClient(config, rate_limiter=limiter, max_retries=0)
    try:
        async with GlobalWebSocketManager(config, rate_limiter=limiter, rest_client=rest) as m:
            trades = EpochRecorder(m)
            proxy = WebSocketClientProxy("unlucky", m)
            await proxy.subscribe_trade(TRADE_CODES, trades)
            await on_wire(sim, {"trade": set(TRADE_CODES)})
            await trades.wait_for(lambda c: len(c.events) >= 30)
            assert (await proxy.health_check())["status"] == "healthy"

            sim.faults.fail_rest(10_000, status=500)  # REST is down from here on
            sim.faults.drop_all(endpoint="public")
            sim.generate_trades(3, market="KRW-BTC")  # traded while we were away
            # No hang: every backfill gives up, and the held live trades are let through.
            await wait_until(
                lambda: m.backfill_failures == len(TRADE_CODES), within=10, what="3 failures"
            )
            sim.faults.clear()
            mark = len(trades.events)
            await trades.wait_for(lambda c: len(c.events) >= mark + 30 and not m._backfills)

            health = await proxy.health_check()
            assert health["status"] == "degraded"
            (reason,) = [r for r in health["reasons"] if "trade gap" in r]
            assert all(code in reason for code in TRADE_CODES), reason
            gaps = {g["symbol"]: g for g in health["trade_gaps"]}
            assert gaps.keys() == set(TRADE_CODES)
            assert "500" in gaps["KRW-BTC"]["error"]
            assert m.dashboard()["trades"]["gaps"] == health["trade_gaps"]

            # The gap is exactly what was not delivered; everything around it is exact.
            gap = gaps["KRW-BTC"]
            after, resumed = gap["after_sequential_id"], gap["resumed_sequential_id"]
            delivered = [
                e.sequential_id
                for e in trades.events
                if isinstance(e, TradeEvent) and e.symbol == "KRW-BTC"
            ]
            # The gap ends at the first live trade held behind the backfill (at the latest the
            # snapshot trade the new subscription brought).
            assert after in delivered and resumed in delivered
            assert delivered[delivered.index(after) + 1] == resumed
            lost = [
                t.sequential_id
                for t in sim.model.trades("KRW-BTC", count=5000)
                if after < t.sequential_id < resumed
            ]
            # At least the trades made while away (the last of them may be that snapshot).
            assert len(lost) >= 2
            assert not set(lost) & set(delivered)
            btc = [e for e in trades.events if isinstance(e, TradeEvent) and e.symbol == "KRW-BTC"]
            early = [e for e in btc if e.sequential_id <= after]
            assert assert_trades_exact(sim, early, ["KRW-BTC"])
            assert assert_trades_exact(
                sim, [e for e in btc if e.sequential_id >= resumed], ["KRW-BTC"]
            )
            assert not trades.stale
            assert not any(e.backfilled for e in trades.events)  # nothing came from REST
            await proxy.cleanup()
    finally:
        await rest.close()
