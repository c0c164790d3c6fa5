"""In-process decode + route throughput of ticker frames, as a ratio to a bare json.loads loop.

    .venv/bin/python bench/bench_routing.py [--frames 50000] [--repeat 7] [--batch 64]

Frames are built from the docs' ticker example (shared/fixtures/ws/ticker.default.json, or a
copy of its shape when the fixtures are absent) with varying codes, prices and timestamps,
serialised compactly as Upbit sends them. Measured in the same run, best of `--repeat`:

- baseline: `json.loads(frame)` for every frame (no routing, no callback);
- for context, the ceiling: typed msgspec decoding alone (nothing else);
- 1 subscriber / 10 subscribers: `FrameDecoder.decode` + `Router.publish` and the subscribers'
  drain tasks running a trivial callback, until every event has been delivered (drop_oldest with
  a queue large enough to lose nothing; the count of callbacks is checked). The read loop yields
  to the event loop every `--batch` frames, as a socket read would.

Goal (issue 3): >= 4x the baseline with one subscriber. Timing is process CPU time, so other
processes on a shared machine disturb it less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from upbit_tui.net.metrics import MetricsCollector  # noqa: E402
from upbit_tui.net.routing import Router  # noqa: E402
from upbit_tui.wire.codec import FrameDecoder  # noqa: E402
from upbit_tui.wire.events import DataType, TickerEvent  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "tests/fixtures/upbit_docs/ws/ticker.default.json"
SHAPE: dict[str, Any] = {
    "type": "ticker", "code": "KRW-BTC", "opening_price": 31883000, "high_price": 32310000,
    "low_price": 31855000, "trade_price": 32287000, "prev_closing_price": 31883000.0,
    "acc_trade_price": 78039261076.51241, "change": "RISE", "change_price": 404000.0,
    "signed_change_price": 404000.0, "change_rate": 0.0126713295,
    "signed_change_rate": 0.0126713295, "ask_bid": "ASK", "trade_volume": 0.03103806,
    "acc_trade_volume": 2429.58834336, "trade_date": "20230221", "trade_time": "074102",
    "trade_timestamp": 1676965262139, "acc_ask_volume": 1146.25573608,
    "acc_bid_volume": 1283.33260728, "highest_52_week_price": 57678000.0,
    "highest_52_week_date": "2022-03-28", "lowest_52_week_price": 20700000.0,
    "lowest_52_week_date": "2022-12-30", "market_state": "ACTIVE",
    "is_trading_suspended": False, "delisting_date": None, "market_warning": "NONE",
    "timestamp": 1676965262177, "acc_trade_price_24h": 228827082483.70729,
    "acc_trade_volume_24h": 7158.8028356, "stream_type": "REALTIME",
}  # fmt: skip


def make_frames(count: int, symbols: int, seed: int = 1) -> list[bytes]:
    shape = json.loads(FIXTURE.read_bytes()) if FIXTURE.exists() else dict(SHAPE)
    rng = random.Random(seed)
    codes = [f"KRW-C{i:03d}" for i in range(symbols)]
    now_ms = int(time.time() * 1000)
    frames = []
    for i in range(count):
        price = round(shape["trade_price"] * (1 + rng.uniform(-0.05, 0.05)), -3)
        msg = dict(shape)
        msg.update(
            code=codes[i % symbols],
            trade_price=price,
            trade_volume=round(rng.uniform(0.0001, 2.0), 8),
            change_rate=round(rng.uniform(0, 0.1), 10),
            acc_trade_price=round(shape["acc_trade_price"] + i * 1234.5678, 5),
            trade_timestamp=now_ms + i,
            timestamp=now_ms + i,
        )
        frames.append(json.dumps(msg, separators=(",", ":")).encode())
    return frames


def bench_decode_only(frames: list[bytes]) -> float:
    """The ceiling: typed msgspec decoding alone, no epoch, no routing, no callback."""
    decode = msgspec.json.Decoder(TickerEvent).decode
    start = time.process_time()
    for frame in frames:
        decode(frame)
    return time.process_time() - start


def bench_json(frames: list[bytes]) -> float:
    loads = json.loads
    start = time.process_time()
    for frame in frames:
        loads(frame)
    return time.process_time() - start


async def _route(frames: list[bytes], subscribers: int, symbols: list[str], batch: int) -> float:
    router = Router(metrics=MetricsCollector())
    decoder = FrameDecoder()
    delivered = 0

    def on_ticker(event: TickerEvent) -> None:
        nonlocal delivered
        delivered += 1

    for i in range(subscribers):
        router.subscribe(
            DataType.TICKER, symbols, on_ticker, queue_size=len(frames) + 1, client_id=f"c{i}"
        )
    chunks = [frames[i : i + batch] for i in range(0, len(frames), batch)]
    decode = decoder.decode
    publish = router.publish
    sleep = asyncio.sleep
    start = time.process_time()
    for chunk in chunks:
        # One socket read's worth of frames, then the loop runs the drains.
        for frame in chunk:
            publish(decode(frame, 1, 0.0))  # type: ignore[arg-type]
        await sleep(0)
    while router.queue_depth():
        await sleep(0)
    elapsed = time.process_time() - start
    expected = len(frames) * subscribers
    assert delivered == expected, (delivered, expected)
    assert decoder.malformed == 0 and router.dropped() == 0
    await router.aclose()
    return elapsed


def bench_route(frames: list[bytes], subscribers: int, symbols: int, batch: int) -> float:
    codes = [f"KRW-C{i:03d}" for i in range(symbols)]
    return asyncio.run(_route(frames, subscribers, codes, batch))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    frames = make_frames(args.frames, args.symbols)
    size = sum(map(len, frames)) / len(frames)
    print(f"{len(frames)} ticker frames, {args.symbols} symbols, {size:.0f} bytes each")
    # Interleaved, best of `repeat`: a shared machine's noise hits every contender alike.
    baseline = ceiling = float("inf")
    results = {1: float("inf"), 10: float("inf")}
    for _ in range(args.repeat):
        baseline = min(baseline, bench_json(frames))
        ceiling = min(ceiling, bench_decode_only(frames))
        for subs in results:
            results[subs] = min(results[subs], bench_route(frames, subs, args.symbols, args.batch))
    n = len(frames)
    print(f"json.loads baseline      {n / baseline:>10,.0f} frames/s  1.00x")
    print(
        f"msgspec decode alone     {n / ceiling:>10,.0f} frames/s  {baseline / ceiling:.2f}x"
        "  (ceiling: no epoch, no routing, no callback)"
    )
    for subs, elapsed in results.items():
        print(
            f"decode+route {subs:>2} sub(s)   {n / elapsed:>10,.0f} frames/s  "
            f"{baseline / elapsed:.2f}x  ({n * subs / elapsed:,.0f} callbacks/s)"
        )
    ratio = baseline / results[1]
    print(f"goal >= 4.00x with one subscriber: {'met' if ratio >= 4 else 'NOT met'} ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
