"""Trades from a hostile server (issue 9): odd ids, out-of-order ids, codes nobody asked for."""

from __future__ import annotations

import asyncio
from typing import Any

from hostile_upbit import HostileUpbit

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.client.trades import SILENCED_AFTER
from upbit_tui.wire.events import DataType, TradeEvent


class Trades:
    """A callback that keeps the trades it gets and lets a test await a count."""

    def __init__(self) -> None:
        self.events: list[TradeEvent] = []
        self.proxy: WebSocketClientProxy | None = None
        self._changed = asyncio.Event()

    def __call__(self, event: TradeEvent) -> None:
        self.events.append(event)
        self._changed.set()

    @property
    def ids(self) -> list[int]:
        return [t.sequential_id for t in self.events]

    async def wait_for(self, count: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.events) < count:
                await self._changed.wait()
                self._changed.clear()


async def subscribed(
    manager: GlobalWebSocketManager, upbit: HostileUpbit, codes: list[str]
) -> Trades:
    """A component's trade subscription (held by the returned collector), on the wire."""
    trades = Trades()
    trades.proxy = WebSocketClientProxy("tape", manager)  # collected proxies unsubscribe
    await trades.proxy.subscribe_trade(codes, trades)
    await upbit.wait_for_request()
    return trades


async def test_an_oversized_sequential_id_never_locks_the_market_out(
    manager: GlobalWebSocketManager, upbit: HostileUpbit
) -> None:
    trades = await subscribed(manager, upbit, ["KRW-BTC"])
    for sid in (100, 2**62, 10**400, 2**63, 0, -5, 101, 102):
        await upbit.send_trade("KRW-BTC", sid)
    await trades.wait_for(4)  # frames are handled in order: the bad ones came before 102
    # 2**62 is a valid Long: delivered, and it does not make 101 look old.
    assert trades.ids == [100, 2**62, 101, 102]
    assert manager.trades.invalid_trades == 4
    # Across a reconnect too: the market keeps streaming.
    await upbit.drop()
    await upbit.wait_for_request(2)
    await upbit.send_trade("KRW-BTC", 103)
    await trades.wait_for(5)
    assert trades.ids[-1] == 103
    assert (await manager.health_check())["invalid_trades"] == 4


async def test_a_market_whose_live_trades_are_all_dropped_is_reported(
    manager: GlobalWebSocketManager, upbit: HostileUpbit
) -> None:
    trades = await subscribed(manager, upbit, ["KRW-BTC", "KRW-ETH"])
    await upbit.send_trade("KRW-BTC", 7)
    await trades.wait_for(1)
    for _ in range(SILENCED_AFTER):
        await upbit.send_trade("KRW-BTC", 10**400)
    await upbit.send_trade("KRW-ETH", 1)  # a marker: the frames before it were read
    await trades.wait_for(2)
    health = await manager.health_check()
    assert health["status"] == "degraded"
    assert any("KRW-BTC" in r and "all being dropped" in r for r in health["reasons"])
    await upbit.send_trade("KRW-BTC", 8)  # a good trade again: the report ends
    await trades.wait_for(3)
    assert not any("all being dropped" in r for r in (await manager.health_check())["reasons"])


async def test_unique_trades_out_of_id_order_are_all_delivered_once(
    manager: GlobalWebSocketManager, upbit: HostileUpbit
) -> None:
    trades = await subscribed(manager, upbit, ["KRW-BTC"])
    base = 1_000
    for step in (0, 10, 12, 11, 14, 13, 12, 10):  # the last two are re-sent: duplicates
        await upbit.send_trade("KRW-BTC", base + step)
    await upbit.send_trade("KRW-BTC", base + 15)
    await trades.wait_for(7)
    assert trades.ids == [base + s for s in (0, 10, 12, 11, 14, 13, 15)]
    assert manager.duplicate_trades == 2


async def test_backfill_and_held_trades_with_out_of_order_ids_arrive_once_in_time_order(
    manager: GlobalWebSocketManager, upbit: HostileUpbit
) -> None:
    trades = await subscribed(manager, upbit, ["KRW-BTC"])
    for sid in (500, 520, 510):
        await upbit.send_trade("KRW-BTC", sid)
    await trades.wait_for(3)
    await upbit.drop()
    missed = [upbit.trade_while_away("KRW-BTC", sid)["sequential_id"] for sid in (530, 505, 540)]
    await upbit.wait_for_request(2)
    # Live again: Upbit re-sends the last trade, then new ones (some REST also knows of).
    for sid in (510, 535, 525):
        await upbit.send_trade("KRW-BTC", sid)
    await trades.wait_for(8)
    assert trades.ids == [500, 520, 510, *missed, 535, 525]
    assert [t.backfilled for t in trades.events] == [False] * 3 + [True] * 3 + [False] * 2
    times = [t.trade_timestamp for t in trades.events]
    assert times == sorted(times)
    assert manager.backfilled_trades == 3


async def test_events_for_codes_nobody_subscribed_keep_no_state(
    manager: GlobalWebSocketManager, upbit: HostileUpbit
) -> None:
    trades = await subscribed(manager, upbit, ["KRW-BTC"])
    flood = [{**_trade(f"KRW-X{i:05d}", i + 1)} for i in range(5_000)]
    await upbit.send(flood)  # one SIMPLE-list frame of 5,000 unsolicited trades
    await upbit.send_trade("KRW-BTC", 1)
    await trades.wait_for(1)
    assert manager.frames.unsolicited == 5_000
    assert list(manager.trades.tracks) == ["KRW-BTC"]
    assert manager._router_latest(DataType.TRADE, "KRW-X00007") is None
    assert manager.dashboard()["unsolicited_events"] == 5_000
    assert (await manager.health_check())["unsolicited_events"] == 5_000


def _trade(code: str, sid: int) -> dict[str, Any]:
    from hostile_upbit import BASE_MS, trade_message

    return trade_message(code, sid, BASE_MS)
