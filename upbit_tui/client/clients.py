"""ClientRegistry: the proxies a manager serves and what each of them subscribed.

One record per live proxy (`client_id`, a token so a late finalizer cannot remove a newer proxy
with the same id, the proxy held weakly) with its handles (handles.py). Every change goes to the
router (who gets which event) and to the ref-counted desired state (what the wire must carry);
the resulting diff is handed to `apply` (the manager's WireUnion). Validation against the market
list happens before, in the manager, so a bad call changes nothing here.

    registry = ClientRegistry(router, routing_config, state, apply)
    registry.register(client_id, proxy) -> token
    registry.remove(client_id, token=None)
    registry.records[client_id] -> ClientRecord
    registry.add(record, data_type, symbols, callback, **options)
    registry.unsubscribe(client_id, data_type, codes) / unsubscribe_all(client_id)
    registry.subscriptions(client_id) / callbacks_of(client_id)
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from upbit_tui.client.handles import Handle, open_handle, shrink_handle
from upbit_tui.client.interface import Callback
from upbit_tui.config import RoutingConfig
from upbit_tui.net.routing import Router
from upbit_tui.wire.events import DataType
from upbit_tui.wire.subscriptions import SubscriptionDiff, SubscriptionStateManager

if TYPE_CHECKING:
    from upbit_tui.client.proxy import WebSocketClientProxy


@dataclass
class ClientRecord:
    client_id: str
    token: int
    proxy: weakref.ReferenceType[WebSocketClientProxy] | None
    handles: list[Handle] = field(default_factory=list)


class ClientRegistry:
    """Proxies and their subscriptions; see the module docstring."""

    def __init__(
        self,
        router: Callable[[], Router],
        routing: RoutingConfig,
        state: SubscriptionStateManager,
        apply: Callable[[SubscriptionDiff], None],
    ) -> None:
        self._router = router  # a getter: the manager rebuilds its router on stop()
        self._routing = routing
        self._state = state
        self._apply = apply
        self.records: dict[str, ClientRecord] = {}
        self._tokens = itertools.count(1)

    def register(self, client_id: str, proxy: WebSocketClientProxy) -> int:
        """Record a live proxy; a second live proxy with the same id is an error."""
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be a non-empty string")
        record = self.records.get(client_id)
        if record is not None:
            if record.proxy is not None and record.proxy() is not None:
                raise ValueError(
                    f"client_id '{client_id}' is already used by a live WebSocketClientProxy; "
                    "each component needs its own id (or clean up the old proxy first)"
                )
            # The old proxy was collected but its cleanup has not run yet: run it now.
            self.remove(client_id, record.token)
        token = next(self._tokens)
        self.records[client_id] = ClientRecord(client_id, token, weakref.ref(proxy))
        return token

    def remove(self, client_id: str, token: int | None = None) -> None:
        """Drop every subscription, queue and task of one client (synchronous, idempotent)."""
        record = self.records.get(client_id)
        if record is None or (token is not None and record.token != token):
            return
        del self.records[client_id]
        self._drop_all(record)

    def add(
        self,
        record: ClientRecord,
        data_type: DataType,
        symbols: Iterable[str] | str | None,
        callback: Callback,
        **options: Any,
    ) -> None:
        """Subscribe in the router and the desired state; a refusal leaves nothing behind."""
        client_id = record.client_id
        router = self._router()
        handle = open_handle(
            router, self._routing, client_id, data_type, symbols, callback, **options
        )
        try:
            if data_type is DataType.ORDERBOOK:
                diff = self._state.add_subscription(
                    client_id,
                    data_type,
                    symbols,
                    depth=options.get("depth"),
                    level=options.get("level"),
                )
            else:
                diff = self._state.add_subscription(client_id, data_type, symbols)
        except Exception:
            shrink_handle(router, handle)
            raise
        record.handles.append(handle)
        self._apply(diff)

    def unsubscribe(self, client_id: str, data_type: DataType, codes: list[str] | None) -> None:
        record = self.records.get(client_id)
        if record is None:
            return
        router = self._router()
        keep = []
        for handle in record.handles:
            if handle.data_type is data_type and not shrink_handle(router, handle, codes):
                continue  # the subscription has no symbols left
            keep.append(handle)
        record.handles[:] = keep
        self._apply(self._state.remove_subscription(client_id, data_type, codes))

    def unsubscribe_all(self, client_id: str) -> None:
        record = self.records.get(client_id)
        if record is not None:
            self._drop_all(record)

    def _drop_all(self, record: ClientRecord) -> None:
        router = self._router()
        for handle in record.handles:
            shrink_handle(router, handle)
        record.handles.clear()
        self._apply(self._state.remove_client(record.client_id))

    def subscriptions(self, client_id: str) -> dict[str, list[str]]:
        held = self._state.client_subscriptions(client_id)
        return {t.value: sorted(s) for t, s in held.items()}

    def callbacks_of(self, client_id: str) -> set[int]:
        """ids of the callbacks and error handlers a client's subscriptions still use."""
        record = self.records.get(client_id)
        used: set[int] = set()
        for handle in record.handles if record is not None else ():
            for ref in (handle.callback, handle.error_handler):
                fn = ref() if ref is not None else None
                if fn is not None:
                    used.add(id(fn))
        return used
