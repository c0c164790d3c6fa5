"""The resting order book of one simulated market: price levels with gaps, and their churn.

Upbit's book lists the best 30 non-empty price levels a side, so on a market whose tick is
fine for its price (KRW-BTC, most BTC- and USDT-quoted markets) the levels are not contiguous
and the spread is several ticks; where the tick is coarse (most KRW markets) every tick holds
orders and the spread is one to three ticks. `spacing` (the mean distance between levels, in
ticks) carries that: 1 gives a contiguous book.

The book changes three ways, all drawn from the market's own seeded generator:
- a trade moves the best prices (levels walked through disappear, new ones appear in front)
  and consumes the traded level (`trade`);
- order placements and cancels between trades (`churn`), far more often than trades on Upbit:
  a new order adds to a level, fills a gap or improves the best price inside the spread; a
  cancel shrinks or empties a level (an emptied level leaves a gap, an emptied best level
  widens the spread); the book never crosses;
- resting sizes refresh (two random levels per trade).
Sizes are drawn from the side's best price (all 30 levels of a side are within a few percent),
so a contiguous book draws exactly what the simulator always drew.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass

from upbit_tui.exchange.ticks import TickTable

MAX_BOOK_DEPTH = 30
DEPTH_GROWTH = tuple(1 + 0.04 * index for index in range(MAX_BOOK_DEPTH))  # deeper holds more
_MIN_SIZE = 0.00000001


@dataclass(frozen=True, slots=True)
class BookChange:
    """A market's book changed without a trade (an order placed or cancelled)."""

    market: str


class RestingBook:
    """Best-first price levels and resting sizes of both sides of one market."""

    __slots__ = (
        "ask_prices",
        "ask_sizes",
        "bid_prices",
        "bid_sizes",
        "depth_value",
        "rng",
        "spacing",
        "ticks",
    )

    def __init__(
        self,
        ticks: TickTable,
        rng: random.Random,
        depth_value: float,
        spacing: float,
        best_ask: float,
        best_bid: float,
    ) -> None:
        self.ticks = ticks
        self.rng = rng
        self.depth_value = depth_value
        self.spacing = spacing
        self.ask_sizes = [self.fresh_size(i, best_ask) for i in range(MAX_BOOK_DEPTH)]
        self.bid_sizes = [self.fresh_size(i, best_bid) for i in range(MAX_BOOK_DEPTH)]
        self.ask_prices = [best_ask]
        self.bid_prices = [best_bid]
        self._extend_asks()
        self._extend_bids()

    @property
    def best_ask(self) -> float:
        return self.ask_prices[0]

    @property
    def best_bid(self) -> float:
        return self.bid_prices[0]

    def fresh_size(self, index: int, price: float) -> float:
        """A new resting size for book level `index` (deeper levels hold a little more)."""
        value = self.depth_value * (0.15 + 1.7 * self.rng.random()) * DEPTH_GROWTH[index]
        return max(round(value / price, 8), _MIN_SIZE)

    def gaps(self, count: int) -> list[int]:
        """Ticks from each level to the next, for `count` levels (all 1 where every tick holds
        orders)."""
        if self.spacing <= 1.0:
            return [1] * count
        scale, expovariate = self.spacing - 1.0, self.rng.expovariate
        return [1 + int(expovariate(1.0) * scale) for _ in range(count)]

    def spread(self) -> int:
        """Ticks between the best bid and ask just after a trade."""
        rng = self.rng
        if self.spacing <= 1.0:
            return 1 if rng.random() < 0.7 else (2 if rng.random() < 0.67 else 3)
        return 1 + int(rng.expovariate(1.0) * 2.0 * self.spacing)

    # -- trades --------------------------------------------------------------------------------

    def trade(self, best_ask: float, best_bid: float, side: str, traded: float) -> None:
        """A trade: the book moves to its new best prices, then the traded level shrinks."""
        if best_ask != self.ask_prices[0]:  # asks first, as the draws always went
            self._move_asks(best_ask)
        if best_bid != self.bid_prices[0]:
            self._move_bids(best_bid)
        self.consume(side, traded)

    def _move_asks(self, best: float) -> None:
        prices, sizes = self.ask_prices, self.ask_sizes
        old = prices[0]
        if best > old:  # levels below the new best were taken
            taken = bisect.bisect_left(prices, best)
            del prices[:taken], sizes[:taken]
            if not prices or prices[0] != best:
                prices.insert(0, best)
                sizes.insert(0, self._front_size(best))
        else:  # new levels appeared in front
            if self.spacing <= 1.0:  # contiguous: every tick between the two
                ladder = self.ticks.ladder_up(best, MAX_BOOK_DEPTH)
                front = list(ladder[: bisect.bisect_left(ladder, old)])
            else:
                walked = self.ticks.walk_up(best, self.gaps(MAX_BOOK_DEPTH - 1))
                front = [best, *walked[: bisect.bisect_left(walked, old)]]
            prices[:0] = front
            sizes[:0] = [self._front_size(best) for _ in front]
            del prices[MAX_BOOK_DEPTH:], sizes[MAX_BOOK_DEPTH:]
        self._extend_asks()

    def _move_bids(self, best: float) -> None:
        prices, sizes = self.bid_prices, self.bid_sizes
        old = prices[0]
        if best < old:  # levels above the new best were taken
            taken = 0
            while taken < len(prices) and prices[taken] > best:
                taken += 1
            del prices[:taken], sizes[:taken]
            if not prices or prices[0] != best:
                prices.insert(0, best)
                sizes.insert(0, self._front_size(best))
        else:
            if self.spacing <= 1.0:  # contiguous: every tick between the two
                front = []
                for price in self.ticks.ladder_down(best, MAX_BOOK_DEPTH):
                    if price <= old:
                        break
                    front.append(price)
            else:
                front = [best]
                for price in self.ticks.walk_down(best, self.gaps(MAX_BOOK_DEPTH - 1)):
                    if price <= old:
                        break
                    front.append(price)
            prices[:0] = front
            sizes[:0] = [self._front_size(best) for _ in front]
            del prices[MAX_BOOK_DEPTH:], sizes[MAX_BOOK_DEPTH:]
        self._extend_bids()

    def _front_size(self, best: float) -> float:
        return max(round(self.depth_value * (0.15 + 1.7 * self.rng.random()) / best, 8), _MIN_SIZE)

    def _extend_asks(self) -> None:
        prices, sizes = self.ask_prices, self.ask_sizes
        missing = MAX_BOOK_DEPTH - len(prices)
        if missing > 0:
            if self.spacing <= 1.0:  # contiguous: the (cached) ladder of the next ticks
                prices.extend(self.ticks.ladder_up(prices[-1], missing + 1)[1:])
            else:
                prices.extend(self.ticks.walk_up(prices[-1], self.gaps(missing)))
        self._extend_sizes(sizes, prices[0])

    def _extend_bids(self) -> None:
        prices, sizes = self.bid_prices, self.bid_sizes
        missing = MAX_BOOK_DEPTH - len(prices)
        if missing > 0:
            floor = self.ticks.min_price
            last = prices[-1]
            if self.spacing <= 1.0 and last - missing * self.ticks.tick_size(last) > floor:
                prices.extend(self.ticks.ladder_down(last, missing + 1)[1:])
            else:
                for price in self.ticks.walk_down(last, self.gaps(missing)):
                    if price >= prices[-1]:  # the smallest tick: nothing can rest below it
                        price = 0.0 if prices[-1] <= floor else floor
                    prices.append(price)
        self._extend_sizes(sizes, prices[0], prices)

    def _extend_sizes(
        self, sizes: list[float], best: float, prices: list[float] | None = None
    ) -> None:
        """Fresh sizes for the levels past the end of `sizes` (fresh_size, inlined: this runs
        for every trade that moves the book)."""
        start = len(sizes)
        if start >= MAX_BOOK_DEPTH:
            return
        value, random_ = self.depth_value, self.rng.random
        sizes.extend(
            [
                max(round(value * (0.15 + 1.7 * random_()) * DEPTH_GROWTH[i] / best, 8), _MIN_SIZE)
                for i in range(start, MAX_BOOK_DEPTH)
            ]
        )
        if prices is not None and not prices[-1]:  # levels below the smallest tick hold nothing
            for i in range(start, MAX_BOOK_DEPTH):
                if not prices[i]:
                    sizes[i] = 0.0

    def consume(self, side: str, traded: float) -> None:
        """The taker's trade takes `traded` from the best level it hit, then two levels refresh.

        side: "BID" (a buyer took the best ask) or "ASK" (a seller hit the best bid)."""
        top = self.ask_sizes if side == "BID" else self.bid_sizes
        top[0] = max(round(top[0] - traded, 8), 0.0) or self.fresh_size(0, self.ask_prices[0])
        rng = self.rng
        for _ in range(2):
            index = rng.randrange(MAX_BOOK_DEPTH)
            sizes = self.ask_sizes if rng.random() < 0.5 else self.bid_sizes
            sizes[index] = self.fresh_size(index, self.ask_prices[0])

    # -- placements and cancels ----------------------------------------------------------------

    def churn(self) -> None:
        """One order placed or cancelled somewhere near the top of one side."""
        rng = self.rng
        asks = rng.random() < 0.5
        prices, sizes = (
            (self.ask_prices, self.ask_sizes) if asks else (self.bid_prices, self.bid_sizes)
        )
        index = min(int(rng.expovariate(0.3)), MAX_BOOK_DEPTH - 1)  # mostly near the top
        if not prices[index]:
            index = 0
        roll = rng.random()
        if roll < 0.4:  # a new order joins a level
            sizes[index] = round(sizes[index] + self._order_size(prices[0]), 8)
        elif roll < 0.55:  # a new order improves the best price, inside the spread
            self._improve(asks)
        elif roll < 0.65 and index + 1 < MAX_BOOK_DEPTH:  # a new order fills a gap
            self._fill_gap(asks, index)
        else:  # a cancel: a level of a dense book holds many orders and rarely empties
            left = round(sizes[index] - self._order_size(prices[0]), 8)
            if left > 0 and rng.random() < (0.75 if self.spacing > 1.0 else 0.97):
                sizes[index] = left
            else:
                self._remove(asks, index)

    def _order_size(self, best: float) -> float:
        value = self.depth_value * 0.3 * self.rng.expovariate(1.0)
        return max(round(value / best, 8), _MIN_SIZE)

    def _improve(self, asks: bool) -> None:
        ask, bid = self.ask_prices[0], self.bid_prices[0]
        size = self._order_size(ask)
        if asks:
            price = self.ticks.tick_down(ask)
            if price <= bid:
                self.ask_sizes[0] = round(self.ask_sizes[0] + size, 8)
                return
            self.ask_prices.insert(0, price)
            self.ask_sizes.insert(0, size)
            del self.ask_prices[MAX_BOOK_DEPTH:], self.ask_sizes[MAX_BOOK_DEPTH:]
        else:
            price = self.ticks.tick_up(bid)
            if price >= ask:
                self.bid_sizes[0] = round(self.bid_sizes[0] + size, 8)
                return
            self.bid_prices.insert(0, price)
            self.bid_sizes.insert(0, size)
            del self.bid_prices[MAX_BOOK_DEPTH:], self.bid_sizes[MAX_BOOK_DEPTH:]

    def _fill_gap(self, asks: bool, index: int) -> None:
        prices, sizes = (
            (self.ask_prices, self.ask_sizes) if asks else (self.bid_prices, self.bid_sizes)
        )
        ticks = self.ticks
        price = ticks.tick_up(prices[index]) if asks else ticks.tick_down(prices[index])
        following = prices[index + 1]
        if not following or (price >= following if asks else price <= following):
            sizes[index] = round(sizes[index] + self._order_size(prices[0]), 8)  # no gap there
            return
        prices.insert(index + 1, price)
        sizes.insert(index + 1, self._order_size(prices[0]))
        del prices[MAX_BOOK_DEPTH:], sizes[MAX_BOOK_DEPTH:]

    def _remove(self, asks: bool, index: int) -> None:
        prices, sizes = (
            (self.ask_prices, self.ask_sizes) if asks else (self.bid_prices, self.bid_sizes)
        )
        del prices[index], sizes[index]
        if asks:
            self._extend_asks()
        else:
            self._extend_bids()
