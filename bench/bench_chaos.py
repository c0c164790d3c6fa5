"""Chaos: random faults while three proxies stream; does recovery cost anything?

The simulator injects a random fault every 0.5-2.5 s (abrupt drop, clean close, half-open stall,
handshake refused with 429 or 418, a server that forgets the subscription, a silent market, an
error frame, a malformed frame) while three proxies stream trades, tickers, an orderbook and
candles. A silent market must NOT cost a reconnect (the watchdog's probe finds it quiet); a
forgotten subscription must come back on the same socket (no new epoch). Reported: recovery
success rate, time to recover p50/p99 (fault -> new epoch live with the full subscription back
on the wire), trades lost and duplicated against the simulator's own trade record (goal 0),
events of an older epoch delivered (goal 0), rate-limit violations, and RSS growth (goal flat;
simulator and client share this process).

    .venv/bin/python bench/bench_chaos.py              # 60 s
    .venv/bin/python bench/bench_chaos.py --minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import sys
import time
import tracemalloc
from typing import Any

import psutil

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "runtime"))

from runtime_helpers import fast_config, live_subscription, sessions

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.exchange import ExchangeServer
from upbit_tui.wire.events import TradeEvent

TRADES = ["KRW-BTC", "KRW-ETH", "KRW-XRP"]
EXPECTED = {
    "trade": {"KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"},
    "ticker": {"KRW-BTC", "KRW-SOL", "KRW-DOGE"},
    "orderbook": {"KRW-BTC.15"},
    "candle.1m": {"KRW-BTC", "KRW-ETH"},
}
KILLING = ["drop", "close", "stall", "reject429", "reject418"]
HARMLESS = ["error_frame", "malformed", "silent"]
RESUBSCRIBING = ["forget"]
RATE = 100.0


class Recorder:
    def __init__(self, manager: GlobalWebSocketManager) -> None:
        self.manager = manager
        self.trades: dict[str, list[int]] = {}
        self.events = 0
        self.stale = 0

    def __call__(self, event: Any) -> None:
        self.events += 1
        if event.epoch and event.epoch != self.manager.epochs.current("public"):
            self.stale += 1
        if isinstance(event, TradeEvent):
            self.trades.setdefault(event.symbol, []).append(event.sequential_id)


def check_trades(sim: Any, recorder: Recorder, checked_to: dict[str, int]) -> tuple[int, int, int]:
    """Compare delivered trades since the last check with the simulator; returns
    (checked, missing, duplicated) and forgets what was checked (bounded memory)."""
    checked = missing = duplicated = 0
    for code, sids in recorder.trades.items():
        if not sids:
            continue
        start = checked_to.get(code, sids[0] - 1)
        end = sids[-1]
        truth = [
            t.sequential_id
            for t in reversed(sim.model.trades(code, count=5000))
            if start < t.sequential_id <= end
        ]
        delivered = [s for s in sids if start < s <= end]
        duplicated += len(delivered) - len(set(delivered)) + (len(sids) - len(delivered))
        missing += len(set(truth) - set(delivered))
        checked += len(delivered)
        checked_to[code] = end
        recorder.trades[code] = []
    return checked, missing, duplicated


async def inject(sim: Any, fault: str, config: Any) -> None:
    if fault == "drop":
        sim.faults.drop_all(endpoint="public")
    elif fault == "close":
        sim.faults.close_all(code=1001, endpoint="public")
    elif fault == "stall":
        sim.faults.stall(
            seconds=config.connection.ping_interval + config.connection.ping_timeout + 1
        )
    elif fault == "silent":
        sim.set_rate(0.0)
        # Longer than the watchdog needs to probe: a candle push can come up to 1 s into it.
        await asyncio.sleep(config.connection.stale_after * 2 + 1.0)
        sim.set_rate(RATE)
    elif fault == "forget":
        sim.faults.forget_subscriptions(endpoint="public")
    elif fault in ("reject429", "reject418"):
        sim.faults.reject_handshakes(random.randint(1, 2), status=int(fault[-3:]))
        sim.faults.drop_all(endpoint="public")
    elif fault == "error_frame":
        sim.faults.send_error(name="INVALID_PARAM", message="chaos")
    elif fault == "malformed":
        sim.faults.send_malformed()


def _traced_growth(before: tracemalloc.Snapshot) -> dict[str, float]:
    """Python heap growth since `before`, split into simulator and client (KiB)."""
    sides = {"simulator": 0.0, "client": 0.0, "other": 0.0}
    for stat in tracemalloc.take_snapshot().compare_to(before, "filename"):
        name = stat.traceback[0].filename
        if "upbit_tui/exchange" in name or "aiohttp" in name:
            side = "simulator"
        elif "upbit_tui" in name or "websockets" in name:
            side = "client"
        else:
            side = "other"
        sides[side] += stat.size_diff / 1024
    return {k: round(v, 1) for k, v in sides.items()}


async def wait_for(condition: Any, seconds: float) -> bool:
    """Poll a condition on the simulator's state (no event exists for it); False on timeout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return False


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


async def main(seconds: float, seed: int) -> dict[str, Any]:
    random.seed(seed)
    async with ExchangeServer(seed=seed, markets=20, rate=RATE, port=0) as sim:
        config = fast_config(
            sim,
            ping_interval=0.5,
            ping_timeout=0.5,
            stale_after=1.5,
            reconnect_initial_delay=0.05,
            reconnect_max_delay=2.0,
            reconnect_reset_after=1.0,
            unsubscribe_grace=0.5,
        )
        async with GlobalWebSocketManager(config) as manager:
            recorders = [Recorder(manager) for _ in range(3)]
            a = WebSocketClientProxy("trades", manager)
            b = WebSocketClientProxy("quotes", manager)
            c = WebSocketClientProxy("chart", manager)
            await a.subscribe_trade(TRADES, recorders[0])
            await b.subscribe_ticker(["KRW-BTC", "KRW-SOL", "KRW-DOGE"], recorders[1])
            await b.subscribe_orderbook(["KRW-BTC"], recorders[1], depth=15)
            await c.subscribe_candle(["KRW-BTC", "KRW-ETH"], "1m", recorders[2])
            await c.subscribe_trade(["KRW-BTC", "KRW-SOL"], recorders[2])
            conn = manager.connections()["public"]
            await wait_for(lambda: live_subscription(sim) == EXPECTED, 10.0)
            await asyncio.sleep(1.0)
            gc.collect()
            rss_start = psutil.Process().memory_info().rss / 2**20
            traced = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
            started = time.monotonic()
            recoveries: list[float] = []
            failures: dict[str, int] = {}
            needless: dict[str, int] = {}  # reconnects a harmless fault caused
            resubscribed: list[float] = []
            counts: dict[str, int] = {}
            checked_to: list[dict[str, int]] = [{}, {}, {}]
            totals = [0, 0, 0]

            def check_all() -> None:
                for recorder, seen in zip(recorders, checked_to, strict=True):
                    for i, v in enumerate(check_trades(sim, recorder, seen)):
                        totals[i] += v

            while time.monotonic() - started < seconds:
                await asyncio.sleep(random.uniform(0.5, 2.5))
                fault = random.choice(KILLING + HARMLESS + RESUBSCRIBING)
                counts[fault] = counts.get(fault, 0) + 1
                epoch = manager.epochs.current("public")
                resubscribes = conn.resubscribes
                t0 = time.monotonic()
                await inject(sim, fault, config)
                if fault in HARMLESS:
                    if manager.epochs.current("public") != epoch:
                        needless[fault] = needless.get(fault, 0) + 1
                    continue
                if fault in RESUBSCRIBING:
                    recovered = await wait_for(
                        lambda r=resubscribes: (  # type: ignore[misc]
                            conn.resubscribes > r
                            and live_subscription(sim) == EXPECTED
                            and not manager._backfills
                        ),
                        30.0,
                    )
                    if recovered and manager.epochs.current("public") == epoch:
                        resubscribed.append(time.monotonic() - t0)
                    else:
                        failures[fault] = failures.get(fault, 0) + 1
                        print(f"not restored after {fault}: {conn.status()}", file=sys.stderr)
                    continue
                recovered = await wait_for(
                    lambda e=epoch: (  # type: ignore[misc]
                        manager.epochs.current("public") > e
                        and conn.is_live
                        and live_subscription(sim) == EXPECTED
                        and not manager._backfills
                    ),
                    30.0,
                )
                if recovered:
                    recoveries.append(time.monotonic() - t0)
                else:
                    failures[fault] = failures.get(fault, 0) + 1
                    print(f"not recovered after {fault}: {conn.status()}", file=sys.stderr)
                sim.faults.resume()
                if len(recoveries) % 10 == 0:
                    check_all()
            await asyncio.sleep(1.0)
            check_all()
            gc.collect()
            rss_end = psutil.Process().memory_info().rss / 2**20
            growth_by_side = _traced_growth(traced) if traced is not None else None
            violations = 0
            for session in sessions(sim):
                times = sorted(r["at_ms"] for r in session["requests"])
                for i, t in enumerate(times):
                    if sum(1 for u in times[i:] if u - t < 1000) > 5:
                        violations += 1
            health = await a.health_check()
            stale = sum(r.stale for r in recorders)
            delivered = sum(r.events for r in recorders)
            for proxy in (a, b, c):
                await proxy.cleanup()
    attempted = sum(counts[f] for f in counts if f in KILLING + RESUBSCRIBING)
    return {
        "seconds": round(seconds),
        "faults": counts,
        "connection_faults": attempted,
        "recovered": len(recoveries) + len(resubscribed),
        "recovery_success_rate": (
            round((len(recoveries) + len(resubscribed)) / attempted, 4) if attempted else None
        ),
        "resubscribed_without_reconnect": len(resubscribed),
        "resubscribe_p50_s": round(_pct(resubscribed, 0.5), 3),
        "needless_reconnects": needless,
        "not_recovered_within_30s": failures,
        "recover_p50_s": round(_pct(recoveries, 0.5), 3),
        "recover_p99_s": round(_pct(recoveries, 0.99), 3),
        "trades_checked": totals[0],
        "trades_lost": totals[1],
        "trades_duplicated": totals[2],
        "backfilled_trades": manager.backfilled_trades,
        "stale_events_delivered": stale,
        "events_delivered": delivered,
        "message_rate_violations": violations,
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_growth_mb": round(rss_end - rss_start, 1),
        "traced_growth_kb": growth_by_side,
        "final_status": health["status"],
        "final_reasons": health["reasons"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="duration (default 1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="split heap growth into simulator and client"
    )
    args = parser.parse_args()
    if args.tracemalloc:
        tracemalloc.start()
    print(json.dumps(asyncio.run(main(args.minutes * 60, args.seed)), indent=2))
