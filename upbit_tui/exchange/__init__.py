"""The embedded Upbit exchange simulator: a deterministic market model served over Upbit's real
WebSocket and REST protocol (see market.py for the model's API, server.py for the server)."""

from __future__ import annotations

from upbit_tui.exchange.market import INTERVALS, MarketModel, OrderRejected, UnknownMarket

__all__ = ["INTERVALS", "MarketModel", "OrderRejected", "UnknownMarket"]
