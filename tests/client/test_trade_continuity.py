"""TradeContinuity alone: live trades once and in order, backfill from a real REST server."""

from __future__ import annotations

from typing import Any

from client_harness import Spawner, trade

from upbit_tui.client.trades import SEEN_WINDOW, TradeContinuity
from upbit_tui.net.rest import UpbitRestClient
from upbit_tui.wire.events import TradeEvent


def continuity(rest: UpbitRestClient | None = None) -> tuple[TradeContinuity, list[TradeEvent]]:
    delivered: list[TradeEvent] = []

    def no_rest() -> UpbitRestClient:
        raise AssertionError("no REST call expected")

    return TradeContinuity(delivered.append, (lambda: rest) if rest else no_rest, Spawner()), (
        delivered
    )


def test_a_trade_seen_again_is_dropped_and_counted() -> None:
    trades, delivered = continuity()
    for sid in (1, 2, 2, 3, 1):
        trades.on_trade(trade(sid))
    assert [t.sequential_id for t in delivered] == [1, 2, 3]
    assert trades.duplicate_trades == 2


def test_markets_are_sequenced_separately() -> None:
    trades, delivered = continuity()
    trades.on_trade(trade(5, "KRW-BTC"))
    trades.on_trade(trade(1, "KRW-ETH"))
    assert [(t.symbol, t.sequential_id) for t in delivered] == [("KRW-BTC", 5), ("KRW-ETH", 1)]


async def test_live_trades_wait_behind_the_backfill_of_missed_ones(
    quiet_sim: Any, rest: UpbitRestClient
) -> None:
    trades, delivered = continuity(rest)
    spawner = trades._spawn
    assert isinstance(spawner, Spawner)
    first = quiet_sim.generate_trades(1, market="KRW-BTC")[0]
    trades.on_trade(trade(first.sequential_id, ts=first.trade_timestamp))
    missed = quiet_sim.generate_trades(4, market="KRW-BTC")  # traded while we were away
    trades.catch_up({"KRW-BTC"}, epoch=2)
    live = quiet_sim.generate_trades(1, market="KRW-BTC")[0]
    trades.on_trade(trade(live.sequential_id, ts=live.trade_timestamp))
    assert len(delivered) == 1  # held behind the backfill
    await spawner.settle()
    expected = [first.sequential_id, *(t.sequential_id for t in missed), live.sequential_id]
    assert [t.sequential_id for t in delivered] == expected
    assert [t.backfilled for t in delivered] == [False, True, True, True, True, False]
    assert trades.backfilled_trades == 4 and trades.trade_gaps == trades.trade_gaps.__class__()


async def test_a_failed_backfill_releases_held_trades_and_reports_the_gap() -> None:
    async with UpbitRestClient("http://127.0.0.1:1", max_retries=0) as unreachable:
        trades, delivered = continuity(unreachable)
        spawner = trades._spawn
        assert isinstance(spawner, Spawner)
        trades.on_trade(trade(10))
        trades.catch_up({"KRW-BTC"}, epoch=2)
        trades.on_trade(trade(15))
        await spawner.settle()
    assert [t.sequential_id for t in delivered] == [10, 15]
    assert trades.backfill_failures == 1
    (gap,) = trades.trade_gaps
    assert (gap["after_sequential_id"], gap["resumed_sequential_id"]) == (10, 15)
    assert trades.recent_gap_symbols() == ["KRW-BTC"]
    assert trades.report()["gaps"][0]["symbol"] == "KRW-BTC"


def test_ids_out_of_order_are_delivered_and_a_huge_one_leaves_the_window() -> None:
    trades, delivered = continuity()
    for sid in (10, 12, 11, 2**62, 14, 13, 12, 0, 10**400):
        trades.on_trade(trade(sid))
    assert [t.sequential_id for t in delivered] == [10, 12, 11, 2**62, 14, 13]
    assert (trades.duplicate_trades, trades.invalid_trades) == (1, 2)
    for sid in range(100, 100 + 2 * SEEN_WINDOW + 1):
        trades.on_trade(trade(sid))
    assert len(delivered) == 6 + 2 * SEEN_WINDOW + 1  # nothing dropped behind the huge id
    track = trades.tracks["KRW-BTC"]
    assert track.top < 2**62 and not track.has_seen(10)  # it and the old ids left the window
    assert SEEN_WINDOW <= len(track.ids) <= 2 * SEEN_WINDOW
