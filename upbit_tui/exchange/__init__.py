"""The embedded Upbit exchange simulator: a deterministic market model served over Upbit's real
WebSocket and REST protocol (see market.py for the model's API, server.py for the server)."""

from __future__ import annotations

from upbit_tui.exchange.market import INTERVALS, MarketModel, OrderRejected, UnknownMarket
from upbit_tui.exchange.server import DEFAULT_API_KEYS, ExchangeServer

__all__ = [
    "DEFAULT_API_KEYS",
    "INTERVALS",
    "ExchangeServer",
    "MarketModel",
    "OrderRejected",
    "UnknownMarket",
]
