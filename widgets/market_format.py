"""How numbers look on screen, the way Upbit shows them.

Prices carry exactly the decimals of the market's tick (KRW-BTC 143,250,000; KRW-XRP 3,125;
KRW-SHIB 0.00854); change is red when the price rose and blue when it fell (the Korean
convention, the reverse of the US one); 24h value is shown in millions of KRW as Upbit's
list does (백만). Pure functions, no Textual: the panes and the tests share them.
"""

from __future__ import annotations

import math

RISE_STYLE = "bold red"
FALL_STYLE = "bold dodger_blue2"
EVEN_STYLE = ""
RISE_FLASH = "on dark_red"
FALL_FLASH = "on navy_blue"


def price_decimals(price: float, symbol: str = "KRW-BTC") -> int:
    """Decimals of the tick at this price in this market (Upbit's tick tables)."""
    quote = symbol.split("-", 1)[0]
    if quote == "BTC":
        return 8
    if price <= 0 or not math.isfinite(price):
        return 0
    magnitude = math.floor(math.log10(price))
    if quote == "USDT":
        # 0.01 at >= 10, 0.001 at 1-10, ... (usdt_tick_unit_change).
        return min(8, max(2, 3 - magnitude))
    # KRW: whole won from 100 up, then one more decimal per decade below (0.1 at 10-100, ...).
    return min(8, max(0, 2 - magnitude))


def format_price(price: float, symbol: str = "KRW-BTC") -> str:
    """'143,250,000', '3,125', '52.3', '0.00854' (thousands separators, tick decimals)."""
    decimals = price_decimals(price, symbol)
    return f"{price:,.{decimals}f}"


def format_change_rate(signed_change_rate: float) -> str:
    """'+1.27%', '-0.53%', '0.00%': Upbit's rate is a fraction, shown as a percentage."""
    percent = signed_change_rate * 100
    if round(percent, 2) == 0:
        return "0.00%"
    return f"{percent:+.2f}%"


def format_signed_price(
    signed_change_price: float, symbol: str = "KRW-BTC", price: float | None = None
) -> str:
    """'+404,000': a price change in the decimals of the tick at `price` (the current price)."""
    if signed_change_price == 0:
        return "0"
    sign = "+" if signed_change_price > 0 else "-"
    decimals = price_decimals(price if price else abs(signed_change_price), symbol)
    return f"{sign}{abs(signed_change_price):,.{decimals}f}"


def change_style(change: str) -> str:
    """Rich style for Upbit's change field: RISE red, FALL blue, EVEN plain."""
    if change == "RISE":
        return RISE_STYLE
    if change == "FALL":
        return FALL_STYLE
    return EVEN_STYLE


def format_volume(volume: float) -> str:
    """Base-asset volume: '7.158', '12,345', and '357.48M' / '1.25B' where whole units would
    not fit a column (meme coins trade hundreds of millions of units a day)."""
    if volume >= 1e9:
        return f"{volume / 1e9:,.2f}B"
    if volume >= 1e6:
        return f"{volume / 1e6:,.2f}M"
    if volume >= 1000:
        return f"{volume:,.0f}"
    return f"{volume:,.3f}"


def format_krw_millions(value: float) -> str:
    """A KRW amount in millions, as Upbit's market list shows 거래대금: '228,827M'."""
    millions = value / 1_000_000
    if 0 < millions < 1:
        return "<1M"
    return f"{millions:,.0f}M"


def format_size(size: float) -> str:
    """An order-book quantity in at most 11 characters, never cutting integer digits:
    '0.27235839', '23,185.18', '1,234,567', '12.35M'."""
    if size >= 1e7:
        return f"{size / 1e6:,.2f}M"
    if size >= 1000:
        text = f"{size:,.2f}"
        return text if len(text) <= 11 else f"{size:,.0f}"
    if size >= 1:
        return f"{size:,.4f}".rstrip("0").rstrip(".")
    return f"{size:.8f}".rstrip("0").rstrip(".") or "0"


def format_krw(value: float) -> str:
    """A KRW amount in whole won: '1,234,567 KRW'."""
    return f"{value:,.0f} KRW"


def format_amount(amount: float) -> str:
    """An asset quantity: up to 8 decimals, trailing zeros trimmed ('0.5', '12.3456789')."""
    if amount == 0:
        return "0"
    text = f"{amount:,.8f}".rstrip("0").rstrip(".")
    return text


def format_duration(seconds: float | None) -> str:
    """'3h 04m', '12m 05s', '42s'; '-' when unknown."""
    if seconds is None or seconds < 0 or not math.isfinite(seconds):
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def depth_bar(size: float, largest: float, width: int) -> str:
    """A left-aligned bar of `width` cells proportional to size/largest, in eighth-blocks."""
    if width <= 0 or largest <= 0 or size <= 0:
        return " " * max(width, 0)
    eighths = round(min(size / largest, 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])
    return bar.ljust(width)
