"""The TUI under a full-market firehose: event-loop lag, CPU and repaint rates per pane.

Runs the simulator in a child process (`upbit-tui exchange`) so this process's CPU is the app's
alone, then runs the real app headless twice against it, with the watchlist holding every KRW
market: first with the simulator idle (rate 0: the baseline, timers still firing), then under a
high trade rate. Reports, for each phase, event-loop lag p50/p99 (how late a 10 ms sleep wakes
up) and the worst single stall, process CPU %, messages/s seen by the manager, and repaints per
second per pane; and the ratios load/idle measured in the same run.

    .venv/bin/python bench/bench_ui.py [--markets 244] [--rate 3000] [--seconds 10]
        [--event-loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from upbit_tui.config import (  # noqa: E402
    AuthConfig,
    Config,
    ExchangeConfig,
    LoggingConfig,
    WatchlistConfig,
)
from upbit_tui.eventloop import resolve_event_loop  # noqa: E402
from upbit_tui.eventloop import run as run_on_loop  # noqa: E402
from upbit_tui.logsetup import setup_logging  # noqa: E402
from upbit_tui.tui.app import make_app  # noqa: E402
from widgets.proxy_pane import ProxyPane  # noqa: E402

PANES = ("watchlist", "orderbook", "candles", "balances")


@dataclasses.dataclass
class Phase:
    name: str
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    cpu_percent: float
    messages_per_second: float
    cpu_ms_per_1000_messages: float
    repaints_per_second: dict[str, float]


class LoopSampler:
    """How late a 10 ms sleep wakes up, and this process's CPU over the same window."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.process = psutil.Process(os.getpid())

    async def run(self, seconds: float) -> tuple[float, float]:
        times = self.process.cpu_times()
        cpu_before = times.user + times.system
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append((time.perf_counter() - before - 0.01) * 1000)
        elapsed = time.monotonic() - started
        times = self.process.cpu_times()
        return elapsed, times.user + times.system - cpu_before

    def percentiles(self) -> tuple[float, float, float]:
        """p50, p99 and the worst stall (what a key press may wait for), in ms."""
        lags = sorted(self.lags)
        return statistics.median(lags), lags[max(0, int(len(lags) * 0.99) - 1)], lags[-1]


def start_simulator(markets: int, rate: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    exe = Path(sys.executable).with_name("upbit-tui")
    command = [
        str(exe),
        "exchange",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--seed",
        "11",
        "--markets",
        str(markets),
        "--rate",
        str(rate),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    urls = re.findall(r"(wss?://\S+|https?://\S+)", line)
    if len(urls) < 3:
        proc.kill()
        detail = proc.stderr.read() if proc.stderr else ""
        raise SystemExit(f"simulator did not print its URLs: {line!r} {detail}")
    found = {
        "websocket_url": next(u for u in urls if u.startswith("ws") and "private" not in u),
        "private_websocket_url": next(u for u in urls if "private" in u),
        "rest_url": next(u for u in urls if u.startswith("http")).rstrip(",;").removesuffix("/v1"),
    }
    return proc, found


def bench_config(urls: dict[str, str], symbols: tuple[str, ...], log_file: Path) -> Config:
    return Config(
        exchange=ExchangeConfig(**{k: v.rstrip(",;") for k, v in urls.items()}),
        auth=AuthConfig("test-access", "test-secret"),
        watchlist=WatchlistConfig(symbols=symbols),
        logging=LoggingConfig(level="WARNING", file=str(log_file)),
    )


async def krw_markets(rest_url: str, limit: int) -> tuple[str, ...]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{rest_url}/v1/market/all") as r:
        data = await r.json()
    return tuple(m["market"] for m in data if m["market"].startswith("KRW-"))[:limit]


def _filled(app: Any) -> bool:
    """Every market's ticker and the selected book have arrived. (Not `settled`: under a firehose
    a pane is dirty again within a millisecond of its flush, and the panes flush at different
    moments, so all of them are never clean at once.)"""
    watchlist, book = app.pane("watchlist"), app.pane("orderbook")
    return (
        watchlist is not None
        and book is not None
        and all(watchlist.latest(s) is not None for s in watchlist.symbols)
        and book.book is not None
        and book.ticker is not None
    )


async def measure_app(name: str, config: Config, seconds: float) -> Phase:
    """The real app, headless, all four panes, watchlist = every market."""
    app = make_app(config, health_interval=1.0)
    sampler = LoopSampler()
    async with app.run_test(size=(200, 60)) as pilot:
        deadline = time.monotonic() + 60
        while not _filled(app):
            if time.monotonic() > deadline:
                raise SystemExit("the panes never filled")
            await pilot.pause(0.1)
        await asyncio.sleep(2.0)  # let the first burst of snapshots settle
        panes = {n: app.pane(n) for n in PANES}
        start_flushes = {n: getattr(p, "flushes", 0) for n, p in panes.items()}
        manager = app.runtime.manager
        assert manager is not None
        start_msgs = manager.metrics().messages_total
        elapsed, cpu_s = await sampler.run(seconds)
        msgs = manager.metrics().messages_total - start_msgs
        rates = {
            n: (getattr(p, "flushes", 0) - start_flushes[n]) / elapsed
            for n, p in panes.items()
            if isinstance(p, ProxyPane)
        }
        await pilot.press("q")
    return _phase(name, sampler, elapsed, cpu_s, msgs, rates)


async def measure_bare(name: str, config: Config, seconds: float) -> Phase:
    """Baseline: the same subscriptions through the manager with callbacks that only store the
    latest event, no Textual at all (what the UI adds on top of the data path)."""
    from upbit_tui.client.manager import GlobalWebSocketManager
    from upbit_tui.client.proxy import WebSocketClientProxy

    latest: dict[tuple[str, str], object] = {}

    def keep(event: Any) -> None:
        latest[(type(event).__name__, getattr(event, "symbol", ""))] = event

    sampler = LoopSampler()
    symbols = list(config.watchlist.symbols)
    async with (
        GlobalWebSocketManager(config) as manager,
        WebSocketClientProxy("watchlist", manager) as watchlist,
        WebSocketClientProxy("orderbook", manager) as book,
        WebSocketClientProxy("candles", manager) as candles,
    ):
        await watchlist.subscribe_ticker(symbols, keep)
        await book.subscribe_orderbook(symbols[:1], keep, depth=15)
        await book.subscribe_ticker(symbols[:1], keep)
        await candles.get_candle_snapshot(symbols[:1], "1m", count=200)
        await candles.subscribe_candle(symbols[:1], "1m", keep)
        deadline = time.monotonic() + 60
        while sum(1 for k in latest if k[0] == "TickerEvent") < len(symbols):
            if time.monotonic() > deadline:
                raise SystemExit("the bare baseline never saw every ticker")
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)
        start_msgs = manager.metrics().messages_total
        elapsed, cpu_s = await sampler.run(seconds)
        msgs = manager.metrics().messages_total - start_msgs
    return _phase(name, sampler, elapsed, cpu_s, msgs, {})


def _phase(
    name: str,
    sampler: LoopSampler,
    elapsed: float,
    cpu_s: float,
    msgs: int,
    rates: dict[str, float],
) -> Phase:
    p50, p99, worst = sampler.percentiles()
    per_1000 = cpu_s * 1000 / msgs * 1000 if msgs else float("nan")
    return Phase(name, p50, p99, worst, cpu_s / elapsed * 100, msgs / elapsed, per_1000, rates)


async def run(args: argparse.Namespace) -> list[Phase]:
    log_file = Path("/tmp/bench_ui.log")
    setup_logging(LoggingConfig(level="WARNING", file=str(log_file)))
    phases = []
    plan = (
        ("idle", 0.0, measure_app),
        ("bare", args.rate, measure_bare),
        ("load", args.rate, measure_app),
    )
    for name, rate, measure in plan:
        proc, urls = start_simulator(args.markets, rate)
        try:
            symbols = await krw_markets(urls["rest_url"], args.markets)
            config = bench_config(urls, symbols, log_file)
            phases.append(await measure(name, config, args.seconds))
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=244)
    parser.add_argument("--rate", type=float, default=3000.0, help="simulator trades/s under load")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--event-loop", default="asyncio", help="asyncio, uvloop or auto ([connection] event_loop)"
    )
    args = parser.parse_args()
    phases = run_on_loop(run(args), args.event_loop)
    print(f"event loop: {resolve_event_loop(args.event_loop)}")
    for phase in phases:
        panes = ", ".join(f"{n} {r:.1f}/s" for n, r in phase.repaints_per_second.items())
        print(
            f"{phase.name:5s}: loop lag p50 {phase.lag_p50_ms:6.2f} ms"
            f" p99 {phase.lag_p99_ms:7.2f} ms max {phase.lag_max_ms:6.1f} ms"
            f" | CPU {phase.cpu_percent:3.0f}% | {phase.messages_per_second:7,.0f} msg/s"
            f" | {phase.cpu_ms_per_1000_messages:6.1f} CPU-ms/1000 msgs"
            + (f" | repaints {panes}" if panes else "")
        )
    idle, bare, load = phases
    print(
        f"UI under load vs bare data path (same run, {args.markets} markets): "
        f"CPU per message x{load.cpu_ms_per_1000_messages / bare.cpu_ms_per_1000_messages:.2f}, "
        f"loop lag p99 x{load.lag_p99_ms / max(bare.lag_p99_ms, 0.01):.1f}; "
        f"UI CPU load/idle x{load.cpu_percent / max(idle.cpu_percent, 0.1):.1f}"
    )


if __name__ == "__main__":
    main()
