"""How numbers look on screen, the way Upbit shows them.

Prices carry exactly the decimals of the market's tick (KRW-BTC 143,250,000; KRW-XRP 3,125;
KRW-SHIB 0.00854; BTC markets 8 decimals, USDT markets their tick); change is red when the
price rose and blue when it fell (the Korean convention, the reverse of the US one); 24h value
is in the quote currency, KRW in millions as Upbit's list does (백만). No formatter cuts a
digit: a number too long for its column changes unit (K, M, B, T). Pure functions, no
Textual: the panes and the tests share them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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


# Units for numbers too long for their column, finest first.
UNITS = (("K", 1e3), ("M", 1e6), ("B", 1e9), ("T", 1e12), ("P", 1e15))


def fit_units(value: float, width: int, plain: str | None = None) -> str:
    """`plain` if it fits in `width`, else `value` in the finest unit (K, M, B, T) and the most
    decimals (2, 1, 0) that fit. Never a cut digit: as a last resort, scientific notation."""
    if plain is not None and len(plain) <= width:
        return plain
    for suffix, scale in UNITS:
        if abs(value) >= scale * 1000 and suffix != UNITS[-1][0]:
            continue  # start at the unit that leaves at most three integer digits
        for decimals in (2, 1, 0):
            text = f"{value / scale:,.{decimals}f}{suffix}"
            if len(text) <= width:
                return text
    return f"{value:.1e}"


def format_volume(volume: float, width: int = 8) -> str:
    """Base-asset volume in at most `width` characters: '7.158', '12,345', '357.48M',
    '2.67T' (meme coins trade trillions of units a day; KRW-BTT's must not read 2,668.36)."""
    if volume < 1000:
        plain = f"{volume:,.3f}"
    elif volume < 1e6:
        plain = f"{volume:,.0f}"
    else:
        plain = None
    return fit_units(volume, width, plain)


def format_krw_millions(value: float, width: int = 9) -> str:
    """A KRW amount in millions, as Upbit's market list shows 거래대금: '228,827M'; larger
    than `width` allows: billions or trillions ('2.67T')."""
    millions = value / 1_000_000
    if 0 < millions < 1:
        return "<1M"
    text = f"{millions:,.0f}M"
    return text if len(text) <= width else fit_units(value, width)


def quote_currency(symbol: str) -> str:
    """'KRW' for KRW-BTC, 'BTC' for BTC-ETH, 'USDT' for USDT-XRP."""
    return symbol.partition("-")[0]


def format_traded_value(value: float, symbol: str, width: int = 10) -> str:
    """24h traded value in the market's quote currency: KRW in millions as Upbit shows it;
    BTC and USDT with their currency named, giving up decimals, then taking a unit, to keep it
    ('34.7660 BTC' at 11, '34.77 BTC' at 10, '5.16M USDT'): beside KRW's '93,846M' a bare
    '5.16M' reads as KRW. A value too small for its decimals is '<0.0001 BTC', never 0."""
    quote = quote_currency(symbol)
    if quote == "KRW":
        return format_krw_millions(value, width)
    if value == 0:
        return f"0 {quote}"
    room = width - len(quote) - 1
    most = 4 if quote == "BTC" else 2
    if abs(value) < 10**-most / 2:
        tiny = f"<{10**-most:.{most}f}"
        return f"{tiny} {quote}" if len(tiny) <= room else tiny
    if abs(value) < 1000:
        for decimals in range(most, -1, -1):
            number = f"{value:,.{decimals}f}"
            if len(number) <= room and (round(value, decimals) != 0):
                return f"{number} {quote}"
    if room > 0 and abs(value) >= 1:
        number = fit_units(value, room, f"{value:,.0f}")
        if len(number) <= room:
            return f"{number} {quote}"
    return fit_units(value, width, f"{value:,.{most}f}")


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


def format_size_column(sizes: Sequence[float], width: int = 11) -> list[str]:
    """Order-book quantities shown together, with one number of decimals so their points line
    up ('0.44166990' under '0.33690800', never a ragged '0.4416699'): the decimals
    `format_size` gives the largest of them; any that would not fit take `format_size`'s form."""
    largest = max((abs(s) for s in sizes), default=0.0)
    if largest >= 1e7:
        return [format_size(s) for s in sizes]
    decimals = 8 if largest < 1 else 4 if largest < 1000 else 2
    column = []
    for size in sizes:
        text = f"{size:,.{decimals}f}"
        column.append(text if len(text) <= width else format_size(size))
    return column


def format_krw(value: float) -> str:
    """A KRW amount in whole won: '1,234,567 KRW'."""
    return f"{value:,.0f} KRW"


def format_amount(amount: float, width: int = 14) -> str:
    """An asset quantity: up to 8 decimals, trailing zeros trimmed ('0.5', '12.3456789'),
    fewer decimals (then a unit) when it would not fit `width`."""
    if amount == 0:
        return "0"
    for decimals in range(8, -1, -1):
        text = f"{amount:,.{decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        if len(text) <= width:
            return text
    return fit_units(amount, width)


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
