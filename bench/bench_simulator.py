"""How many messages per second the simulator sustains on one core, against a plain baseline.

Two servers run in turn, each in its own process pinned to one CPU (when the machine has two):
1. the simulator (`upbit-tui exchange --firehose inf --rate 0 --no-rate-limits`), which must
   generate each trade, update the market, render ticker/trade/orderbook JSON and send it;
2. a plain `websockets` server that only sends the same frames (captured from the simulator a
   moment before) in a loop: the cost of the WebSocket layer alone.
One reader process-side client (a minimal frame counter on a raw socket, pinned to the other
CPU, so it is never the bottleneck) subscribes and counts frames. Reported: frames/s, and
frames per server CPU-second (the "one core" figure), each as a ratio simulator / baseline.

    .venv/bin/python bench/bench_simulator.py                   # 5 s per server, 10 markets
    .venv/bin/python bench/bench_simulator.py --seconds 10 --markets 30 --types trade

`--startup` measures instead what a fresh simulator costs before it can answer for every
market: CPU seconds of MarketModel(seed=1, markets=244) plus the first ticker() of each market
(what GET /v1/ticker/all or a full-KRW ticker subscription needs), next to a second, warm pass
of ticker() over all markets (the baseline: the cost once everything exists).

    .venv/bin/python bench/bench_simulator.py --startup [--markets-total 244] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import struct
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("upbit-tui")
SIM_COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "upbit_tui"]
MARKETS = [
    "KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA", "KRW-TRX", "KRW-LINK",
    "KRW-BCH", "KRW-USDT", "KRW-SHIB", "KRW-BTT", "KRW-PEPE", "KRW-XEC", "KRW-MBL", "KRW-CHZ",
]  # fmt: skip


# -- a minimal client: handshake, one request, then count frames -------------------------------


class FrameCounter:
    """Reads server frames from a raw socket and counts them (no JSON parsing)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = 0
        self.bytes = 0
        self.kept: list[bytes] = []
        self.keep = 0

    @classmethod
    async def connect(cls, url: str) -> FrameCounter:
        match = re.fullmatch(r"ws://([^:/]+):(\d+)(/.*)", url)
        assert match, url
        host, port, path = match.group(1), int(match.group(2)), match.group(3)
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"handshake refused: {head[:80]!r}")
        return cls(reader, writer)

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        length = len(payload)
        header = bytes([0x81])
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)

    async def run(self) -> None:
        """Count frames until cancelled."""
        buffer = b""
        pos = 0
        read = self.reader.read
        while True:
            chunk = await read(1 << 20)
            if not chunk:
                return
            buffer = buffer[pos:] + chunk
            pos = 0
            end = len(buffer)
            while end - pos >= 2:
                length = buffer[pos + 1] & 0x7F
                start = pos + 2
                if length == 126:
                    if end - pos < 4:
                        break
                    length = struct.unpack_from("!H", buffer, pos + 2)[0]
                    start = pos + 4
                elif length == 127:
                    if end - pos < 10:
                        break
                    length = struct.unpack_from("!Q", buffer, pos + 2)[0]
                    start = pos + 10
                if end - start < length:
                    break
                if buffer[pos] & 0x0F in (1, 2):
                    self.frames += 1
                    self.bytes += length
                    if self.keep:
                        self.kept.append(buffer[start : start + length])
                        self.keep -= 1
                pos = start + length

    def close(self) -> None:
        self.writer.close()


# -- servers -----------------------------------------------------------------------------------


async def start_simulator(markets: int, cpu: int | None) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        *SIM_COMMAND, "exchange", "--port", "0", "--rate", "0", "--firehose", "inf",
        "--no-rate-limits", "--markets", str(markets),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    url = re.findall(r"ws://\S+", first)[0]
    pin(process.pid, cpu)
    return process, url


async def start_baseline(
    frames_file: str, cpu: int | None
) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-baseline", frames_file, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    port = int((await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip())
    pin(process.pid, cpu)
    return process, f"ws://127.0.0.1:{port}/websocket/v1"


def pin(pid: int, cpu: int | None) -> None:
    if cpu is not None:
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setaffinity(pid, {cpu})


async def serve_baseline(frames: list[bytes]) -> None:
    """The baseline: a plain websockets server sending the captured frames in a loop."""
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # the subscription request, as the simulator waits for one
        while True:
            for frame in frames:
                await ws.send(frame)

    async with serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


# -- measurement -------------------------------------------------------------------------------


async def measure(
    url: str, request: str, pid: int, seconds: float, keep: int = 0
) -> tuple[float, float, float, list[bytes]]:
    """(frames/s, frames per server CPU-second, MB/s) over `seconds` after a 1 s warm-up."""
    counter = await FrameCounter.connect(url)
    counter.keep = keep
    counter.send_text(request)
    task = asyncio.create_task(counter.run())
    server = psutil.Process(pid)
    try:
        await asyncio.sleep(1.0)  # warm-up
        frames0, bytes0, t0 = counter.frames, counter.bytes, time.perf_counter()
        cpu0 = sum(server.cpu_times()[:2])
        await asyncio.sleep(seconds)
        frames1, bytes1, t1 = counter.frames, counter.bytes, time.perf_counter()
        cpu1 = sum(server.cpu_times()[:2])
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await task
        counter.close()
    frames = frames1 - frames0
    return (
        frames / (t1 - t0),
        frames / max(cpu1 - cpu0, 1e-9),
        (bytes1 - bytes0) / (t1 - t0) / 1e6,
        counter.kept,
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def main(args: argparse.Namespace) -> None:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    pin(os.getpid(), client_cpu)
    codes = MARKETS[: args.markets]
    types = [{"type": t, "codes": codes, "is_only_realtime": True} for t in args.types.split(",")]
    request = json.dumps([{"ticket": "bench"}, *types])

    sim, sim_url = await start_simulator(max(args.markets, 16), server_cpu)
    try:
        sim_rate, sim_per_cpu, sim_mb, captured = await measure(
            sim_url, request, sim.pid, args.seconds, keep=3_000
        )
    finally:
        await stop(sim)
    with tempfile.NamedTemporaryFile("w", suffix=".frames", delete=False) as file:
        file.write("\n".join(frame.hex() for frame in captured))
        frames_file = file.name
    try:
        base, base_url = await start_baseline(frames_file, server_cpu)
        try:
            base_rate, base_per_cpu, base_mb, _ = await measure(
                base_url, request, base.pid, args.seconds
            )
        finally:
            await stop(base)
    finally:
        os.unlink(frames_file)

    pinned = (
        f"server pinned to CPU {server_cpu}, reader to CPU {client_cpu}" if cpus else "unpinned"
    )
    print(f"bench_simulator: {args.seconds:g} s each, {len(codes)} markets, types {args.types}; "
          f"{pinned}; frames captured from the simulator: {len(captured)}")  # fmt: skip
    print(f"  simulator (firehose)      {sim_rate:>10,.0f} frames/s  {sim_per_cpu:>10,.0f} "
          f"frames/CPU-s  {sim_mb:6.1f} MB/s")  # fmt: skip
    print(f"  websockets send-only base {base_rate:>10,.0f} frames/s  {base_per_cpu:>10,.0f} "
          f"frames/CPU-s  {base_mb:6.1f} MB/s")  # fmt: skip
    print(f"  ratio simulator/baseline  {sim_rate / base_rate:>10.2f} (frames/s)  "
          f"{sim_per_cpu / base_per_cpu:>10.2f} (per CPU-s)")  # fmt: skip


def startup(markets: int, rounds: int) -> None:
    """CPU seconds to construct the model and read every market's first ticker (median)."""
    import statistics

    from upbit_tui.exchange.market import MarketModel

    rows = []
    for _ in range(rounds):
        t0 = time.process_time()
        model = MarketModel(seed=1, markets=markets)
        t1 = time.process_time()
        codes = [market.market for market in model.markets()]
        for code in codes:
            model.ticker(code)
        t2 = time.process_time()
        for code in codes:
            model.ticker(code)
        t3 = time.process_time()
        rows.append((t1 - t0, t2 - t1, t3 - t2))
    construct, first, warm = (statistics.median(column) for column in zip(*rows, strict=True))
    print(f"bench_simulator --startup: {markets} markets, median of {rounds} rounds (CPU s)")
    print(f"  construct MarketModel        {construct:8.3f} s")
    print(f"  first ticker() of each       {first:8.3f} s")
    print(f"  construct + first tickers    {construct + first:8.3f} s")
    print(f"  warm ticker() of each (base) {warm:8.3f} s")
    print(f"  ratio (construct + first) / warm  {(construct + first) / warm:8.1f}")
    stall, took = asyncio.run(ticker_all_stall(markets))
    print(f"  GET /v1/ticker/all at start-up: {took:.3f} s, largest event-loop stall "
          f"{stall * 1000:.0f} ms (what every other connection waits)")  # fmt: skip


async def ticker_all_stall(markets: int) -> tuple[float, float]:
    """(largest event-loop stall, request duration) while a fresh in-process ExchangeServer
    serves GET /v1/ticker/all: the wait it imposes on every other connection."""
    import aiohttp

    from upbit_tui.exchange import ExchangeServer

    async with ExchangeServer(seed=1, markets=markets, rate=0, rate_limits=False) as sim:
        gaps: list[float] = []
        done = asyncio.Event()

        async def watch() -> None:
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        watcher = asyncio.create_task(watch())
        started = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            url = f"{sim.rest_url}/v1/ticker/all"
            async with http.get(url, params={"quote_currencies": "KRW"}) as response:
                assert len(await response.json()) == markets
        took = time.perf_counter() - started
        done.set()
        await watcher
    return max(gaps), took


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--markets", type=int, default=10, choices=range(1, len(MARKETS) + 1))
    parser.add_argument("--types", default="trade,ticker,orderbook")
    parser.add_argument("--startup", action="store_true", help="measure start-up cost instead")
    parser.add_argument("--markets-total", type=int, default=244, help="markets for --startup")
    parser.add_argument("--rounds", type=int, default=3, help="rounds for --startup")
    parser.add_argument("--serve-baseline", metavar="FRAMES_FILE", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.startup:
        startup(arguments.markets_total, arguments.rounds)
    elif arguments.serve_baseline:
        with contextlib.suppress(KeyboardInterrupt):
            captured = Path(arguments.serve_baseline).read_text().split()
            asyncio.run(serve_baseline([bytes.fromhex(line) for line in captured]))
    else:
        asyncio.run(main(arguments))
