"""Handles: one subscribe call's router subscribers, so it can be shrunk or removed later.

Trades and orders are events, not state: they get one router subscriber per symbol, so dropping
a symbol later never discards (or re-delivers) queued events of the symbols that stay. State-like
types (ticker, orderbook, candle) get one subscriber for all symbols, rebuilt on a partial
unsubscribe (the new subscriber starts from the latest value, so nothing is lost). Callbacks are
held weakly: the manager must not keep a component alive.

    handle = open_handle(router, routing_config, client_id, data_type, symbols, callback, **opts)
    shrink_handle(router, handle, symbols=None) -> bool   # True if symbols are left
    normalize(data_type, symbols) -> [code] (or ["*"] for all orders)
"""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from upbit_tui.client.interface import Callback, ErrorHandler
from upbit_tui.config import RoutingConfig
from upbit_tui.net.routing import Router, Subscriber
from upbit_tui.wire.events import DataType
from upbit_tui.wire.symbols import normalize_symbols

# Types whose events are events, not state: routed with one subscriber per symbol.
PER_SYMBOL = frozenset({DataType.TRADE, DataType.ORDER})


@dataclass(eq=False)
class Handle:
    """One subscribe call: what it asked for, so a partial unsubscribe can rebuild it."""

    data_type: DataType
    client_id: str
    symbols: list[str] | None
    callback: Callable[[], Callback | None]  # weak: the manager must not keep owners alive
    error_handler: Callable[[], ErrorHandler | None] | None
    options: dict[str, Any]
    subs: dict[str | None, Subscriber]  # by symbol (trades, orders) or one under None


def open_handle(
    router: Router,
    routing: RoutingConfig,
    client_id: str,
    data_type: DataType,
    symbols: Iterable[str] | str | None,
    callback: Callback,
    **options: Any,
) -> Handle:
    """Subscribe `callback` in the router; unset (None) options take the config's defaults.

    A queue_size or throttle_per_second given as 0 or less is an error, not the default."""
    queue_size = options.get("queue_size")
    throttle = options.get("throttle_per_second")
    _check_positive("queue_size", queue_size, whole=True)
    _check_positive("throttle_per_second", throttle, whole=False)
    options = {
        "error_handler": options.get("error_handler"),
        "policy": options.get("policy") or routing.policy,
        "queue_size": routing.queue_size if queue_size is None else queue_size,
        "throttle_per_second": routing.throttle_per_second if throttle is None else throttle,
        "depth": options.get("depth"),
        "level": options.get("level"),
    }
    codes = None if symbols is None else normalize(data_type, symbols)
    if codes is not None and "*" in codes:
        codes = None
    if data_type is DataType.ORDERBOOK:
        check_depth(options["depth"])
    else:
        options.pop("depth")
        options.pop("level")
    subs: dict[str | None, Subscriber] = {}
    if data_type in PER_SYMBOL and codes is not None:
        for code in codes:
            subs[code] = router.subscribe(
                data_type, [code], callback, client_id=client_id, weak=True, **options
            )
    else:
        subs[None] = router.subscribe(
            data_type, codes, callback, client_id=client_id, weak=True, **options
        )
    handler = options.pop("error_handler")
    weak_handler = None if handler is None else weak_callable(handler)
    return Handle(data_type, client_id, codes, weak_callable(callback), weak_handler, options, subs)


def shrink_handle(router: Router, handle: Handle, symbols: Iterable[str] | None = None) -> bool:
    """Remove `symbols` (None = all) from a subscription; True if it still has some."""
    if symbols is None or handle.symbols is None:
        for sub in handle.subs.values():
            router.unsubscribe(sub)
        handle.subs.clear()
        return False
    gone = set(symbols)
    left = [s for s in handle.symbols if s not in gone]
    if len(left) == len(handle.symbols):
        return True
    handle.symbols = left
    if None not in handle.subs:  # per-symbol subscribers: close only the dropped ones
        for symbol in gone & handle.subs.keys():
            router.unsubscribe(handle.subs.pop(symbol))
        return bool(left)
    router.unsubscribe(handle.subs.pop(None))
    callback = handle.callback()
    if not left or callback is None:
        return False
    handler = handle.error_handler() if handle.error_handler is not None else None
    handle.subs[None] = router.subscribe(
        handle.data_type,
        left,
        callback,
        error_handler=handler,
        client_id=handle.client_id,
        weak=True,
        **handle.options,
    )
    return True


def weak_callable(fn: Callable[..., Any]) -> Callable[[], Any]:
    if inspect.ismethod(fn):
        return weakref.WeakMethod(fn)
    try:
        return weakref.ref(fn)
    except TypeError:  # not weakly referenceable (a builtin): the proxy holds it anyway
        return lambda: fn


def normalize(data_type: DataType, symbols: Iterable[str] | str) -> list[str]:
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    if data_type is DataType.ORDER and items == ["*"]:
        return ["*"]
    return normalize_symbols(items)


def _check_positive(name: str, value: object, *, whole: bool) -> None:
    if value is None:
        return
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 < value < math.inf:
        what = "a whole number >= 1" if whole else "a number > 0"
        raise ValueError(f"{name} must be {what} (or None for the default), got {value!r}")


def check_depth(depth: int | None) -> None:
    if depth is not None and (isinstance(depth, bool) or depth not in (1, 5, 15, 30)):
        raise ValueError(f"orderbook depth {depth!r} is not one of 1, 5, 15, 30")
