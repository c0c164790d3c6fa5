"""Handles: one subscribe call's router subscriber, so it can be shrunk or removed later.

Every subscribe call is one router subscriber (one queue, one drain) for all its symbols, trades
and orders included: `queue_size` bounds what waits for that callback, however many markets it
covers. A partial unsubscribe narrows the subscriber in place (`Router.change_symbols`): queued
events of the symbols that stay are kept in order and never re-delivered, those of the symbols
that go are discarded. Callbacks are held weakly: the manager must not keep a component alive.

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


@dataclass(eq=False)
class Handle:
    """One subscribe call: what it asked for, so a partial unsubscribe can rebuild it."""

    data_type: DataType
    client_id: str
    symbols: list[str] | None
    callback: Callable[[], Callback | None]  # weak: the manager must not keep owners alive
    error_handler: Callable[[], ErrorHandler | None] | None
    sub: Subscriber | None  # None once removed


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
    sub = router.subscribe(data_type, codes, callback, client_id=client_id, weak=True, **options)
    handler = options.pop("error_handler")
    weak_handler = None if handler is None else weak_callable(handler)
    return Handle(data_type, client_id, codes, weak_callable(callback), weak_handler, sub)


def shrink_handle(router: Router, handle: Handle, symbols: Iterable[str] | None = None) -> bool:
    """Remove `symbols` (None = all) from a subscription; True if it still has some."""
    sub = handle.sub
    if symbols is None or handle.symbols is None or sub is None or sub.closed:
        if sub is not None:
            router.unsubscribe(sub)
        handle.sub = None
        return False
    gone = set(symbols)
    left = [s for s in handle.symbols if s not in gone]
    if len(left) == len(handle.symbols):
        return True
    handle.symbols = left
    if not left:
        router.unsubscribe(sub)
        handle.sub = None
        return False
    # Same queue and drain: what is queued for the symbols that stay is delivered once, in order.
    router.change_symbols(sub, left)
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
