"""Chart data the candle pane derives: timeframe names, day bars from 240m candles."""

from __future__ import annotations

import re

import pytest

from upbit_tui.wire.events import CandleEvent
from widgets.candles import days_from_240m, parse_timeframe, price_ticks, time_label


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
    with pytest.raises(ValueError, match=r"expected one of 1s, 1m, 3m, .* 240m, day"):
        parse_timeframe("2h")


@pytest.mark.parametrize(("height", "with_volume"), [(10, False), (24, True)])
def test_volume_plot_only_when_it_has_room(height: int, with_volume: bool) -> None:
    from textual.geometry import Size
    from textual_plotext.plot import Plot

    from widgets.candles import Bar, Figure, draw_figure
    from widgets.market_format import format_volume

    bars = tuple(
        Bar(f"2026-11-27T0{i}:00:00", f"2026-11-27T0{i}:00:00", 100, 110, 90, 105, 7.25)
        for i in range(6)
    )
    plt = Plot()  # the chart widget's kind of figure
    draw_figure(plt, Figure("KRW-BTC", "1m", bars), Size(60, 40 - height))  # redrawn, resized
    draw_figure(plt, Figure("KRW-BTC", "1m", bars), Size(60, height))
    plt.plotsize(60, height)
    plt.theme("clear")
    text = re.sub(r"\x1b\[[0-9;]*m", "", plt.build())  # without the colours
    assert (format_volume(7.25) in text) is with_volume  # the volume axis' top label
    assert "00:00" in text  # the time axis shows either way


def test_price_ticks_sit_on_round_prices_inside_the_range() -> None:
    ticks = price_ticks(143_251_234.0, 143_987_655.0)
    assert ticks == [143_400_000.0, 143_600_000.0, 143_800_000.0]
    assert price_ticks(0.00851, 0.00873) == pytest.approx([0.00855, 0.0086, 0.00865, 0.0087])
    assert price_ticks(5.0, 5.0) == [5.0]


def test_time_labels_carry_the_date_where_candles_span_days() -> None:
    start = "2026-11-27T15:30:05"
    assert time_label(start, "240m") == "11-27 15h"
    assert time_label(start, "1d") == "11-27"
    assert time_label(start, "1s") == "15:30:05"
    assert time_label(start, "5m") == "15:30"


def test_one_second_candles_are_a_timeframe() -> None:
    assert parse_timeframe("second1") == "1s"
    assert parse_timeframe("1s") == "1s"
