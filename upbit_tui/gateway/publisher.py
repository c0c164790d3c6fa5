"""EventPublisher: puts each event on NATS once, however many remote clients want it.

Every remote client's wish is a proxy inside the gateway, so the manager keeps doing the union,
ref-counting, grace periods and recovery. Each of those subscriptions is a callback here, and of
all the holders of one (type, code) only the first, its owner, publishes: the event is encoded
once (msgspec) and sent once. When the owner leaves, the next holder takes over; the handover
can offer a trade twice, so trades are also filtered by sequential_id (never older than the last
one published for the code).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from upbit_tui.gateway.protocol import encode, event_subject, trade_msg_id
from upbit_tui.gateway.trade_ids import SeenTradeIds
from upbit_tui.wire.events import CandleEvent, DataType, MarketEvent, OrderbookEvent, TradeEvent

log = logging.getLogger(__name__)

# (kind, code or "*", orderbook level or None)
HolderKey = tuple[str, str, float | None]
Send = Callable[[str, bytes, dict[str, str] | None], Awaitable[None]]

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

    def __init__(self, send: Send, prefix: str) -> None:
        self._send = send
        self.prefix = prefix
        self._holders: dict[HolderKey, list[str]] = {}
        self._subjects: dict[tuple[str, str], str] = {}
        self._seen = SeenTradeIds()
        self._forwarders: dict[str, Callable[[Any], Awaitable[None]]] = {}
        self._held: dict[str, list[TradeEvent]] = {}
        self._first_held: dict[str, asyncio.Event] = {}  # set by a held code's first live trade
        self.published = 0
        self.skipped_trades = 0
        self.publish_errors = 0

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

    def forwarder(self, holder: str) -> Callable[[Any], Awaitable[None]]:
        """The callback of `holder`'s subscriptions inside the gateway (kept here: the
        manager holds callbacks weakly)."""
        found = self._forwarders.get(holder)
        if found is None:
            found = self._forwarders[holder] = self._make_forwarder(holder)
        return found

    def _make_forwarder(self, holder: str) -> Callable[[Any], Awaitable[None]]:
        async def forward(event: MarketEvent) -> None:
            kind = kind_of(event)
            code: str = event.symbol  # type: ignore[attr-defined]  # every event class has one
            level = event.level if isinstance(event, OrderbookEvent) else None
            if self.owner(kind, code, level) != holder:
                return
            await self.publish(event, kind, code)

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
        """Publish the fetched gap and the held live trades in time order, each once.
        Live trades arriving meanwhile keep being held until the last of them is out."""
        pending: list[TradeEvent] = list(missed)
        while True:
            held = self._held.get(code, [])
            self._held[code] = []
            merged = {t.sequential_id: t for t in pending}
            merged.update((t.sequential_id, t) for t in held)  # the live copy wins
            if not merged:
                break
            # By trade time (stable: Upbit's order within a millisecond); ids are not ordered.
            for trade in sorted(merged.values(), key=lambda t: t.trade_timestamp):
                await self._publish_trade(trade, code)
            pending = []
        del self._held[code]
        self._first_held.pop(code, None)

    # ------------------------------------------------------------------ hot path

    async def publish(self, event: MarketEvent, kind: str, code: str) -> None:
        if isinstance(event, TradeEvent):
            held = self._held.get(code)
            if held is not None:
                held.append(event)
                self._first_held[code].set()
                return
            await self._publish_trade(event, code)
            return
        await self._send_event(event, kind, code, None)

    async def _publish_trade(self, event: TradeEvent, code: str) -> None:
        if not self._seen.add(code, event.sequential_id):
            self.skipped_trades += 1
            return
        headers = {"Nats-Msg-Id": trade_msg_id(code, event.sequential_id)}
        await self._send_event(event, "trade", code, headers)

    async def _send_event(
        self, event: MarketEvent, kind: str, code: str, headers: dict[str, str] | None
    ) -> None:
        subject = self._subjects.get((kind, code))
        if subject is None:
            subject = self._subjects[(kind, code)] = event_subject(self.prefix, kind, code)
        try:
            await self._send(subject, encode(event), headers)
        except Exception as exc:  # NATS down: the event is lost for the bus, counted
            self.publish_errors += 1
            log.debug("publish on %s failed: %s", subject, exc)
            return
        self.published += 1


def _keys(data_type: DataType, codes: list[str] | None, level: float | None) -> list[HolderKey]:
    kind = data_type.value
    lvl = float(level or 0.0) if data_type is DataType.ORDERBOOK else None
    if codes is None or data_type is DataType.BALANCE:
        return [(kind, "*", None)]
    return [(kind, code, lvl) for code in codes]
