"""FrameDispatch: each WebSocket frame decoded and handed to whoever needs it.

Runs inside the connections' read loops, so it never awaits. Market data goes to the router
(`publish`), trades first through TradeContinuity (`on_trade`); control frames (the watchdog's
LIST_SUBSCRIPTIONS answer, Upbit's error frames) go back to the manager through two hooks.
Malformed frames and error frames are counted in the metrics; the last error text per connection
is kept for health.

Public events for a market code nobody subscribed (`wanted`: the union's codes, kept current by
WireUnion) are dropped and counted (`unsolicited`), before anything keeps state for the code: a
server sending endless new codes cannot grow our memory (issue 9).

    dispatch = FrameDispatch(publish, on_trade, metrics, on_listing, on_error, wanted)
    Connection(..., on_frame=dispatch.public)   # or dispatch.private
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from upbit_tui.net.metrics import MetricsCollector
from upbit_tui.wire.codec import ErrorMessage, FrameDecoder, SubscriptionList
from upbit_tui.wire.events import (
    BalanceEvent,
    CandleEvent,
    MarketEvent,
    OrderbookEvent,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)

log = logging.getLogger(__name__)

PUBLIC = "public"
PRIVATE = "private"


class FrameDispatch:
    """Decode and route frames of the public and private connection; see the module doc."""

    def __init__(
        self,
        publish: Callable[[MarketEvent], Any],
        on_trade: Callable[[TradeEvent], None],
        metrics: MetricsCollector,
        on_listing: Callable[[str, SubscriptionList, int], None],
        on_error: Callable[[str, str, str], None],
        wanted: set[str],
    ) -> None:
        self.publish = publish  # replaced by the manager when its router is rebuilt
        self._on_trade = on_trade
        self._metrics = metrics
        self._on_listing = on_listing
        self._on_error = on_error  # (kind, upper-case error name, text)
        self._public_decode = FrameDecoder().decode
        self._private_decode = FrameDecoder().decode
        self.last_error_frame: dict[str, str] = {}
        self._wanted = wanted  # the same set object WireUnion updates in place
        self.unsolicited = 0  # public events for codes nobody subscribed, dropped
        self.control_frames = {PUBLIC: 0, PRIVATE: 0}  # frames that carried no market data

    def public(self, data: bytes, epoch: int, received_at: float) -> bool:
        """One public frame; True if it carried market data (the watchdog's sign of life).

        Frames are counted by the connection, not here: the hot path stays short.
        """
        result = self._public_decode(data, epoch=epoch, received_at=received_at)
        cls = result.__class__
        if cls is TradeEvent:
            if result.symbol in self._wanted:  # type: ignore[union-attr]
                self._on_trade(result)  # type: ignore[arg-type]
            else:
                self.unsolicited += 1
            return True
        if cls is TickerEvent or cls is OrderbookEvent or cls is CandleEvent:
            if result.symbol in self._wanted:  # type: ignore[union-attr]
                self.publish(result)  # type: ignore[arg-type]
            else:
                self.unsolicited += 1
            return True
        if cls is list:
            wanted = self._wanted
            for event in result:  # type: ignore[union-attr]
                if event.symbol not in wanted:  # type: ignore[union-attr]
                    self.unsolicited += 1
                elif event.__class__ is TradeEvent:
                    self._on_trade(event)
                else:
                    self.publish(event)
            return True
        return self._control(PUBLIC, result, epoch)

    def private(self, data: bytes, epoch: int, received_at: float) -> bool:
        result = self._private_decode(data, epoch=epoch, received_at=received_at)
        if isinstance(result, BalanceEvent | OrderEvent):
            self.publish(result)
            return True
        if isinstance(result, list):
            for event in result:
                self.publish(event)
            return True
        return self._control(PRIVATE, result, epoch)

    def _control(self, kind: str, result: object, epoch: int) -> bool:
        self.control_frames[kind] += 1
        if isinstance(result, SubscriptionList):
            # The answer to the watchdog's probe: alive, and what the server thinks we want.
            self._on_listing(kind, result, epoch)
        elif result is None:
            self._metrics.record_bad_frame()
        elif isinstance(result, ErrorMessage):
            self._metrics.record_bad_frame()
            text = f"{result.name}: {result.message}" if result.message else result.name
            self.last_error_frame[kind] = text
            log.warning("Upbit %s WebSocket error frame: %s", kind, text)
            self._on_error(kind, result.name.upper(), text)
        elif isinstance(result, MarketEvent):
            # A public type on the private socket (or vice versa) is still data.
            self.control_frames[kind] -= 1
            if kind == PUBLIC and getattr(result, "symbol", None) not in self._wanted:
                self.unsolicited += 1
            else:
                self.publish(result)
            return True
        return False
