"""The technical indicators of the `/websocket/v1/info` channel, computed from closed candles.

Pure functions over closes and volumes, oldest first. Upbit names the indicators, their
parameters and the values they return (docs.upbit.com/kr/reference/websocket-indicator and
websocket-indicator-signal; Upbit's SDK models them) but not the arithmetic, so the simulator
uses the textbook definitions, written so that a client can recompute every value from the
candles REST returns:
- A value is computed over the WINDOW (200) most recent closed candles, the newest being the
  candle that just closed: one REST page (`count=200`, `to` = the end of that candle).
- SMA: the mean of the last `period` closes. EMA: seeded with the SMA of the window's first
  `period` closes, then `ema += (close - ema) * 2 / (period + 1)` for each later close.
- RSI: Wilder's smoothing (Upbit's own RSI tutorial): the mean gain and loss of the window's
  first `period` changes, then `avg = (avg * (period - 1) + change) / period`;
  RSI = 100 - 100 / (1 + avg_gain / avg_loss); 100 when nothing was lost (50 when flat).
- Bollinger bands: middle = SMA(period); upper/lower = middle +- multiplier x the population
  standard deviation of those `period` closes.
- MACD: EMA(fast) - EMA(slow) of the closes; the signal line is the EMA(signal_period) of the
  MACD line from the first candle both EMAs exist (seeded like any EMA); histogram =
  MACD - signal.
- Volume: the just-closed candle's volume, the mean volume of the `period` candles before it,
  and their ratio (0 when that mean is 0).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

WINDOW = 200
Values = tuple[tuple[str, float], ...]  # (DEFAULT name, value), in message order


def sma(xs: Sequence[float], period: int) -> float:
    return math.fsum(xs[-period:]) / period


def ema_series(xs: Sequence[float], period: int) -> list[float]:
    """EMA of xs at every index from period - 1 on (seeded with the first period's SMA)."""
    alpha = 2.0 / (period + 1)
    value = math.fsum(xs[:period]) / period
    out = [value]
    for x in xs[period:]:
        value += (x - value) * alpha
        out.append(value)
    return out


def moving_average(xs: Sequence[float], period: int, kind: str) -> float:
    return sma(xs, period) if kind == "SMA" else ema_series(xs, period)[-1]


def rsi(closes: Sequence[float], period: int) -> float:
    changes = [b - a for a, b in itertools.pairwise(closes)]
    gain = math.fsum(max(c, 0.0) for c in changes[:period]) / period
    loss = math.fsum(max(-c, 0.0) for c in changes[:period]) / period
    for c in changes[period:]:
        gain = (gain * (period - 1) + max(c, 0.0)) / period
        loss = (loss * (period - 1) + max(-c, 0.0)) / period
    if loss == 0.0:
        return 50.0 if gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


def bollinger(closes: Sequence[float], period: int, multiplier: float) -> tuple[float, ...]:
    window = closes[-period:]
    middle = math.fsum(window) / period
    deviation = math.sqrt(math.fsum((x - middle) ** 2 for x in window) / period)
    return middle + multiplier * deviation, middle, middle - multiplier * deviation


def macd(closes: Sequence[float], fast: int, slow: int, signal: int) -> tuple[float, ...]:
    fast_line = ema_series(closes, fast)[slow - fast :]  # aligned with the slow EMA
    slow_line = ema_series(closes, slow)
    line = [f - s for f, s in zip(fast_line, slow_line, strict=True)]
    signal_value = ema_series(line, signal)[-1]
    return line[-1], signal_value, line[-1] - signal_value


def candles_needed(kind: str, params: Mapping[str, float | str]) -> int:
    """Closed candles the indicator needs (fewer: no value, so no message)."""
    if kind in ("volume", "rsi"):
        return int(params["period"]) + 1
    if kind == "ma_crossover":
        return int(params["long_period"])
    if kind == "macd":
        return int(params["slow"]) + int(params["signal_period"]) - 1
    return int(params["period"])


def compute(
    kind: str,
    params: Mapping[str, float | str],
    closes: Sequence[float],
    volumes: Sequence[float],
) -> Values | None:
    """The indicator's values at the newest candle, or None without enough candles."""
    if len(closes) < candles_needed(kind, params):
        return None
    if kind == "volume":
        period = int(params["period"])
        average = math.fsum(volumes[-period - 1 : -1]) / period
        ratio = volumes[-1] / average if average else 0.0
        return (("volume", volumes[-1]), ("avg_volume", average), ("ratio", ratio))
    if kind == "rsi":
        return (("rsi", rsi(closes, int(params["period"]))),)
    if kind == "moving_average":
        value = moving_average(closes, int(params["period"]), str(params["type"]))
        return (("value", value),)
    if kind == "ma_crossover":
        short = moving_average(closes, int(params["short_period"]), str(params["type"]))
        long = moving_average(closes, int(params["long_period"]), str(params["type"]))
        return (("ma_short", short), ("ma_long", long))
    if kind == "bollinger_bands":
        upper, middle, lower = bollinger(closes, int(params["period"]), float(params["multiplier"]))
        return (("bb_upper", upper), ("bb_middle", middle), ("bb_lower", lower))
    if kind == "macd":
        line, signal, histogram = macd(
            closes, int(params["fast"]), int(params["slow"]), int(params["signal_period"])
        )
        return (("macd", line), ("macd_signal", signal), ("histogram", histogram))
    raise ValueError(f"unknown indicator {kind!r}")


def condition_met(
    kind: str,
    trigger: str,
    values: Values,
    event_params: Mapping[str, float],
    close: float,
) -> bool:
    """Whether a signal's condition holds at the candle (it fires when this turns true).

    Upbit documents the trigger names only; the simulator reads them literally: a cross
    "above" holds while the close (or the short average, or the MACD line) is strictly above
    the other line, a spike while volume >= multiplier x average, overbought while
    RSI >= threshold, oversold while RSI <= threshold.
    """
    v = dict(values)
    if kind == "volume":
        return v["ratio"] >= event_params["multiplier"]
    if kind == "rsi":
        if trigger == "overbought":
            return v["rsi"] >= event_params["threshold"]
        return v["rsi"] <= event_params["threshold"]
    if kind in ("moving_average", "bollinger_bands"):
        above, below = (
            (v["value"], v["value"]) if kind == "moving_average" else (v["bb_upper"], v["bb_lower"])
        )
        return close > above if trigger == "price_cross_above" else close < below
    if kind == "ma_crossover":
        if trigger == "golden_cross":
            return v["ma_short"] > v["ma_long"]
        return v["ma_short"] < v["ma_long"]
    if kind == "macd":
        if trigger == "golden_cross":
            return v["macd"] > v["macd_signal"]
        if trigger == "dead_cross":
            return v["macd"] < v["macd_signal"]
        if trigger == "zero_cross_above":
            return v["macd"] > 0.0
        return v["macd"] < 0.0
    raise ValueError(f"unknown indicator {kind!r}")
