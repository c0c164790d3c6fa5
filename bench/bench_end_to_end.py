"""End-to-end loopback throughput and latency: our manager vs a bare websockets + msgspec client.

The simulator runs in its own process (`upbit-tui exchange --firehose ...`), and the two clients
run at the same time in two more processes, subscribed to the same trade streams, so both see
the same traffic on the same (noisy, shared) machine and each measures only its own CPU time.
Both decode every frame into the same typed `TradeEvent`; ours also routes each event through a
proxy's queue to a callback. Reported as events per CPU-second and the ratio ours/bare (goal
>= 0.8), then p50/p99 latency (exchange timestamp -> callback) at a fixed rate below saturation.

    .venv/bin/python bench/bench_end_to_end.py [--seconds 5] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec
from websockets.asyncio.client import connect

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.config import Config, ConnectionConfig, ExchangeConfig
from upbit_tui.wire.events import TradeEvent

CODES = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]


class Simulator:
    """The exchange simulator in a child process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "upbit_tui", "exchange", "--port", "0", "--rate", "0",
             "--firehose", "0", "--no-rate-limits", "--markets", "20"],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split())
        self.ws_url, self.rest_url = fields["public"], fields["rest"]

    async def firehose(self, rate: float) -> None:
        value = "inf" if math.isinf(rate) else str(rate)
        async with aiohttp.ClientSession() as session:
            url = f"{self.rest_url}/_sim/firehose?messages_per_second={value}"
            async with session.post(url) as response:
                response.raise_for_status()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


async def _measure(seconds: float, count: Callable[[], int]) -> tuple[int, float, float]:
    """Events counted over `seconds` after a warm-up, with the process CPU time they cost."""
    await asyncio.sleep(0.5)
    n0, cpu0, wall0 = count(), time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    n1, cpu1, wall1 = count(), time.process_time(), time.perf_counter()
    return n1 - n0, cpu1 - cpu0, wall1 - wall0


async def run_bare(sim: Simulator, seconds: float, latencies: list[float] | None) -> dict[str, Any]:
    decoder = msgspec.json.Decoder(TradeEvent)
    request = json.dumps([{"ticket": "bare"}, {"type": "trade", "codes": CODES}])
    received = 0

    async def reader(ws: Any) -> None:
        nonlocal received
        async for frame in ws:
            event = decoder.decode(frame)
            received += 1
            if latencies is not None:
                latencies.append(time.time() * 1000.0 - event.timestamp_ms)

    async with connect(sim.ws_url, proxy=None, compression=None, max_size=2**22) as ws:
        await ws.send(request)
        task = asyncio.create_task(reader(ws))
        try:
            events, cpu, wall = await _measure(seconds, lambda: received)
        finally:
            task.cancel()
    return {"events": events, "cpu_s": cpu, "wall_s": wall}


async def run_ours(sim: Simulator, seconds: float, latencies: list[float] | None) -> dict[str, Any]:
    config = Config(
        exchange=ExchangeConfig(websocket_url=sim.ws_url, rest_url=sim.rest_url),
        connection=ConnectionConfig(stale_after=0, batch_window=0.0),
    )
    received = 0

    def on_trade(event: TradeEvent) -> None:
        nonlocal received
        received += 1
        if latencies is not None:
            latencies.append(time.time() * 1000.0 - event.timestamp_ms)

    async with (
        GlobalWebSocketManager(config) as manager,
        WebSocketClientProxy("bench", manager) as proxy,
    ):
        await proxy.subscribe_trade(CODES, on_trade, queue_size=100_000)
        events, cpu, wall = await _measure(seconds, lambda: received)
        dropped = manager.metrics().dropped_message_count
    return {"events": events, "cpu_s": cpu, "wall_s": wall, "dropped": dropped}


def _rate(result: dict[str, Any]) -> float:
    return result["events"] / result["cpu_s"] if result["cpu_s"] else float("nan")


async def child(kind: str, ws_url: str, rest_url: str, seconds: float, latency: bool) -> None:
    """One client process: measure and print one JSON line."""
    sim = Simulator.__new__(Simulator)
    sim.ws_url, sim.rest_url = ws_url, rest_url
    samples: list[float] | None = [] if latency else None
    run = run_bare if kind == "bare" else run_ours
    result = await run(sim, seconds, samples)
    if samples is not None:
        result["p50_ms"] = _percentile(samples, 0.5)
        result["p99_ms"] = _percentile(samples, 0.99)
        result["samples"] = len(samples)
    print(json.dumps(result), flush=True)


def _both(sim: Simulator, seconds: float, latency: bool) -> dict[str, dict[str, Any]]:
    extra = ["--latency"] if latency else []
    procs = {}
    for kind in ("bare", "ours"):
        command = [sys.executable, __file__, "--child", kind, "--ws", sim.ws_url]
        command += ["--rest", sim.rest_url, "--seconds", str(seconds), *extra]
        procs[kind] = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = {}
    for kind, proc in procs.items():
        stdout, _ = proc.communicate(timeout=seconds * 4 + 60)
        out[kind] = json.loads(stdout.strip().splitlines()[-1])
    return out


async def main(seconds: float, rate: float, rounds: int) -> None:
    sim = Simulator()
    try:
        await sim.firehose(math.inf)
        bare_rates, our_rates = [], []
        for i in range(rounds):
            result = await asyncio.to_thread(_both, sim, seconds, False)
            bare, ours = result["bare"], result["ours"]
            bare_rates.append(_rate(bare))
            our_rates.append(_rate(ours))
            print(
                f"round {i + 1}: bare {bare['events']} ev / {bare['cpu_s']:.2f} cpu-s "
                f"= {_rate(bare):,.0f} ev/cpu-s; ours {ours['events']} ev / {ours['cpu_s']:.2f} "
                f"cpu-s = {_rate(ours):,.0f} ev/cpu-s (dropped {ours['dropped']}); "
                f"ratio {_rate(ours) / _rate(bare):.2f}"
            )
        ratio = statistics.median(our_rates) / statistics.median(bare_rates)
        print(
            f"throughput: ours {statistics.median(our_rates):,.0f} vs bare "
            f"{statistics.median(bare_rates):,.0f} events per CPU-second -> ratio {ratio:.2f}x "
            "(goal >= 0.8x)"
        )
        await sim.firehose(rate)
        result = await asyncio.to_thread(_both, sim, seconds, True)
        bare, ours = result["bare"], result["ours"]
        print(
            f"latency at {rate:g} msg/s (exchange timestamp -> callback): "
            f"bare p50 {bare['p50_ms']:.2f} ms p99 {bare['p99_ms']:.2f} ms; "
            f"ours p50 {ours['p50_ms']:.2f} ms p99 {ours['p99_ms']:.2f} ms "
            f"({ours['samples']} samples)"
        )
    finally:
        sim.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement per run")
    parser.add_argument("--rate", type=float, default=2000.0, help="messages/s for latency")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds")
    parser.add_argument("--child", choices=("bare", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--ws", help=argparse.SUPPRESS)
    parser.add_argument("--rest", help=argparse.SUPPRESS)
    parser.add_argument("--latency", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.ws, args.rest, args.seconds, args.latency))
    else:
        asyncio.run(main(args.seconds, args.rate, args.rounds))
