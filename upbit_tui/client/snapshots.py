"""Snapshots: the current ticker, orderbook or candles, from the stream when it is live.

A symbol that streams on a live, current-epoch socket is answered from the latest streamed value
(no REST call, no rate-limit cost); the rest comes from REST. After a reconnect the current
candle of every subscribed timeframe is re-read from REST, since the candle stream only sends
a candle when it trades.

    snapshots = Snapshots(rest_client, live, latest, publish, is_current_epoch)
    await snapshots.tickers(symbols) / orderbooks(symbols, depth) / candles(symbols, tf, count)
        # count: 1 .. MAX_CANDLES (10,000); more raises ValueError before any request
    await snapshots.refresh_candles({DataType.CANDLE_1M: {"KRW-BTC"}}, epoch)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from upbit_tui.wire.codec import parse_timeframe
from upbit_tui.wire.events import (
    CandleEvent,
    DataType,
    MarketEvent,
    OrderbookEvent,
    StreamType,
    TickerEvent,
)
from upbit_tui.wire.symbols import normalize_symbols

if TYPE_CHECKING:
    from upbit_tui.net.rest import UpbitRestClient

log = logging.getLogger(__name__)

ORDERBOOK_DEPTHS = (1, 5, 15, 30)
# The most candles one snapshot may ask for: Upbit answers 200 per call, so 10,000 is 50 calls
# (about 5 s at the quotation limit of 10 calls/s); more would park the caller for minutes.
MAX_CANDLES = 10_000


class Snapshots:
    """Ticker, orderbook and candle snapshots; see the module docstring."""

    def __init__(
        self,
        rest_client: Callable[[], UpbitRestClient],
        live: Callable[[DataType, str], MarketEvent | None],
        latest: Callable[[DataType, str], MarketEvent | None],
        publish: Callable[[MarketEvent], Any],
        is_current_epoch: Callable[[int], bool],
    ) -> None:
        self._rest_client = rest_client
        self._live = live  # the streamed value, only while it streams in the current epoch
        self._latest = latest  # the router's cached value, whatever its epoch
        self.publish = publish  # replaced by the manager when its router is rebuilt
        self._is_current_epoch = is_current_epoch

    async def tickers(self, symbols: Iterable[str] | str) -> list[TickerEvent]:
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        found: dict[str, TickerEvent] = {}
        for code in codes:
            live = self._live(DataType.TICKER, code)
            if isinstance(live, TickerEvent):
                found[code] = live
        missing = [c for c in codes if c not in found]
        if missing:
            for event in await self._rest_client().get_tickers(missing):
                found[event.symbol] = event
        return [found[c] for c in codes if c in found]

    async def orderbooks(
        self, symbols: Iterable[str] | str, depth: int = 30
    ) -> list[OrderbookEvent]:
        if depth not in ORDERBOOK_DEPTHS:
            raise ValueError(f"orderbook depth {depth!r} is not one of 1, 5, 15, 30")
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        found: dict[str, OrderbookEvent] = {}
        for code in codes:
            live = self._live(DataType.ORDERBOOK, code)
            if isinstance(live, OrderbookEvent) and len(live.orderbook_units) >= depth:
                found[code] = msgspec.structs.replace(
                    live, orderbook_units=live.orderbook_units[:depth]
                )
        missing = [c for c in codes if c not in found]
        if missing:
            for event in await self._rest_client().get_orderbooks(missing, depth=depth):
                found[event.symbol] = event
        return [found[c] for c in codes if c in found]

    async def candles(
        self, symbols: Iterable[str] | str, timeframe: str, count: int = 200
    ) -> dict[str, list[CandleEvent]]:
        """REST candles, oldest first, at most MAX_CANDLES (10,000) per symbol. Besides the
        streamable timeframes, "1d" / "day" gives day candles (Upbit streams no day candle:
        the ticker carries the current day's)."""
        from upbit_tui.net.rest import DAY_TIMEFRAMES

        day = isinstance(timeframe, str) and timeframe.strip().lower() in DAY_TIMEFRAMES
        period: str | DataType = "1d" if day else parse_timeframe(timeframe)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CANDLES:
            raise ValueError(
                f"count must be a whole number from 1 to {MAX_CANDLES:,} (Upbit pages 200 "
                f"candles per call), got {count!r}"
            )
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        rest = self._rest_client()
        out: dict[str, list[CandleEvent]] = {}
        for code in codes:
            out[code] = await rest.get_candles(code, period, count=count)
        return out

    async def refresh_candles(self, candles: dict[DataType, set[str]], epoch: int) -> None:
        """After a reconnect, re-read the current candle of every subscribed timeframe."""
        rest = self._rest_client()
        for data_type, symbols in candles.items():
            for symbol in sorted(symbols):
                try:
                    latest = await rest.get_candles(symbol, data_type, count=1)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("candle refresh for %s %s failed: %s", symbol, data_type, exc)
                    continue
                if not latest or not self._is_current_epoch(epoch):
                    continue
                candle = latest[-1]
                cached = self._latest(data_type, symbol)
                if cached is not None and cached.timestamp_ms >= candle.timestamp_ms:
                    continue  # the stream already delivered something newer
                candle.epoch = epoch
                candle.stream_type = StreamType.REST
                candle.received_at = time.time()
                self.publish(candle)
