"""Parsing one `/websocket/v1/info` request: `indicator` and `indicator_signal` type objects.

The envelope (ticket, format, LIST_SUBSCRIPTIONS) is the other endpoints' (ws_request.py).
A type object is `{"type", "codes", "timeframe", "indicators": [{"type", "params"}]}`, and for
`indicator_signal` each indicator adds `trigger` and, where the trigger has one,
`event_params`. The accepted values are Upbit's (docs.upbit.com/kr/reference/websocket-indicator
and websocket-indicator-signal; the request models of Upbit's SDK v1.1.0 list every value).

Decisions where Upbit is silent (SIMULATOR.md):
- Errors use the names of Upbit's WebSocket error table: a value of the wrong JSON type ->
  WRONG_FORMAT; `codes` missing or `[]` -> NO_CODES; anything else missing or unsupported (an
  unknown type on this endpoint, a code that is not a listed KRW market, a timeframe, an
  indicator, a parameter, a trigger, a parameter the indicator does not take) -> INVALID_PARAM.
  Checks run per type object in the order type, codes, timeframe, indicators (each in order:
  type, params, trigger, event_params); the first failure answers and changes nothing.
- Whole-number parameters may be sent as 14 or 14.0; Bollinger's `multiplier` is any number in
  (0, 5] (Upbit's SDK types it as a float without a list).
- `event_params` may be left out (or `{}`) for triggers that take none; identical indicators in
  one type object count once; `is_only_snapshot` / `is_only_realtime` are ignored (there is no
  snapshot).
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from upbit_tui.exchange.ws_request import (
    ListRequest,
    RequestError,
    UnknownCodes,
    parse_envelope,
)

INFO_TYPES = ("indicator", "indicator_signal")
TIMEFRAMES = {"5m": "5m", "15m": "15m", "60m": "60m", "240m": "240m", "1d": "1d"}  # -> interval
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "volume": ("period",),
    "rsi": ("period",),
    "moving_average": ("period", "type"),
    "ma_crossover": ("short_period", "long_period", "type"),
    "bollinger_bands": ("period", "multiplier"),
    "macd": ("fast", "slow", "signal_period"),
}
_MA_TYPES = frozenset({"SMA", "EMA"})
_CROSSOVER_PAIRS = frozenset({(5, 20), (20, 60), (30, 90), (50, 200)})
_MACD_SETS = frozenset({(12, 26, 9), (8, 17, 9), (5, 35, 5)})
_MAX_MULTIPLIER = 5.0
_PERIODS: dict[str, dict[str, frozenset[int]]] = {
    "indicator": {
        "volume": frozenset(range(5, 51, 5)),
        "rsi": frozenset([*range(2, 15), 21, 25]),
        "moving_average": frozenset({3, 5, 7, 10, 15, 20, 25, 30, 50, 60, 90, 99, 100, 120, 200}),
        "bollinger_bands": frozenset({10, 20, 50}),
    },
    "indicator_signal": {
        "volume": frozenset({10, 20, 50}),
        "rsi": frozenset({7, 9, 14, 21, 25}),
        "moving_average": frozenset({5, 10, 20, 30, 60, 90, 120, 200}),
        "bollinger_bands": frozenset({20}),
    },
}
# indicator -> trigger -> (its event parameter and allowed values) or None (takes none)
TRIGGERS: dict[str, dict[str, tuple[str, frozenset[int]] | None]] = {
    "volume": {"volume_spike": ("multiplier", frozenset({2, 3, 5}))},
    "rsi": {
        "overbought": ("threshold", frozenset({70, 80})),
        "oversold": ("threshold", frozenset({20, 30})),
    },
    "moving_average": {"price_cross_above": None, "price_cross_below": None},
    "ma_crossover": {"golden_cross": None, "dead_cross": None},
    "bollinger_bands": {"price_cross_above": None, "price_cross_below": None},
    "macd": {
        "golden_cross": None,
        "dead_cross": None,
        "zero_cross_above": None,
        "zero_cross_below": None,
    },
}

Param = int | float | str


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """One indicator (and, for a signal, its condition), parameters in message order."""

    kind: str
    params: tuple[tuple[str, Param], ...]
    trigger: str | None = None
    event_params: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class InfoType:
    type: str  # "indicator" | "indicator_signal"
    codes: tuple[str, ...]  # as sent, deduplicated
    markets: tuple[str, ...]  # the listed ones (unknown_codes="ignore" drops the others)
    timeframe: str
    indicators: tuple[IndicatorSpec, ...]


@dataclass(frozen=True, slots=True)
class InfoRequest:
    ticket: str
    types: tuple[InfoType, ...]
    format: str | None

    @property
    def markets(self) -> list[str]:
        return list(dict.fromkeys(m for t in self.types for m in t.markets))


def parse_info_request(
    text: str, *, known_codes: Container[str], unknown_codes: UnknownCodes = "error"
) -> InfoRequest | ListRequest:
    """Parse one request message of the /info endpoint; raises RequestError."""
    envelope = parse_envelope(text)
    if envelope.method is not None:
        return ListRequest(envelope.ticket, envelope.format)
    types = tuple(_info_type(obj, known_codes, unknown_codes) for obj in envelope.type_objects)
    return InfoRequest(envelope.ticket, types, envelope.format)


def _invalid(message: str) -> RequestError:
    return RequestError("INVALID_PARAM", message[:200])


def _wrong(message: str) -> RequestError:
    return RequestError("WRONG_FORMAT", message[:200])


def _info_type(obj: dict[str, Any], known: Container[str], unknown: UnknownCodes) -> InfoType:
    type_ = obj["type"]
    if not isinstance(type_, str):
        raise _wrong("type 은 문자열이어야 합니다.")
    if type_ not in INFO_TYPES:
        raise _invalid(f"지원하지 않는 type 입니다: {type_[:40]}")
    raw_codes = obj.get("codes")
    if raw_codes is None or raw_codes == []:
        raise RequestError("NO_CODES", "codes 필드가 존재하지 않습니다.")
    if not isinstance(raw_codes, list) or not all(isinstance(c, str) for c in raw_codes):
        raise _wrong("codes 는 문자열 리스트여야 합니다.")
    codes = tuple(dict.fromkeys(raw_codes))
    not_krw = [c for c in codes if not c.startswith("KRW-")]
    if not_krw:
        raise _invalid(f"KRW 마켓만 지원합니다: {', '.join(not_krw[:5])}")
    missing = [c for c in codes if c not in known]
    if missing and unknown == "error":
        raise _invalid(f"존재하지 않는 마켓 코드입니다: {', '.join(missing[:5])}")
    markets = tuple(c for c in codes if c in known)
    timeframe = obj.get("timeframe")
    if timeframe is None:
        raise _invalid("timeframe 필드가 존재하지 않습니다.")
    if not isinstance(timeframe, str):
        raise _wrong("timeframe 은 문자열이어야 합니다.")
    if timeframe not in TIMEFRAMES:
        raise _invalid(f"지원하지 않는 timeframe 입니다: {timeframe[:40]}")
    indicators = obj.get("indicators")
    if indicators is None or indicators == []:
        raise _invalid("indicators 필드가 존재하지 않습니다.")
    if not isinstance(indicators, list):
        raise _wrong("indicators 는 리스트여야 합니다.")
    specs = tuple(dict.fromkeys(_indicator(item, type_) for item in indicators))
    return InfoType(type_, codes, markets, timeframe, specs)


def _indicator(item: object, type_: str) -> IndicatorSpec:
    if not isinstance(item, dict):
        raise _wrong("indicators 의 항목은 객체여야 합니다.")
    kind = item.get("type")
    if kind is None:
        raise _invalid("indicators[].type 필드가 존재하지 않습니다.")
    if not isinstance(kind, str):
        raise _wrong("indicators[].type 은 문자열이어야 합니다.")
    if kind not in PARAM_NAMES:
        raise _invalid(f"지원하지 않는 지표입니다: {kind[:40]}")
    params = _params(kind, item.get("params"), type_)
    if type_ == "indicator":
        extra = [key for key in ("trigger", "event_params") if key in item]
        if extra:
            raise _invalid(f"indicator 에서 지원하지 않는 필드입니다: {extra[0]}")
        return IndicatorSpec(kind, params)
    trigger = item.get("trigger")
    if trigger is None:
        raise _invalid("indicators[].trigger 필드가 존재하지 않습니다.")
    if not isinstance(trigger, str):
        raise _wrong("indicators[].trigger 는 문자열이어야 합니다.")
    if trigger not in TRIGGERS[kind]:
        raise _invalid(f"{kind} 에서 지원하지 않는 trigger 입니다: {trigger[:40]}")
    return IndicatorSpec(kind, params, trigger, _event_params(kind, trigger, item))


def _params(kind: str, raw: object, type_: str) -> tuple[tuple[str, Param], ...]:
    if raw is None:
        raise _invalid(f"{kind} 의 params 필드가 존재하지 않습니다.")
    if not isinstance(raw, dict):
        raise _wrong("params 는 객체여야 합니다.")
    names = PARAM_NAMES[kind]
    unknown = [key for key in raw if key not in names]
    if unknown:
        raise _invalid(f"{kind} 에서 지원하지 않는 파라미터입니다: {str(unknown[0])[:40]}")
    absent = [name for name in names if name not in raw]
    if absent:
        raise _invalid(f"{kind} 의 params.{absent[0]} 필드가 존재하지 않습니다.")
    values: dict[str, Param] = {}
    for name in names:
        value = raw[name]
        if name == "type":
            if not isinstance(value, str):
                raise _wrong("params.type 은 문자열이어야 합니다.")
            if value not in _MA_TYPES:
                raise _invalid(f"지원하지 않는 이동평균 유형입니다: {value[:40]}")
            values[name] = value
        elif name == "multiplier":
            number = _number(value, name)
            if not 0.0 < number <= _MAX_MULTIPLIER:
                raise _invalid(f"지원하지 않는 multiplier 입니다: {number}")
            values[name] = number
        else:
            values[name] = _whole(value, name)
    periods = _PERIODS[type_].get(kind)
    if periods is not None and values["period"] not in periods:
        raise _invalid(f"{kind} 에서 지원하지 않는 period 입니다: {values['period']}")
    if kind == "ma_crossover" and (values["short_period"], values["long_period"]) not in (
        _CROSSOVER_PAIRS
    ):
        raise _invalid("지원하지 않는 short_period / long_period 조합입니다.")
    if kind == "macd" and (values["fast"], values["slow"], values["signal_period"]) not in (
        _MACD_SETS
    ):
        raise _invalid("지원하지 않는 fast / slow / signal_period 조합입니다.")
    return tuple(values.items())


def _event_params(kind: str, trigger: str, item: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    rule = TRIGGERS[kind][trigger]
    raw = item.get("event_params")
    if raw is not None and not isinstance(raw, dict):
        raise _wrong("event_params 는 객체여야 합니다.")
    if rule is None:
        if raw:
            raise _invalid(f"{trigger} 은 event_params 를 지원하지 않습니다.")
        return ()
    name, allowed = rule
    if not raw or name not in raw:
        raise _invalid(f"{trigger} 의 event_params.{name} 필드가 존재하지 않습니다.")
    unknown = [key for key in raw if key != name]
    if unknown:
        raise _invalid(f"{trigger} 에서 지원하지 않는 파라미터입니다: {str(unknown[0])[:40]}")
    value = _whole(raw[name], name)
    if value not in allowed:
        raise _invalid(f"{trigger} 에서 지원하지 않는 {name} 입니다: {value}")
    return ((name, value),)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _wrong(f"{name} 은 숫자여야 합니다.")
    if not math.isfinite(value):
        raise _invalid(f"지원하지 않는 {name} 입니다.")
    return float(value)


def _whole(value: object, name: str) -> int:
    number = _number(value, name)
    if not number.is_integer():
        raise _invalid(f"{name} 은 정수여야 합니다: {number}")
    return int(number)
