"""EventPublisher: puts each event on NATS once, however many remote clients want it.

Every remote client's wish is a proxy inside the gateway, so the manager keeps doing the union,
ref-counting, grace periods and recovery. Each of those subscriptions is a callback here, and of
all the holders of one (type, code) only the first, its owner, publishes: the event is encoded
once (msgspec) and sent once on its subject (and once in its type's batch). When the owner
leaves, the next holder takes over; the handover can offer a trade twice, so trades are also
filtered by identity (SeenTradeIds: a window of the ids published per code).

Hot path: the forwarders are sync callbacks, so the manager's router hands them a whole socket
read back to back (no task step per event); each event is encoded once, queued for its subject
and added to its type's open batch; one pump task then sends the batches (one NATS message per
type, protocol.py) and the per-subject messages, so nats-py writes them all at once. A coroutine
chain per event (forward, publish, send) cost more than the encoding. The queues are bounded: while
NATS blocks the pump, the oldest messages go first and are counted (`dropped`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from upbit_tui.gateway.protocol import batch_subject, encode, event_subject, trade_msg_id
from upbit_tui.gateway.trade_ids import SeenTradeIds
from upbit_tui.wire.events import CandleEvent, DataType, MarketEvent, OrderbookEvent, TradeEvent

log = logging.getLogger(__name__)

# (kind, code or "*", orderbook level or None)
HolderKey = tuple[str, str, float | None]
Send = Callable[[str, bytes, dict[str, str] | None], Awaitable[None]]
Forwarder = Callable[[Any], None]
Message = tuple[str, bytes, dict[str, str] | None]
# Messages waiting for the pump at most (the gateway-side subscriber queues had this size).
OUTBOX_SIZE = 65536
# Events per batch message at most: a backlog (a backfill, a bridge) goes out in several, each
# far below NATS's default 1 MB max_payload (128 full order books: ~0.4 MB).
BATCH_EVENTS = 128
# Events without a market code (myAsset) or not market data: never batched.
_UNBATCHED = frozenset({"myAsset", "myOrder"})

_KIND_BY_CLASS: dict[type, str] = {}


def kind_of(event: MarketEvent) -> str:
    """The wire type of an event ("trade", "candle.1m", ...)."""
    if isinstance(event, CandleEvent):
        return event.type
    kind = _KIND_BY_CLASS.get(event.__class__)
    if kind is None:
        from upbit_tui.gateway.protocol import EVENT_CLASSES

        for data_type, cls in EVENT_CLASSES.items():
            if cls is event.__class__ and not data_type.is_candle:
                kind = _KIND_BY_CLASS[cls] = data_type.value
        if kind is None:
            raise TypeError(f"not a market event: {event.__class__.__name__}")
    return kind


class EventPublisher:
    """See the module docstring. `send(subject, payload, headers)` is the NATS publish."""

    def __init__(
        self, send: Send, prefix: str, *, batches: bool = True, outbox_size: int = OUTBOX_SIZE
    ) -> None:
        self._send = send
        self.prefix = prefix
        self._holders: dict[HolderKey, list[str]] = {}
        self._subjects: dict[tuple[str, str], str] = {}
        self._seen = SeenTradeIds()
        self._forwarders: dict[str, Forwarder] = {}
        self._held: dict[str, list[TradeEvent]] = {}
        self._first_held: dict[str, asyncio.Event] = {}  # set by a held code's first live trade
        self._outbox: deque[Message] = deque()
        self._outbox_size = outbox_size
        self.batches = batches
        self._open: dict[str, list[bytes]] = {}  # kind -> encoded events of the next batch
        self._sealed: deque[Message] = deque()  # batch messages, sent before the outbox
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        self.published = 0
        self.batches_published = 0
        self.skipped_trades = 0
        self.publish_errors = 0
        self.dropped = 0  # messages the full outbox discarded (NATS blocked the pump)

    # ------------------------------------------------------------------ holders

    def hold(self, holder: str, data_type: DataType, codes: list[str] | None, level: float | None
             ) -> None:  # fmt: skip
        for key in _keys(data_type, codes, level):
            holders = self._holders.setdefault(key, [])
            if holder not in holders:
                holders.append(holder)

    def release(self, holder: str, data_type: DataType, codes: list[str] | None,
                level: float | None) -> None:  # fmt: skip
        for key in _keys(data_type, codes, level):
            holders = self._holders.get(key)
            if holders is not None and holder in holders:
                holders.remove(holder)
                if not holders:
                    del self._holders[key]

    def release_all(self, holder: str) -> None:
        self._forwarders.pop(holder, None)
        for key in [k for k, h in self._holders.items() if holder in h]:
            self.release(holder, DataType(key[0]), None if key[1] == "*" else [key[1]], key[2])

    def owner(self, kind: str, code: str, level: float | None = None) -> str | None:
        holders = self._holders.get((kind, "*", None)) or self._holders.get((kind, code, level))
        return holders[0] if holders else None

    def forwarder(self, holder: str) -> Forwarder:
        """The callback of `holder`'s subscriptions inside the gateway (kept here: the
        manager holds callbacks weakly)."""
        found = self._forwarders.get(holder)
        if found is None:
            found = self._forwarders[holder] = self._make_forwarder(holder)
        return found

    def _make_forwarder(self, holder: str) -> Forwarder:
        def forward(event: MarketEvent) -> None:
            kind = kind_of(event)
            code: str = event.symbol  # type: ignore[attr-defined]  # every event class has one
            level = event.level if isinstance(event, OrderbookEvent) else None
            if self.owner(kind, code, level) != holder:
                return
            self.publish(event, kind, code)

        return forward

    # ------------------------------------------------------------------ bridging a switch

    def hold_trades(self, code: str, after: int) -> None:
        """Buffer `code`'s live trades until `bridge_trades` (this gateway took over from one
        that published up to sequential_id `after`, and the gap is being fetched)."""
        self._seen.add(code, after)
        self._held.setdefault(code, [])
        self._first_held.setdefault(code, asyncio.Event())

    async def first_live_trade(self, code: str) -> None:
        """Until a held code's live stream delivered its first trade (callers bound the wait: a
        quiet market may have none). A gap fetched before that could miss the trades made
        between the fetch and the stream's start."""
        event = self._first_held.get(code)
        if event is not None:
            await event.wait()

    def is_holding(self, code: str) -> bool:
        return code in self._held

    async def bridge_trades(self, code: str, missed: list[TradeEvent]) -> None:
        """Publish the fetched gap and the held live trades in time order, each once; later
        live trades queue behind them (publishing does not wait, so none slip in between)."""
        merged = {t.sequential_id: t for t in missed}
        merged.update((t.sequential_id, t) for t in self._held.pop(code, []))  # live copy wins
        # By trade time (stable: Upbit's order within a millisecond); ids are not ordered.
        for trade in sorted(merged.values(), key=lambda t: t.trade_timestamp):
            self._publish_trade(trade, code)
        self._first_held.pop(code, None)

    # ------------------------------------------------------------------ hot path

    def publish(self, event: MarketEvent, kind: str, code: str) -> None:
        """Queue `event` for NATS (never waits)."""
        if event.__class__ is TradeEvent:
            held = self._held.get(code)
            if held is not None:
                held.append(event)
                self._first_held[code].set()
                return
            self._publish_trade(event, code)
            return
        self._queue(kind, code, encode(event), None)

    def _publish_trade(self, event: TradeEvent, code: str) -> None:
        if not self._seen.add(code, event.sequential_id):
            self.skipped_trades += 1
            return
        headers = {"Nats-Msg-Id": trade_msg_id(code, event.sequential_id)}
        self._queue("trade", code, encode(event), headers)

    def _queue(self, kind: str, code: str, payload: bytes, headers: dict[str, str] | None
               ) -> None:  # fmt: skip
        if self._closed:
            return
        subject = self._subjects.get((kind, code))
        if subject is None:
            subject = self._subjects[(kind, code)] = event_subject(self.prefix, kind, code)
        outbox = self._outbox
        if len(outbox) >= self._outbox_size:
            outbox.popleft()
            self.dropped += 1
        outbox.append((subject, payload, headers))
        if self.batches and kind not in _UNBATCHED:
            batch = self._open.get(kind)
            if batch is None:
                self._open[kind] = [payload]
            else:
                batch.append(payload)
                if len(batch) >= BATCH_EVENTS:
                    self._seal()
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run_pump(), name="publish")
        self._wake.set()

    def _seal(self) -> None:
        """Turn the open batches into messages (the read that filled them is over)."""
        sealed = self._sealed
        for kind, payloads in self._open.items():
            if len(sealed) >= self._outbox_size:
                sealed.popleft()
                self.dropped += 1
            sealed.append((batch_subject(self.prefix, kind), b"[" + b",".join(payloads) + b"]",
                           None))  # fmt: skip
        self._open = {}

    async def _run_pump(self) -> None:
        outbox, sealed, send, wake = self._outbox, self._sealed, self._send, self._wake
        while True:
            await wake.wait()
            wake.clear()
            while True:
                # Batches first: a batch subscriber then waits for no per-code message.
                if self._open:
                    self._seal()
                if sealed:
                    subject, payload, headers = sealed.popleft()
                    batch = True
                elif outbox:
                    subject, payload, headers = outbox.popleft()
                    batch = False
                else:
                    break
                try:
                    await send(subject, payload, headers)
                except Exception as exc:  # NATS down: the event is lost for the bus, counted
                    self.publish_errors += 1
                    log.debug("publish on %s failed: %s", subject, exc)
                    continue
                if batch:
                    self.batches_published += 1
                else:
                    self.published += 1

    async def aclose(self) -> None:
        """Stop the pump; what is still queued is dropped (this gateway stops serving)."""
        self._closed = True
        pump, self._pump = self._pump, None
        self._outbox.clear()
        self._sealed.clear()
        self._open = {}
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump


def _keys(data_type: DataType, codes: list[str] | None, level: float | None) -> list[HolderKey]:
    kind = data_type.value
    lvl = float(level or 0.0) if data_type is DataType.ORDERBOOK else None
    if codes is None or data_type is DataType.BALANCE:
        return [(kind, "*", None)]
    return [(kind, code, lvl) for code in codes]
