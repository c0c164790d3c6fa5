"""The private side of the simulated exchange: accounts per API access key, and orders.

Orders move through Upbit's states: REST shows `wait` until the order is fully filled (`done`)
or cancelled (`cancel`); a partly filled order stays `wait` with `executed_volume > 0`, as on
Upbit. The myOrder stream additionally reports each fill as `state="trade"`. Every change
emits myOrder updates and one myAsset update through the `emit` callback. Amounts are exact
decimals (order_rules.py); the myOrder/myAsset records carry floats (the WebSocket's numbers).

What the recordings of the real exchange show and the ledger does (SIMULATOR.md):
- An order is created `wait` with nothing executed; fills follow (POST /v1/orders answers the
  order as created: see `as_placed`).
- A market buy (`price`) and a `best` bid buy floor(total / best ask, 8 decimals); the unspent
  remainder is returned and the order ends `cancel` (`done` only when nothing is left);
  market and `best` sells end `done`.
- A cancelled order keeps the `locked` and `remaining_fee` it had when cancelled (what was
  returned); a done order shows both 0.
- IOC and FOK: what does not fill at once is cancelled at once. `post_only` that would cross
  is refused (`invalid_post_only`).

Every quote market takes orders the same way (KRW-, BTC- and USDT-quoted alike): a bid locks
its quote currency (funds plus fee), an ask its base currency; fee rates, minimum totals and
the tick table are the quote's (order_rules.py, ticks.py).

Decisions where Upbit is silent or where a simulator must simplify:
- `avg_buy_price` is in KRW for every currency (`unit_currency` "KRW", as Upbit's accounts
  show): a purchase on a BTC or USDT market counts its funds at the quote's KRW price at the
  fill (the KRW-BTC / KRW-USDT last trade), or leaves the average unchanged when that market is
  not listed; quote currency received from a sale does not change the quote's average.
- Fees (order_rules.FEE_RATES): a bid reserves `funds * rate` next to the funds; an ask pays
  its fee out of the proceeds (reserved_fee 0).
- Liquidity at the best opposite price is unlimited: a crossing limit order, a market order
  and a `best` order fill at once, in one fill, at the best opposite price, as taker (so FOK
  only fails when the price does not cross). A resting limit order fills, as maker at its own
  price, when a market trade reaches its price: each such trade fills max(trade volume, half
  the order volume), capped at what remains, so an order completes in one to three fills.
- A fill's `trend` is "up" when the buyer took the book (a taker bid, or a resting ask that a
  buy reached), "down" otherwise.
- myAsset lists every currency of the account (balance and locked), not only the changed ones:
  correct for a client that reads it as a full snapshot and for one that reads it as a delta.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from upbit_tui.exchange.order_rules import (
    ZERO,
    OrderRejected,
    OrderRequest,
    base_of,
    check_request,
    decimal,
    fee_rate,
    floor_volume,
    min_total,
    plain,
    quote_of,
)
from upbit_tui.exchange.records import (
    AssetUpdate,
    Balance,
    ExactBalance,
    Order,
    OrderTrade,
    OrderUpdate,
)

__all__ = ["OPEN_STATES", "STARTING_BALANCES", "Ledger", "OrderRejected", "as_placed"]

OPEN_STATES = ("wait", "watch")
CLOSED_STATES = ("done", "cancel")

# (currency, balance, avg_buy_price) every test account starts with.
STARTING_BALANCES: tuple[tuple[str, Decimal, Decimal], ...] = (
    ("KRW", Decimal(100_000_000), ZERO),
    ("BTC", Decimal("0.5"), Decimal(140_000_000)),
    ("ETH", Decimal(5), Decimal(5_000_000)),
    ("XRP", Decimal(10_000), Decimal(3_000)),
    ("USDT", Decimal(1_000), Decimal(1_390)),
)
AVG_PRICE_STEP = Decimal("0.00000001")


@dataclass(slots=True)
class _Holding:
    currency: str
    balance: Decimal
    locked: Decimal = ZERO
    avg_buy_price: Decimal = ZERO


@dataclass(slots=True)
class _Account:
    access_key: str
    asset_uuid: str
    holdings: dict[str, _Holding] = field(default_factory=dict)

    def holding(self, currency: str) -> _Holding:
        if currency not in self.holdings:
            self.holdings[currency] = _Holding(currency, ZERO)
        return self.holdings[currency]


@dataclass(slots=True)
class _LiveOrder:
    uuid: str
    access_key: str
    request: OrderRequest
    remaining: Decimal | None
    created_ms: int
    identifier: str | None
    reserved_fee: Decimal = ZERO
    remaining_fee: Decimal = ZERO
    locked: Decimal = ZERO
    executed_volume: Decimal = ZERO
    executed_funds: Decimal = ZERO
    paid_fee: Decimal = ZERO
    trades: list[OrderTrade] = field(default_factory=list)
    state: str = "wait"

    @property
    def market(self) -> str:
        return self.request.market

    @property
    def side(self) -> str:
        return self.request.side

    @property
    def avg_price(self) -> Decimal:
        return self.executed_funds / self.executed_volume if self.executed_volume else ZERO

    def record(self) -> Order:
        r = self.request
        return Order(
            uuid=self.uuid,
            side=r.side,
            ord_type=r.ord_type,
            price=r.price,
            state=self.state,
            market=r.market,
            created_at=self.created_ms,
            volume=r.volume,
            remaining_volume=self.remaining,
            reserved_fee=self.reserved_fee,
            remaining_fee=self.remaining_fee,
            paid_fee=self.paid_fee,
            locked=self.locked,
            executed_volume=self.executed_volume,
            executed_funds=self.executed_funds,
            trades_count=len(self.trades),
            time_in_force=r.time_in_force,
            identifier=self.identifier,
            smp_type=r.smp_type,
            trades=tuple(self.trades),
        )


def as_placed(order: Order) -> Order:
    """`order` as it stood when created: `wait`, nothing executed, its funds locked (what
    POST /v1/orders answers, before any fill)."""
    if order.side == "bid":
        assert order.price is not None
        funds = order.price if order.volume is None else order.price * order.volume
        locked = funds + order.reserved_fee
    else:
        locked = order.volume or ZERO
    return dataclasses.replace(
        order,
        state="wait",
        remaining_volume=order.volume,
        remaining_fee=order.reserved_fee,
        paid_fee=ZERO,
        locked=locked,
        executed_volume=ZERO,
        executed_funds=ZERO,
        trades_count=0,
        trades=(),
    )


Emit = Callable[[OrderUpdate | AssetUpdate], None]
# The KRW price of a currency now (the KRW-X market's last trade), None where none is listed.
KrwPrice = Callable[[str], Decimal | None]


def _no_krw_price(currency: str) -> Decimal | None:
    return None


class Ledger:
    """Accounts and orders of the configured API keys."""

    def __init__(
        self,
        access_keys: Iterable[str],
        seed: int,
        emit: Emit,
        krw_price: KrwPrice = _no_krw_price,
    ) -> None:
        self._rng = random.Random(f"ledger:{seed}")
        self._emit = emit
        self._krw_price = krw_price
        self._accounts: dict[str, _Account] = {}
        self._orders: dict[str, _LiveOrder] = {}  # insertion order = creation order
        self._open_by_market: dict[str, list[_LiveOrder]] = {}
        for key in access_keys:
            self.add_account(key)

    def _new_uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def add_account(self, access_key: str) -> None:
        """Open an account with the starting balances (no-op when it exists)."""
        if access_key in self._accounts:
            return
        account = _Account(access_key, self._new_uuid())
        for currency, balance, avg in STARTING_BALANCES:
            account.holdings[currency] = _Holding(currency, balance, ZERO, avg)
        self._accounts[access_key] = account

    def has_account(self, access_key: str) -> bool:
        return access_key in self._accounts

    def _account(self, access_key: str) -> _Account:
        try:
            return self._accounts[access_key]
        except KeyError:
            raise OrderRejected(401, "invalid_access_key", "잘못된 엑세스 키입니다.") from None

    # -- reads ---------------------------------------------------------------------------------

    def accounts(self, access_key: str) -> list[Balance]:
        """Every currency held (and KRW), as floats."""
        return [
            Balance(
                b.currency,
                round(float(b.balance), 8),
                round(float(b.locked), 8),
                float(b.avg_buy_price),
                b.avg_buy_price_modified,
                b.unit_currency,
            )
            for b in self.exact_accounts(access_key)
        ]

    def exact_accounts(self, access_key: str) -> list[ExactBalance]:
        """Every currency held (and KRW), exact: what GET /v1/accounts renders."""
        return [
            self._balance(h)
            for h in self._account(access_key).holdings.values()
            if h.balance > 0 or h.locked > 0 or h.currency == "KRW"
        ]

    def balance(self, access_key: str, currency: str) -> ExactBalance:
        """One currency of the account (zeros when it holds none)."""
        holding = self._account(access_key).holdings.get(currency) or _Holding(currency, ZERO)
        return self._balance(holding)

    @staticmethod
    def _balance(h: _Holding) -> ExactBalance:
        return ExactBalance(h.currency, h.balance, h.locked, h.avg_buy_price, False, "KRW")

    def orders(
        self,
        access_key: str,
        market: str | None = None,
        states: Iterable[str] = OPEN_STATES,
    ) -> list[Order]:
        """The key's orders in `states`, newest first (Upbit's default `order_by=desc`)."""
        self._account(access_key)
        wanted = set(states)
        return [
            order.record()
            for order in reversed(self._orders.values())
            if order.access_key == access_key
            and order.state in wanted
            and (market is None or order.market == market)
        ]

    def get_order(
        self, access_key: str, order_uuid: str | None = None, identifier: str | None = None
    ) -> Order:
        return self._find(access_key, order_uuid, identifier).record()

    def _find(self, access_key: str, order_uuid: str | None, identifier: str | None) -> _LiveOrder:
        self._account(access_key)
        order = self._orders.get(order_uuid) if order_uuid is not None else None
        if order is None and order_uuid is None and identifier is not None:
            order = next(
                (
                    o
                    for o in self._orders.values()
                    if o.identifier == identifier and o.access_key == access_key
                ),
                None,
            )
        if order is None or order.access_key != access_key:
            raise OrderRejected(404, "order_not_found", "주문을 찾지 못했습니다.")
        return order

    # -- writes --------------------------------------------------------------------------------

    def place(
        self,
        access_key: str,
        market: str,
        side: str,
        ord_type: str,
        price: float | Decimal | None,
        volume: float | Decimal | None,
        *,
        now_ms: int,
        best_bid: float,
        best_ask: float,
        identifier: str | None = None,
        time_in_force: str | None = None,
        smp_type: str | None = None,
        dry_run: bool = False,
    ) -> Order:
        """Validate, lock funds, emit `wait`, and fill at once where the order crosses.

        Returns the order as it ended up (`as_placed` gives the creation answer). With
        `dry_run` nothing changes: the order as it would be created (POST /v1/orders/test).
        """
        account = self._account(access_key)
        request = check_request(
            market, side, ord_type, decimal(price), decimal(volume), time_in_force, smp_type
        )
        bid, ask = decimal(best_bid), decimal(best_ask)
        assert bid is not None and ask is not None
        self._check_identifier(access_key, identifier)
        self._check_against_book(request, bid, ask)
        order = _LiveOrder(
            uuid=self._new_uuid(),
            access_key=access_key,
            request=request,
            remaining=request.volume,
            created_ms=now_ms // 1000 * 1000,  # Upbit's created_at has second precision
            identifier=identifier,
        )
        self._lock(account, order, commit=not dry_run)
        if dry_run:
            return order.record()
        self._orders[order.uuid] = order
        self._emit_order(order, "wait", now_ms)
        self._emit_assets(account, now_ms)
        self._execute(account, order, bid, ask, now_ms)
        return order.record()

    def _check_identifier(self, access_key: str, identifier: str | None) -> None:
        if identifier is not None and any(
            o.identifier == identifier and o.access_key == access_key for o in self._orders.values()
        ):
            raise OrderRejected(400, "duplicated_identifier", "중복된 identifier 입니다.")

    @staticmethod
    def _check_against_book(request: OrderRequest, bid: Decimal, ask: Decimal) -> None:
        r = request
        if r.ord_type in ("market", "best") and r.side == "ask":
            assert r.volume is not None
            if r.volume * bid < min_total(r.market):
                raise OrderRejected(
                    400,
                    "under_min_total_ask",
                    f"최소주문금액 이상으로 주문해주세요. "
                    f"({plain(min_total(r.market))} {quote_of(r.market)})",
                )
        if r.time_in_force == "post_only" and _crosses(r, bid, ask):
            raise OrderRejected(
                400, "invalid_post_only", "post_only 주문이 즉시 체결될 수 있는 가격입니다."
            )

    def _lock(self, account: _Account, order: _LiveOrder, *, commit: bool) -> None:
        r = order.request
        if r.side == "bid":
            funds = r.bid_funds
            fee = funds * fee_rate(r.market)
            holding = account.holding(quote_of(r.market))
            if holding.balance < funds + fee:
                raise OrderRejected(
                    400,
                    "insufficient_funds_bid",
                    f"주문가능한 금액({quote_of(r.market)})이 부족합니다.",
                )
            order.reserved_fee = order.remaining_fee = fee
            order.locked = funds + fee
        else:
            assert r.volume is not None
            holding = account.holding(base_of(r.market))
            if holding.balance < r.volume:
                raise OrderRejected(
                    400,
                    "insufficient_funds_ask",
                    f"주문가능한 금액({base_of(r.market)})이 부족합니다.",
                )
            order.locked = r.volume
        if commit:
            holding.balance -= order.locked
            holding.locked += order.locked

    def _execute(
        self, account: _Account, order: _LiveOrder, bid: Decimal, ask: Decimal, now_ms: int
    ) -> None:
        r = order.request
        if r.spends_funds:  # market buy, best bid: spend the total at the best ask
            assert r.price is not None
            self._fill(account, order, ask, floor_volume(r.price / ask), False, now_ms)
        elif r.side == "ask" and r.ord_type in ("market", "best"):
            self._fill(account, order, bid, order.remaining or ZERO, False, now_ms)
        elif _crosses(r, bid, ask):
            price = ask if r.side == "bid" else bid
            self._fill(account, order, price, order.remaining or ZERO, False, now_ms)
        if order.state != "wait":
            return
        if r.spends_funds and order.trades and order.locked <= 0:
            order.state = "done"  # the total was spent to the last unit: nothing to return
            self._forget_open(order)
            self._emit_order(order, "done", now_ms)
        elif r.spends_funds or r.time_in_force in ("ioc", "fok"):
            self._cancel(account, order, now_ms)  # the unfilled rest goes back at once
        else:
            self._open_by_market.setdefault(r.market, []).append(order)

    def cancel(
        self, access_key: str, order_uuid: str | None, now_ms: int, *, identifier: str | None = None
    ) -> Order:
        """Cancel an open order: release what it still locks, emit `cancel`."""
        account = self._account(access_key)
        order = self._find(access_key, order_uuid, identifier)
        if order.state not in OPEN_STATES:
            raise OrderRejected(404, "order_not_found", "주문을 찾지 못했습니다.")
        self._cancel(account, order, now_ms)
        return order.record()

    def _cancel(self, account: _Account, order: _LiveOrder, now_ms: int) -> None:
        order.state = "cancel"
        self._release(account, order)
        self._forget_open(order)
        self._emit_order(order, "cancel", now_ms)
        self._emit_assets(account, now_ms)

    def on_market_trade(self, market: str, price: float, volume: float, now_ms: int) -> None:
        """Fill resting limit orders that a market trade at `price` reaches (as maker)."""
        resting = self._open_by_market.get(market)
        if not resting:
            return
        trade_price, trade_volume = decimal(price), decimal(volume)
        assert trade_price is not None and trade_volume is not None
        for order in list(resting):
            r = order.request
            assert r.price is not None and r.volume is not None
            reached = trade_price <= r.price if r.side == "bid" else trade_price >= r.price
            if not reached:
                continue
            amount = min(order.remaining or ZERO, max(trade_volume, floor_volume(r.volume / 2)))
            self._fill(self._accounts[order.access_key], order, r.price, amount, True, now_ms)

    # -- internals -----------------------------------------------------------------------------

    def _fill(
        self,
        account: _Account,
        order: _LiveOrder,
        price: Decimal,
        amount: Decimal,
        is_maker: bool,
        now_ms: int,
    ) -> None:
        amount = floor_volume(amount)
        if amount <= 0:
            return
        r = order.request
        quote = account.holding(quote_of(r.market))
        coin = account.holding(base_of(r.market))
        funds = price * amount
        fee = funds * fee_rate(r.market)
        if r.side == "bid":
            spent = min(funds + fee, order.locked)
            quote.locked -= spent
            order.locked -= spent
            order.remaining_fee = max(ZERO, order.remaining_fee - fee)
            self._average_in(coin, amount, funds, quote.currency)
            coin.balance += amount
        else:
            coin.locked -= amount
            order.locked = max(ZERO, order.locked - amount)
            quote.balance += funds - fee
        order.executed_volume += amount
        order.executed_funds += funds
        order.paid_fee += fee
        taker_bought = (r.side == "bid") != is_maker
        order.trades.append(
            OrderTrade(
                market=r.market,
                uuid=self._new_uuid(),
                price=price,
                volume=amount,
                funds=funds,
                trend="up" if taker_bought else "down",
                created_at=now_ms,
                side=r.side,
            )
        )
        if order.remaining is not None:
            order.remaining -= amount
        finished = order.remaining is not None and order.remaining <= 0
        if finished:
            order.state = "done"
            self._release(account, order)
            order.locked = order.remaining_fee = ZERO
            self._forget_open(order)
        self._emit_order(order, "trade", now_ms, fill=order.trades[-1], is_maker=is_maker)
        if finished:
            self._emit_order(order, "done", now_ms)
        self._emit_assets(account, now_ms)

    def _average_in(self, coin: _Holding, amount: Decimal, funds: Decimal, quote: str) -> None:
        """Blend a purchase of `amount` for `funds` (in `quote`, before fees) into the coin's
        `avg_buy_price`, which is in KRW whatever the market (`unit_currency` "KRW"): BTC and
        USDT funds count at the quote's KRW price now; unchanged when there is none."""
        rate = Decimal(1) if quote == "KRW" else self._krw_price(quote)
        if rate is None:
            return
        held = coin.balance + coin.locked
        average = (held * coin.avg_buy_price + funds * rate) / (held + amount)
        coin.avg_buy_price = average.quantize(AVG_PRICE_STEP)

    def _release(self, account: _Account, order: _LiveOrder) -> None:
        """Give back whatever the order still locks (unfilled part, unused fee reserve); the
        order keeps showing the amount it held, as Upbit's cancelled orders do."""
        if order.locked <= 0:
            return
        if order.side == "bid":
            holding = account.holding(quote_of(order.market))
        else:
            holding = account.holding(base_of(order.market))
        holding.locked = max(ZERO, holding.locked - order.locked)
        holding.balance += order.locked

    def _forget_open(self, order: _LiveOrder) -> None:
        resting = self._open_by_market.get(order.market)
        if resting and order in resting:
            resting.remove(order)

    def _emit_order(
        self,
        order: _LiveOrder,
        state: str,
        now_ms: int,
        fill: OrderTrade | None = None,
        is_maker: bool | None = None,
    ) -> None:
        r = order.request
        spends_funds = r.spends_funds
        if fill is not None:
            price: Decimal | None = fill.price
            volume: Decimal | None = fill.volume
            trade_fee: float | None = float(fill.funds * fee_rate(r.market))
        else:
            price, volume, trade_fee = r.price, r.volume, None
        self._emit(
            OrderUpdate(
                access_key=order.access_key,
                code=r.market,
                uuid=order.uuid,
                ask_bid="BID" if r.side == "bid" else "ASK",
                order_type=r.ord_type,
                state=state,
                trade_uuid=fill.uuid if fill is not None else None,
                price=_float(price),
                avg_price=float(order.avg_price),
                volume=_float(volume),
                remaining_volume=None if spends_funds else _float(order.remaining),
                executed_volume=(
                    None if spends_funds and fill is None else float(order.executed_volume)
                ),
                trades_count=len(order.trades),
                reserved_fee=float(order.reserved_fee),
                remaining_fee=float(order.remaining_fee),
                paid_fee=float(order.paid_fee),
                locked=float(order.locked),
                executed_funds=float(order.executed_funds),
                time_in_force=r.time_in_force,
                trade_fee=trade_fee,
                is_maker=is_maker,
                identifier=order.identifier,
                smp_type=r.smp_type,
                prevented_volume=None if spends_funds else 0.0,
                prevented_locked=0.0,
                trade_timestamp=now_ms if fill is not None else None,
                order_timestamp=order.created_ms,
                timestamp=now_ms,
            )
        )

    def _emit_assets(self, account: _Account, now_ms: int) -> None:
        assets = tuple(
            (h.currency, float(h.balance), float(h.locked))
            for h in account.holdings.values()
            if h.balance > 0 or h.locked > 0 or h.currency == "KRW"
        )
        self._emit(AssetUpdate(account.access_key, account.asset_uuid, assets, now_ms, now_ms))


def _crosses(request: OrderRequest, bid: Decimal, ask: Decimal) -> bool:
    """A limit order whose price reaches the opposite best price (it would fill at once)."""
    if request.ord_type != "limit" or request.price is None:
        return False
    return request.price >= ask if request.side == "bid" else request.price <= bid


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
