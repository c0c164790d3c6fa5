"""upbit-tui: one shared, self-healing Upbit WebSocket for many components.

The public API is importable from here; names load lazily so that `import upbit_tui` stays cheap
for bots (and the simulator CLI) that use only part of the package.
"""

from __future__ import annotations

import importlib
from typing import Any

from upbit_tui.config import Config, ConfigError, Secret, load_config
from upbit_tui.wire.events import (
    Asset,
    BalanceEvent,
    CandleEvent,
    DataType,
    OrderbookEvent,
    OrderbookUnit,
    OrderEvent,
    StreamType,
    TickerEvent,
    TradeEvent,
)

__version__ = "0.1.0"

_LAZY = {
    "AbstractWebSocketManager": "upbit_tui.client.interface",
    "GlobalWebSocketManager": "upbit_tui.client.manager",
    "get_default_manager": "upbit_tui.client.manager",
    "PrivateUnavailableError": "upbit_tui.client.manager",
    "ConnectionState": "upbit_tui.net.connection",
    "WebSocketClientProxy": "upbit_tui.client.proxy",
    "SubscriptionStateManager": "upbit_tui.wire.subscriptions",
    "SubscriptionDiff": "upbit_tui.wire.subscriptions",
    "PerformanceMetrics": "upbit_tui.net.metrics",
    "RecoveryEngine": "upbit_tui.net.recovery",
    "EpochManager": "upbit_tui.net.recovery",
    "GlobalRateLimiter": "upbit_tui.net.ratelimit",
    "UpbitRestClient": "upbit_tui.net.rest",
    "UpbitApiError": "upbit_tui.net.rest",
    "UnknownSymbolError": "upbit_tui.net.rest",
    "SymbolError": "upbit_tui.wire.symbols",
    "MarketDirectory": "upbit_tui.net.markets",
    "ExchangeServer": "upbit_tui.exchange",
}

__all__ = [
    "AbstractWebSocketManager",
    "Asset",
    "BalanceEvent",
    "CandleEvent",
    "Config",
    "ConfigError",
    "DataType",
    "Secret",
    "OrderEvent",
    "OrderbookEvent",
    "OrderbookUnit",
    "StreamType",
    "TickerEvent",
    "TradeEvent",
    "load_config",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'upbit_tui' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
