"""Chart data the candle pane derives: timeframe names, day bars from 240m candles."""

from __future__ import annotations

import pytest

from upbit_tui.events import CandleEvent
from widgets.candles import days_from_240m, parse_timeframe


def candle(start: str, o: float, h: float, low: float, c: float, v: float) -> CandleEvent:
    return CandleEvent(
        symbol="KRW-BTC",
        type="candle.240m",
        candle_date_time_utc=start,
        opening_price=o,
        high_price=h,
        low_price=low,
        trade_price=c,
        candle_acc_trade_volume=v,
    )


def test_six_240m_candles_make_one_upbit_day() -> None:
    day1 = [
        candle(f"2026-11-26T{h:02d}:00:00", 100 + h, 110 + h, 90 + h, 101 + h, 1.0)
        for h in range(0, 24, 4)
    ]
    day2 = [candle("2026-11-27T00:00:00", 200, 210, 195, 205, 2.5)]
    bars = days_from_240m(list(reversed(day1)) + day2)
    assert [b.start_utc for b in bars] == ["2026-11-26T00:00:00", "2026-11-27T00:00:00"]
    first = bars[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        100,
        130,
        90,
        121,
        6.0,
    )
    assert bars[0].start_kst == "2026-11-26T09:00:00"
    assert bars[1].close == 205


@pytest.mark.parametrize(
    ("text", "timeframe"),
    [("1m", "1m"), ("minute240", "240m"), ("DAY", "1d"), (" 15m ", "15m"), ("1d", "1d")],
)
def test_timeframe_names(text: str, timeframe: str) -> None:
    assert parse_timeframe(text) == timeframe


def test_unknown_timeframe_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"expected one of 1m, 3m, .* 240m, day"):
        parse_timeframe("2h")
