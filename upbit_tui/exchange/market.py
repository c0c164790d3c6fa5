"""The simulated exchange's market model: deterministic markets, trades, books, candles.

market.py decides what happens (trades, book changes, the seeded past, orders through the
ledger); market_state.py keeps each market's state and renders its candles, ticker and books;
book.py is the resting book, past_trades.py the trades before start-up, history.py the
synthetic price path, catalog.py the listed markets, ticks.py the tick tables.

Read API (what the REST and WebSocket renderers use; records are in `records.py`)
-------------------------------------------------------------------------------
    model = MarketModel(seed=1, markets=30, clock=time.time, api_keys=["test-access"],
                        out_of_order_ids=0.05, btc_markets=0, usdt_markets=0)

    model.markets() -> list[MarketInfo]             all listed markets, listing order
    model.has_market(code) -> bool                  exact, uppercase code ("KRW-BTC")
    model.ticker(code) -> Ticker                    current ticker state
    model.orderbook(code, depth=30, level=0.0) -> Orderbook | None
        depth: number of units (1..30); level: price aggregation step, 0 = native ticks;
        None when `level` is not one of supported_levels(code) (Upbit sends no data then).
    model.tick_size(code) -> float                  tick at the current price
    model.supported_levels(code) -> list[float]     [0.0, 10**k ...]: powers of ten above the
                                                    tick, up to the price (KRW-BTC: 0, 1e4..1e8);
                                                    [0.0] for BTC and USDT markets
    model.candles(code, interval, to=None, count=200) -> list[Candle]
        newest first; interval in INTERVALS ("1s", "1m", "3m", "5m", "10m", "15m", "30m", "60m",
        "240m", "1d"); `to` = epoch seconds, exclusive bound on the candle START (Upbit's `to`);
        None = up to and including the current candle. Only buckets with trades exist in the
        live era and for 1s (made of the past trades); the synthetic past has every bucket of
        the longer intervals. Enough history for >= 400 of any interval.
    model.latest_candle(code, interval) -> Candle   the most recent existing candle (snapshot rule)
    model.trades(code, count=1, to_ms=None, cursor=None) -> list[Trade]
        newest first; to_ms: exclusive bound on trade_timestamp (ms); cursor: exclusive bound on
        sequential_id (Upbit's pagination cursor). The last MAX_TRADES recorded trades per
        market, then the synthetic past back to 00:00 UTC seven days ago (past_trades.py).
    model.accounts(access_key) -> list[Balance]     raises OrderRejected(401, ...) if unknown key
    model.open_orders(access_key, market=None, states=("wait", "watch")) -> list[Order]
        newest first; `states` may name "done"/"cancel" too (closed orders).
    model.get_order(access_key, uuid=None, identifier=None) -> Order
    model.has_account(access_key) -> bool
    model.now_ms() -> int                            the injected clock, in ms

Write API
---------
    model.generate_trade(code=None) -> Trade        one market trade now (random market if None,
                                                    weighted by activity); fills resting orders
    model.generate_book_change(code=None) -> BookChange  an order placed or cancelled in the
                                                    book (no trade); published to listeners
    model.place_order(access_key, market, side, ord_type, price=None, volume=None,
                      identifier=None, time_in_force=None) -> Order   raises OrderRejected
    model.cancel_order(access_key, uuid=None, identifier=None) -> Order
    model.add_listener(callback) -> remover         callback(Trade | OrderUpdate | AssetUpdate |
                                                    BookChange)
    model.take_changed_candles() -> list[Candle]    candles changed since the last call (the
                                                    WebSocket's once-a-second candle push)
    model.warm_up(count=1) -> bool                  build the seeded past of `count` more
                                                    markets; False when all are built
    model.ensure_built(code) -> bool                build one market's past now (True if it did)
    model.unbuilt_markets() -> int                  markets whose past is not built yet

Determinism: everything (markets, history, trade sequence, book sizes, order uuids) follows from
`seed` and the clock's readings. With a fixed clock and no generate_trade calls the model never
changes. The clock is read once at construction to place "now": the synthetic history ends
HISTORY_TRADES_S seconds before it (minute-aligned), and seeded trades fill the gap up to now, so
REST serves recent trades and candles from the first request. Construction only fixes the seeded
trades' times and sequential ids (they interleave over all markets); a market's seeded trades
are applied on its first use (or by warm_up): each market's trades depend on its own generator
alone, so the result does not depend on when or in which order markets are first used.

Decisions where Upbit is silent (documented for the README):
- `sequential_id` = trade_timestamp_ms * 10000 + a counter, increasing over the whole exchange
  (the docs' examples are all of that form); trade timestamps never go backwards even if the
  clock does. With `out_of_order_ids` > 0 that share of trades (seeded) gets a unique id below
  the previous trade's (Upbit: ids are unique, their order is not guaranteed).
- The price is a random walk on the tick table with a weak pull back to the listing's level, so
  hour-long runs stay plausible; ask_bid is BID when a trade moves the price up (the buyer lifted
  the ask), ASK when down. Right after a trade one side of the book sits at the trade price,
  the other a spread away (book.py: 1-3 ticks where the tick is coarse, several where it is
  fine); orders placed and cancelled move the book between trades.
- Every market takes orders, BTC- and USDT-quoted ones with their quote currency's fees,
  minimums and ticks (ledger.py).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

from upbit_tui.exchange.book import MAX_BOOK_DEPTH, BookChange
from upbit_tui.exchange.catalog import (
    DEFAULT_MARKET_COUNT,
    listings,
)
from upbit_tui.exchange.history import (
    DAY_S,
    utc_midnight,
)
from upbit_tui.exchange.ledger import OPEN_STATES, Ledger, OrderRejected
from upbit_tui.exchange.market_state import INTERVALS, MarketState
from upbit_tui.exchange.past_trades import TRADE_HISTORY_DAYS
from upbit_tui.exchange.records import (
    AssetUpdate,
    Balance,
    Candle,
    MarketInfo,
    Order,
    Orderbook,
    OrderUpdate,
    Ticker,
    Trade,
)
from upbit_tui.exchange.ticks import change_of

__all__ = [
    "INTERVALS",
    "MarketModel",
    "ModelEvent",
    "OrderRejected",
    "UnknownMarket",
]

logger = logging.getLogger(__name__)
Clock = Callable[[], float]
ModelEvent = Trade | OrderUpdate | AssetUpdate | BookChange

_INTERVALS_SORTED = tuple(sorted(INTERVALS))  # take_changed_candles' order within a market
HISTORY_TRADES_S = 300
# Share of live trades sent with an id below the previous one (Upbit: unique, order not promised).
OUT_OF_ORDER_IDS = 0.05
_MEAN_REVERSION = 0.0001  # per trade, toward the listing's level


class UnknownMarket(KeyError):
    """The code is not a listed market (codes are exact and uppercase)."""


class MarketModel:
    """Deterministic markets plus the private ledger; see the module docstring."""

    def __init__(
        self,
        seed: int = 1,
        markets: int = DEFAULT_MARKET_COUNT,
        clock: Clock | None = None,
        api_keys: Iterable[str] = (),
        out_of_order_ids: float = OUT_OF_ORDER_IDS,
        btc_markets: int = 0,
        usdt_markets: int = 0,
    ) -> None:
        if not 0.0 <= out_of_order_ids <= 1.0:
            raise ValueError(f"out_of_order_ids must be in [0, 1], got {out_of_order_ids}")
        self.seed = seed
        self.out_of_order_ids = out_of_order_ids
        self._id_order_rng = random.Random(f"sid-order:{seed}")
        self._out_of_order_slots: dict[int, int] = {}  # millisecond -> its spare ids used
        self._prev_sid = 0  # the id of the latest trade, in or out of order
        self._clock: Clock = clock or time.time
        self._rng = random.Random(f"market-choice:{seed}")
        self._listeners: list[Callable[[ModelEvent], None]] = []
        self._last_sid = 0
        self._last_ms = 0
        self._changed: set[int] = set()  # markets that traded since take_changed_candles()
        now_s = self._clock()
        self.history_end = int((now_s - HISTORY_TRADES_S) // 60 * 60)
        self._states = [
            MarketState(i, listing, seed, self.history_end)
            for i, listing in enumerate(listings(markets, btc_markets, usdt_markets))
        ]
        self._by_code = {state.code: state for state in self._states}
        self.known_codes = frozenset(self._by_code)  # for membership tests
        self._weights = [state.listing.trades_per_minute for state in self._states]
        self._cum_weights = [sum(self._weights[: i + 1]) for i in range(len(self._weights))]
        self._seed_recent_trades(int(now_s * 1000))
        self._warm_cursor = 0  # warm_up() has looked at every market before this index
        self.ledger = Ledger(api_keys, seed, self._publish, self._krw_price)

    # -- setup ---------------------------------------------------------------------------------

    def _seed_recent_trades(self, now_ms: int) -> None:
        """Trades between the end of synthetic history and now, in time order.

        Only their times and sequential ids are fixed here (they interleave over all markets);
        each market applies its own when first used (_ready): a market's trades depend on its
        own generator only, so the result is the same as applying them all now.
        """
        start_ms = self.history_end * 1000
        arrivals: list[tuple[int, int]] = []
        for state in self._states:
            mean_gap_ms = 60_000 / state.listing.trades_per_minute
            t = start_ms
            count = 0
            while True:
                t += max(1, int(state.rng.expovariate(1.0) * mean_gap_ms))
                if t >= now_ms:
                    break
                arrivals.append((t, state.index))
                count += 1
            if count == 0 and now_ms > start_ms:
                arrivals.append((now_ms - 1, state.index))
        arrivals.sort()
        last_ms, last_sid = self._last_ms, self._last_sid
        pending = [state.pending for state in self._states]
        for t, index in arrivals:
            last_ms = max(t, last_ms)
            last_sid = max(last_ms * 10_000, last_sid + 1)
            pending[index].append((last_ms, last_sid))  # type: ignore[union-attr]
        self._last_ms, self._last_sid = last_ms, last_sid
        self._prev_sid = last_sid

    def _ready(self, state: MarketState) -> None:
        """Build the market's past (partial bars, seeded trades) if not done yet."""
        pending = state.pending
        if pending is None:
            return
        state.pending = None
        state.open_partial_bars()
        changed, self._changed = self._changed, set()
        try:
            for ts_ms, sid in pending:
                self._apply_trade(state, ts_ms, sid)
        finally:
            self._changed = changed  # seeded trades are the past, not news for the candle push
        state.week_52(state.bars["1d"][-1])  # the synthetic 52 weeks, cached per day

    # -- clock, listeners ----------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def add_listener(self, callback: Callable[[ModelEvent], None]) -> Callable[[], None]:
        """Call `callback` for every new trade, myOrder and myAsset update; returns a remover."""
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    def _publish(self, event: ModelEvent) -> None:
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # one broken listener must not stop the market or the others
                logger.exception("market listener %r failed", callback)

    # -- markets -------------------------------------------------------------------------------

    def markets(self) -> list[MarketInfo]:
        return [
            MarketInfo(s.code, s.listing.korean_name, s.listing.english_name) for s in self._states
        ]

    def market_codes(self) -> list[str]:
        return [s.code for s in self._states]

    def has_market(self, code: str) -> bool:
        return code in self._by_code

    def _state(self, code: str) -> MarketState:
        try:
            state = self._by_code[code]
        except KeyError:
            raise UnknownMarket(code) from None
        if state.pending is not None:
            self._ready(state)
        return state

    def warm_up(self, count: int = 1) -> bool:
        """Build the past of up to `count` markets not used yet; False when none is left.

        Optional (every read builds what it needs): lets a server spread the start-up work
        over idle moments instead of the first request that touches many markets.
        """
        states = self._states
        while count > 0 and self._warm_cursor < len(states):
            state = states[self._warm_cursor]
            if state.pending is not None:
                self._ready(state)
                count -= 1
            self._warm_cursor += 1
        return self.unbuilt_markets() > 0

    def ensure_built(self, code: str) -> bool:
        """Build `code`'s seeded past now if it is not built; True when that happened."""
        state = self._by_code.get(code)
        if state is None or state.pending is None:
            return False
        self._ready(state)
        return True

    def unbuilt_markets(self) -> int:
        """Markets whose seeded past is not built yet (see warm_up)."""
        return sum(state.pending is not None for state in self._states[self._warm_cursor :])

    def tick_size(self, code: str) -> float:
        state = self._state(code)
        return state.ticks.tick_size(state.last_price)

    def supported_levels(self, code: str) -> list[float]:
        return self._state(code).supported_levels()

    # -- trades --------------------------------------------------------------------------------

    def generate_trade(self, code: str | None = None) -> Trade:
        """One trade now, in `code` or in a market chosen by activity."""
        if code is None:
            state = self._rng.choices(self._states, cum_weights=self._cum_weights)[0]
            if state.pending is not None:
                self._ready(state)
        else:
            state = self._state(code)
        trade = self._trade(state, self.now_ms())
        self._publish(trade)
        self.ledger.on_market_trade(
            state.code, trade.trade_price, trade.trade_volume, trade.trade_timestamp
        )
        return trade

    def generate_book_change(self, code: str | None = None) -> BookChange:
        """One order placed or cancelled now, in `code` or in a market chosen by activity
        (its book changes without a trade; subscribers get an orderbook message)."""
        if code is None:
            state = self._rng.choices(self._states, cum_weights=self._cum_weights)[0]
            if state.pending is not None:
                self._ready(state)
        else:
            state = self._state(code)
        state.book.churn()
        state.version += 1
        change = BookChange(state.code)
        self._publish(change)
        return change

    def _trade(self, state: MarketState, ts_ms: int) -> Trade:
        ts_ms = max(ts_ms, self._last_ms)
        self._last_ms = ts_ms
        if self.out_of_order_ids and self._id_order_rng.random() < self.out_of_order_ids:
            sid = self._out_of_order_id()
            if sid is not None:
                self._prev_sid = sid
                return self._apply_trade(state, ts_ms, sid)
        sid = max(ts_ms * 10_000, self._last_sid + 1)
        self._last_sid = self._prev_sid = sid
        return self._apply_trade(state, ts_ms, sid)

    def _out_of_order_id(self) -> int | None:
        """A unique id below the previous trade's (Upbit: "체결의 순서를 보장하지는 못합니다").

        Ids are `ms * 10000 + counter` with a counter that stays far below 5000, so the top
        half of the millisecond before the previous trade's is free: ids are taken from there
        downwards (9999, 9998, ...), never twice. None when that slot is used up.
        """
        below = self._prev_sid // 10_000 - 1
        slots = self._out_of_order_slots
        used = slots.get(below, 0)
        if used >= 5_000 or below <= 0:
            return None
        slots[below] = used + 1
        if len(slots) > 4_096:  # forget slots far behind: the clock never goes back to them
            for old in [slot for slot in slots if slot < below - 60_000]:
                del slots[old]
        return below * 10_000 + 9_999 - used

    def _apply_trade(self, state: MarketState, ts_ms: int, sid: int) -> Trade:
        rng = state.rng

        price = state.last_price
        ticks = state.ticks
        book = state.book
        drift = -_MEAN_REVERSION * math.log(price / state.anchor)
        target = price * math.exp(drift + rng.gauss(0.0, state.step_volatility))
        tick = ticks.tick_size(price)
        steps_float = (target - price) / tick
        steps = math.floor(steps_float)
        if rng.random() < steps_float - steps:
            steps += 1  # stochastic rounding: coarse-tick markets still move
        new_price = ticks.round_price(price + steps * tick) if steps else price
        if new_price > price:
            side = "BID"
        elif new_price < price:
            side = "ASK"
        else:
            side = "BID" if rng.random() < 0.5 else "ASK"
        if book.spacing <= 1.0:  # book.spread(), inlined for the common case
            spread = 1 if rng.random() < 0.7 else (2 if rng.random() < 0.67 else 3)
        else:
            spread = book.spread()
        if side == "BID":
            best_ask = new_price
            best_bid = ticks.step_down(new_price, spread)
        else:
            best_bid = new_price
            best_ask = ticks.step_up(new_price, spread)
        volume = state.listing.trade_value * math.exp(rng.gauss(0.0, 1.1)) / new_price
        volume = max(round(volume, 8), 0.00000001)

        state.last_price = new_price
        book.trade(best_ask, best_bid, side, volume)
        state.version += 1
        state.update_bars(ts_ms, new_price, volume)
        self._changed.add(state.index)  # every interval of the market changed
        state.update_day_and_24h(ts_ms, new_price, volume, side)
        prev_close = state.prev_close_of_day(ts_ms // 86_400_000 * DAY_S)
        trade = Trade(
            market=state.code,
            trade_timestamp=ts_ms,
            trade_price=new_price,
            trade_volume=volume,
            ask_bid=side,
            prev_closing_price=prev_close,
            change=change_of(new_price, prev_close),
            change_price=ticks.difference(new_price, prev_close),
            sequential_id=sid,
            best_ask_price=best_ask,
            best_ask_size=book.ask_sizes[0],
            best_bid_price=best_bid,
            best_bid_size=book.bid_sizes[0],
        )
        state.last_trade = trade
        state.trades.append(trade)
        return trade

    def trades(
        self,
        code: str,
        count: int = 1,
        to_ms: int | None = None,
        cursor: int | None = None,
    ) -> list[Trade]:
        state = self._state(code)
        result: list[Trade] = []
        # The cursor is a position: the trades older than the trade it names. Ids are unique but
        # not ordered (out_of_order_ids), so comparing ids would skip some and repeat others.
        positional = cursor is not None and any(t.sequential_id == cursor for t in state.trades)
        after_cursor = not positional
        for trade in reversed(state.trades):
            if len(result) >= count:
                return result
            if not after_cursor:
                after_cursor = trade.sequential_id == cursor
                continue
            if to_ms is not None and trade.trade_timestamp >= to_ms:
                continue
            if cursor is not None and not positional and trade.sequential_id >= cursor:
                continue
            result.append(trade)
        # The synthetic past (past_trades.py), back to the start of the UTC day seven days ago.
        floor_ms = (utc_midnight(self.now_ms() / 1000) - TRADE_HISTORY_DAYS * DAY_S) * 1000
        result += state.past_trades.before(
            self.history_end * 1000, floor_ms, count - len(result), to_ms, cursor
        )
        return result

    # -- candles -------------------------------------------------------------------------------

    def candles(
        self, code: str, interval: str, to: float | None = None, count: int = 200
    ) -> list[Candle]:
        return self._state(code).candles(interval, to, count)

    def latest_candle(self, code: str, interval: str) -> Candle:
        return self.candles(code, interval, None, 1)[0]

    def take_changed_candles(self) -> list[Candle]:
        """Current candles of every (market, interval) that traded since the previous call."""
        changed = self._changed
        self._changed = set()
        result = []
        for index in sorted(changed):
            state = self._states[index]
            for interval in _INTERVALS_SORTED:  # sorted by (market index, interval name)
                result.append(state.candle(interval, state.bars[interval][-1]))
        return result

    # -- ticker --------------------------------------------------------------------------------

    def ticker(self, code: str) -> Ticker:
        return self._state(code).ticker(self.now_ms())

    # -- order book ----------------------------------------------------------------------------

    def orderbook(
        self, code: str, depth: int = MAX_BOOK_DEPTH, level: float = 0.0
    ) -> Orderbook | None:
        return self._state(code).orderbook(depth, level, max(self.now_ms(), self._last_ms))

    # -- private side --------------------------------------------------------------------------

    def _krw_price(self, currency: str) -> Decimal | None:
        """The last KRW-`currency` price, exact (the ledger's KRW average of a BTC or USDT
        purchase); None when the market is not listed."""
        if f"KRW-{currency}" not in self._by_code:
            return None
        return Decimal(repr(self._state(f"KRW-{currency}").last_price))

    def has_account(self, access_key: str) -> bool:
        return self.ledger.has_account(access_key)

    def accounts(self, access_key: str) -> list[Balance]:
        return self.ledger.accounts(access_key)

    def open_orders(
        self,
        access_key: str,
        market: str | None = None,
        states: Iterable[str] = OPEN_STATES,
    ) -> list[Order]:
        return self.ledger.orders(access_key, market, states)

    def get_order(
        self, access_key: str, uuid: str | None = None, identifier: str | None = None
    ) -> Order:
        return self.ledger.get_order(access_key, uuid, identifier)

    def place_order(
        self,
        access_key: str,
        market: str,
        side: str,
        ord_type: str,
        price: float | None = None,
        volume: float | None = None,
        identifier: str | None = None,
        time_in_force: str | None = None,
    ) -> Order:
        if market not in self._by_code:
            raise OrderRejected(400, "validation_error", "market does not have a valid value")
        state = self._state(market)
        return self.ledger.place(
            access_key,
            market,
            side,
            ord_type,
            price,
            volume,
            now_ms=self.now_ms(),
            best_bid=state.best_bid,
            best_ask=state.best_ask,
            identifier=identifier,
            time_in_force=time_in_force,
        )

    def cancel_order(
        self, access_key: str, uuid: str | None = None, identifier: str | None = None
    ) -> Order:
        return self.ledger.cancel(access_key, uuid, self.now_ms(), identifier=identifier)
