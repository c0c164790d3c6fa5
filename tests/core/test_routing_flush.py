"""Sync callbacks are called from one router flush per burst; the drain task takes over on await."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from core_harness import TIMEOUT, Collector

from upbit_tui.net.routing import Router
from upbit_tui.net.transport import READ_BURST
from upbit_tui.wire.events import DataType, TradeEvent

NOW_MS = int(time.time() * 1000)


def trade(symbol: str, seq: int) -> TradeEvent:
    return TradeEvent(
        symbol=symbol,
        trade_price=1.0,
        trade_volume=1.0,
        ask_bid="BID",
        sequential_id=seq,
        timestamp_ms=NOW_MS,
        epoch=1,
        stream_type="REALTIME",
    )


async def until(condition: Any, changed: asyncio.Event) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            changed.clear()
            await changed.wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_burst_to_many_sync_subscribers_leaves_their_tasks_parked(
    router: Router,
) -> None:
    codes = [f"KRW-C{i}" for i in range(20)]
    got = Collector()
    subs = [router.subscribe(DataType.TRADE, [code], got) for code in codes]
    await settle()  # every drain task started and parked
    parked = [sub._parked for sub in subs]
    assert all(p is not None and not p.done() for p in parked)
    for seq, code in enumerate(codes):
        router.publish(trade(code, seq))
    events = await got.wait_count(20)
    assert [e.sequential_id for e in events] == list(range(20))
    # Delivered without waking a single drain task: each still waits on the same future.
    assert [sub._parked for sub in subs] == parked
    assert all(not p.done() for p in parked)


async def test_a_sync_callable_returning_an_awaitable_is_awaited_in_order(
    router: Router,
) -> None:
    order: list[int] = []
    changed = asyncio.Event()

    async def slow(seq: int) -> None:
        await asyncio.sleep(0.01)
        order.append(seq)

    def callback(event: TradeEvent) -> Any:
        changed.set()
        if event.sequential_id == 1:
            return slow(1)  # a sync callable handing back a coroutine: awaited before the next
        order.append(event.sequential_id)
        return None

    router.subscribe(DataType.TRADE, ["KRW-BTC"], callback)
    await settle()
    for seq in (0, 1, 2, 3):
        router.publish(trade("KRW-BTC", seq))
    await until(lambda: len(order) >= 4, changed)
    assert order == [0, 1, 2, 3]
    router.publish(trade("KRW-BTC", 4))  # back to the flush after the task parked again
    await until(lambda: len(order) >= 5, changed)
    assert order == [0, 1, 2, 3, 4]


async def test_a_raising_sync_callback_reaches_its_async_error_handler_then_goes_on(
    router: Router,
) -> None:
    got: list[int] = []
    errors: list[str] = []
    changed = asyncio.Event()

    def callback(event: TradeEvent) -> None:
        changed.set()
        if event.sequential_id == 1:
            raise ValueError("bad trade")
        got.append(event.sequential_id)

    async def on_error(exc: BaseException) -> None:
        await asyncio.sleep(0)
        errors.append(str(exc))

    sub = router.subscribe(DataType.TRADE, ["KRW-BTC"], callback, error_handler=on_error)
    await settle()
    for seq in (0, 1, 2):
        router.publish(trade("KRW-BTC", seq))
    await until(lambda: len(got) >= 2, changed)
    assert got == [0, 2] and errors == ["bad trade"]
    assert sub.callback_errors == 1 and sub.delivered == 3


async def test_closing_with_a_flush_pending_ends_the_drain_task(router: Router) -> None:
    got = Collector()
    sub = router.subscribe(DataType.TRADE, ["KRW-BTC"], got)
    await settle()
    router.publish(trade("KRW-BTC", 1))  # flush scheduled, not yet run
    task = sub._task
    assert task is not None
    sub.close()
    async with asyncio.timeout(TIMEOUT):
        await task
    await settle()
    assert got.events == []


async def test_inside_a_transport_read_the_flush_runs_when_the_read_ends(router: Router) -> None:
    got = Collector()
    router.subscribe(DataType.TRADE, ["KRW-BTC"], got)
    await settle()
    READ_BURST.active = True  # as a transport does while it hands over one socket read
    try:
        router.publish(trade("KRW-BTC", 1))
        router.publish(trade("KRW-BTC", 2))
        assert got.events == []  # batched until the read is handed over
    finally:
        READ_BURST.end()
    # Delivered at the end of the read itself, not in a later loop iteration.
    assert [e.sequential_id for e in got.events] == [1, 2]
