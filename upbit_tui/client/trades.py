"""TradeContinuity: every trade once, in order, across reconnects (issues 4 and 9).

Trades are events, not state: a reconnect must neither lose the trades of the outage nor deliver
one twice. Upbit documents `sequential_id` as a unique Long but does not promise its order, so a
trade is a duplicate when its id is among the last SEEN_WINDOW ids delivered for its market (a
bounded window per market), never because it is "not above the last one": ids that arrive out of
order are delivered, and no single id, however large, can silence a market. An id outside
Upbit's type (a Long: 0 < id < 2**63) is dropped and counted (`invalid_trades`); a market whose
last SILENCED_AFTER live trades were all dropped is reported (`silenced()`, health says so).

After a (re)connect live trades are held behind a REST backfill of what was missed (from the
newest delivered trade's timestamp); the missed ones (marked `backfilled`) and then the held ones
are delivered in time order, each once. A failed backfill never stalls the stream: held trades go
through and the missing range is reported as a gap.

The manager feeds it decoded trades (`on_trade`) and tells it when a subscription was (re)sent
(`catch_up`); it needs only a `publish(event)` callable, a REST client getter and a task spawner.

    continuity = TradeContinuity(publish, rest_client, spawn)
    continuity.on_trade(trade)                  # from the read loop: never awaits
    continuity.catch_up(symbols, epoch)         # before the (re)sent subscription's frames
    continuity.forget(symbol)                   # the market left the wire
    continuity.backfilled_trades, duplicate_trades, invalid_trades, backfill_failures, trade_gaps
    continuity.silenced() -> {symbol: trades dropped in a row}
    continuity.recent_gap_symbols() -> [symbol] # gaps of the last GAP_REPORT_SECONDS
    continuity.report() -> dict                 # the dashboard's "trades" section
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from upbit_tui.wire.events import StreamType, TradeEvent

if TYPE_CHECKING:
    from upbit_tui.net.rest import UpbitRestClient

log = logging.getLogger(__name__)

# How many REST attempts a trade backfill makes before it gives up for this epoch.
BACKFILL_ATTEMPTS = 3
# How long a trade gap (a backfill that failed) keeps health degraded; the dashboard lists the
# last MAX_TRADE_GAPS gaps for good.
GAP_REPORT_SECONDS = 300.0
MAX_TRADE_GAPS = 50
# sequential_id is a Long in Upbit's docs: anything outside 0 < id < 2**63 is not a trade id.
MAX_SEQUENTIAL_ID = 2**63
# Ids remembered per market for de-duplication (Upbit re-sends the last trade after a
# re-subscription; backfill overlaps the live stream by a few trades).
SEEN_WINDOW = 512
# Live trades of one market dropped in a row (duplicates or invalid ids) before health says so.
SILENCED_AFTER = 20

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


@dataclass(eq=False, slots=True)
class TradeTrack:
    """Per market: the ids delivered lately, the newest trade's time, trades held in backfill."""

    # Delivered ids in arrival order: the last SEEN_WINDOW to twice that many. A list, not a
    # set: ids mostly grow, and an id above `top` (the largest kept) needs no lookup at all, so
    # the common trade costs one append; only an id at or below `top` is searched for.
    ids: list[int] = field(default_factory=list)
    top: int = 0
    last_sid: int | None = None  # the newest delivered trade (by trade time)
    last_ts: int = 0
    dropped_in_a_row: int = 0
    held: list[TradeEvent] | None = None  # not None while a backfill runs

    def has_seen(self, sid: int) -> bool:
        return sid <= self.top and sid in self.ids

    def remember(self, trade: TradeEvent) -> None:
        sid = trade.sequential_id
        ids = self.ids
        ids.append(sid)
        if sid > self.top:
            self.top = sid
        if len(ids) > 2 * SEEN_WINDOW:
            del ids[:SEEN_WINDOW]
            self.top = max(ids)  # an id that left the window no longer raises the bar
        self.dropped_in_a_row = 0
        ts = trade.trade_timestamp or trade.timestamp_ms
        if ts >= self.last_ts:
            self.last_ts = ts
            self.last_sid = sid


class TradeContinuity:
    """Gap-free, duplicate-free trades per market; see the module docstring."""

    def __init__(
        self,
        publish: Callable[[TradeEvent], Any],
        rest_client: Callable[[], UpbitRestClient],
        spawn: Spawn,
    ) -> None:
        self.publish = publish  # replaced by the manager when its router is rebuilt
        self._rest_client = rest_client
        self._spawn = spawn
        self.tracks: dict[str, TradeTrack] = {}
        self.backfills: dict[str, asyncio.Task[None]] = {}
        self.backfilled_trades = 0
        self.duplicate_trades = 0
        self.invalid_trades = 0
        self.backfill_failures = 0
        self.trade_gaps: deque[dict[str, Any]] = deque(maxlen=MAX_TRADE_GAPS)

    # ------------------------------------------------------------------ live trades

    def on_trade(self, event: TradeEvent) -> None:
        """One live trade of a subscribed market: delivered, held behind a running backfill,
        or dropped (seen already, or an invalid id)."""
        track = self.tracks.get(event.symbol)
        if track is None:
            track = self.tracks[event.symbol] = TradeTrack()
        if track.held is not None:
            track.held.append(event)  # a backfill is running: live trades wait behind it
            return
        sid = event.sequential_id
        if track.top < sid < MAX_SEQUENTIAL_ID:
            # The common case (a larger id than any kept: new for sure), remember() inlined:
            # a Python call per trade shows in the benchmarks.
            ids = track.ids
            ids.append(sid)
            track.top = sid
            if len(ids) > 2 * SEEN_WINDOW:
                del ids[:SEEN_WINDOW]
            ts = event.trade_timestamp or event.timestamp_ms
            if ts >= track.last_ts:
                track.last_ts = ts
                track.last_sid = sid
            if track.dropped_in_a_row:
                track.dropped_in_a_row = 0
            self.publish(event)
        elif self._is_new(event, track):  # out of order, a duplicate or an invalid id
            track.remember(event)
            self.publish(event)
        else:
            track.dropped_in_a_row += 1

    def _is_new(self, trade: TradeEvent, track: TradeTrack) -> bool:
        sid = trade.sequential_id
        if not 0 < sid < MAX_SEQUENTIAL_ID:
            self.invalid_trades += 1
            if self.invalid_trades == 1 or self.invalid_trades % 1000 == 0:
                log.warning(
                    "dropped a %s trade whose sequential_id is not a Long (%d bits; %d so far)",
                    trade.symbol,
                    sid.bit_length(),
                    self.invalid_trades,
                )
            return False
        if track.has_seen(sid):
            self.duplicate_trades += 1  # e.g. the last trade re-sent after a resubscribe
            return False
        return True

    def silenced(self) -> dict[str, int]:
        """Markets whose last SILENCED_AFTER or more live trades were all dropped."""
        return {
            symbol: track.dropped_in_a_row
            for symbol, track in self.tracks.items()
            if track.dropped_in_a_row >= SILENCED_AFTER
        }

    def forget(self, symbol: str) -> None:
        """The market left the wire: its sequence would go stale; a running backfill ends."""
        self.tracks.pop(symbol, None)
        task = self.backfills.pop(symbol, None)
        if task is not None:
            task.cancel()

    # ------------------------------------------------------------------ backfill

    def catch_up(self, symbols: Iterable[str], epoch: int) -> None:
        """Hold live trades of `symbols` behind a REST backfill each (runs before the frames
        of the (re)sent subscription are read)."""
        for task in self.backfills.values():
            task.cancel()
        self.backfills.clear()
        for symbol in symbols:
            track = self.tracks.get(symbol)
            if track is None or track.last_sid is None:
                continue  # nothing delivered yet: nothing can be missing
            track.held = []
            self.backfills[symbol] = self._spawn(
                self._backfill(symbol, track, epoch), f"upbit-backfill-{symbol}"
            )

    async def _backfill(self, symbol: str, track: TradeTrack, epoch: int) -> None:
        """Fetch the trades missed during the outage, deliver them in order, then the held
        live ones; everything de-duplicated by sequential_id. Live trades are released whatever
        happens: a failed backfill is counted and reported as a gap, never a stalled stream."""
        this = asyncio.current_task()
        missed: list[TradeEvent] = []
        failure: str | None = None
        try:
            missed = await self._fetch_missed(symbol, track)
        except asyncio.CancelledError:
            newer = self.backfills.get(symbol)
            if newer is None or newer is this:
                # Shutdown or the market left: let what was held through.
                self.backfills.pop(symbol, None)
                self._release_held(track, [])
            # else: a newer connection took over and backfills from the same point.
            raise
        except Exception as exc:
            self.backfill_failures += 1
            failure = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("trade backfill for %s failed: %s", symbol, failure)
        if self.backfills.get(symbol) is this:
            del self.backfills[symbol]
        now = time.time()
        for trade in missed:
            trade.backfilled = True
            trade.epoch = epoch
            trade.stream_type = StreamType.REST
            trade.received_at = now
        if failure is not None:
            self._record_gap(symbol, track, failure)
        self._release_held(track, missed)

    async def _fetch_missed(self, symbol: str, track: TradeTrack) -> list[TradeEvent]:
        rest = self._rest_client()
        for attempt in range(BACKFILL_ATTEMPTS):
            try:
                # From the newest trade's millisecond on, whatever the ids: the window drops
                # what was delivered already.
                return await rest.get_trades_since(symbol, since_timestamp_ms=track.last_ts)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == BACKFILL_ATTEMPTS - 1:
                    raise
                log.info("trade backfill for %s failed (%s); retrying", symbol, exc)
                await asyncio.sleep(0.2 * (attempt + 1))
        return []

    def _release_held(self, track: TradeTrack, missed: list[TradeEvent]) -> None:
        """Deliver the missed trades, then the held live ones, in time order, each once."""
        held = track.held or []
        track.held = None
        merged: dict[int, TradeEvent] = {t.sequential_id: t for t in missed}
        merged.update((t.sequential_id, t) for t in held)  # the live copy wins
        # REST answers in time order; sorting by time alone (stable) keeps the held trades in
        # the order they arrived within one millisecond.
        in_time = sorted(merged.values(), key=lambda t: t.trade_timestamp or t.timestamp_ms)
        for trade in in_time:
            if not self._is_new(trade, track):
                continue
            if trade.backfilled:
                self.backfilled_trades += 1
            track.remember(trade)
            self.publish(trade)

    # ------------------------------------------------------------------ gaps and reports

    def _record_gap(self, symbol: str, track: TradeTrack, failure: str) -> None:
        """Trades after the last delivered one and before the first live one held behind the
        failed backfill may be missing: say exactly which range, for health and the dashboard."""
        resumed = [t.sequential_id for t in track.held or () if not track.has_seen(t.sequential_id)]
        gap = {
            "symbol": symbol,
            "after_sequential_id": track.last_sid,
            # None: no live trade yet; the gap then ends at the next trade delivered.
            "resumed_sequential_id": resumed[0] if resumed else None,
            "detected_at": time.time(),
            "error": failure,
        }
        self.trade_gaps.append(gap)
        log.warning(
            "trades of %s between sequential_id %s and %s may be missing (backfill failed)",
            symbol,
            gap["after_sequential_id"],
            gap["resumed_sequential_id"],
        )

    def recent_gap_symbols(self) -> list[str]:
        since = time.time() - GAP_REPORT_SECONDS
        return sorted({g["symbol"] for g in self.trade_gaps if g["detected_at"] >= since})

    def report(self) -> dict[str, Any]:
        """The dashboard's "trades" section."""
        return {
            "backfilled": self.backfilled_trades,
            "duplicates_dropped": self.duplicate_trades,
            "invalid_dropped": self.invalid_trades,
            "silenced": self.silenced(),
            "backfill_failures": self.backfill_failures,
            "gaps": [dict(g) for g in self.trade_gaps],
        }
