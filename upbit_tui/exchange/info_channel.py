"""The `/websocket/v1/info` channel: who subscribed to which indicator, and the pushes.

Upbit (docs.upbit.com/kr/reference/websocket-indicator, websocket-indicator-signal): no
snapshot; `indicator` sends the values each time a candle of the chosen timeframe closes,
starting with the first close after the subscription; `indicator_signal` sends an event when
its condition turns from unmet to met, not again while it stays met, again after it was left
(no cool-down). Field names (DEFAULT and SIMPLE) are those of Upbit's SDK v1.1.0 models.

Decisions where Upbit is silent (SIMULATOR.md):
- A candle has closed when the clock passes its end; the server looks every `candle_interval`
  (1 s). A bucket without trades has no candle (as on REST), so nothing is sent for it.
  Values come from the closed candles only (indicators.py: the 200 newest, as one REST page).
- Signals are evaluated at candle close too, on the same values; the condition's state at
  subscription (from the latest closed candle) is the baseline, so a condition that already
  holds fires only after it was left and met again.
- Key order: type, code, timeframe, indicator, [trigger,] params, [event_params,] value,
  candle_date_time_utc, timestamp, stream_type ("REALTIME"); values are JSON numbers
  (unrounded floats); params echo the request (multiplier as a float); `event_params` is `{}`
  for triggers without parameters. LIST_SUBSCRIPTIONS lists `type`, `codes` (as sent) and
  `timeframe` of each type object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from upbit_tui.exchange.indicators import WINDOW, Values, compute, condition_met
from upbit_tui.exchange.info_request import TIMEFRAMES, IndicatorSpec, InfoRequest
from upbit_tui.exchange.market import MarketModel
from upbit_tui.exchange.market_state import INTERVALS
from upbit_tui.exchange.records import Candle
from upbit_tui.exchange.session import Session
from upbit_tui.exchange.wire import encode, is_list, is_simple

MESSAGE_KEYS = {
    "type": "ty",
    "code": "cd",
    "timeframe": "tf",
    "indicator": "ind",
    "trigger": "tr",
    "params": "p",
    "event_params": "ep",
    "value": "v",
    "candle_date_time_utc": "cdttmu",
    "timestamp": "tms",
    "stream_type": "st",
}
PARAM_KEYS = {
    "period": "p",
    "type": "t",
    "short_period": "shp",
    "long_period": "lop",
    "multiplier": "m",
    "fast": "f",
    "slow": "s",
    "signal_period": "sgp",
}
EVENT_PARAM_KEYS = {"threshold": "th", "multiplier": "mul"}
VALUE_KEYS = {
    "volume": "vol",
    "avg_volume": "av",
    "ratio": "rto",
    "rsi": "rsi",
    "value": "value",
    "ma_short": "mas",
    "ma_long": "mal",
    "bb_upper": "bbu",
    "bb_middle": "bbm",
    "bb_lower": "bbl",
    "macd": "macd",
    "macd_signal": "macds",
    "histogram": "hist",
}
LIST_KEYS = {"method": "mthd", "result": "rslt", "ticket": "tckt"}
LIST_ITEM_KEYS = {"type": "ty", "codes": "cds", "timeframe": "tf"}

Key = tuple[str, str]  # (market, timeframe)


@dataclass(slots=True, eq=False)
class _Entry:
    """One indicator of one subscription in one market."""

    session: Session
    type: str
    market: str
    timeframe: str
    spec: IndicatorSpec
    from_bucket: int  # pushes start with the candle of this bucket (the one open at subscribe)
    met: bool = False  # signals: the condition at the latest evaluated close


def _names(pairs: Any, table: dict[str, str], simple: bool) -> dict[str, Any]:
    return {table[k] if simple else k: v for k, v in pairs}


class InfoChannel:
    """Subscriptions of the /info connections; check_closes() pushes what closed."""

    def __init__(self, model: MarketModel, send: Callable[[Session, bytes], None]) -> None:
        self.model = model
        self._send = send
        self._requests: dict[Session, InfoRequest] = {}
        self._entries: dict[Session, list[_Entry]] = {}
        self._by_key: dict[Key, list[_Entry]] = {}
        self._checked: dict[Key, int] = {}  # key -> the open bucket at its last check

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(self, session: Session, request: InfoRequest) -> None:
        """Replace the session's subscription (nothing is sent: there is no snapshot)."""
        self.unsubscribe(session)
        session.format = request.format or "DEFAULT"
        self._requests[session] = request
        now_s = self.model.now_ms() // 1000
        entries: list[_Entry] = []
        for t in request.types:
            bucket = now_s // INTERVALS[t.timeframe] * INTERVALS[t.timeframe]
            for market in t.markets:
                closed = self._closed(market, t.timeframe, bucket)
                for spec in t.indicators:
                    entry = _Entry(session, t.type, market, t.timeframe, spec, bucket)
                    if spec.trigger is not None:
                        entry.met = self._met(spec, closed) is True
                    entries.append(entry)
                    self._by_key.setdefault((market, t.timeframe), []).append(entry)
        self._entries[session] = entries

    def unsubscribe(self, session: Session) -> None:
        self._requests.pop(session, None)
        for entry in self._entries.pop(session, []):
            key = (entry.market, entry.timeframe)
            rest = [e for e in self._by_key.get(key, []) if e is not entry]
            if rest:
                self._by_key[key] = rest
            else:
                self._by_key.pop(key, None)
                self._checked.pop(key, None)

    def send_list(self, session: Session, ticket: str) -> None:
        simple = is_simple(session.format)
        request = self._requests.get(session)
        items = [
            _names(
                (("type", t.type), ("codes", list(t.codes)), ("timeframe", t.timeframe)),
                LIST_ITEM_KEYS,
                simple,
            )
            for t in (request.types if request is not None else ())
        ]
        message = _names(
            (("method", "LIST_SUBSCRIPTIONS"), ("result", items), ("ticket", ticket)),
            LIST_KEYS,
            simple,
        )
        self._send(session, encode([message] if is_list(session.format) else message))

    # -- pushes --------------------------------------------------------------------------------

    def check_closes(self) -> int:
        """Push the indicators and signals of every candle that closed since the last check;
        returns the number of messages sent."""
        now_ms = self.model.now_ms()
        now_s = now_ms // 1000
        sent = 0
        for key, entries in list(self._by_key.items()):
            market, timeframe = key
            length = INTERVALS[timeframe]
            bucket = now_s // length * length
            if self._checked.get(key) == bucket:
                continue
            self._checked[key] = bucket
            closed_start = bucket - length
            due = [e for e in entries if e.from_bucket <= closed_start]
            if not due:
                continue
            closed = self._closed(market, timeframe, bucket)
            if not closed or closed[-1].start != closed_start:
                continue  # no trade in that bucket: no candle, nothing closed
            values: dict[IndicatorSpec, Values | None] = {}
            frames: dict[tuple[IndicatorSpec, str, str], bytes] = {}
            for entry in due:
                spec = entry.spec
                if spec not in values:
                    values[spec] = self._values(spec, closed)
                result = values[spec]
                if result is None:
                    continue
                if spec.trigger is not None:
                    met = condition_met(
                        spec.kind,
                        spec.trigger,
                        result,
                        dict(spec.event_params),
                        closed[-1].trade_price,
                    )
                    fire = met and not entry.met
                    entry.met = met
                    if not fire:
                        continue
                fmt = entry.session.format
                frame_key = (spec, entry.type, fmt)
                data = frames.get(frame_key)
                if data is None:
                    message = self._message(entry, result, closed[-1], now_ms, is_simple(fmt))
                    data = frames[frame_key] = encode([message] if is_list(fmt) else message)
                self._send(entry.session, data)
                sent += 1
        return sent

    def _closed(self, market: str, timeframe: str, bucket: int) -> list[Candle]:
        """The WINDOW newest candles that closed before `bucket`, oldest first."""
        candles = self.model.candles(market, TIMEFRAMES[timeframe], to=bucket, count=WINDOW)
        candles.reverse()
        return candles

    @staticmethod
    def _values(spec: IndicatorSpec, closed: list[Candle]) -> Values | None:
        return compute(
            spec.kind,
            dict(spec.params),
            [c.trade_price for c in closed],
            [c.candle_acc_trade_volume for c in closed],
        )

    def _met(self, spec: IndicatorSpec, closed: list[Candle]) -> bool | None:
        result = self._values(spec, closed) if closed else None
        if result is None or spec.trigger is None:
            return None
        event_params = dict(spec.event_params)
        return condition_met(spec.kind, spec.trigger, result, event_params, closed[-1].trade_price)

    @staticmethod
    def _message(
        entry: _Entry, values: Values, candle: Candle, now_ms: int, simple: bool
    ) -> dict[str, Any]:
        spec = entry.spec
        pairs: list[tuple[str, Any]] = [
            ("type", entry.type),
            ("code", entry.market),
            ("timeframe", entry.timeframe),
            ("indicator", spec.kind),
        ]
        if spec.trigger is not None:
            pairs.append(("trigger", spec.trigger))
        pairs.append(("params", _names(spec.params, PARAM_KEYS, simple)))
        if spec.trigger is not None:
            pairs.append(("event_params", _names(spec.event_params, EVENT_PARAM_KEYS, simple)))
        pairs += [
            ("value", _names(values, VALUE_KEYS, simple)),
            ("candle_date_time_utc", candle.candle_date_time_utc),
            ("timestamp", now_ms),
            ("stream_type", "REALTIME"),
        ]
        return _names(pairs, MESSAGE_KEYS, simple)
