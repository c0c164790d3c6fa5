"""Chaos: every fault the simulator offers, at random, while three proxies stream.

Faults (one every 0.5-2.5 s): abrupt drop; clean close (1000, 1001, 1011, 4000); half-open stall;
handshakes refused with 429 or 418, with `Retry-After` and without it; a server that forgets the
subscription; a silent market; REST failures (429/5xx) during the trade backfill after a drop;
Upbit error frames; malformed and hostile frames (truncated JSON, JSON nested 100k deep, unknown
types, numbers beyond a Long, bytes that are not UTF-8). A silent market must NOT cost a
reconnect; a forgotten subscription must come back on the same socket (no new epoch).

Reported: faults injected and recovered (per kind), time to recover p50/p99, the longest silence
(no event delivered to any proxy; also excluding the deliberate "silent" faults), trades lost and
duplicated against the simulator's own trade record (order-agnostic, so out-of-order
`sequential_id`s count as delivered once), stale-epoch events, rate-limit violations, RSS and
asyncio task counts at start and end (simulator and client share this process).

    .venv/bin/python bench/bench_chaos.py                 # 60 s
    .venv/bin/python bench/bench_chaos.py --minutes 30    # the soak the issue asks for
    .venv/bin/python bench/bench_chaos.py --without error_frame   # leave a kind out
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
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))  # suite_harness

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
KILLING = ["drop", "close", "stall", "reject429", "reject418", "reject429_bare", "reject418_bare"]
KILLING += ["rest_fault"]
HARMLESS = ["error_frame", "malformed", "hostile_frame", "silent"]
RESUBSCRIBING = ["forget"]
CLOSE_CODES = [1000, 1001, 1011, 4000]
HOSTILE_FRAMES: list[bytes] = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"type":"announcement","code":"KRW-BTC"}',
    b'{"type":"ticker","code":"KRW-BTC","timestamp":1' + b"0" * 400 + b"}",
    b'{"type":"trade","code":"KRW-BTC","sequential_id":"x"}',
    b"\xff\xfe garbage",
]
RATE = 100.0


class Recorder:
    """A proxy's callback: counts events, notes the longest gap, keeps trades for checking."""

    def __init__(self, manager: GlobalWebSocketManager, silence: Silence) -> None:
        self.manager = manager
        self.silence = silence
        # code -> [(trade ms, sid, REALTIME?)] not checked yet
        self.trades: dict[str, list[tuple[int, int, bool]]] = {}
        self.events = 0
        self.stale = 0

    def __call__(self, event: Any) -> None:
        self.events += 1
        self.silence.event()
        if event.epoch and event.epoch != self.manager.epochs.current("public"):
            self.stale += 1
        if isinstance(event, TradeEvent):
            self.trades.setdefault(event.symbol, []).append(
                (event.trade_timestamp, event.sequential_id, event.stream_type == "REALTIME")
            )


class Silence:
    """Gaps between consecutive events delivered to any proxy, with the deliberate ones apart."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.gaps: list[tuple[float, float]] = []  # (start, end) of gaps over 0.5 s
        self.deliberate: list[tuple[float, float]] = []  # "silent" fault windows

    def event(self) -> None:
        now = time.monotonic()
        if now - self.last > 0.5:
            self.gaps.append((self.last, now))
        self.last = now

    def longest(self, *, excluding_deliberate: bool) -> float:
        longest = 0.0
        for start, end in self.gaps:
            if excluding_deliberate and any(
                start < d_end and end > d_start for d_start, d_end in self.deliberate
            ):
                continue
            longest = max(longest, end - start)
        return longest


class TradeCheck:
    """Delivered trades against the simulator's record, by trade time (order-agnostic).

    Trades up to `settle` seconds old are compared: every trade the simulator made in a window
    must have been delivered to the recorder exactly once. Checked ids are remembered for
    `horizon` seconds, so a late duplicate still counts.
    """

    def __init__(self, codes: list[str], settle: float = 15.0, horizon: float = 120.0) -> None:
        self.codes = codes
        self.settle_ms = int(settle * 1000)
        self.horizon_ms = int(horizon * 1000)
        self.checked_to: dict[str, int] = {}  # code -> trade ms checked up to (inclusive)
        self.seen: dict[str, dict[int, int]] = {}  # code -> sid -> trade ms (checked, recent)
        self.checked = self.lost = self.duplicated = 0
        self.lost_examples: list[str] = []

    def start(self, recorder: Recorder) -> None:
        """Check from the next trade delivered on (what came before is the subscription's
        start, not recovery: a busy machine can hold the first frames back for seconds)."""
        for code in self.codes:
            recorder.trades[code] = []

    def check(self, sim: Any, recorder: Recorder, *, final: bool = False) -> None:
        now_ms = int(time.time() * 1000)
        cutoff = now_ms if final else now_ms - self.settle_ms
        for code in self.codes:
            pending = recorder.trades.get(code, [])
            if code not in self.checked_to:
                live = [ms for ms, _, realtime in pending if realtime]
                if not live:
                    continue
                # A SNAPSHOT trade is the market's last before we subscribed: start after it.
                self.checked_to[code] = live[0] - 1
            start = self.checked_to[code]
            if cutoff <= start:
                continue  # nothing settled since the last check
            seen = self.seen.setdefault(code, {})
            keep = []
            counts: dict[int, int] = {}
            for ms, sid, realtime in pending:
                if ms > cutoff:
                    keep.append((ms, sid, realtime))
                elif ms <= start or sid in seen:
                    if sid in seen:
                        self.duplicated += 1  # delivered again after its window was checked
                    # else: delivered late, after its window was counted lost: not a duplicate
                else:
                    counts[sid] = counts.get(sid, 0) + 1
            recorder.trades[code] = keep
            truth = {
                t.sequential_id: t.trade_timestamp
                for t in sim.model.trades(code, count=20_000)
                if start < t.trade_timestamp <= cutoff
            }
            self.duplicated += sum(n - 1 for n in counts.values())
            missing = set(truth) - set(counts)
            self.lost += len(missing)
            if missing and len(self.lost_examples) < 10:
                when = sorted(truth[sid] for sid in missing)[:5]
                self.lost_examples.append(
                    f"{code}: trades at {when} (ms) of ids {sorted(missing)[:5]}"
                )
            self.checked += len(counts)
            seen.update((sid, truth.get(sid, cutoff)) for sid in counts)
            for sid in [s for s, ms in seen.items() if ms < cutoff - self.horizon_ms]:
                del seen[sid]
            self.checked_to[code] = cutoff


async def inject(sim: Any, fault: str, config: Any, silence: Silence) -> None:
    if fault == "drop":
        sim.faults.drop_all(endpoint="public")
    elif fault == "close":
        sim.faults.close_all(code=random.choice(CLOSE_CODES), endpoint="public")
    elif fault == "stall":
        sim.faults.stall(
            seconds=config.connection.ping_interval + config.connection.ping_timeout + 1
        )
    elif fault == "silent":
        started = time.monotonic()
        sim.set_rate(0.0)
        # Longer than the watchdog needs to probe: a candle push can come up to 1 s into it.
        await asyncio.sleep(config.connection.stale_after * 2 + 1.0)
        sim.set_rate(RATE)
        silence.deliberate.append((started, time.monotonic() + 1.0))
    elif fault == "forget":
        sim.faults.forget_subscriptions(endpoint="public")
    elif fault.startswith("reject"):
        status = int(fault[6:9])
        bare = fault.endswith("_bare")
        sim.faults.reject_handshakes(random.randint(1, 2), status=status, retry_after=not bare)
        sim.faults.drop_all(endpoint="public")
    elif fault == "rest_fault":
        # The trade backfill after the drop meets failures; it retries (bounded) and must
        # still close the gap.
        sim.faults.fail_rest(random.randint(1, 2), status=random.choice([429, 500, 503]))
        sim.faults.drop_all(endpoint="public")
    elif fault == "error_frame":
        sim.faults.send_error(name="INVALID_PARAM", message="chaos")
    elif fault == "malformed":
        sim.faults.send_malformed()
    elif fault == "hostile_frame":
        sim.faults.send_malformed(payload=random.choice(HOSTILE_FRAMES), endpoint="public")


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


async def main(seconds: float, seed: int, without: frozenset[str] = frozenset()) -> dict[str, Any]:
    random.seed(seed)
    kinds = [f for f in KILLING + HARMLESS + RESUBSCRIBING if f not in without]
    async with ExchangeServer(seed=seed, markets=20, rate=RATE, port=0) as sim:
        config = fast_config(
            sim,
            ping_interval=0.5,
            ping_timeout=0.5,
            stale_after=1.5,
            reconnect_initial_delay=0.05,
            reconnect_max_delay=2.0,
            reconnect_reset_after=30.0,  # the default: resets come from delivered data
            unsubscribe_grace=0.5,
        )
        async with GlobalWebSocketManager(config) as manager:
            silence = Silence()
            recorders = [Recorder(manager, silence) for _ in range(3)]
            a = WebSocketClientProxy("trades", manager)
            b = WebSocketClientProxy("quotes", manager)
            c = WebSocketClientProxy("chart", manager)
            await a.subscribe_trade(TRADES, recorders[0])
            await b.subscribe_ticker(["KRW-BTC", "KRW-SOL", "KRW-DOGE"], recorders[1])
            await b.subscribe_orderbook(["KRW-BTC"], recorders[1], depth=15)
            await c.subscribe_candle(["KRW-BTC", "KRW-ETH"], "1m", recorders[2])
            await c.subscribe_trade(["KRW-BTC", "KRW-SOL"], recorders[2])
            checks = [TradeCheck(TRADES), TradeCheck([]), TradeCheck(["KRW-BTC", "KRW-SOL"])]
            conn = manager.connections()["public"]
            await wait_for(lambda: live_subscription(sim) == EXPECTED, 10.0)

            def flowing() -> bool:
                return all(
                    any(realtime for _, _, realtime in recorder.trades.get(code, []))
                    for recorder, check in zip(recorders, checks, strict=True)
                    for code in check.codes
                )

            # The simulator builds each market's past on first use: on a busy machine the first
            # frames can take seconds. Measure from a flowing stream.
            await wait_for(flowing, 30.0)
            await asyncio.sleep(1.0)
            gc.collect()
            rss_start = psutil.Process().memory_info().rss / 2**20
            tasks_start = len(asyncio.all_tasks())
            traced = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
            for recorder, check in zip(recorders, checks, strict=True):
                check.start(recorder)
            started = time.monotonic()
            silence.gaps.clear()
            silence.last = started
            recoveries: list[float] = []
            recovered_by_kind: dict[str, int] = {}
            failures: dict[str, int] = {}
            needless: dict[str, int] = {}  # reconnects a harmless fault caused
            resubscribed: list[float] = []
            counts: dict[str, int] = {}
            timeline: list[str] = []  # wall ms and fault, to place lost trades
            last_check = started

            def check_all(*, final: bool = False) -> None:
                for recorder, check in zip(recorders, checks, strict=True):
                    check.check(sim, recorder, final=final)

            while time.monotonic() - started < seconds:
                await asyncio.sleep(random.uniform(0.5, 2.5))
                fault = random.choice(kinds)
                counts[fault] = counts.get(fault, 0) + 1
                epoch = manager.epochs.current("public")
                resubscribes = conn.resubscribes
                t0 = time.monotonic()
                timeline.append(f"{int(time.time() * 1000)} {fault}")
                await inject(sim, fault, config, silence)
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
                        recovered_by_kind[fault] = recovered_by_kind.get(fault, 0) + 1
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
                    recovered_by_kind[fault] = recovered_by_kind.get(fault, 0) + 1
                else:
                    failures[fault] = failures.get(fault, 0) + 1
                    print(f"not recovered after {fault}: {conn.status()}", file=sys.stderr)
                sim.faults.resume()
                if time.monotonic() - last_check > 10.0:
                    check_all()
                    last_check = time.monotonic()
            sim.faults.clear()
            # Settle with the market stopped: every trade made is then delivered or lost, none
            # is still on its way when the final check's window closes at "now".
            sim.set_rate(0.0)
            await asyncio.sleep(15.0)  # settle: the last trades delivered and backfilled
            check_all(final=True)
            gc.collect()
            rss_end = psutil.Process().memory_info().rss / 2**20
            tasks_end = len(asyncio.all_tasks())
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
    injected = sum(counts.values())
    harmless_ok = sum(counts[f] for f in counts if f in HARMLESS) - sum(needless.values())
    return {
        "seconds": round(seconds),
        "faults_injected": injected,
        "faults": dict(sorted(counts.items())),
        "connection_faults": attempted,
        "recovered": len(recoveries) + len(resubscribed),
        "recovered_by_kind": dict(sorted(recovered_by_kind.items())),
        "harmless_faults_without_a_reconnect": harmless_ok,
        "recovery_success_rate": (
            round((len(recoveries) + len(resubscribed)) / attempted, 4) if attempted else None
        ),
        "resubscribed_without_reconnect": len(resubscribed),
        "resubscribe_p50_s": round(_pct(resubscribed, 0.5), 3),
        "needless_reconnects": needless,
        "not_recovered_within_30s": failures,
        "recover_p50_s": round(_pct(recoveries, 0.5), 3),
        "recover_p99_s": round(_pct(recoveries, 0.99), 3),
        "recover_max_s": round(max(recoveries, default=float("nan")), 3),
        "longest_silence_s": round(silence.longest(excluding_deliberate=False), 3),
        "longest_silence_outside_silent_faults_s": round(
            silence.longest(excluding_deliberate=True), 3
        ),
        "trades_checked": sum(c.checked for c in checks),
        "trades_lost": sum(c.lost for c in checks),
        "trades_duplicated": sum(c.duplicated for c in checks),
        "lost_examples": [e for c in checks for e in c.lost_examples],
        "fault_timeline": timeline if any(c.lost for c in checks) else [],
        "backfilled_trades": manager.backfilled_trades,
        "stale_events_delivered": stale,
        "events_delivered": delivered,
        "message_rate_violations": violations,
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_growth_mb": round(rss_end - rss_start, 1),
        "asyncio_tasks_start": tasks_start,
        "asyncio_tasks_end": tasks_end,
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
    parser.add_argument(
        "--without",
        default="",
        metavar="KIND,...",
        help="fault kinds to leave out (to isolate one problem), e.g. error_frame",
    )
    args = parser.parse_args()
    without = frozenset(k for k in args.without.split(",") if k)
    unknown = without - set(KILLING + HARMLESS + RESUBSCRIBING)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    if args.tracemalloc:
        tracemalloc.start()
    print(json.dumps(asyncio.run(main(args.minutes * 60, args.seed, without)), indent=2))
