"""Messages that cross panes; each is handled by the App, which retargets the other panes."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class SymbolSelected(Message):
    """The watchlist cursor moved to a market: order book and candles follow it."""

    symbol: str


@dataclass
class WatchlistChanged(Message):
    """Symbols were added to or removed from the watchlist (not yet saved)."""

    symbols: tuple[str, ...]
