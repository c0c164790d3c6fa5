"""The chart's ANSI-to-lines shortcut draws exactly what Rich's own path draws."""

from __future__ import annotations

import random

import pytest
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual_plotext.plot import Plot

from widgets.ansi_lines import AnsiLines
from widgets.candles import Bar, Figure, draw_figure


def figure(count: int, seed: int) -> Figure:
    rng = random.Random(seed)
    price, bars = 143_000_000.0, []
    for i in range(count):
        close = price * (1 + rng.uniform(-0.01, 0.01))
        start = f"2026-11-27T{i // 60:02d}:{i % 60:02d}:00"
        high, low = max(price, close) * 1.002, min(price, close) * 0.998
        bars.append(Bar(start, start, price, high, low, close, rng.uniform(0.1, 50)))
        price = close
    return Figure("KRW-BTC", "1m", tuple(bars))


def rich_lines(ansi: str, width: int, height: int) -> list[Strip]:
    """What the chart did before: Text.from_ansi, then a Rich layout pass."""
    text = Text.from_ansi(ansi, no_wrap=True)
    console = Console(width=width, color_system="truecolor", force_terminal=True)
    lines = console.render_lines(text, console.options.update_width(width), pad=True)
    return [Strip(line, width) for line in lines[:height]]


def cells(strips: list[Strip]) -> list[list[tuple[str, Style]]]:
    return [
        [(char, segment.style or Style.null()) for segment in strip for char in segment.text]
        for strip in strips
    ]


@pytest.mark.parametrize(
    ("width", "height", "theme"),
    [(80, 50, "textual-dark"), (120, 30, "textual-light"), (40, 12, "pro"), (200, 60, "dark")],
)
def test_same_cells_and_styles_as_rich(width: int, height: int, theme: str) -> None:
    plot = Plot()
    draw_figure(plot, figure(200, seed=width), Size(width, height))
    plot.plotsize(width, height)
    plot._set_size(width, height)
    plot.theme(theme)
    ansi = plot.build()
    converter = AnsiLines()
    expected = cells(rich_lines(ansi, width, height))
    assert cells(converter.strips(ansi, width, height)) == expected
    assert cells(converter.strips(ansi, width, height)) == expected  # with transitions cached
    assert all(len(row) == width for row in expected)


def test_crops_pads_and_carries_style_across_lines() -> None:
    ansi = "\x1b[1;31mred bold\nstill red\x1b[0m plain\n\x1b[38;2;1;2;3mx"
    got = AnsiLines().strips(ansi, 12, 2)
    assert cells(got) == cells(rich_lines(ansi, 12, 2))
    assert [strip.text for strip in got] == ["red bold    ", "still red pl"]
