"""Week, month and year candles: the market model's day candles summed per UTC period.

Upbit's recorded answers start a week on Monday 00:00 UTC (``candle_date_time_utc
"2026-03-09T00:00:00"``, ``first_day_of_period "2026-03-09"``), a month on its first day and a
year on 1 January, and stamp each with the last trade's ``timestamp``. Only periods with at
least one day of history exist (the synthetic past is about 500 days deep).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from upbit_tui.exchange.history import DAY_S
from upbit_tui.exchange.market import MarketModel
from upbit_tui.exchange.records import Candle

PERIODS = {"weeks": "1w", "months": "1M", "years": "1y"}
_MAX_DAYS = 1_000  # more than the model's history; bounds the work of one request


def period_start(day: datetime, period: str) -> datetime:
    """The first day (00:00 UTC) of the period holding `day`."""
    day = day.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weeks":
        return day - timedelta(days=day.weekday())
    if period == "months":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _previous_start(start: datetime, period: str) -> datetime:
    return period_start(start - timedelta(days=1), period)


def _next_start(start: datetime, period: str) -> datetime:
    if period == "weeks":
        return start + timedelta(days=7)
    if period == "months":
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


def period_candles(
    model: MarketModel, code: str, period: str, *, to: int | None, count: int
) -> list[tuple[Candle, str]]:
    """Up to `count` candles of `period` ("weeks", "months", "years") starting before `to`
    (epoch seconds, exclusive; None = up to now), newest first, each with the ISO date of its
    first day."""
    now_s = model.now_ms() // 1000
    last_moment = now_s if to is None else min(now_s, to - 1)
    last = period_start(datetime.fromtimestamp(last_moment, UTC), period)
    first = last
    for _ in range(count - 1):
        first = _previous_start(first, period)
    end = _next_start(last, period)
    end_s = int(end.timestamp())
    days_wanted = min(_MAX_DAYS, math.ceil((end_s - first.timestamp()) / DAY_S))
    days = model.candles(code, "1d", to=None if end_s > now_s else end_s, count=days_wanted)
    groups: dict[datetime, list[Candle]] = {}
    for day in days:  # newest first
        start = period_start(datetime.fromtimestamp(day.start, UTC), period)
        if first <= start <= last:
            groups.setdefault(start, []).append(day)
    return [
        (_summed(code, period, start, group), start.date().isoformat())
        for start, group in groups.items()
    ]


def _summed(code: str, period: str, start: datetime, days: list[Candle]) -> Candle:
    """One candle over `days` (newest first)."""
    return Candle(
        code,
        PERIODS[period],
        int(start.timestamp()),
        days[-1].opening_price,
        max(d.high_price for d in days),
        min(d.low_price for d in days),
        days[0].trade_price,
        round(math.fsum(d.candle_acc_trade_volume for d in days), 8),
        math.fsum(d.candle_acc_trade_price for d in days),
        days[0].timestamp,
    )
