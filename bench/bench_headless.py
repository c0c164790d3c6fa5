"""How fast `upbit-tui headless` turns the stream into JSON lines, vs. the simulator's raw rate.

The simulator runs in this process; three clients take turns against it, in subprocesses, each
subscribed to ticker + trade for every market, measured over the same-length steady window:
  raw       a bare websockets client that only counts frames: the rate the simulator delivers
            to a consumer that does nothing (the baseline);
  library   GlobalWebSocketManager + WebSocketClientProxy with a callback that counts: what the
            shared stream itself costs (decode, route, queues);
  headless  the real `upbit-tui headless`, stdout to /dev/null, rate read from its own
            Prometheus counter.
Two simulator settings: a fixed rate (every client should keep up: ratio 1.0) and the firehose
(the simulator sends as fast as the consumer takes). Rounds alternate the clients so machine
noise hits all three alike; medians are reported. Then RSS of headless over a long firehose
run, with stdout to /dev/null and with a reader that never reads (the bounded-buffer check).

    .venv/bin/python bench/bench_headless.py [--seconds 8] [--rounds 3] [--soak 60] [--rate 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from prometheus_client.parser import text_string_to_metric_families

from upbit_tui.exchange import ExchangeServer

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("upbit-tui")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "upbit_tui"]
WARMUP = 2.0

# The baseline: subscribe to the same types and codes, count frames, nothing else.
RAW_CLIENT = r"""
import asyncio, json, sys, time
from websockets.asyncio.client import connect
url, codes = sys.argv[1], sys.argv[2].split(",")
warmup, seconds = float(sys.argv[3]), float(sys.argv[4])
async def main():
    request = json.dumps([{"ticket": "bench-raw"}, {"type": "ticker", "codes": codes},
                          {"type": "trade", "codes": codes}, {"format": "DEFAULT"}])
    async with connect(url, max_size=None, compression=None) as ws:
        await ws.send(request)
        await ws.recv()
        start = time.monotonic()
        count, t0, n0 = 0, None, 0
        async for _ in ws:
            count += 1
            now = time.monotonic()
            if t0 is None and now - start >= warmup:
                t0, n0, cpu0 = now, count, time.process_time()
            if t0 is not None and now - t0 >= seconds:
                break
        cpu = time.process_time() - cpu0
        print(json.dumps({"events": count - n0, "seconds": now - t0, "cpu": cpu}))
asyncio.run(main())
"""

# The library baseline: the shared stream with a callback that only counts.
LIBRARY_CLIENT = r"""
import asyncio, json, sys, time
from upbit_tui import GlobalWebSocketManager, WebSocketClientProxy, load_config
config = load_config(sys.argv[1])
codes = list(config.watchlist.symbols)
warmup, seconds = float(sys.argv[2]), float(sys.argv[3])
count = 0
def on_event(event):
    global count
    count += 1
async def main():
    async with GlobalWebSocketManager(config) as manager:
        async with WebSocketClientProxy("bench", manager) as proxy:
            await proxy.subscribe_ticker(codes, on_event)
            await proxy.subscribe_trade(codes, on_event)
            await asyncio.sleep(warmup)
            n0, cpu0, t0 = count, time.process_time(), time.monotonic()
            await asyncio.sleep(seconds)
            n1, cpu1, t1 = count, time.process_time(), time.monotonic()
    print(json.dumps({"events": n1 - n0, "seconds": t1 - t0, "cpu": cpu1 - cpu0}))
asyncio.run(main())
"""


def write_config(path: Path, sim: ExchangeServer, codes: list[str]) -> None:
    path.write_text(
        "[exchange]\n"
        f'websocket_url = "{sim.websocket_url}"\n'
        f'private_websocket_url = "{sim.private_websocket_url}"\n'
        f'rest_url = "{sim.rest_url}"\n'
        "[watchlist]\n"
        f"symbols = {json.dumps(codes)}\n"
        "[headless]\n"
        'types = ["ticker", "trade"]\n'
        "health_interval = 0\n"
        "[logging]\n"
        'level = "INFO"\n'
    )


async def measure_script(script: str, *args: str) -> dict[str, float]:
    """Run a baseline client script; it prints events, seconds and CPU seconds as JSON."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, stdout=asyncio.subprocess.PIPE, env=env, cwd=ROOT
    )
    out, _ = await process.communicate()
    result = json.loads(out)
    return {
        "events_per_s": result["events"] / result["seconds"],
        "events_per_cpu_s": result["events"] / max(result["cpu"], 1e-9),
    }


async def measure_raw(sim: ExchangeServer, codes: list[str], seconds: float) -> dict[str, float]:
    return await measure_script(
        RAW_CLIENT, sim.websocket_url, ",".join(codes), str(WARMUP), str(seconds)
    )


async def measure_library(config: Path, seconds: float) -> dict[str, float]:
    return await measure_script(LIBRARY_CLIENT, str(config), str(WARMUP), str(seconds))


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(url) as response:
        text = await response.text()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "upbit_tui_headless_events_written_total":
                values["written"] = values.get("written", 0.0) + sample.value
            elif sample.name in ("upbit_tui_dropped_events_total", "process_resident_memory_bytes"):
                values[sample.name] = sample.value
    return values


async def start_headless(
    config: Path, *extra: str, stdout: Any = asyncio.subprocess.DEVNULL
) -> tuple[asyncio.subprocess.Process, str, asyncio.Task[bytes]]:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "headless",
        "--config",
        str(config),
        "--metrics-port",
        "0",
        *extra,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stderr is not None
    while True:
        line = (await process.stderr.readline()).decode()
        if not line:
            raise RuntimeError("headless exited before serving metrics")
        if match := re.search(r"metrics: (http://\S+)", line):
            # Keep draining stderr so the child never blocks on it; awaited after it exits.
            return process, match.group(1), asyncio.create_task(process.stderr.read())


async def measure_headless(sim: ExchangeServer, config: Path, seconds: float) -> dict[str, float]:
    """Lines/s written by headless, and frames/s the simulator sent it, in the same window."""
    process, url, stderr = await start_headless(config)
    ps = psutil.Process(process.pid)
    async with aiohttp.ClientSession() as session:
        await asyncio.sleep(WARMUP)
        first = await scrape(session, url)
        sent0 = sim.stats()["messages_sent"]
        cpu0, t0 = sum(ps.cpu_times()[:2]), time.monotonic()
        await asyncio.sleep(seconds)
        last = await scrape(session, url)
        sent1 = sim.stats()["messages_sent"]
        cpu1, t1 = sum(ps.cpu_times()[:2]), time.monotonic()
    process.terminate()
    await process.wait()
    await stderr
    events = last["written"] - first["written"]
    return {
        "events_per_s": events / (t1 - t0),
        "sent_per_s": (sent1 - sent0) / (t1 - t0),
        "events_per_cpu_s": events / max(cpu1 - cpu0, 1e-9),
        "dropped": last.get("upbit_tui_dropped_events_total", 0.0),
    }


async def measure_rss(config: Path, seconds: float, *, stalled_reader: bool) -> dict[str, Any]:
    """RSS every tenth of `seconds` after warm-up; with a reader that never reads, if asked."""
    read_fd, write_fd = os.pipe()
    stdout: Any = write_fd if stalled_reader else asyncio.subprocess.DEVNULL
    try:
        process, url, stderr = await start_headless(config, stdout=stdout)
        ps = psutil.Process(process.pid)
        async with aiohttp.ClientSession() as session:
            await asyncio.sleep(WARMUP)
            series = [ps.memory_info().rss / 2**20]
            for _ in range(10):
                await asyncio.sleep(seconds / 10)
                series.append(ps.memory_info().rss / 2**20)
            last = await scrape(session, url)
        process.terminate()
        await process.wait()
        await stderr
    finally:
        os.close(read_fd)
        os.close(write_fd)
    return {
        "series_mb": series,
        "written": last.get("written", 0.0),
        "dropped": last.get("upbit_tui_dropped_events_total", 0.0),
    }


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


async def compare(sim: ExchangeServer, config: Path, args: argparse.Namespace) -> None:
    codes = list(sim.stats()["markets"])
    write_config(config, sim, codes)
    runs: dict[str, list[dict[str, float]]] = {"raw": [], "library": [], "headless": []}
    for _ in range(args.rounds):
        runs["raw"].append(await measure_raw(sim, codes, args.seconds))
        runs["library"].append(await measure_library(config, args.seconds))
        runs["headless"].append(await measure_headless(sim, config, args.seconds))
    raw_rate = _median(runs["raw"], "events_per_s")
    raw_cpu = _median(runs["raw"], "events_per_cpu_s")
    for name, label in (
        ("raw", "bare websockets client"),
        ("library", "manager + proxy, no-op"),
        ("headless", "headless > /dev/null"),
    ):
        rate = _median(runs[name], "events_per_s")
        per_cpu = _median(runs[name], "events_per_cpu_s")
        spread = ", ".join(f"{r['events_per_s']:,.0f}" for r in runs[name])
        print(
            f"  {label:24} {rate:9,.0f} ev/s ({rate / raw_rate:.2f}x raw) "
            f"{per_cpu:9,.0f} ev per CPU-s ({per_cpu / raw_cpu:.2f}x raw)   runs: {spread}"
        )
    headless = runs["headless"]
    written = sum(r["events_per_s"] for r in headless)
    sent = sum(r["sent_per_s"] for r in headless)
    print(
        f"  headless wrote {written / sent:.3f}x of the frames the simulator sent it; "
        f"dropped {max(r['dropped'] for r in headless):.0f}"
    )


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"bench_headless: {args.markets} markets, ticker+trade, {args.rounds} rounds of "
        f"{args.seconds:g} s windows after {WARMUP:g} s warm-up (medians)"
    )
    scenarios = [
        (f"simulator at {args.rate:g} trades/s", args.rate, 0.0),
        ("simulator firehose (as fast as the consumer takes)", 0.0, math.inf),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        for label, rate, firehose in [] if args.rss_only else scenarios:
            print(label)
            async with ExchangeServer(
                seed=7, markets=args.markets, rate=rate, firehose=firehose, port=0
            ) as sim:
                await compare(sim, config, args)
        async with ExchangeServer(seed=7, markets=args.markets, firehose=math.inf, port=0) as sim:
            write_config(config, sim, list(sim.stats()["markets"]))
            for stalled in (False, True):
                rss = await measure_rss(config, args.soak, stalled_reader=stalled)
                series = rss["series_mb"]
                print(
                    f"RSS of headless, firehose for {args.soak:g} s, "
                    f"{'reader never reads' if stalled else 'stdout > /dev/null'}: "
                    f"{series[0]:.1f} MB after warm-up -> {series[-1]:.1f} MB at the end "
                    f"({series[-1] / series[0]:.2f}x); written {rss['written']:,.0f}, "
                    f"dropped {rss['dropped']:,.0f}\n"
                    f"  every {args.soak / 10:g} s: {' '.join(f'{mb:.0f}' for mb in series)} MB"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measurement window")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per client (median)")
    parser.add_argument("--soak", type=float, default=60.0, help="long run for RSS")
    parser.add_argument("--markets", type=int, default=20)
    parser.add_argument("--rss-only", action="store_true", help="only the long RSS runs")
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="fixed simulator rate, trades/s (all markets)"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
