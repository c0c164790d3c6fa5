"""The JSON-lines encoding (against Upbit's doc examples) and the stdout writer (real pipes)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest
from headless_harness import TIMEOUT_FACTOR

from upbit_tui.headless.output import JsonLineEncoder, LineWriter, OutputClosed, OutputStats
from upbit_tui.wire.events import (
    BalanceEvent,
    CandleEvent,
    Event,
    OrderbookEvent,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)

FIXTURES = Path("/work/shared/fixtures/ws")
if not FIXTURES.is_dir():
    FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "ws"

DEFAULT_EXAMPLES: list[tuple[str, type[Any]]] = [
    ("ticker.default.json", TickerEvent),
    ("trade.default.json", TradeEvent),
    ("orderbook.default.json", OrderbookEvent),
    ("candle.default.json", CandleEvent),
    ("myAsset.default.json", BalanceEvent),
    ("myOrder.default.json", OrderEvent),
]


def _messages(name: str) -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / name).read_text())
    return data if isinstance(data, list) else [data]


def _same(line_value: Any, wire_value: Any) -> bool:
    if isinstance(wire_value, float) or isinstance(line_value, float):
        return line_value == pytest.approx(wire_value, rel=1e-12)
    if isinstance(wire_value, list):
        return len(line_value) == len(wire_value) and all(
            all(_same(a[k], b[k]) for k in b) if isinstance(b, dict) else _same(a, b)
            for a, b in zip(line_value, wire_value, strict=True)
        )
    return bool(line_value == wire_value)


@pytest.mark.parametrize(("name", "event_type"), DEFAULT_EXAMPLES)
def test_line_keeps_upbit_default_names_and_values(name: str, event_type: type[Any]) -> None:
    encoder = JsonLineEncoder()
    for message in _messages(name):
        event = msgspec.json.decode(json.dumps(message), type=event_type)
        event = msgspec.structs.replace(event, epoch=3, received_at=1_700_000_000.25)
        line = encoder.encode(event)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        obj = json.loads(line)
        assert next(iter(obj)) == "type" or event_type is CandleEvent
        assert obj["epoch"] == 3
        assert obj["received_at"] == 1_700_000_000.25
        for key, value in message.items():
            if key in ("is_trading_suspended",):  # deprecated, not carried by the event
                continue
            assert key in obj, f"{name}: {key} missing from {sorted(obj)}"
            assert _same(obj[key], value), f"{name}: {key}: {obj[key]!r} != {value!r}"
        assert isinstance(obj["timestamp"], int)


def test_stats_count_lines_by_upbit_type() -> None:
    stats = OutputStats()
    events: list[Event] = [
        msgspec.json.decode(json.dumps(m), type=t)
        for name, t in DEFAULT_EXAMPLES
        for m in _messages(name)
    ]
    for event in events:
        stats.record(event)
    assert stats.by_type == {
        "ticker": 1,
        "trade": 2,
        "orderbook": 2,
        "candle.1m": 1,
        "candle.15m": 1,
        "myAsset": 1,
        "myOrder": len(_messages("myOrder.default.json")),
    }
    assert stats.latency.observations == len(events)
    assert stats.latency.cumulative()[-1] == ("+Inf", len(events))


async def _drain(fd: int, into: bytearray) -> None:
    def read_all() -> None:
        while chunk := os.read(fd, 65536):
            into.extend(chunk)

    await asyncio.to_thread(read_all)


async def test_writer_delivers_every_line_in_order_and_flushes_on_close() -> None:
    read_fd, write_fd = os.pipe()
    received = bytearray()
    writer = LineWriter(write_fd, max_buffer=4096)
    writer.start()
    reader = asyncio.create_task(_drain(read_fd, received))
    try:
        for i in range(20_000):
            if not writer.has_room():
                await writer.wait_for_room()
            writer.append_line(b'{"n":%d}\n' % i)
        writer.close()
        async with asyncio.timeout(10 * TIMEOUT_FACTOR):
            await writer.wait_finished()
    finally:
        os.close(write_fd)
        async with asyncio.timeout(10 * TIMEOUT_FACTOR):
            await reader
        os.close(read_fd)
    lines = received.decode().splitlines()
    assert [json.loads(x)["n"] for x in lines] == list(range(20_000))
    assert writer.bytes_written == len(received)


async def test_slow_reader_bounds_the_buffer_and_never_blocks_the_loop() -> None:
    read_fd, write_fd = os.pipe()
    writer = LineWriter(write_fd, max_buffer=8192)
    writer.start()
    line = b"x" * 99 + b"\n"
    try:
        # Nobody reads: the pipe (64 KiB) fills, the thread blocks in write, the buffer fills.
        accepted = 0
        while writer.has_room():
            writer.append_line(line)
            accepted += 1
        waiter = asyncio.create_task(writer.wait_for_room())
        # The loop keeps running while the writer is stuck: this sleep returns.
        await asyncio.sleep(0)
        async with asyncio.timeout(5 * TIMEOUT_FACTOR):
            while writer.has_room() or waiter.done():
                # The thread may still be taking a batch into the pipe; top the buffer up.
                if waiter.done():
                    waiter = asyncio.create_task(writer.wait_for_room())
                if writer.has_room():
                    writer.append_line(line)
                    accepted += 1
                await asyncio.sleep(0.001)
        assert writer.buffered <= writer.max_buffer + len(line)
        assert not waiter.done()
        # Reading frees the pipe, the thread takes the buffer, the waiter wakes.
        received = bytearray()
        reader = asyncio.create_task(_drain(read_fd, received))
        async with asyncio.timeout(5 * TIMEOUT_FACTOR):
            await waiter
        assert writer.stalls >= 1
        writer.close()
        async with asyncio.timeout(10 * TIMEOUT_FACTOR):
            await writer.wait_finished()
    finally:
        os.close(write_fd)
    async with asyncio.timeout(10 * TIMEOUT_FACTOR):
        await reader
    os.close(read_fd)
    assert len(received) == accepted * len(line)


async def test_reader_closing_the_pipe_is_reported_not_raised() -> None:
    read_fd, write_fd = os.pipe()
    writer = LineWriter(write_fd, max_buffer=1024)
    writer.start()
    os.close(read_fd)
    try:
        writer.append_line(b"first\n")
        async with asyncio.timeout(5 * TIMEOUT_FACTOR):
            await writer.wait_finished()
        assert writer.broken_pipe
        with pytest.raises(OutputClosed):
            writer.append_line(b"second\n")
        with pytest.raises(OutputClosed):
            await writer.wait_for_room()
    finally:
        os.close(write_fd)


def test_backfilled_trades_count_but_are_not_latency() -> None:
    stats = OutputStats()
    (message, _) = _messages("trade.default.json")
    live = msgspec.json.decode(json.dumps(message), type=TradeEvent)
    stats.record(live)
    stats.record(msgspec.structs.replace(live, stream_type="REST", backfilled=True))
    assert stats.by_type == {"trade": 2}
    assert stats.latency.observations == 1
