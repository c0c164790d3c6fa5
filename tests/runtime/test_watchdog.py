"""Silence is probed before it is punished: the staleness watchdog against the simulator.

Quiet markets legitimately send nothing for minutes. The watchdog asks the server
(LIST_SUBSCRIPTIONS) before it gives a silent connection up: quiet-but-subscribed stays connected,
a subscription the server lost is sent again on the same socket (and the missed trades fetched),
and only a server that does not answer is reconnected (test_faults.py covers that one).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

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
from upbit_tui.wire.codec import ListedSubscription, SubscriptionList, listing_matches
from upbit_tui.wire.events import TradeEvent

STALE_AFTER = 0.3
TRADE_CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP"]


def _requests(session: dict[str, Any]) -> list[tuple[int, list[Any]]]:
    return [(r["at_ms"], json.loads(r["message"])) for r in session["requests"]]


def _is_probe(message: list[Any]) -> bool:
    return any(item.get("method") == "LIST_SUBSCRIPTIONS" for item in message)


async def test_a_quiet_subscription_is_probed_and_stays_connected() -> None:
    async with (
        ExchangeServer(seed=3, markets=20, rate=0.0, port=0) as sim,
        GlobalWebSocketManager(fast_config(sim, stale_after=STALE_AFTER)) as manager,
    ):
        ticks = Collector()
        proxy = WebSocketClientProxy("quiet", manager)
        await proxy.subscribe_ticker(["KRW-BTC"], ticks)
        await proxy.subscribe_orderbook(["KRW-ETH"], ticks, depth=5)
        await proxy.subscribe_candle(["KRW-XRP"], "1m", ticks)
        await on_wire(
            sim, {"ticker": {"KRW-BTC"}, "orderbook": {"KRW-ETH.5"}, "candle.1m": {"KRW-XRP"}}
        )
        conn = manager.connections()["public"]

        def probes_received() -> list[int]:
            (session,) = sessions(sim, "public")  # one socket all along
            return [at for at, message in _requests(session) if _is_probe(message)]

        # Several stale_after periods of silence (no trades at all), each probed once.
        await wait_until(lambda: len(probes_received()) >= 3, within=10, what="three probes")
        probes = probes_received()
        # At most one probe per stale_after window (5 ms: the two clocks' resolution).
        assert all(b - a >= STALE_AFTER * 1000 - 5 for a, b in itertools.pairwise(probes))

        assert conn.is_live and conn.epoch == 1
        assert (conn.reconnects, conn.stale_closes, conn.resubscribes) == (0, 0, 0)
        status = manager.dashboard()["connections"]["public"]
        assert status["state"] == "live" and status["quiet"] is True
        assert status["silent_for"] > STALE_AFTER and status["probes"] >= 3
        health = await proxy.health_check()
        assert not any("connection" in reason for reason in health["reasons"]), health
        assert_within_message_limits(sim)

        # Data ends the quiet.
        mark = len(ticks.events)
        sim.generate_trades(1, market="KRW-BTC")
        await ticks.wait_for(lambda c: len(c.events) > mark)
        assert manager.dashboard()["connections"]["public"]["quiet"] is False
        await proxy.cleanup()


async def test_a_lost_subscription_is_sent_again_on_the_same_socket(sim: Any) -> None:
    async with GlobalWebSocketManager(fast_config(sim, stale_after=STALE_AFTER)) as manager:
        trades, quotes = Collector(), Collector()
        proxy = WebSocketClientProxy("forgotten", manager)
        await proxy.subscribe_trade(TRADE_CODES, trades)
        await proxy.subscribe_ticker(["KRW-SOL"], quotes)
        await proxy.subscribe_orderbook(["KRW-BTC"], quotes, depth=5)
        expected = {"trade": set(TRADE_CODES), "ticker": {"KRW-SOL"}, "orderbook": {"KRW-BTC.5"}}
        await on_wire(sim, expected)
        await trades.wait_for(lambda c: len(c.events) >= 30)
        conn = manager.connections()["public"]
        (before,) = [s for s in sessions(sim, "public") if s["open"]]
        subscribe = _requests(before)[-1][1]

        assert sim.faults.forget_subscriptions(endpoint="public") == 1
        missed = sim.generate_trades(5, market="KRW-ETH")  # nobody hears of these live
        await wait_until(lambda: conn.resubscribes == 1, what="subscription sent again")
        await on_wire(sim, expected)
        mark = len(trades.events)
        await trades.wait_for(
            lambda c: len(c.events) >= mark + 30 and not manager._backfills, within=10
        )

        # Same socket, same epoch: no reconnect, nothing counted as one.
        (session,) = sessions(sim, "public")
        assert session["id"] == before["id"]
        assert conn.epoch == 1 and conn.reconnects == 0 and conn.stale_closes == 0
        # The probe, then the whole request again, byte for byte what was asked before.
        messages = [message for _, message in _requests(session)]
        probe_at = max(i for i, m in enumerate(messages) if _is_probe(m))
        assert messages[probe_at + 1] == subscribe
        # What traded while the server had forgotten us came from REST, in order, once (the
        # last of it may instead come live, as the snapshot of the re-sent subscription).
        delivered = {e.sequential_id: e for e in trades.events if isinstance(e, TradeEvent)}
        assert all(t.sequential_id in delivered for t in missed)
        assert all(delivered[t.sequential_id].backfilled for t in missed[:-1])
        assert assert_trades_exact(sim, trades.events, TRADE_CODES) >= 60
        assert manager.backfill_failures == 0
        assert_within_message_limits(sim)
        await proxy.cleanup()


def test_listing_comparison_is_lenient_about_orderbook_depth_suffixes_only() -> None:
    request = json.dumps(
        [
            {"ticket": "t"},
            {"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]},
            {"type": "orderbook", "codes": ["KRW-BTC.5"], "level": 0},
            {"type": "orderbook", "codes": ["KRW-ETH"], "level": 1000},
            {"format": "DEFAULT"},
        ]
    )

    def listing(*items: tuple[str, list[str]]) -> SubscriptionList:
        return SubscriptionList(result=[ListedSubscription(t, codes) for t, codes in items])

    echoed = listing(("ticker", ["KRW-ETH", "KRW-BTC"]), ("orderbook", ["KRW-BTC", "KRW-ETH"]))
    assert listing_matches(request, echoed)
    with_suffix = listing(("ticker", ["KRW-BTC", "KRW-ETH"]), ("orderbook", ["KRW-BTC.5"]))
    assert not listing_matches(request, with_suffix)  # KRW-ETH's book is missing
    assert not listing_matches(request, listing())  # the server forgot everything
    assert not listing_matches(request, listing(("ticker", ["KRW-BTC", "KRW-ETH"])))
    assert not listing_matches(
        request, listing(("trade", ["KRW-BTC", "KRW-ETH"]), ("orderbook", ["KRW-BTC", "KRW-ETH"]))
    )
    assert not listing_matches(b"not json", echoed)
