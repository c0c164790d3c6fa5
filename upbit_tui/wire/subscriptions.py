"""Who wants what: per-client subscriptions, reference-counted into one consolidated union.

Pure Python, no I/O and no asyncio: the manager owns one `SubscriptionStateManager`, asks it for
the union after every change and sends that (Upbit replaces a connection's subscription with each
request, so the request must always carry everything).

    state = SubscriptionStateManager()
    diff = state.add_subscription("chart", DataType.TICKER, {"KRW-BTC", "KRW-ETH"})
    diff = state.add_subscription("book", DataType.ORDERBOOK, ["KRW-BTC"], depth=15, level=0)
    diff = state.remove_subscription("chart", DataType.TICKER, ["KRW-ETH"])   # None = whole type
    diff = state.remove_client("chart")
    state.get_consolidated_subscription()  # {DataType.ORDERBOOK: {"KRW-BTC"}}
    state.get_orderbook_options()          # {"KRW-BTC": OrderbookOptions(depth=15, level=0.0)}
    state.desired(private=False)           # codec.DesiredSubscription for build_request

Every mutating method returns a `SubscriptionDiff` of what changed in the union: `added` and
`removed` per DataType, `options_changed` (orderbook codes whose wire depth/level changed), the
convenience sets `added_symbols` / `removed_symbols` (over all types) and `is_empty` (nothing to
send). The methods are synchronous; the diff is also awaitable (it resolves to itself), so both
`diff = state.add_subscription(...)` and the spec's `diff = await state.add_subscription(...)`
work. No lock is needed: every call completes without yielding to the event loop.

Symbols are normalised (`normalize_symbol`: 'krw-btc' -> 'KRW-BTC'; a bad code raises
SymbolError, a ValueError). `ALL_SYMBOLS` ("*") stands for "every market": myAsset is always
subscribed as {"*"}, and myOrder with {"*"} means all markets (the request then omits `codes`).

Orderbook options: the wire depth of a code is the largest depth any client wants (1, 5, 15, 30;
the router trims for clients that want fewer); its level is that of the client that subscribed
the code first and still holds it (one level per code on the wire: Upbit documents per-code
levels but not one code at two levels). A client asking another level for a code is recorded, and
gets data once it is the first holder; the router only delivers events of a subscriber's level.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from upbit_tui.wire.codec import (
    DEFAULT_ORDERBOOK_DEPTH,
    ORDERBOOK_DEPTHS,
    DesiredSubscription,
    OrderbookOptions,
)
from upbit_tui.wire.events import DataType
from upbit_tui.wire.symbols import SymbolError, normalize_symbol

ALL_SYMBOLS = "*"

_EMPTY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SubscriptionDiff:
    """What one change did to the consolidated union."""

    added: Mapping[DataType, frozenset[str]] = field(default_factory=dict)
    removed: Mapping[DataType, frozenset[str]] = field(default_factory=dict)
    # Orderbook codes still subscribed whose wire depth or level changed.
    options_changed: frozenset[str] = _EMPTY

    @property
    def added_symbols(self) -> set[str]:
        return set().union(*self.added.values())

    @property
    def removed_symbols(self) -> set[str]:
        return set().union(*self.removed.values())

    @property
    def is_empty(self) -> bool:
        """True when the union on the wire is unchanged: nothing needs to be sent."""
        return not (self.added or self.removed or self.options_changed)

    def __bool__(self) -> bool:
        return not self.is_empty

    def __await__(self) -> Generator[Any, None, SubscriptionDiff]:
        # Lets the spec's `await state.add_subscription(...)` work on a synchronous call.
        return self
        yield  # pragma: no cover - makes this a generator


class SubscriptionStateManager:
    """Per-client, per-DataType symbol sets, reference-counted into one union. See the module
    docstring for the API."""

    def __init__(self) -> None:
        # client -> type -> symbols, in subscription order.
        self._clients: dict[str, dict[DataType, dict[str, None]]] = {}
        # type -> symbol -> number of clients holding it.
        self._refs: dict[DataType, dict[str, int]] = {}
        # orderbook symbol -> client -> what that client asked for (first holder first).
        self._orderbook: dict[str, dict[str, OrderbookOptions]] = {}

    # ----------------------------------------------------------------- changes

    def add_subscription(
        self,
        client_id: str,
        data_type: DataType,
        symbols: Iterable[str] | str | None,
        *,
        depth: int | None = None,
        level: float | None = None,
    ) -> SubscriptionDiff:
        """Add `symbols` of `data_type` for `client_id` (already held ones are kept; for the
        orderbook their depth/level are updated). `symbols=None` means ALL_SYMBOLS (myAsset,
        myOrder). `depth` and `level` apply to DataType.ORDERBOOK only."""
        data_type = DataType(data_type)
        wanted = _symbols(data_type, symbols)
        if data_type is DataType.ORDERBOOK:
            options = OrderbookOptions(
                depth=_depth(depth),
                level=_level(level),
            )
        elif depth is not None or level is not None:
            raise ValueError(f"depth and level apply to orderbook subscriptions, not {data_type}")
        before_options = self._wire_options(wanted) if data_type is DataType.ORDERBOOK else {}
        held = self._clients.setdefault(client_id, {}).setdefault(data_type, {})
        refs = self._refs.setdefault(data_type, {})
        added: set[str] = set()
        for symbol in wanted:
            if symbol not in held:
                held[symbol] = None
                count = refs.get(symbol, 0)
                refs[symbol] = count + 1
                if count == 0:
                    added.add(symbol)
            if data_type is DataType.ORDERBOOK:
                self._orderbook.setdefault(symbol, {})[client_id] = options
        changed = self._changed_options(before_options, added)
        return _diff({data_type: added}, {}, changed)

    def remove_subscription(
        self, client_id: str, data_type: DataType, symbols: Iterable[str] | str | None = None
    ) -> SubscriptionDiff:
        """Drop `symbols` of `data_type` for `client_id` (None = all of that type). Symbols the
        client does not hold are ignored."""
        data_type = DataType(data_type)
        held = self._clients.get(client_id, {}).get(data_type)
        if not held:
            return SubscriptionDiff()
        targets = list(held) if symbols is None else _symbols(data_type, symbols)
        return self._release(client_id, {data_type: targets})

    def remove_client(self, client_id: str) -> SubscriptionDiff:
        """Drop everything `client_id` holds and forget the client."""
        types = self._clients.get(client_id)
        if types is None:
            return SubscriptionDiff()
        diff = self._release(client_id, {t: list(s) for t, s in types.items()})
        self._clients.pop(client_id, None)
        return diff

    def _release(self, client_id: str, targets: Mapping[DataType, list[str]]) -> SubscriptionDiff:
        client = self._clients[client_id]
        orderbook_symbols = [
            s
            for s in targets.get(DataType.ORDERBOOK, ())
            if s in client.get(DataType.ORDERBOOK, {})
        ]
        before_options = self._wire_options(orderbook_symbols)
        removed: dict[DataType, set[str]] = {}
        for data_type, symbols in targets.items():
            held = client.get(data_type)
            if not held:
                continue
            refs = self._refs[data_type]
            for symbol in symbols:
                if symbol not in held:
                    continue
                del held[symbol]
                count = refs[symbol] - 1
                if count:
                    refs[symbol] = count
                else:
                    del refs[symbol]
                    removed.setdefault(data_type, set()).add(symbol)
                if data_type is DataType.ORDERBOOK:
                    wants = self._orderbook[symbol]
                    wants.pop(client_id, None)
                    if not wants:
                        del self._orderbook[symbol]
            if not held:
                del client[data_type]
            if not refs:
                del self._refs[data_type]
        gone = removed.get(DataType.ORDERBOOK, set())
        changed = self._changed_options(before_options, set(), gone)
        return _diff({}, removed, changed)

    # ----------------------------------------------------------------- queries

    def get_consolidated_subscription(self) -> dict[DataType, set[str]]:
        """The union over all clients: every type with at least one symbol (a copy)."""
        return {t: set(refs) for t, refs in self._refs.items() if refs}

    def get_orderbook_options(self) -> dict[str, OrderbookOptions]:
        """Wire depth and level for every subscribed orderbook code."""
        return self._wire_options(self._orderbook)

    def desired(
        self, *, private: bool = False, is_only_realtime: bool = False
    ) -> DesiredSubscription:
        """The public (or private) half of the union, ready for `codec.build_request`."""
        codes: dict[DataType, frozenset[str]] = {}
        for data_type, refs in self._refs.items():
            if data_type.is_private != private or not refs:
                continue
            if data_type.is_private and ALL_SYMBOLS in refs:
                codes[data_type] = frozenset()  # every market / myAsset takes no codes
            else:
                codes[data_type] = frozenset(refs)
        orderbook = self.get_orderbook_options() if not private else {}
        return DesiredSubscription(
            codes=codes, orderbook=orderbook, is_only_realtime=is_only_realtime
        )

    def client_subscriptions(self, client_id: str) -> dict[DataType, set[str]]:
        """What one client holds (a copy; empty for an unknown client)."""
        return {t: set(s) for t, s in self._clients.get(client_id, {}).items() if s}

    def clients(self) -> list[str]:
        return list(self._clients)

    def summary(self) -> dict[str, dict[str, list[str]]]:
        """JSON-ready view for dashboards: client -> type -> sorted symbols."""
        return {
            client: {t.value: sorted(s) for t, s in types.items() if s}
            for client, types in self._clients.items()
        }

    def is_subscribed(self, data_type: DataType, symbol: str) -> bool:
        return symbol in self._refs.get(DataType(data_type), {})

    # ----------------------------------------------------------------- orderbook options

    def _wire_options(self, symbols: Iterable[str]) -> dict[str, OrderbookOptions]:
        out: dict[str, OrderbookOptions] = {}
        for symbol in symbols:
            wants = self._orderbook.get(symbol)
            if not wants:
                continue
            first = next(iter(wants.values()))
            depth = max(o.depth for o in wants.values())
            out[symbol] = OrderbookOptions(depth=depth, level=first.level)
        return out

    def _changed_options(
        self,
        before: Mapping[str, OrderbookOptions],
        added: set[str],
        gone: set[str] | frozenset[str] = _EMPTY,
    ) -> set[str]:
        after = self._wire_options(before)
        return {
            symbol
            for symbol, options in before.items()
            if symbol not in added and symbol not in gone and after.get(symbol) != options
        }


def _diff(
    added: Mapping[DataType, set[str]],
    removed: Mapping[DataType, set[str]],
    options_changed: set[str],
) -> SubscriptionDiff:
    return SubscriptionDiff(
        added={t: frozenset(s) for t, s in added.items() if s},
        removed={t: frozenset(s) for t, s in removed.items() if s},
        options_changed=frozenset(options_changed),
    )


def _symbols(data_type: DataType, symbols: Iterable[str] | str | None) -> list[str]:
    if data_type is DataType.BALANCE:
        return [ALL_SYMBOLS]  # myAsset has no codes
    if symbols is None:
        if data_type is DataType.ORDER:
            return [ALL_SYMBOLS]
        raise ValueError(f"{data_type} subscriptions need market codes")
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    if not items:
        raise SymbolError(f"no market codes given for {data_type}")
    out: dict[str, None] = {}
    for item in items:
        if item == ALL_SYMBOLS and data_type is DataType.ORDER:
            out[ALL_SYMBOLS] = None
        else:
            out[normalize_symbol(item)] = None
    return list(out)


def _depth(depth: int | None) -> int:
    if depth is None:
        return DEFAULT_ORDERBOOK_DEPTH
    if depth not in ORDERBOOK_DEPTHS or isinstance(depth, bool):
        raise ValueError(
            f"orderbook depth {depth!r} is not one of {', '.join(map(str, ORDERBOOK_DEPTHS))}"
        )
    return int(depth)


def _level(level: float | None) -> float:
    if level is None:
        return 0.0
    if isinstance(level, bool) or not isinstance(level, int | float) or level < 0:
        raise ValueError(f"orderbook level must be a number >= 0, got {level!r}")
    return float(level)
