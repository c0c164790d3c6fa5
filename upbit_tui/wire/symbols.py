"""Market codes as Upbit spells them: QUOTE-BASE, uppercase (KRW-BTC, BTC-ETH, USDT-XRP)."""

from __future__ import annotations

import re

QUOTE_CURRENCIES = ("KRW", "BTC", "USDT")
_CODE = re.compile(r"^(KRW|BTC|USDT)-[A-Z0-9]{1,15}$")


class SymbolError(ValueError):
    """A market code that Upbit would not recognise."""


def normalize_symbol(symbol: str) -> str:
    """Return the Upbit market code for `symbol` ('krw-btc' -> 'KRW-BTC') or raise SymbolError.

    Upbit requires uppercase codes and answers lowercase or unknown ones with silence, so a typo
    must fail here, loudly, rather than as a pane that never updates.
    """
    if not isinstance(symbol, str):
        raise SymbolError(f"market code must be a string, got {type(symbol).__name__}")
    code = symbol.strip().upper()
    if not _CODE.match(code):
        raise SymbolError(
            f"'{symbol}' is not an Upbit market code (expected QUOTE-BASE such as KRW-BTC, "
            f"with QUOTE one of {', '.join(QUOTE_CURRENCIES)})"
        )
    return code


def normalize_symbols(symbols: str | list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """Normalise one code or many, keeping order and dropping duplicates."""
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    if not items:
        raise SymbolError("no market codes given")
    return list(dict.fromkeys(normalize_symbol(s) for s in items))
