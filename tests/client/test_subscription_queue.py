"""One subscribe call, one queue: `queue_size` bounds all of a subscription's symbols together.

Trades and orders used to get one router subscriber per symbol (a queue of `queue_size` each);
now every subscribe call is one subscriber, narrowed in place on a partial unsubscribe.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from client_harness import trade

from upbit_tui.client.handles import Handle, open_handle, shrink_handle
from upbit_tui.config import RoutingConfig
from upbit_tui.net.metrics import MetricsCollector
from upbit_tui.net.routing import Router
from upbit_tui.wire.events import DataType, TradeEvent

CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP"]


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    r = Router(metrics=MetricsCollector())
    yield r
    await r.aclose()


class Seen:
    """A sync callback recording (symbol, sequential_id); `wait` for a count."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []
        self.changed = asyncio.Event()

    def __call__(self, event: TradeEvent) -> None:
        self.got.append((event.symbol, event.sequential_id))
        self.changed.set()

    async def wait(self, n: int) -> list[tuple[str, int]]:
        async with asyncio.timeout(2):
            while len(self.got) < n:
                self.changed.clear()
                await self.changed.wait()
        return self.got


def subscribe(router: Router, callback: object, **options: object) -> Handle:
    return open_handle(router, RoutingConfig(), "bot", DataType.TRADE, CODES, callback, **options)  # type: ignore[arg-type]


async def test_queue_size_bounds_every_symbol_of_a_trade_subscription_together(
    router: Router,
) -> None:
    seen = Seen()
    handle = subscribe(router, seen, queue_size=4)
    assert router.subscriber_count == 1
    # 12 trades over three markets before the callback can run: the last 4 wait, 8 are dropped.
    for sid in range(1, 13):
        router.publish(trade(sid, CODES[sid % 3]))
    assert handle.sub is not None and handle.sub.queue_depth == 4
    assert await seen.wait(4) == [(CODES[sid % 3], sid) for sid in range(9, 13)]
    assert handle.sub.dropped == 8 and router.dropped() == 8


async def test_coalescing_keeps_one_pending_trade_per_symbol_within_queue_size(
    router: Router,
) -> None:
    seen = Seen()
    handle = subscribe(router, seen, policy="coalesce_by_symbol", queue_size=2)
    router.publish(trade(1, "KRW-BTC"))
    router.publish(trade(2, "KRW-ETH"))
    router.publish(trade(3, "KRW-BTC"))  # replaces BTC's pending trade: superseded
    router.publish(trade(4, "KRW-XRP"))  # a third pending symbol: the oldest (BTC) is dropped
    assert await seen.wait(2) == [("KRW-ETH", 2), ("KRW-XRP", 4)]
    sub = handle.sub
    assert sub is not None and (sub.dropped, sub.superseded) == (2, 1)
    assert router.dropped() == 2


async def test_unsubscribing_a_symbol_keeps_the_same_queue_and_the_rest_in_order(
    router: Router,
) -> None:
    seen = Seen()
    handle = subscribe(router, seen)
    sub = handle.sub
    for sid, code in enumerate(["KRW-BTC", "KRW-ETH", "KRW-BTC", "KRW-XRP", "KRW-ETH"], 1):
        router.publish(trade(sid, code))
    assert shrink_handle(router, handle, ["KRW-ETH"])  # before the callback ran
    router.publish(trade(6, "KRW-ETH"))
    router.publish(trade(7, "KRW-XRP"))
    assert await seen.wait(4) == [("KRW-BTC", 1), ("KRW-BTC", 3), ("KRW-XRP", 4), ("KRW-XRP", 7)]
    assert handle.sub is sub and router.subscriber_count == 1
    assert handle.symbols == ["KRW-BTC", "KRW-XRP"]
    assert not shrink_handle(router, handle, ["KRW-BTC", "KRW-XRP"])
    assert router.subscriber_count == 0 and handle.sub is None


async def test_a_batch_in_flight_loses_the_unsubscribed_symbol_from_the_next_event(
    router: Router,
) -> None:
    """An async callback is awaited mid-batch; an unsubscribe meanwhile takes effect at once."""
    got: list[tuple[str, int]] = []
    entered, release, last = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow(event: TradeEvent) -> None:
        got.append((event.symbol, event.sequential_id))
        if event.sequential_id == 6:
            last.set()
        if event.sequential_id == 1:
            entered.set()
            await release.wait()

    handle = subscribe(router, slow)
    for sid, code in enumerate(["KRW-BTC", "KRW-ETH", "KRW-BTC", "KRW-ETH", "KRW-XRP"], 1):
        router.publish(trade(sid, code))
    async with asyncio.timeout(2):
        await entered.wait()  # the whole batch of five is in flight, the first being delivered
    shrink_handle(router, handle, ["KRW-ETH"])
    release.set()
    router.publish(trade(6, "KRW-XRP"))
    async with asyncio.timeout(2):
        await last.wait()
    assert got == [("KRW-BTC", 1), ("KRW-BTC", 3), ("KRW-XRP", 5), ("KRW-XRP", 6)]


async def test_a_sync_callback_narrowing_its_own_subscription_stops_the_rest_of_its_batch(
    router: Router,
) -> None:
    """The router's flush path (sync callbacks): the same guarantee as the drain task's."""
    got: list[tuple[str, int]] = []
    handle: Handle | None = None
    last = asyncio.Event()

    def on_trade(event: TradeEvent) -> None:
        got.append((event.symbol, event.sequential_id))
        if event.sequential_id == 5:
            last.set()
        if event.sequential_id == 1:
            assert handle is not None
            shrink_handle(router, handle, ["KRW-ETH"])

    handle = subscribe(router, on_trade)
    for sid, code in enumerate(["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-ETH", "KRW-BTC"], 1):
        router.publish(trade(sid, code))
    async with asyncio.timeout(2):
        await last.wait()
    assert got == [("KRW-BTC", 1), ("KRW-XRP", 3), ("KRW-BTC", 5)]
