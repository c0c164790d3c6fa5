"""JSON lines on stdout: the encoding of events and a writer that never blocks the event loop.

The writer hands bytes to a thread that does the blocking writes, through a bounded buffer.
When a slow reader lets the buffer fill, producers wait (`wait_for_room`), so the backpressure
goes back to the manager's per-subscriber queues, where the configured policy (drop_oldest,
coalesce_by_symbol, throttle) decides what is dropped and counts it. Memory stays bounded by
the buffer size, whatever the reader does. A thread rather than a non-blocking fd, because
stdout may be a regular file or /dev/null (which the event loop cannot poll) or a terminal
shared with the parent shell (whose O_NONBLOCK flag we must not change).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import select
import threading
import time
from collections.abc import Callable

import msgspec

from upbit_tui.wire.events import (
    BalanceEvent,
    CandleEvent,
    Event,
    OrderbookEvent,
    OrderEvent,
    StreamType,
    TickerEvent,
    TradeEvent,
)

# Upbit's `type` of each event; candles carry their own `type` field ("candle.1m").
UPBIT_TYPES: dict[type, str] = {
    TickerEvent: "ticker",
    TradeEvent: "trade",
    OrderbookEvent: "orderbook",
    BalanceEvent: "myAsset",
    OrderEvent: "myOrder",
}
# Written first, as on the wire.
_TYPE_PREFIXES = {cls: b'{"type":"%s",' % name.encode() for cls, name in UPBIT_TYPES.items()}


class JsonLineEncoder:
    """One event -> one line of JSON with Upbit's DEFAULT field names.

    The struct fields already encode under their wire names (`code`, `timestamp` in ms), plus
    `epoch` (connection generation) and `received_at` (local receive time, epoch seconds).
    """

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()

    def encode_into(self, event: Event, buffer: bytearray) -> None:
        """Append the event's line (with its newline) to `buffer`."""
        prefix = _TYPE_PREFIXES.get(type(event))
        if prefix is None:
            self._encoder.encode_into(event, buffer, -1)
        else:
            buffer += prefix
            # The struct's opening brace lands on the prefix's comma; put the comma back.
            comma = len(buffer) - 1
            self._encoder.encode_into(event, buffer, comma)
            buffer[comma] = 0x2C
        buffer.append(0x0A)

    def encode(self, event: Event) -> bytes:
        buffer = bytearray()
        self.encode_into(event, buffer)
        return bytes(buffer)


# Seconds between two hand-offs of lines to the writer thread: the most a line waits in the loop.
HANDOFF_INTERVAL = 0.002


class OutputClosed(Exception):
    """The reader went away (EPIPE) or the output failed; nothing more can be written."""


class LineWriter:
    """A bounded byte buffer drained into a file descriptor by a daemon thread.

    Loop side (one thread, no locks per line): `has_room`, `line_buffer` (append whole lines
    to the bytearray it returns), `append_line`, `wait_for_room`, `close`, `wait_finished`.
    Lines are handed to the thread in batches (at most one hand-off per HANDOFF_INTERVAL), so
    the thread wakes once per batch, not once per line. `max_buffer` bounds the bytes that
    are pending or handed over and not yet written.
    """

    def __init__(self, fd: int, *, max_buffer: int = 1 << 20) -> None:
        self.fd = fd
        self.max_buffer = max_buffer
        self.bytes_written = 0
        self.stalls = 0
        self.error: OSError | None = None
        self._pending = bytearray()  # loop side only
        self._handoff_scheduled = False
        self._last_handoff = float("-inf")
        self._chunks: list[bytearray] = []  # handed to the thread (under _cond)
        self._queued = 0  # bytes handed over and not yet written (under _cond)
        self._cond = threading.Condition(threading.Lock())
        self._closing = False
        self._room_waiters = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._room = asyncio.Event()
        self._finished: asyncio.Future[None] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread; call from inside the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._finished = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name="stdout-writer", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self.error is not None or self._closing

    @property
    def broken_pipe(self) -> bool:
        return isinstance(self.error, BrokenPipeError)

    @property
    def buffered(self) -> int:
        """Bytes accepted and not yet written."""
        return len(self._pending) + self._queued

    def has_room(self) -> bool:
        return len(self._pending) + self._queued < self.max_buffer

    def line_buffer(self) -> bytearray:
        """The bytearray to append whole lines to (now, without awaiting in between).

        Raises OutputClosed once the output is gone.
        """
        if self.error is not None or self._closing:
            raise OutputClosed(str(self.error or "output closed"))
        if not self._handoff_scheduled:
            self._handoff_scheduled = True
            loop = self._loop
            assert loop is not None, "start() first"
            # Each hand-off wakes the thread (a GIL hand-over): at most one per interval, so a
            # busy stream is written in batches while a quiet one goes out at once.
            delay = self._last_handoff + HANDOFF_INTERVAL - loop.time()
            if delay > 0:
                loop.call_later(delay, self._hand_off)
            else:
                loop.call_soon(self._hand_off)
        return self._pending

    def append_line(self, line: bytes | bytearray) -> None:
        self.line_buffer().extend(line)

    async def wait_for_room(self) -> None:
        """Wait until the buffer has room again (or the output closed)."""
        while self.error is None and not self._closing:
            with self._cond:
                # Checked under the lock the thread updates `_queued` with: no lost wake-up.
                if len(self._pending) + self._queued < self.max_buffer:
                    break
                self._room.clear()
                self._room_waiters += 1
            self.stalls += 1
            try:
                await self._room.wait()
            finally:
                with self._cond:
                    self._room_waiters -= 1
        if self.error is not None:
            raise OutputClosed(str(self.error))

    async def wait_finished(self) -> None:
        """Return when the thread is done: the output failed, or `close()` flushed everything."""
        assert self._finished is not None, "start() first"
        await asyncio.shield(self._finished)

    def close(self) -> None:
        """Accept nothing more; the thread writes what was accepted, then stops."""
        self._hand_off()
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._room.set()

    def _hand_off(self) -> None:
        self._handoff_scheduled = False
        if self._loop is not None:
            self._last_handoff = self._loop.time()
        if not self._pending:
            return
        chunk, self._pending = self._pending, bytearray()
        with self._cond:
            if self.error is not None:
                return
            self._chunks.append(chunk)
            self._queued += len(chunk)
            self._cond.notify()

    # Thread side.

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._chunks and not self._closing:
                        self._cond.wait()
                    if not self._chunks:
                        return
                    batch, self._chunks = self._chunks, []
                written = self._write_all(batch)
                with self._cond:
                    self._queued -= written
                    wake = self._room_waiters > 0
                if wake:
                    self._notify_loop(self._room.set)
        except OSError as exc:
            self.error = exc
            with self._cond:
                self._chunks = []
                self._queued = 0
        finally:
            self._notify_loop(self._room.set)
            self._notify_loop(self._finish)

    def _write_all(self, batch: list[bytearray]) -> int:
        """Write every chunk (one writev per round); returns the bytes written."""
        total = sum(len(c) for c in batch)
        views = [memoryview(c) for c in batch]
        left = total
        while left:
            try:
                n = os.writev(self.fd, views[:_IOV_MAX])
            except BlockingIOError:
                # Someone set O_NONBLOCK on a shared fd: wait for it to drain instead.
                select.select([], [self.fd], [], 1.0)
                continue
            except InterruptedError:
                continue
            self.bytes_written += n
            left -= n
            while n:
                head = views[0]
                if n >= len(head):
                    n -= len(head)
                    views.pop(0)
                else:
                    views[0] = head[n:]
                    n = 0
        return total

    def _finish(self) -> None:
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(None)

    def _notify_loop(self, callback: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # The loop may close between the check and the call: then nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback)


# writev takes at most IOV_MAX buffers per call (1024 on Linux and macOS).
_IOV_MAX = 1024


# Upper bounds (seconds) of the latency histogram: exchange timestamp to line handed to stdout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LatencyHistogram:
    """Cumulative-ready bucket counts, O(log buckets) per observation, no locks (loop only)."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.total = 0.0
        self.observations = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.total += seconds
        self.observations += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """[(le, count)] as Prometheus wants them, ending with +Inf."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


class OutputStats:
    """What the headless pipe emitted: lines by Upbit type and exchange-to-output latency."""

    def __init__(self) -> None:
        self.by_type: dict[str, int] = {}
        self.latency = LatencyHistogram()

    def record(self, event: Event) -> None:
        name = event.type if isinstance(event, CandleEvent) else UPBIT_TYPES[type(event)]
        self.by_type[name] = self.by_type.get(name, 0) + 1
        # REST-sourced events (trade backfill after a reconnect) are old by design: not latency.
        if event.timestamp_ms and event.stream_type != StreamType.REST:
            self.latency.observe(max(time.time() - event.timestamp_ms / 1000, 0.0))
