"""WireUnion: what each connection must carry, as the one request Upbit gets.

Upbit replaces the whole subscription with every request, so each connection sends the union of
every component's wishes. That union is the ref-counted desired state (subscriptions.py), plus
public symbols in their `unsubscribe_grace` (a pane being re-created causes no churn), minus
codes Upbit refused (refusals.py). Requests are built once per change (`version`), not per send.
`wanted` is the set of public codes on the wire, updated in place on every change, so the frame
dispatch can drop events for codes nobody asked for with one set lookup.

    union = WireUnion(state, ticket, grace_seconds, refusals, has_keys, forget, wake)
    union.loop = asyncio.get_running_loop()      # grace timers need it; None: no grace
    union.apply(diff)              # a subscription changed: grace, then wake the connections
    union.request(kind) -> bytes | None          # "public" / "private"
    union.changed()                # something outside the state changed the request
    union.wanted -> set[str]       # public codes on the wire (the same object, kept current)
    union.holds(data_type, symbol) / symbols(data_type) / public_codes() / consolidated()
    union.cancel_grace()
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from upbit_tui.wire.codec import DesiredSubscription, OrderbookOptions, build_request
from upbit_tui.wire.events import DataType
from upbit_tui.wire.subscriptions import SubscriptionDiff, SubscriptionStateManager

if TYPE_CHECKING:
    from upbit_tui.client.refusals import Refusals

PUBLIC = "public"
PRIVATE = "private"

GraceKey = tuple[DataType, str]


class WireUnion:
    """The union each connection carries; see the module docstring."""

    def __init__(
        self,
        state: SubscriptionStateManager,
        ticket: str,
        grace_seconds: float,
        refusals: Refusals,
        has_keys: Callable[[], bool],
        forget: Callable[[DataType, str], None],
        wake: Callable[[str], None],
    ) -> None:
        self._state = state
        self._ticket = ticket
        self._grace_seconds = grace_seconds
        self._refusals = refusals
        self._has_keys = has_keys
        self._forget = forget  # the symbol left the wire: drop what is cached for it
        self._wake = wake  # a connection's request changed
        self.loop: asyncio.AbstractEventLoop | None = None
        self.grace: dict[GraceKey, tuple[asyncio.TimerHandle, OrderbookOptions | None]] = {}
        self.version = 0
        self._cache: dict[str, tuple[int, bytes | None]] = {}
        self._last_options: dict[str, OrderbookOptions] = {}
        self.wanted: set[str] = set()

    def _refresh_wanted(self) -> None:
        codes = self.public_codes()
        if codes != self.wanted:
            self.wanted.intersection_update(codes)
            self.wanted.update(codes)

    def apply(self, diff: SubscriptionDiff) -> None:
        """Apply a union change: grace for removed public symbols, then wake the connections."""
        if diff.is_empty:
            return
        kinds: set[str] = set()
        for data_type, symbols in diff.added.items():
            kinds.add(PRIVATE if data_type.is_private else PUBLIC)
            for symbol in symbols:
                held = self.grace.pop((data_type, symbol), None)
                if held is not None:
                    held[0].cancel()
        loop = self.loop
        for data_type, symbols in diff.removed.items():
            kinds.add(PRIVATE if data_type.is_private else PUBLIC)
            for symbol in symbols:
                if data_type.is_private or self._grace_seconds <= 0 or loop is None:
                    self._forget(data_type, symbol)
                    continue
                key = (data_type, symbol)
                handle = loop.call_later(self._grace_seconds, self._grace_expired, key)
                self.grace[key] = (handle, self._last_options.get(symbol))
        if diff.options_changed:
            kinds.add(PUBLIC)
        self._last_options = self._state.get_orderbook_options()
        self.version += 1
        if PUBLIC in kinds:
            self._refresh_wanted()
        for kind in kinds:
            self._wake(kind)

    def changed(self) -> None:
        """The request must be rebuilt (new keys, refused codes)."""
        self.version += 1

    def _grace_expired(self, key: GraceKey) -> None:
        if self.grace.pop(key, None) is None:
            return
        data_type, symbol = key
        if not self._state.is_subscribed(data_type, symbol):
            self._forget(data_type, symbol)
        self.version += 1
        self._refresh_wanted()
        self._wake(PUBLIC)

    def cancel_grace(self) -> None:
        for handle, _ in self.grace.values():
            handle.cancel()
        self.grace.clear()
        self._refresh_wanted()

    def request(self, kind: str) -> bytes | None:
        """The whole subscription of one connection as one request, or None if nothing."""
        cached = self._cache.get(kind)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        request = self._build(kind)
        self._cache[kind] = (self.version, request)
        if kind == PUBLIC:
            self._refusals.request_built(request)  # the subscription changed: a refusal ends
        return request

    def _build(self, kind: str) -> bytes | None:
        if kind == PRIVATE:
            if not self._has_keys():
                return None
            desired = self._state.desired(private=True)
            return None if desired.is_empty else build_request(self._ticket, desired)
        desired = self._state.desired(private=False)
        if self.grace:
            codes = {t: set(s) for t, s in desired.codes.items()}
            orderbook = dict(desired.orderbook)
            for (data_type, symbol), (_, options) in self.grace.items():
                codes.setdefault(data_type, set()).add(symbol)
                if data_type is DataType.ORDERBOOK and symbol not in orderbook:
                    orderbook[symbol] = options or OrderbookOptions()
            desired = DesiredSubscription(
                codes={t: frozenset(s) for t, s in codes.items()}, orderbook=orderbook
            )
        desired = self._refusals.without_refused(desired)
        return None if desired.is_empty else build_request(self._ticket, desired)

    def holds(self, data_type: DataType, symbol: str) -> bool:
        """Is `symbol` on the wire for `data_type` (subscribed, or in its grace)?"""
        return self._state.is_subscribed(data_type, symbol) or (data_type, symbol) in self.grace

    def symbols(self, data_type: DataType) -> set[str]:
        """Every symbol of one type on the wire, grace included."""
        held = set(self._state.get_consolidated_subscription().get(data_type, ()))
        return held | {s for t, s in self.grace if t is data_type}

    def public_codes(self) -> set[str]:
        codes = {s for _, s in self.grace}
        for data_type, symbols in self._state.get_consolidated_subscription().items():
            if not data_type.is_private:
                codes.update(symbols)
        return codes

    def consolidated(self) -> dict[str, list[str]]:
        """The union each connection carries or will carry (grace symbols included)."""
        out: dict[str, set[str]] = {}
        for data_type, symbols in self._state.get_consolidated_subscription().items():
            out.setdefault(data_type.value, set()).update(symbols)
        for data_type, symbol in self.grace:
            out.setdefault(data_type.value, set()).add(symbol)
        return {t: sorted(s) for t, s in out.items()}
