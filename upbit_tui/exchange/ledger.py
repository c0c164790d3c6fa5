"""The private side of the simulated exchange: accounts per API access key, and orders.

Orders move through Upbit's states: REST shows `wait` until the order is fully filled (`done`)
or cancelled (`cancel`); a partly filled order stays `wait` with `executed_volume > 0`, as on
Upbit. The myOrder stream additionally reports each fill as `state="trade"`. Every change
emits myOrder updates and one myAsset update through the `emit` callback.

Decisions where Upbit is silent or where a simulator must simplify:
- Fee 0.05% on KRW markets: a bid reserves `price*volume*0.0005` next to the funds; an ask pays
  its fee out of the KRW proceeds (reserved_fee 0).
- Minimum order 5,000 KRW; a limit price must sit on the tick table (`invalid_price_bid/ask`).
- A limit order that crosses the book on placement fills at once, as taker, at the best
  opposite price; `price` (market buy) and `market` (market sell) orders fill at once at the
  best opposite price. A resting limit order fills, as maker at its own price, when a market
  trade reaches its price: each such trade fills max(trade volume, half the order volume),
  capped at what remains, so an order completes in one to three fills.
- An order event is reported as myOrder `wait`, then one `trade` per fill, then `done`
  (or `cancel`).
- myAsset lists every currency of the account (balance and locked), not only the changed ones:
  correct for a client that reads it as a full snapshot and for one that reads it as a delta.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from upbit_tui.exchange.records import AssetUpdate, Balance, Order, OrderUpdate
from upbit_tui.exchange.ticks import is_on_tick

FEE_RATE = 0.0005
MIN_ORDER_KRW = 5_000.0
OPEN_STATES = ("wait", "watch")

# (currency, balance, avg_buy_price) every test account starts with.
STARTING_BALANCES: tuple[tuple[str, float, float], ...] = (
    ("KRW", 100_000_000.0, 0.0),
    ("BTC", 0.5, 140_000_000.0),
    ("ETH", 5.0, 5_000_000.0),
    ("XRP", 10_000.0, 3_000.0),
)


class OrderRejected(Exception):
    """An order request Upbit would refuse: render as `{"error": {"name", "message"}}`."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(f"{status} {name}: {message}")
        self.status = status
        self.name = name
        self.message = message


def _round8(value: float) -> float:
    return round(value, 8)


@dataclass(slots=True)
class _Holding:
    currency: str
    balance: float
    locked: float = 0.0
    avg_buy_price: float = 0.0


@dataclass(slots=True)
class _Account:
    access_key: str
    asset_uuid: str
    holdings: dict[str, _Holding] = field(default_factory=dict)

    def holding(self, currency: str) -> _Holding:
        if currency not in self.holdings:
            self.holdings[currency] = _Holding(currency, 0.0)
        return self.holdings[currency]


@dataclass(slots=True)
class _LiveOrder:
    uuid: str
    access_key: str
    market: str
    side: str  # "bid" | "ask"
    ord_type: str
    price: float | None
    volume: float | None
    remaining: float | None
    created_ms: int
    identifier: str | None
    time_in_force: str | None
    reserved_fee: float = 0.0
    remaining_fee: float = 0.0
    locked: float = 0.0
    executed_volume: float = 0.0
    executed_funds: float = 0.0
    paid_fee: float = 0.0
    trades_count: int = 0
    state: str = "wait"

    @property
    def avg_price(self) -> float:
        if self.executed_volume <= 0:
            return 0.0
        return self.executed_funds / self.executed_volume

    def record(self) -> Order:
        return Order(
            uuid=self.uuid,
            side=self.side,
            ord_type=self.ord_type,
            price=self.price,
            state=self.state,
            market=self.market,
            created_at=self.created_ms,
            volume=self.volume,
            remaining_volume=self.remaining,
            reserved_fee=self.reserved_fee,
            remaining_fee=self.remaining_fee,
            paid_fee=self.paid_fee,
            locked=self.locked,
            executed_volume=_round8(self.executed_volume),
            executed_funds=self.executed_funds,
            trades_count=self.trades_count,
            avg_price=self.avg_price,
            time_in_force=self.time_in_force,
            identifier=self.identifier,
        )


Emit = Callable[[OrderUpdate | AssetUpdate], None]


class Ledger:
    """Accounts and orders of the configured API keys (KRW markets only)."""

    def __init__(self, access_keys: Iterable[str], seed: int, emit: Emit) -> None:
        self._rng = random.Random(f"ledger:{seed}")
        self._emit = emit
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
            account.holdings[currency] = _Holding(currency, balance, 0.0, avg)
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
        account = self._account(access_key)
        return [
            Balance(
                h.currency,
                _round8(h.balance),
                _round8(h.locked),
                h.avg_buy_price,
                False,
                "KRW",
            )
            for h in account.holdings.values()
            if h.balance > 0 or h.locked > 0 or h.currency == "KRW"
        ]

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
        for order in self._orders.values():
            if order.access_key != access_key:
                continue
            if (order_uuid is not None and order.uuid == order_uuid) or (
                identifier is not None and order.identifier == identifier
            ):
                return order
        raise OrderRejected(404, "order_not_found", "주문을 찾지 못했습니다.")

    # -- writes --------------------------------------------------------------------------------

    def place(
        self,
        access_key: str,
        market: str,
        side: str,
        ord_type: str,
        price: float | None,
        volume: float | None,
        *,
        now_ms: int,
        best_bid: float,
        best_ask: float,
        identifier: str | None = None,
        time_in_force: str | None = None,
    ) -> Order:
        """Validate, lock funds, emit `wait`, and fill at once where the order crosses."""
        account = self._account(access_key)
        side, ord_type = self._validate(account, market, side, ord_type, price, volume, identifier)
        if ord_type == "market" and volume is not None and volume * best_bid < MIN_ORDER_KRW:
            raise OrderRejected(
                400,
                "under_min_total_ask",
                f"최소주문금액 이상으로 주문해주세요. ({int(MIN_ORDER_KRW)} KRW)",
            )
        base = market.split("-", 1)[1]
        krw = account.holding("KRW")
        order = _LiveOrder(
            uuid=self._new_uuid(),
            access_key=access_key,
            market=market,
            side=side,
            ord_type=ord_type,
            price=price,
            volume=volume,
            remaining=volume,
            created_ms=now_ms // 1000 * 1000,  # Upbit's order_timestamp has second precision
            identifier=identifier,
            time_in_force=time_in_force,
        )
        if side == "bid":
            assert price is not None
            funds = price * volume if (ord_type == "limit" and volume is not None) else price
            fee = funds * FEE_RATE
            if krw.balance + 1e-9 < funds + fee:
                raise OrderRejected(
                    400, "insufficient_funds_bid", "주문가능한 금액(KRW)이 부족합니다."
                )
            order.reserved_fee = order.remaining_fee = fee
            order.locked = funds + fee
            krw.balance -= funds + fee
            krw.locked += funds + fee
        else:
            assert volume is not None
            coin = account.holding(base)
            if coin.balance + 1e-12 < volume:
                raise OrderRejected(
                    400, "insufficient_funds_ask", f"주문가능한 금액({base})이 부족합니다."
                )
            order.locked = volume
            coin.balance -= volume
            coin.locked += volume
        self._orders[order.uuid] = order
        self._emit_order(order, "wait", now_ms)
        self._emit_assets(account, now_ms)

        if ord_type == "price":
            self._fill_market_buy(account, order, best_ask, now_ms)
        elif ord_type == "market":
            self._fill(account, order, best_bid, order.remaining or 0.0, False, now_ms)
        elif (side == "bid" and price is not None and price >= best_ask) or (
            side == "ask" and price is not None and price <= best_bid
        ):
            fill_price = best_ask if side == "bid" else best_bid
            self._fill(account, order, fill_price, order.remaining or 0.0, False, now_ms)
        if order.state == "wait":
            self._open_by_market.setdefault(market, []).append(order)
        return order.record()

    def _validate(
        self,
        account: _Account,
        market: str,
        side: str,
        ord_type: str,
        price: float | None,
        volume: float | None,
        identifier: str | None,
    ) -> tuple[str, str]:
        if side not in ("bid", "ask"):
            raise OrderRejected(400, "validation_error", "side 값이 올바르지 않습니다.")
        if ord_type not in ("limit", "price", "market"):
            raise OrderRejected(400, "validation_error", "ord_type 값이 올바르지 않습니다.")
        if identifier is not None and any(
            o.identifier == identifier and o.access_key == account.access_key
            for o in self._orders.values()
        ):
            raise OrderRejected(400, "duplicated_identifier", "중복된 identifier 입니다.")
        if ord_type == "limit":
            if price is None or volume is None or price <= 0 or volume <= 0:
                raise OrderRejected(
                    400, "validation_error", "지정가 주문은 price 와 volume 이 필요합니다."
                )
            if not is_on_tick(price):
                raise OrderRejected(
                    400,
                    f"invalid_price_{side}",
                    "주문가격 단위를 잘못 입력하셨습니다. 확인 후 시도해주세요.",
                )
            total = price * volume
        elif ord_type == "price":
            if side != "bid" or price is None or price <= 0 or volume is not None:
                raise OrderRejected(
                    400, "validation_error", "시장가 매수는 price 만 지정해야 합니다."
                )
            total = price
        else:
            if side != "ask" or volume is None or volume <= 0 or price is not None:
                raise OrderRejected(
                    400, "validation_error", "시장가 매도는 volume 만 지정해야 합니다."
                )
            total = MIN_ORDER_KRW  # checked against the book when filling
        if total < MIN_ORDER_KRW:
            raise OrderRejected(
                400,
                f"under_min_total_{side}",
                f"최소주문금액 이상으로 주문해주세요. ({int(MIN_ORDER_KRW)} KRW)",
            )
        return side, ord_type

    def cancel(
        self, access_key: str, order_uuid: str | None, now_ms: int, *, identifier: str | None = None
    ) -> Order:
        """Cancel an open order: release what it still locks, emit `cancel`."""
        account = self._account(access_key)
        order = self._find(access_key, order_uuid, identifier)
        if order.state not in OPEN_STATES:
            raise OrderRejected(404, "order_not_found", "주문을 찾지 못했습니다.")
        order.state = "cancel"
        self._release(account, order)
        self._forget_open(order)
        self._emit_order(order, "cancel", now_ms)
        self._emit_assets(account, now_ms)
        return order.record()

    def on_market_trade(self, market: str, price: float, volume: float, now_ms: int) -> None:
        """Fill resting limit orders that a market trade at `price` reaches (as maker)."""
        resting = self._open_by_market.get(market)
        if not resting:
            return
        for order in list(resting):
            assert order.price is not None and order.volume is not None
            reached = price <= order.price if order.side == "bid" else price >= order.price
            if not reached:
                continue
            amount = min(order.remaining or 0.0, max(volume, order.volume / 2))
            self._fill(self._accounts[order.access_key], order, order.price, amount, True, now_ms)

    # -- internals -----------------------------------------------------------------------------

    def _fill_market_buy(
        self, account: _Account, order: _LiveOrder, best_ask: float, now_ms: int
    ) -> None:
        assert order.price is not None
        amount = int(order.price / best_ask * 1e8) / 1e8
        self._fill(account, order, best_ask, amount, False, now_ms)

    def _fill(
        self,
        account: _Account,
        order: _LiveOrder,
        price: float,
        amount: float,
        is_maker: bool,
        now_ms: int,
    ) -> None:
        amount = _round8(amount)
        if amount <= 0:
            return
        base = order.market.split("-", 1)[1]
        krw = account.holding("KRW")
        coin = account.holding(base)
        funds = price * amount
        fee = funds * FEE_RATE
        if order.side == "bid":
            spent = min(funds + fee, order.locked)
            krw.locked -= spent
            order.locked -= spent
            order.remaining_fee = max(0.0, order.remaining_fee - fee)
            held = coin.balance + coin.locked
            coin.avg_buy_price = (held * coin.avg_buy_price + funds) / (held + amount)
            coin.balance += amount
        else:
            coin.locked -= amount
            order.locked = max(0.0, order.locked - amount)
            krw.balance += funds - fee
        order.executed_volume += amount
        order.executed_funds += funds
        order.paid_fee += fee
        order.trades_count += 1
        if order.remaining is not None:
            order.remaining = _round8(order.remaining - amount)
        finished = order.ord_type == "price" or (
            order.remaining is not None and order.remaining <= 0
        )
        if finished:
            order.state = "done"
            self._release(account, order)
            self._forget_open(order)
        self._emit_order(
            order,
            "trade",
            now_ms,
            fill=(self._new_uuid(), price, amount, fee, is_maker),
        )
        if finished:
            self._emit_order(order, "done", now_ms)
        self._emit_assets(account, now_ms)

    def _release(self, account: _Account, order: _LiveOrder) -> None:
        """Give back whatever the order still locks (unfilled part, unused fee reserve)."""
        if order.locked <= 0:
            return
        if order.side == "bid":
            holding = account.holding("KRW")
        else:
            holding = account.holding(order.market.split("-", 1)[1])
        holding.locked = max(0.0, holding.locked - order.locked)
        holding.balance += order.locked
        order.locked = 0.0
        order.remaining_fee = 0.0

    def _forget_open(self, order: _LiveOrder) -> None:
        resting = self._open_by_market.get(order.market)
        if resting and order in resting:
            resting.remove(order)

    def _emit_order(
        self,
        order: _LiveOrder,
        state: str,
        now_ms: int,
        fill: tuple[str, float, float, float, bool] | None = None,
    ) -> None:
        is_price_order = order.ord_type == "price"
        trade_uuid, price, volume, trade_fee, is_maker = (
            fill if fill is not None else (None, order.price, order.volume, None, None)
        )
        self._emit(
            OrderUpdate(
                access_key=order.access_key,
                code=order.market,
                uuid=order.uuid,
                ask_bid="BID" if order.side == "bid" else "ASK",
                order_type=order.ord_type,
                state=state,
                trade_uuid=trade_uuid,
                price=price,
                avg_price=order.avg_price,
                volume=volume,
                remaining_volume=None if is_price_order else order.remaining,
                executed_volume=(
                    None if is_price_order and fill is None else _round8(order.executed_volume)
                ),
                trades_count=order.trades_count,
                reserved_fee=order.reserved_fee,
                remaining_fee=order.remaining_fee,
                paid_fee=order.paid_fee,
                locked=order.locked,
                executed_funds=order.executed_funds,
                time_in_force=order.time_in_force,
                trade_fee=trade_fee,
                is_maker=is_maker,
                identifier=order.identifier,
                smp_type=None,
                prevented_volume=None if is_price_order else 0.0,
                prevented_locked=0.0,
                trade_timestamp=now_ms if fill is not None else None,
                order_timestamp=order.created_ms,
                timestamp=now_ms,
            )
        )

    def _emit_assets(self, account: _Account, now_ms: int) -> None:
        assets = tuple(
            (h.currency, _round8(h.balance), _round8(h.locked))
            for h in account.holdings.values()
            if h.balance > 0 or h.locked > 0 or h.currency == "KRW"
        )
        self._emit(AssetUpdate(account.access_key, account.asset_uuid, assets, now_ms, now_ms))
