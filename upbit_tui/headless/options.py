"""What a headless run streams and for how long: `--symbols`, `--types`, `--count`, `--duration`.

Parsed and validated before anything connects, so a typo is a one-line error and exit code 2,
not a stream that silently never starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from upbit_tui.config import Config
from upbit_tui.wire.events import DataType
from upbit_tui.wire.symbols import SymbolError, normalize_symbol


class HeadlessUsageError(ValueError):
    """Bad `headless` arguments, worded for the command line (one line, no traceback)."""


# The spec's candle spellings ("minute1", "minute240") next to Upbit's ("1m", "240m").
_MINUTE_SPELLINGS = {f"minute{n}": f"{n}m" for n in (1, 3, 5, 10, 15, 30, 60, 240)}
_ALIASES: dict[str, DataType] = {
    "balance": DataType.BALANCE,
    "balances": DataType.BALANCE,
    "myasset": DataType.BALANCE,
    "orders": DataType.ORDER,
    "order": DataType.ORDER,
    "myorder": DataType.ORDER,
}
TYPE_NAMES = (
    "ticker, trade, orderbook, candle.1s, candle.1m, candle.3m, candle.5m, candle.10m, "
    "candle.15m, candle.30m, candle.60m, candle.240m, balance, orders"
)


def parse_data_type(name: str) -> DataType:
    """'ticker' -> TICKER, 'candle.minute1' -> CANDLE_1M, 'orders' -> ORDER; else a usage error."""
    key = name.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    if key.startswith("candle."):
        unit = key.removeprefix("candle.")
        key = "candle." + _MINUTE_SPELLINGS.get(unit, unit)
    try:
        return DataType(key)
    except ValueError:
        raise HeadlessUsageError(f"unknown type '{name}' (expected one of {TYPE_NAMES})") from None


def parse_types(text: str | None, default: tuple[str, ...]) -> tuple[DataType, ...]:
    """Comma-separated types in the order given, duplicates dropped; `default` when None."""
    names = default if text is None else tuple(p for p in text.split(",") if p.strip())
    if not names:
        raise HeadlessUsageError(f"no types given (expected some of {TYPE_NAMES})")
    return tuple(dict.fromkeys(parse_data_type(n) for n in names))


def parse_symbols(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated market codes, normalised ('krw-btc' -> 'KRW-BTC'); `default` when None."""
    names = default if text is None else tuple(p for p in text.split(",") if p.strip())
    if not names:
        raise HeadlessUsageError("no symbols given (expected market codes such as KRW-BTC)")
    try:
        return tuple(dict.fromkeys(normalize_symbol(s) for s in names))
    except SymbolError as exc:
        raise HeadlessUsageError(f"--symbols: {exc}") from None


@dataclass(frozen=True)
class HeadlessOptions:
    """One headless run, fully resolved against the config."""

    symbols: tuple[str, ...]
    types: tuple[DataType, ...]
    count: int | None = None
    duration: float | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # Orders of every market unless --symbols named some (the watchlist is about quotes).
    order_symbols: tuple[str, ...] | None = None

    @property
    def public_types(self) -> tuple[DataType, ...]:
        return tuple(t for t in self.types if not t.is_private)

    @property
    def private_types(self) -> tuple[DataType, ...]:
        return tuple(t for t in self.types if t.is_private)


def resolve_options(
    config: Config,
    *,
    symbols: str | None = None,
    types: str | None = None,
    count: int | None = None,
    duration: float | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> HeadlessOptions:
    """Command-line values over the config's watchlist and [headless] section."""
    try:
        default_types = parse_types(None, config.headless.types)
    except HeadlessUsageError as exc:
        where = config.source or "<defaults>"
        raise HeadlessUsageError(f"{where}: [headless] types: {exc}") from None
    resolved_types = default_types if types is None else parse_types(types, ())
    resolved_symbols = parse_symbols(symbols, config.watchlist.symbols)
    if count is not None and count <= 0:
        raise HeadlessUsageError(f"--count: expected a whole number > 0, got {count}")
    if duration is not None and not duration > 0:
        raise HeadlessUsageError(f"--duration: expected seconds > 0, got {duration:g}")
    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        raise HeadlessUsageError(f"--metrics-port: expected 0..65535, got {metrics_port}")
    return HeadlessOptions(
        symbols=resolved_symbols,
        types=resolved_types,
        count=count,
        duration=duration,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        order_symbols=None if symbols is None else resolved_symbols,
    )
