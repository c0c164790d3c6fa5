"""One subscriber of the Router: its bounded queue (one class per policy), drain task, counters.

The Router (net/routing.py, whose docstring is the contract: policies, delivery, epochs,
metrics) decides who gets an event; a subscriber decides when and how its callback sees it.
Split from routing.py by job; the hot paths cross the boundary on purpose: `Router.publish`
inlines `DropOldestSubscriber.offer`, and the drain reads the router's epochs and metrics.
One piece (~650 lines) because the base class's drain loop and the three policies' queues are
one mechanism: each policy implements the queue (`offer`, `_take_batch`, `_discard`) that the
same drain empties; apart, neither half can be read on its own.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import msgspec

from upbit_tui.wire.events import DataType, MarketEvent, OrderbookEvent
from upbit_tui.wire.subscriptions import ALL_SYMBOLS

if TYPE_CHECKING:
    from upbit_tui.net.routing import Router

log = logging.getLogger(__name__)

Callback = Callable[[Any], Any]
ErrorHandler = Callable[[BaseException], Any]

PUBLIC: Final = "public"
PRIVATE: Final = "private"


class Policy(StrEnum):
    DROP_OLDEST = "drop_oldest"
    COALESCE_BY_SYMBOL = "coalesce_by_symbol"
    THROTTLE = "throttle"


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


class Subscriber(abc.ABC):
    """One subscription: its queue (by policy), its drain task and its counters."""

    __slots__ = (
        "__weakref__",
        "_busy",
        "_callback",
        "_callback_ref",
        "_error_handler",
        "_error_ref",
        "_halt",
        "_handover",
        "_in_flight",
        "_inline",
        "_is_async",
        "_parked",
        "_router",
        "_task",
        "_waiter",
        "callback_errors",
        "client_id",
        "closed",
        "connection",
        "data_type",
        "delivered",
        "depth",
        "dropped",
        "level",
        "queue_size",
        "slow_callbacks",
        "stale",
        "superseded",
        "symbols",
        "throttle_per_second",
    )

    def __init__(
        self,
        router: Router,
        *,
        data_type: DataType,
        symbols: frozenset[str] | None,
        callback: Callback,
        error_handler: ErrorHandler | None,
        queue_size: int,
        throttle_per_second: float,
        depth: int | None,
        level: float | None,
        client_id: str,
        weak: bool,
    ) -> None:
        self._router: Router | None = router
        self.data_type = data_type
        self.symbols = symbols
        self.client_id = client_id
        self.connection = PRIVATE if data_type.is_private else PUBLIC
        self.queue_size = queue_size
        self.throttle_per_second = throttle_per_second
        self.depth = depth
        self.level = level
        self._callback_ref: Callable[[], Callback | None] | None = None
        self._error_ref: Callable[[], ErrorHandler | None] | None = None
        self._callback: Callback | None = callback
        self._error_handler: ErrorHandler | None = error_handler
        if weak:
            self._callback_ref = _weak(callback)
            self._callback = None
            if error_handler is not None:
                self._error_ref = _weak(error_handler)
                self._error_handler = None
        self._is_async = _is_async_callable(callback)
        # Sync callbacks are called from the router's flush (one loop callback for every
        # subscriber an event burst woke) while the drain task stays parked: no task wake-up
        # per subscriber per burst. The task takes over whenever something must be awaited.
        self._inline = not self._is_async
        self._task: asyncio.Task[None] | None = None
        # Whom the next offer wakes (None: already woken or busy).
        self._waiter: asyncio.Future[None] | None = None
        # The future the idle drain task waits on.
        self._parked: asyncio.Future[None] | None = None
        # (what a flush-called callback returned or raised, the rest of its batch): the task's.
        self._handover: tuple[Any, Iterator[MarketEvent]] | None = None
        # True while the drain runs (started and not idle): only then must close() cancel it.
        self._busy = False
        # Events of the batch being delivered that have not reached the callback yet (kept
        # exact at every await; during a run of sync callbacks nobody else can look).
        self._in_flight = 0
        # Stop the batch being delivered after the current event: closed, or symbols narrowed
        # (change_symbols: the rest of the batch goes on without the symbols it lost).
        self._halt = False
        self.closed = False
        self.delivered = 0
        self.dropped = 0
        self.superseded = 0
        self.stale = 0
        self.callback_errors = 0
        self.slow_callbacks = 0

    # Each policy implements the queue.
    @abc.abstractmethod
    def offer(self, event: MarketEvent) -> None: ...

    @abc.abstractmethod
    def _take_batch(self) -> Iterable[MarketEvent] | None:
        """Everything queued now, as one batch to deliver in order (None when empty).

        Events offered while the batch is delivered go to the next batch. Bounded: a batch
        never holds more than `queue_size` events."""

    @abc.abstractmethod
    def _clear(self) -> None: ...

    @abc.abstractmethod
    def _discard(self, symbols: frozenset[str]) -> None:
        """Drop the queued events of `symbols` (the subscriber no longer wants them)."""

    @property
    @abc.abstractmethod
    def queue_depth(self) -> int: ...

    def _offer_matching(self, event: MarketEvent) -> None:
        """Offer through the same filter and trim as publish() (for replays)."""
        if self.level is not None or self.depth is not None:
            self._offer_orderbook(event)
        else:
            self.offer(event)

    def _offer_orderbook(self, event: MarketEvent) -> None:
        # Orderbook subscribers with a level and/or a depth: filter, then trim a copy (the shared
        # event is untouched).
        if self.level is not None and event.level != self.level:  # type: ignore[attr-defined]
            return
        depth = self.depth
        if depth is not None and len(event.orderbook_units) > depth:  # type: ignore[attr-defined]
            event = _trim(event, depth)  # type: ignore[arg-type]
        self.offer(event)

    def _drop(self, n: int = 1) -> None:
        self.dropped += n
        router = self._router
        if router is not None and router.metrics is not None:
            router.metrics.record_drops(n)

    def _supersede(self) -> None:
        # A pending value replaced by a newer one of the same symbol: what coalesce/throttle
        # subscribers asked for. Counted as a drop, but it is no sign of a struggling consumer,
        # so health (which watches the drop rate) does not see it.
        self.dropped += 1
        self.superseded += 1

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            router = self._router
            if self._inline and not self._busy and router is not None:
                router._schedule(self)
            elif not waiter.done():
                waiter.set_result(None)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        name = f"drain {self.client_id or '?'} {self.data_type.value}"
        self._task = asyncio.get_running_loop().create_task(self._drain(), name=name)

    def close(self) -> None:
        """Unsubscribe (same as `router.unsubscribe(self)`)."""
        router = self._router
        if router is not None:
            router.unsubscribe(self)
        else:
            self._stop()

    async def aclose(self) -> None:
        """Unsubscribe and wait for the drain task to end."""
        task = self._task
        self.close()
        if task is not None and task is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _stop(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._halt = True
        router = self._router
        if router is not None:
            router._closed_dropped += self.dropped
            router._closed_errors += self.callback_errors
        self._router = None
        self._clear()
        task, self._task = self._task, None
        waiter, self._waiter = self._waiter, None
        # End the drain without cancelling when we can: a task that ends normally stores no
        # exception whose traceback would keep frames (and this subscriber) alive.
        parked = self._parked
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # idle: it wakes, sees `closed`, returns
        elif parked is not None and not parked.done():
            parked.set_result(None)  # idle, a flush pending: the same
        elif task is not None and self._busy and task is not asyncio.current_task():
            task.cancel()  # inside a callback that awaits: interrupt it
        self._handover = None
        # Not started yet: it will start, see `closed` and return.
        self._callback = self._error_handler = None
        self._callback_ref = self._error_ref = None

    # ----------------------------------------------------------------- delivery

    async def _drain(self) -> None:
        if self.closed:
            return  # closed before it ever ran
        self._busy = True
        try:
            await self._drain_loop()
        except asyncio.CancelledError:
            if not self.closed:
                raise
            # Cancelled by our own close(): end quietly, so that no stored traceback keeps the
            # loop's frame (this subscriber, its callback's owner) alive after the task ends.

    async def _drain_loop(self) -> None:
        # The hot loop: one batch (everything queued) at a time, iterated in C; locals instead
        # of attribute lookups; the clock read once per batch and after every await (latency is
        # in ms, a run of sync callbacks takes microseconds).
        loop = asyncio.get_running_loop()
        router = self._router
        assert router is not None
        epochs = router._epochs
        connection = self.connection
        metrics = router.metrics
        latency = metrics.latency if metrics is not None else None
        record_deliveries = metrics.record_deliveries if metrics is not None else None
        slow = router.slow_callback
        is_async = self._is_async
        now = time.time
        take_batch = self._take_batch
        isawaitable = inspect.isawaitable
        del router  # the task must not keep the router alive
        ring = latency._ring if latency is not None else None
        mask = latency._mask if latency is not None else 0
        index = 0
        callback: Callback | None = None
        event: MarketEvent | None = None
        batch: Iterable[MarketEvent] | None
        while not self.closed:
            handover = self._handover
            if handover is not None:
                # A sync callback called from the router's flush returned an awaitable or
                # raised: finish that event here, then the rest of its batch.
                self._handover = None
                pending, batch = handover
                handover = None
                if pending is None:
                    pass  # the rest of a batch halted by _narrow
                elif isinstance(pending, Exception):
                    await self._failed(pending)
                else:
                    try:
                        await pending
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        await self._failed(exc)
                del pending
                if self.closed:
                    break
            else:
                batch = take_batch()
                self._halt = False  # the queue already reflects any narrowing
            if batch is None:
                # Idle: hold no reference to the callback (a weak subscriber's owner may go).
                callback = event = None
                waiter = self._waiter = self._parked = loop.create_future()
                self._busy = False
                await waiter
                self._busy = True
                continue
            callback = self._callback
            if callback is None:
                callback = self._resolve_callback()
                if callback is None:
                    return
            size = len(batch) if isinstance(batch, deque) else 0
            self._in_flight = size
            current = epochs[connection]
            delivered = stale = 0
            started = before = now()
            before_ms = before * 1000.0
            if latency is not None:
                index = latency._index
            events = iter(batch)
            try:
                for event in events:
                    if event.epoch < current and event.epoch:
                        stale += 1
                        continue
                    if (
                        not delivered & 7
                        and ring is not None
                        and event.timestamp_ms
                        and event.stream_type == "REALTIME"
                    ):
                        # Inlined LatencyWindow.record, for the batch's first (oldest, so
                        # highest-latency) event and every 8th after it: a sample is enough
                        # for the statistics, and recording costs on every delivery. Snapshots
                        # and REST events carry their data's age, not our delay: not sampled.
                        ring[index & mask] = before_ms - event.timestamp_ms
                        index += 1
                    delivered += 1
                    try:
                        result = callback(event)
                        if result is not None and (is_async or isawaitable(result)):
                            # Others run meanwhile: publish what they may look at.
                            if size:
                                self._in_flight = size - delivered - stale
                            if latency is not None:
                                latency._index = index
                            await result
                            after = now()
                            if after - before > slow:
                                self._slow(after - before)
                            before = after
                            before_ms = before * 1000.0
                            if latency is not None:
                                index = latency._index
                            current = epochs[connection]
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        if size:
                            self._in_flight = size - delivered - stale
                        if latency is not None:
                            latency._index = index
                        await self._failed(exc)
                        if latency is not None:
                            index = latency._index
                        current = epochs[connection]
                    if self._halt:
                        break  # closed (not one more delivery) or narrowed (see below)
            finally:
                self._in_flight = 0
                self.delivered += delivered
                self.stale += stale
                if latency is not None:
                    latency._index = index
                if record_deliveries is not None and delivered:
                    record_deliveries(delivered)
            if self._halt and not self.closed:
                self._handover = (None, self._rest_of_batch(events))
            if not is_async and delivered and now() - started > slow:
                # Sync callbacks are timed per batch: a blocking one stalls the whole loop.
                self._slow(now() - started)

    def _resolve_callback(self) -> Callback | None:
        ref = self._callback_ref
        callback = ref() if ref is not None else None
        if callback is None:
            # The owner is gone: nobody can receive these events any more.
            self.close()
        return callback

    async def _failed(self, exc: Exception) -> None:
        self.callback_errors += 1
        router = self._router
        if router is not None and router.metrics is not None:
            router.metrics.record_callback_error()
        handler = self._error_handler
        if handler is None and self._error_ref is not None:
            handler = self._error_ref()
        if handler is None:
            if self.callback_errors == 1 or self.callback_errors % 1000 == 0:
                log.error(
                    "callback of %s (%s) raised (%d so far)",
                    self.client_id or "?",
                    self.data_type.value,
                    self.callback_errors,
                    exc_info=exc,
                )
            return
        try:
            result = handler(exc)
            if result is not None and inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("error handler of %s raised", self.client_id or "?")

    def _narrow(self, symbols: frozenset[str]) -> None:
        """Keep only the events of `symbols`: queued ones now, a batch in flight from its next
        event on (Router.change_symbols)."""
        gone = self.symbols - symbols if self.symbols is not None else frozenset()
        self.symbols = symbols
        if gone:
            self._discard(gone)
            self._halt = True

    def _rest_of_batch(self, events: Iterator[MarketEvent]) -> Iterator[MarketEvent]:
        """What is left of a batch halted by `_narrow`, without the symbols no longer wanted."""
        self._halt = False
        symbols = self.symbols
        return iter(
            [e for e in events if symbols is None or getattr(e, "symbol", ALL_SYMBOLS) in symbols]
        )

    def _slow(self, seconds: float) -> None:
        self.slow_callbacks += 1
        if self.slow_callbacks == 1 or self.slow_callbacks % 100 == 0:
            log.warning(
                "callback of %s (%s) took %.3f s (%d slow so far)",
                self.client_id or "?",
                self.data_type.value,
                seconds,
                self.slow_callbacks,
            )

    def stats(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "type": self.data_type.value,
            "symbols": None if self.symbols is None else sorted(self.symbols),
            "policy": self.policy.value,
            "queue_depth": self.queue_depth,
            "queue_size": self.queue_size,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "superseded": self.superseded,
            "stale": self.stale,
            "callback_errors": self.callback_errors,
            "slow_callbacks": self.slow_callbacks,
        }

    policy: Policy = Policy.DROP_OLDEST

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.client_id or '?'} {self.data_type.value} "
            f"queue={self.queue_depth}/{self.queue_size} dropped={self.dropped}>"
        )


def _weak(fn: Callable[..., Any]) -> Callable[[], Any]:
    if inspect.ismethod(fn):
        return weakref.WeakMethod(fn)
    try:
        return weakref.ref(fn)
    except TypeError:
        # Not weakly referenceable (e.g. a builtin): hold it strongly.
        return lambda: fn


def _trim(event: OrderbookEvent, depth: int) -> OrderbookEvent:
    return msgspec.structs.replace(event, orderbook_units=event.orderbook_units[:depth])


class DropOldestSubscriber(Subscriber):
    __slots__ = ("_queue",)
    policy = Policy.DROP_OLDEST

    def __init__(self, router: Router, **kwargs: Any) -> None:
        super().__init__(router, **kwargs)
        self._queue: deque[MarketEvent] = deque(maxlen=self.queue_size)

    def offer(self, event: MarketEvent) -> None:
        queue = self._queue
        if len(queue) == self.queue_size:
            self._drop()  # the deque's maxlen discards the oldest on append
        queue.append(event)
        if self._waiter is not None:
            self._wake()

    def _take_batch(self) -> Iterable[MarketEvent] | None:
        # Swap the deque out: the drain iterates it in C, and new events queue in a fresh one.
        # (So up to twice `queue_size` events can be held: one batch in flight plus a queue.)
        queue = self._queue
        if not queue:
            return None
        self._queue = deque(maxlen=self.queue_size)
        return queue

    def _clear(self) -> None:
        self._queue = deque(maxlen=self.queue_size)

    def _discard(self, symbols: frozenset[str]) -> None:
        kept = (e for e in self._queue if getattr(e, "symbol", ALL_SYMBOLS) not in symbols)
        self._queue = deque(kept, maxlen=self.queue_size)

    @property
    def queue_depth(self) -> int:
        return len(self._queue) + self._in_flight


class CoalescingSubscriber(Subscriber):
    """Pending symbols in arrival order (a deque) and their latest event (a dict): O(1)."""

    __slots__ = ("_latest", "_order")
    policy = Policy.COALESCE_BY_SYMBOL

    def __init__(self, router: Router, **kwargs: Any) -> None:
        super().__init__(router, **kwargs)
        self._order: deque[str] = deque()
        self._latest: dict[str, MarketEvent] = {}

    def offer(self, event: MarketEvent) -> None:
        latest = self._latest
        symbol = getattr(event, "symbol", ALL_SYMBOLS)
        if symbol in latest:
            self._supersede()  # replaced in place: the symbol keeps its turn
        else:
            if len(latest) >= self.queue_size:
                del latest[self._order.popleft()]
                self._drop()
            self._order.append(symbol)
        latest[symbol] = event
        if self._waiter is not None:
            self._wake()

    def _take_batch(self) -> Iterable[MarketEvent] | None:
        count = len(self._order)
        return self._pending(count) if count else None

    def _pending(self, count: int) -> Iterator[MarketEvent]:
        # Pops lazily, so a value replaced while the batch is delivered is still the latest.
        order, latest = self._order, self._latest
        for _ in range(count):
            if not order:
                return
            yield latest.pop(order.popleft())

    def _clear(self) -> None:
        self._order.clear()
        self._latest.clear()

    def _discard(self, symbols: frozenset[str]) -> None:
        for symbol in symbols & self._latest.keys():
            del self._latest[symbol]
        # In place: a batch being delivered pops from this very deque.
        kept = [s for s in self._order if s not in symbols]
        self._order.clear()
        self._order.extend(kept)

    @property
    def queue_depth(self) -> int:
        return len(self._order)


class ThrottledSubscriber(Subscriber):
    __slots__ = ("_held", "_interval", "_last_sent", "_ready", "_timer")
    policy = Policy.THROTTLE

    def __init__(self, router: Router, **kwargs: Any) -> None:
        super().__init__(router, **kwargs)
        self._interval = 1.0 / self.throttle_per_second
        self._ready: deque[MarketEvent] = deque()
        self._held: dict[str, MarketEvent] = {}
        self._last_sent: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def offer(self, event: MarketEvent) -> None:
        symbol = getattr(event, "symbol", ALL_SYMBOLS)
        now = time.monotonic()
        held = self._held
        if symbol not in held and now - self._last_sent.get(symbol, -1e18) >= self._interval:
            self._last_sent[symbol] = now
            self._enqueue(event)
            return
        if symbol in held:
            self._supersede()
        held[symbol] = event
        if self._timer is None:
            self._schedule(now)

    def _enqueue(self, event: MarketEvent) -> None:
        ready = self._ready
        if len(ready) >= self.queue_size:
            ready.popleft()
            self._drop()
        ready.append(event)
        if self._waiter is not None:
            self._wake()

    def _schedule(self, now: float) -> None:
        if not self._held:
            return
        due = min(self._last_sent.get(s, now) for s in self._held) + self._interval
        loop = asyncio.get_running_loop()
        # loop.time() and time.monotonic() share a clock on every asyncio loop in use.
        self._timer = loop.call_at(loop.time() + max(0.0, due - now), self._release)

    def _release(self) -> None:
        self._timer = None
        if self.closed:
            return
        now = time.monotonic()
        for symbol in list(self._held):
            if now - self._last_sent.get(symbol, -1e18) >= self._interval - 1e-6:
                self._last_sent[symbol] = now
                self._enqueue(self._held.pop(symbol))
        self._schedule(now)

    def _take_batch(self) -> Iterable[MarketEvent] | None:
        ready = self._ready
        if not ready:
            return None
        self._ready = deque()
        return ready

    def _discard(self, symbols: frozenset[str]) -> None:
        self._ready = deque(e for e in self._ready if getattr(e, "symbol", None) not in symbols)
        for symbol in symbols & self._held.keys():
            del self._held[symbol]

    def _clear(self) -> None:
        self._ready = deque()
        self._held.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def queue_depth(self) -> int:
        return len(self._ready) + len(self._held) + self._in_flight


POLICY_CLASSES: Final[dict[Policy, type[Subscriber]]] = {
    Policy.DROP_OLDEST: DropOldestSubscriber,
    Policy.COALESCE_BY_SYMBOL: CoalescingSubscriber,
    Policy.THROTTLE: ThrottledSubscriber,
}
