"""Candlestick chart with volume for the selected market: REST history, then live updates."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.style import Style
from textual.app import ComposeResult
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widgets import Static
from textual_plotext import PlotextPlot

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.tui.runtime import Runtime
from upbit_tui.wire.events import CandleEvent, TickerEvent
from widgets.ansi_lines import AnsiLines
from widgets.market_format import format_price, format_volume
from widgets.proxy_pane import ProxyPane

log = logging.getLogger(__name__)

# Upbit streams candles from 1s to 240m; day candles come from REST and grow from the ticker.
TIMEFRAMES = ("1s", "1m", "3m", "5m", "10m", "15m", "30m", "60m", "240m", "1d")
HISTORY = 200
# Upbit's chart colours as RGB: named ANSI "blue" renders violet in many terminal themes.
RISE_COLOR = (230, 64, 52)
FALL_COLOR = (38, 110, 240)
# Columns the y-axis labels take; the chart shows one candle per remaining column.
AXIS_WIDTH = 14


def timeframe_label(timeframe: str) -> str:
    return "day" if timeframe == "1d" else timeframe


def parse_timeframe(text: str) -> str:
    """'1s', 'second1', '1m', 'minute1', '240m', 'day', '1d' -> one of TIMEFRAMES; ValueError
    otherwise."""
    value = text.strip().lower()
    if value in ("day", "days", "1d", "d"):
        return "1d"
    if value in ("second", "second1", "seconds"):
        return "1s"
    if value.startswith("minute"):
        value = value.removeprefix("minute") + "m"
    if value in TIMEFRAMES:
        return value
    choices = ", ".join(map(timeframe_label, TIMEFRAMES))
    raise ValueError(f"unknown timeframe '{text}' (expected one of {choices})")


@dataclass
class Bar:
    """One candle as the chart needs it."""

    start_utc: str
    start_kst: str
    open: float
    high: float
    low: float
    close: float
    volume: float

    @classmethod
    def from_event(cls, event: CandleEvent) -> Bar:
        return cls(
            event.candle_date_time_utc,
            event.candle_date_time_kst or event.candle_date_time_utc,
            event.opening_price,
            event.high_price,
            event.low_price,
            event.trade_price,
            event.candle_acc_trade_volume,
        )


@dataclass(frozen=True)
class Figure:
    """An immutable copy of the chart's input."""

    symbol: str | None
    timeframe: str
    bars: tuple[Bar, ...]


# Rows the chart needs before a volume plot under the candles can show a bar.
MIN_VOLUME_HEIGHT = 16


def draw_figure(plt: Any, figure: Figure, size: Size) -> None:
    """Candles above volume, one candle per column that fits (plotext calls only)."""
    plt.clear_figure()
    fit = max(10, size.width - AXIS_WIDTH)
    bars = figure.bars[-fit:]
    if not bars or figure.symbol is None:
        return
    xs: list[float] = [float(i) for i in range(len(bars))]
    height = max(size.height, 8)
    # Below MIN_VOLUME_HEIGHT rows the volume plot has no room for a single bar: candles only.
    with_volume = size.height >= MIN_VOLUME_HEIGHT
    plt.subplots(2 if with_volume else 1, 1)
    chart = plt.subplot(1, 1)
    if with_volume:
        chart.plotsize(None, max(5, height * 3 // 4))
    chart.candlestick(
        xs,
        {
            "Open": [b.open for b in bars],
            "Close": [b.close for b in bars],
            "High": [b.high for b in bars],
            "Low": [b.low for b in bars],
        },
        colors=[RISE_COLOR, FALL_COLOR],
    )
    low = min(b.low for b in bars)
    high = max(b.high for b in bars)
    ticks = price_ticks(low, high)
    price_labels = [format_price(t, figure.symbol) for t in ticks]
    label_width = max(map(len, price_labels))
    chart.yticks(ticks, price_labels)
    # One time label per ~16 columns; crowded labels make plotext shuffle them around.
    count = max(2, min(5, size.width // 16))
    last = len(bars) - 1
    label_at = sorted({round(last * i / (count - 1)) for i in range(count)})
    labels = [time_label(bars[i].start_kst, figure.timeframe) for i in label_at]
    if not with_volume:
        chart.xticks([float(i) for i in label_at], labels)
        return
    chart.xticks([])
    volume = plt.subplot(2, 1)
    for rising in (True, False):
        picked = [
            (x, b.volume) for x, b in zip(xs, bars, strict=True) if (b.close > b.open) == rising
        ]
        if picked:
            volume.bar(
                [x for x, _ in picked],
                [v for _, v in picked],
                color=RISE_COLOR if rising else FALL_COLOR,
                width=0.5,
                marker="sd",
            )
    volume.xticks([float(i) for i in label_at], labels)
    top = max(b.volume for b in bars)
    # Same label width as the price axis, so candles and their volume bars line up.
    volume.yticks([0, top], ["0".rjust(label_width), format_volume(top).rjust(label_width)])


def time_label(start_kst: str, timeframe: str) -> str:
    """An x-axis label for a candle start ('2026-11-27T15:30:05'): the date where candles span
    days (240m: '11-27 12h', day: '11-27'), seconds for 1s candles, else the time."""
    if timeframe == "1d":
        return start_kst[5:10]
    if timeframe == "240m":
        return f"{start_kst[5:10]} {start_kst[11:13]}h"
    if timeframe == "1s":
        return start_kst[11:19]
    return start_kst[11:16]


def price_ticks(low: float, high: float, most: int = 5) -> list[float]:
    """Y-axis ticks at round prices (multiples of 1, 2 or 5 times a power of ten) inside
    [low, high], at most `most` of them; [low] for a flat range."""
    if not high > low or not math.isfinite(high - low):
        return [low]
    power = 10 ** math.floor(math.log10((high - low) / (most - 1)))
    step = power * 10
    for multiple in (1, 2, 5):  # the finest round step that leaves at most `most` ticks
        if math.floor(high / (multiple * power)) - math.ceil(low / (multiple * power)) < most:
            step = multiple * power
            break
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9 and len(ticks) < most:
        ticks.append(round(value, 12))
        value = first + step * len(ticks)
    return ticks or [low]


def days_from_240m(candles: list[CandleEvent]) -> list[Bar]:
    """Day bars (Upbit's day starts 00:00 UTC, 09:00 KST) from 240m candles, oldest first."""
    days: dict[str, Bar] = {}
    for event in sorted(candles, key=lambda e: e.candle_date_time_utc):
        day = event.candle_date_time_utc[:10] + "T00:00:00"
        bar = days.get(day)
        if bar is None:
            days[day] = Bar(
                day,
                day[:10] + "T09:00:00",
                event.opening_price,
                event.high_price,
                event.low_price,
                event.trade_price,
                event.candle_acc_trade_volume,
            )
            continue
        bar.high = max(bar.high, event.high_price)
        bar.low = min(bar.low, event.low_price)
        bar.close = event.trade_price
        bar.volume += event.candle_acc_trade_volume
    return list(days.values())


class CandleChart(PlotextPlot):
    """A PlotextPlot built off the event loop.

    A plotext build of a full-screen chart costs tens of milliseconds of pure Python; done in
    `render()` it stalls every other pane. Here `redraw(figure)` hands an immutable copy of the
    data to a thread (one build at a time, this widget's plot object is only touched under a
    lock), and `render()` shows the newest finished build for the current size and theme.
    """

    def __init__(self) -> None:
        super().__init__()
        self._figure = Figure(None, "1m", ())
        self._version = 0
        self._built: tuple[tuple[int, Size, str], list[Strip]] | None = None
        self._requested: tuple[int, Size, str] | None = None
        self._lock = threading.Lock()
        self._ansi = AnsiLines()  # used under the lock
        self._paint_base: Style | None = None

    @property
    def current(self) -> bool:
        """The last finished build matches the data, size and theme now (nothing pending)."""
        return self._built is not None and self._built[0] == self._key()

    def redraw(self, figure: Figure) -> None:
        self._figure = figure
        self._version += 1
        self._request()

    def on_resize(self) -> None:
        self._request()

    def _key(self) -> tuple[int, Size, str]:
        return (self._version, self.size, self.app.theme)

    def _request(self) -> None:
        key = self._key()
        if self._requested == key or (self._built is not None and self._built[0] == key):
            return
        if key[1].width <= 0 or key[1].height <= 0:
            return
        self._requested = key
        theme = self._get_plotext_theme_name(key[2])
        self.run_worker(
            partial(self._build, key, self._figure, theme),
            thread=True,
            group="plot",
            exit_on_error=False,
        )

    def _build(self, key: tuple[int, Size, str], figure: Figure, theme: str) -> None:
        width, height = key[1].width, key[1].height
        with self._lock:
            plot = self._plot
            draw_figure(plot, figure, key[1])
            plot.plotsize(width, height)
            plot._set_size(width, height)
            plot.theme(theme)
            # Lines too are made here (the event loop only copies finished ones), straight from
            # the ANSI text: Text.from_ansi + a Rich layout pass cost as much as plotext's build.
            strips = self._ansi.strips(plot.build(), width, height)
        with contextlib.suppress(RuntimeError):  # the app is shutting down
            self.app.call_from_thread(self._finished, key, strips)

    def _finished(self, key: tuple[int, Size, str], strips: list[Strip]) -> None:
        if self._built is None or self._built[0][0] <= key[0]:
            self._built = (key, strips)
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The base style once per paint, not once per line (each lookup walks the DOM).
        self._paint_base = self.rich_style
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if not self.current:
            self._request()
        width = self.size.width
        base = self._paint_base or self.rich_style
        if self._built is None or y >= len(self._built[1]):
            return Strip.blank(width, base)
        return self._built[1][y].crop_extend(0, width, base)


class CandlesPane(ProxyPane):
    """Follows one market and one timeframe; `set_symbol` / `set_timeframe` retarget it."""

    KIND = "candles"

    def __init__(
        self,
        runtime: Runtime,
        symbol: str | None,
        timeframe: str,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(runtime, id=id)
        self.symbol = symbol
        self.timeframe = parse_timeframe(timeframe)
        self.bars: dict[str, Bar] = {}
        self._subscribed: tuple[str, str] | None = None
        self._dirty = False
        self.loaded = False
        self.flushes = 0
        self.live_events = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="candles-status")
        yield CandleChart()

    def on_mount(self) -> None:
        super().on_mount()
        self._set_title()
        hz = self.runtime.config.ui.chart_refresh_hz or 2.0
        # Between the watchlist's and the order book's flushes (see OrderbookPane.on_mount).
        table_hz = self.runtime.config.ui.table_refresh_hz or 8.0
        self.flush_every(hz, self.flush, offset=0.25 / table_hz)
        self._show_status()

    @property
    def settled(self) -> bool:
        """History loaded and drawn for the chart's current size."""
        return (
            self.loaded
            and bool(self.bars)
            and not self._dirty
            and self.query_one(CandleChart).current
        )

    def set_symbol(self, symbol: str | None) -> None:
        if symbol != self.symbol:
            self.symbol = symbol
            self._reset()

    def set_timeframe(self, timeframe: str) -> None:
        timeframe = parse_timeframe(timeframe)
        if timeframe != self.timeframe:
            self.timeframe = timeframe
            self._reset()

    def next_timeframe(self, step: int = 1) -> str:
        index = (TIMEFRAMES.index(self.timeframe) + step) % len(TIMEFRAMES)
        self.set_timeframe(TIMEFRAMES[index])
        return self.timeframe

    def _reset(self) -> None:
        self.bars = {}
        self.loaded = False
        self._set_title()
        self._show_status()
        self._dirty = True
        self.want_update()

    def _set_title(self) -> None:
        self.border_title = f"{self.symbol or '-'} · {timeframe_label(self.timeframe)} candles"

    def _show_status(self) -> None:
        status = self.query_one("#candles-status", Static)
        previous = str(status.render())
        if self.symbol is None:
            text = "Select a market in the watchlist."
        elif self.last_error and not self.loaded:
            text = self.last_error
        elif not self.loaded:
            text = "connecting..." if not self.runtime.ready else "loading history..."
        else:
            text = ""
        if text != previous:
            status.update(text)
        if status.display != bool(text):
            status.display = bool(text)

    async def apply(self, proxy: WebSocketClientProxy) -> None:
        wanted = None if self.symbol is None else (self.symbol, self.timeframe)
        if wanted == self._subscribed:
            return
        if self._subscribed is not None:
            await proxy.unsubscribe_candle()
            await proxy.unsubscribe_ticker()
            self._subscribed = None
        if wanted is None:
            return
        symbol, timeframe = wanted
        if timeframe == "1d":
            # The stream has no day candles: six 240m candles make one Upbit day (00:00 UTC).
            history = await proxy.get_candle_snapshot([symbol], "240m", count=HISTORY * 6)
            loaded = days_from_240m(history.get(symbol, []))
        else:
            history = await proxy.get_candle_snapshot([symbol], timeframe, count=HISTORY)
            loaded = [Bar.from_event(e) for e in history.get(symbol, [])]
        if (self.symbol, self.timeframe) != wanted:
            return  # retargeted while loading; the next wish loads the new one
        for bar in loaded[-HISTORY:]:
            self.bars.setdefault(bar.start_utc, bar)
        if timeframe == "1d":
            await proxy.subscribe_ticker(
                [symbol],
                self._on_day_ticker,
                error_handler=self._on_callback_error,
            )
        else:
            await proxy.subscribe_candle(
                [symbol],
                timeframe,
                self._on_candle,
                error_handler=self._on_callback_error,
            )
        self._subscribed = wanted
        self.loaded = True
        self.last_error = None
        self._dirty = True
        self._show_status()

    def _on_candle(self, event: CandleEvent) -> None:
        if event.symbol != self.symbol or event.timeframe != self.timeframe:
            return
        self.bars[event.candle_date_time_utc] = Bar.from_event(event)
        self.live_events += 1
        self._dirty = True

    def _on_day_ticker(self, event: TickerEvent) -> None:
        """Today's candle is the ticker's open/high/low/last and accumulated volume."""
        if event.symbol != self.symbol or self.timeframe != "1d" or not self.bars:
            return
        last_key = max(self.bars)
        last = self.bars[last_key]
        date = event.trade_date  # yyyymmdd, UTC
        day_key = f"{date[:4]}-{date[4:6]}-{date[6:8]}T00:00:00" if len(date) == 8 else last_key
        if day_key < last_key:
            return
        self.bars[day_key] = Bar(
            day_key,
            last.start_kst if day_key == last_key else day_key.replace("T00", "T09"),
            event.opening_price,
            event.high_price,
            event.low_price,
            event.trade_price,
            event.acc_trade_volume,
        )
        self._dirty = True

    def _on_callback_error(self, exc: BaseException) -> None:
        log.error("candles callback failed: %r", exc)

    def flush(self) -> None:
        self._show_status()
        if not self._dirty:
            return
        self._dirty = False
        self.flushes += 1
        if len(self.bars) > HISTORY:
            for key in sorted(self.bars)[: len(self.bars) - HISTORY]:
                del self.bars[key]
        self.query_one(CandleChart).redraw(self.figure())

    def figure(self) -> Figure:
        """What the chart shows, copied on the app's thread for the builder thread."""
        ordered = [self.bars[k] for k in sorted(self.bars)]
        return Figure(self.symbol, self.timeframe, tuple(dataclasses.replace(b) for b in ordered))
