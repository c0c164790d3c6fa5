"""How fast `upbit-tui headless` turns the stream into JSON lines, vs. the simulator's raw rate.

Runs the simulator in this process and, one after the other, against the same simulator:
  raw       a bare websockets client (subprocess) that counts the frames the simulator sends for
            the same subscription: the rate the exchange side can deliver (the baseline);
  headless  the real `upbit-tui headless` (subprocess) with stdout to /dev/null; its rate is read
            from its own Prometheus counter over the same steady-state window.
Ratio = headless events/s / raw events/s (1.0 = the pipe keeps up with everything sent).
Also reports headless events per CPU-second, and RSS at the start and end of a long run, and
with a reader that never reads (the bounded-buffer check).

    .venv/bin/python bench/bench_headless.py [--seconds 10] [--soak 60] [--rate 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
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


async def measure_raw(sim: ExchangeServer, codes: list[str], seconds: float) -> dict[str, float]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RAW_CLIENT,
        sim.websocket_url,
        ",".join(codes),
        str(WARMUP),
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    result = json.loads(out)
    return {
        "events_per_s": result["events"] / result["seconds"],
        "events_per_cpu_s": result["events"] / max(result["cpu"], 1e-9),
    }


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


async def measure_rss(config: Path, seconds: float, *, stalled_reader: bool) -> dict[str, float]:
    """RSS after warm-up and after `seconds`; with a reader that never reads, if asked."""
    read_fd, write_fd = os.pipe()
    stdout: Any = write_fd if stalled_reader else asyncio.subprocess.DEVNULL
    try:
        process, url, stderr = await start_headless(config, stdout=stdout)
        ps = psutil.Process(process.pid)
        async with aiohttp.ClientSession() as session:
            await asyncio.sleep(WARMUP)
            start = ps.memory_info().rss
            peak = start
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                await asyncio.sleep(1.0)
                peak = max(peak, ps.memory_info().rss)
            end = ps.memory_info().rss
            last = await scrape(session, url)
        process.terminate()
        await process.wait()
        await stderr
    finally:
        os.close(read_fd)
        os.close(write_fd)
    return {
        "rss_start_mb": start / 2**20,
        "rss_end_mb": end / 2**20,
        "rss_peak_mb": peak / 2**20,
        "written": last.get("written", 0.0),
        "dropped": last.get("upbit_tui_dropped_events_total", 0.0),
    }


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"bench_headless: {args.markets} markets, ticker+trade, {args.seconds:g} s windows after "
        f"{WARMUP:g} s warm-up; simulator in this process, clients in subprocesses"
    )
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        for label, rate, firehose in (
            (f"sim at {args.rate:g} trades/s", args.rate, 0.0),
            ("sim firehose (as fast as the reader takes)", 0.0, math.inf),
        ):
            async with ExchangeServer(
                seed=7, markets=args.markets, rate=rate, firehose=firehose, port=0
            ) as sim:
                codes = list(sim.stats()["markets"])
                write_config(config, sim, codes)
                raw = await measure_raw(sim, codes, args.seconds)
                pipe = await measure_headless(sim, config, args.seconds)
            print(
                f"{label}:\n"
                f"  bare websockets client (baseline): {raw['events_per_s']:9,.0f} ev/s, "
                f"{raw['events_per_cpu_s']:9,.0f} ev per CPU-s\n"
                f"  headless > /dev/null:              {pipe['events_per_s']:9,.0f} ev/s, "
                f"{pipe['events_per_cpu_s']:9,.0f} ev per CPU-s "
                f"({pipe['events_per_cpu_s'] / raw['events_per_cpu_s']:.2f}x the baseline's)\n"
                f"  headless wrote {pipe['events_per_s'] / pipe['sent_per_s']:.3f}x of the "
                f"{pipe['sent_per_s']:,.0f} frames/s the simulator sent it "
                f"({pipe['events_per_s'] / raw['events_per_s']:.2f}x the baseline's rate); "
                f"dropped {pipe['dropped']:.0f}"
            )
        async with ExchangeServer(seed=7, markets=args.markets, firehose=math.inf, port=0) as sim:
            write_config(config, sim, list(sim.stats()["markets"]))
            for stalled in (False, True):
                rss = await measure_rss(config, args.soak, stalled_reader=stalled)
                start, end = rss["rss_start_mb"], rss["rss_end_mb"]
                print(
                    f"RSS, firehose for {args.soak:g} s, "
                    f"{'reader never reads' if stalled else 'stdout > /dev/null'}: "
                    f"{start:.1f} MB after warm-up -> {end:.1f} MB at the end "
                    f"({end / start:.2f}x), peak {rss['rss_peak_mb']:.1f} MB; "
                    f"written {rss['written']:,.0f}, dropped {rss['dropped']:,.0f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    parser.add_argument("--soak", type=float, default=60.0, help="long run for RSS")
    parser.add_argument("--markets", type=int, default=20)
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="fixed simulator rate, trades/s (all markets)"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
