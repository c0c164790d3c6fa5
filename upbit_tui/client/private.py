"""The private side's REST half: balance seeding and the polling fallback (issue 4).

myAsset has no snapshot, so balances are seeded from REST /v1/accounts when the first balance
subscriber arrives. When the private WebSocket fails authentication or keeps failing,
RestFallbackPoller polls /v1/accounts and /v1/orders/open instead, diffs successive answers and
emits the same BalanceEvent / OrderEvent types a subscriber gets from the WebSocket, until it is
stopped (the WebSocket works again). Independent of the manager: its inputs are the REST client,
an interval and an `emit(event)` callable. Decoding myAsset/myOrder frames is codec.py's job.

Public API::

    await seed_balances(rest) -> BalanceEvent        # every currency, stream_type REST
    private_unavailable_reason(auth: AuthConfig | Credentials | None) -> str | None
        # NO_KEYS_REASON without keys, else None

    book = BalanceBook()                             # latest balance per currency
    book.apply(event: BalanceEvent) -> None          # a seed (all) or a myAsset update (changed)
    book.snapshot() -> BalanceEvent | None           # every known currency, for late subscribers

    poller = RestFallbackPoller(rest, emit, *, interval=2.0, balances=True, orders=True,
                                emit_initial=True, clock=time.time)
    poller.start()            # needs a running loop; the poller owns its task
    await poller.stop()       # cancels and awaits the task; safe to call twice
    async with poller: ...    # start/stop
    await poller.poll_once() -> list[BalanceEvent | OrderEvent]   # one round, emitted and returned
    poller.running, poller.polls, poller.errors, poller.last_error (str | None, never a key)

`emit(event)` may be sync or async; an exception from it is logged and polling goes on.
`balances` / `orders` are bools or zero-argument callables read before every round (e.g. "does
anyone subscribe to balances?"); a kind that is off is not fetched and its diff state is reset.

What gets emitted (stream_type=StreamType.REST, epoch 0: the caller stamps its own epoch):
- balances: the first round (with emit_initial) every currency; afterwards one BalanceEvent with
  the currencies whose balance or locked amount changed; a currency that vanished from
  /v1/accounts is emitted with balance 0 and locked 0.
- orders: the first round (with emit_initial) every open order; afterwards new orders and orders
  whose state, volumes, fees, locked amount or trade count changed, as the REST snapshot (state
  `wait`/`watch`); an order that left the open list is emitted once more with its final state
  from GET /v1/order when the server has it, else with state "closed" (REST cannot tell done
  from cancelled without that call).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec

from upbit_tui.net.auth import NO_KEYS_REASON, Credentials
from upbit_tui.net.rest import UpbitApiError
from upbit_tui.wire.events import Asset, BalanceEvent, OrderEvent, StreamType

if TYPE_CHECKING:
    from upbit_tui.config import AuthConfig
    from upbit_tui.net.rest import UpbitRestClient

log = logging.getLogger(__name__)

PrivateEvent = BalanceEvent | OrderEvent
Emit = Callable[[PrivateEvent], Awaitable[None] | None]
Switch = bool | Callable[[], bool]

# Final state given to an order that left the open list when GET /v1/order cannot say more.
CLOSED_STATE = "closed"
_ORDER_FIELDS = (
    "state",
    "price",
    "volume",
    "remaining_volume",
    "executed_volume",
    "trades_count",
    "paid_fee",
    "remaining_fee",
    "locked",
    "executed_funds",
)


async def seed_balances(rest: UpbitRestClient) -> BalanceEvent:
    """Every balance from /v1/accounts: myAsset only streams changes, so start from this."""
    return await rest.get_accounts()


def private_unavailable_reason(auth: AuthConfig | Credentials | None) -> str | None:
    """Why balances and orders cannot work at all (no keys), or None when they can."""
    if isinstance(auth, Credentials):
        return None
    if auth is None or not auth.has_keys:
        return NO_KEYS_REASON
    return None


class BalanceBook:
    """The latest balance of every currency: seeds and myAsset updates merged."""

    def __init__(self) -> None:
        self._assets: dict[str, Asset] = {}
        self._last: BalanceEvent | None = None

    def apply(self, event: BalanceEvent) -> None:
        for asset in event.assets:
            known = self._assets.get(asset.currency)
            if asset.avg_buy_price is None and known is not None:
                # myAsset does not carry avg_buy_price: keep the one REST gave us.
                asset = msgspec.structs.replace(asset, avg_buy_price=known.avg_buy_price)
            self._assets[asset.currency] = asset
        self._last = event

    def snapshot(self) -> BalanceEvent | None:
        if self._last is None:
            return None
        return msgspec.structs.replace(self._last, assets=list(self._assets.values()))


def _switch(value: Switch) -> bool:
    return bool(value() if callable(value) else value)


def _order_key(order: OrderEvent) -> tuple[object, ...]:
    return tuple(getattr(order, name) for name in _ORDER_FIELDS)


class RestFallbackPoller:
    """Balances and orders over REST while the private WebSocket is down."""

    def __init__(
        self,
        rest: UpbitRestClient,
        emit: Emit,
        *,
        interval: float = 2.0,
        balances: Switch = True,
        orders: Switch = True,
        emit_initial: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"poll interval must be > 0 seconds, got {interval!r}")
        self._rest = rest
        self._emit = emit
        self.interval = interval
        self._balances = balances
        self._orders = orders
        self._emit_initial = emit_initial
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None
        self._prev_balances: dict[str, Asset] | None = None
        self._prev_orders: dict[str, OrderEvent] | None = None
        self._order_lookup_works = True
        self.polls = 0
        self.errors = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin polling now and then every `interval` seconds (no-op when running)."""
        if self.running:
            return
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._run(self._stopping), name="upbit-rest-fallback"
        )

    async def stop(self) -> None:
        """Stop polling; returns when the task has ended."""
        task, self._task = self._task, None
        if self._stopping is not None:
            self._stopping.set()
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                # Our own cancel ends here; a cancel of the caller must still propagate.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def __aenter__(self) -> RestFallbackPoller:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.poll_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval)

    # ------------------------------------------------------------------ one round

    async def poll_once(self) -> list[PrivateEvent]:
        """Fetch, diff and emit once; returns the emitted events. Errors are counted, not raised."""
        self.polls += 1
        events: list[PrivateEvent] = []
        if _switch(self._balances):
            events += await self._guard("balances", self._poll_balances())
        else:
            self._prev_balances = None
        if _switch(self._orders):
            events += await self._guard("orders", self._poll_orders())
        else:
            self._prev_orders = None
        for event in events:
            await self._deliver(event)
        return events

    async def _guard(self, what: str, work: Awaitable[list[PrivateEvent]]) -> list[PrivateEvent]:
        try:
            return await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.errors += 1
            text = str(exc) if isinstance(exc, UpbitApiError) else type(exc).__name__
            if text != self.last_error:  # log each distinct problem once, not every round
                log.warning("REST fallback could not read %s: %s", what, text)
            self.last_error = text
            return []

    async def _deliver(self, event: PrivateEvent) -> None:
        try:
            result = self._emit(event)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("REST fallback: emit callback failed")

    async def _poll_balances(self) -> list[PrivateEvent]:
        snapshot = await self._rest.get_accounts()
        current = {a.currency: a for a in snapshot.assets}
        previous, self._prev_balances = self._prev_balances, current
        if previous is None:
            return [snapshot] if self._emit_initial else []
        changed = [
            a
            for cur, a in current.items()
            if cur not in previous
            or (previous[cur].balance, previous[cur].locked) != (a.balance, a.locked)
        ]
        changed += [
            Asset(currency=cur, balance=0.0, locked=0.0, unit_currency=old.unit_currency)
            for cur, old in previous.items()
            if cur not in current
        ]
        if not changed:
            return []
        return [msgspec.structs.replace(snapshot, assets=changed)]

    async def _poll_orders(self) -> list[PrivateEvent]:
        orders = await self._rest.get_open_orders()
        current = {o.uuid: o for o in orders}
        previous, self._prev_orders = self._prev_orders, current
        if previous is None:
            return list(orders) if self._emit_initial else []
        events: list[PrivateEvent] = [
            o
            for o in orders
            if o.uuid not in previous or _order_key(previous[o.uuid]) != _order_key(o)
        ]
        for uuid, old in previous.items():
            if uuid not in current:
                events.append(await self._final_state(old))
        return events

    async def _final_state(self, last: OrderEvent) -> OrderEvent:
        """The order as it ended (GET /v1/order), or its last snapshot marked 'closed'."""
        if self._order_lookup_works:
            try:
                return await self._rest.get_order(last.uuid)
            except UpbitApiError as exc:
                if exc.status == 404 and exc.name != "order_not_found":
                    self._order_lookup_works = False  # the server has no GET /v1/order
                log.debug("final state of order %s unavailable: %s", last.uuid, exc.name)
        now_ms = int(self._clock() * 1000)
        return msgspec.structs.replace(
            last,
            state=CLOSED_STATE,
            timestamp_ms=now_ms,
            received_at=self._clock(),
            stream_type=StreamType.REST,
        )
