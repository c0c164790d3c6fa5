"""What the simulated exchange accepts as an order: Upbit's order types, conditions and minimums.

Amounts are exact decimals (``Decimal``): Upbit renders every exchange amount as a decimal
string, and float arithmetic would turn ``4.999523925`` into ``4.999631174999999``.

Order types (``ord_type``) and what each needs, as Upbit documents them:

=========  ======  ==========================  ==============================
ord_type   side    needs                       time_in_force
=========  ======  ==========================  ==============================
limit      both    price (unit), volume        none, ioc, fok or post_only
price      bid     price (total to spend)      none
market     ask     volume                      none
best       bid     price (total to spend)      ioc or fok (required)
best       ask     volume                      ioc or fok (required)
=========  ======  ==========================  ==============================
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

from upbit_tui.exchange.ticks import table_for

ZERO = Decimal(0)
VOLUME_STEP = Decimal("0.00000001")  # volumes have 8 decimals
# Taker and maker fee rates per quote currency (Upbit: KRW 0.05%, BTC and USDT 0.25%).
FEE_RATES = {"KRW": Decimal("0.0005"), "BTC": Decimal("0.0025"), "USDT": Decimal("0.0025")}
# Smallest order total per quote currency (KRW 5,000; BTC 0.00005; USDT 0.5).
MIN_TOTALS = {"KRW": Decimal(5000), "BTC": Decimal("0.00005"), "USDT": Decimal("0.5")}
MAX_TOTAL_KRW = Decimal(1_000_000_000)
MAX_PRICE_EXPONENT = 20  # a price of 10**21 or more is on no tick (no market is near it)
ORDER_TYPES = ("limit", "price", "market", "best")
TIME_IN_FORCE = ("ioc", "fok", "post_only")
SMP_TYPES = ("cancel_maker", "cancel_taker", "reduce")
BID_TYPES = ("best_fok", "best_ioc", "limit", "limit_fok", "limit_ioc", "price")
ASK_TYPES = ("best_fok", "best_ioc", "limit", "limit_fok", "limit_ioc", "market")


class OrderRejected(Exception):
    """An order request Upbit would refuse: render as `{"error": {"name", "message"}}`."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(f"{status} {name}: {message}")
        self.status = status
        self.name = name
        self.message = message


def decimal(value: float | int | str | Decimal | None) -> Decimal | None:
    """An amount as an exact decimal: a float by its shortest repr (``0.1`` is ``0.1``)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def plain(value: Decimal) -> str:
    """A decimal as Upbit's exchange API strings it: no exponent, no trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "", "0") else text


def floor_volume(value: Decimal) -> Decimal:
    return value.quantize(VOLUME_STEP, rounding=ROUND_DOWN)


def quote_of(market: str) -> str:
    return market.split("-", 1)[0]


def base_of(market: str) -> str:
    return market.split("-", 1)[1]


def on_tick(market: str, price: Decimal) -> bool:
    """`price` is a whole number of ticks of its band in the market's quote table (exact:
    `0.03530304` on BTC-ETH is, `0.035303045` is not). Absurd magnitudes are not."""
    if price.adjusted() > MAX_PRICE_EXPONENT:
        return False
    tick = decimal(table_for(market).tick_size(float(price)))
    assert tick is not None
    with localcontext() as context:  # enough digits for the whole quotient: exact
        context.prec = max(context.prec, price.adjusted() - tick.adjusted() + 2)
        return price % tick == 0


def fee_rate(market: str) -> Decimal:
    return FEE_RATES.get(quote_of(market), FEE_RATES["KRW"])


def min_total(market: str) -> Decimal:
    return MIN_TOTALS.get(quote_of(market), MIN_TOTALS["KRW"])


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated order request (``spends_funds``: a bid whose ``price`` is its total)."""

    market: str
    side: str
    ord_type: str
    price: Decimal | None
    volume: Decimal | None
    time_in_force: str | None
    smp_type: str | None

    @property
    def spends_funds(self) -> bool:
        return self.side == "bid" and self.ord_type in ("price", "best")

    @property
    def bid_funds(self) -> Decimal:
        """Quote currency a bid needs before fees: price * volume, or its total."""
        assert self.price is not None
        if self.spends_funds:
            return self.price
        assert self.volume is not None
        return self.price * self.volume


def _invalid(side: str, message: str) -> OrderRejected:
    name = "create_bid_error" if side == "bid" else "create_ask_error"
    return OrderRejected(400, name, message)


def check_request(
    market: str,
    side: str,
    ord_type: str,
    price: Decimal | None,
    volume: Decimal | None,
    time_in_force: str | None,
    smp_type: str | None = None,
) -> OrderRequest:
    """Refuse what Upbit refuses, with its error names; funds are checked by the ledger."""
    if side not in ("bid", "ask"):
        raise OrderRejected(400, "validation_error", "side does not have a valid value")
    if ord_type not in ORDER_TYPES:
        raise OrderRejected(400, "validation_error", "ord_type does not have a valid value")
    if time_in_force is not None and time_in_force not in TIME_IN_FORCE:
        raise OrderRejected(400, "validation_error", "time_in_force does not have a valid value")
    if smp_type is not None and smp_type not in SMP_TYPES:
        raise OrderRejected(400, "validation_error", "smp_type does not have a valid value")
    for amount in (price, volume):
        if amount is not None and (not amount.is_finite() or amount <= 0):
            raise _invalid(side, "주문 요청 정보가 올바르지 않습니다.")
    if ord_type == "limit":
        if price is None or volume is None:
            raise _invalid(side, "지정가 주문은 price 와 volume 이 필요합니다.")
        if not on_tick(market, price):
            raise OrderRejected(
                400,
                f"invalid_price_{side}",
                "주문가격 단위를 잘못 입력하셨습니다. 확인 후 시도해주세요.",
            )
        total = price * volume
    elif ord_type == "best":
        if time_in_force not in ("ioc", "fok"):
            raise _invalid(side, "최유리 지정가 주문은 ioc 또는 fok 조건이 필요합니다.")
        wanted_price = side == "bid"
        if (price is not None) != wanted_price or (volume is not None) == wanted_price:
            raise _invalid(side, "최유리 지정가 매수는 price, 매도는 volume 만 지정해야 합니다.")
        total = price if price is not None else min_total(market)  # asks: checked when filling
    elif ord_type == "price":
        if side != "bid" or price is None or volume is not None:
            raise _invalid(side, "시장가 매수는 price 만 지정해야 합니다.")
        total = price
    else:
        if side != "ask" or volume is None or price is not None:
            raise _invalid(side, "시장가 매도는 volume 만 지정해야 합니다.")
        total = min_total(market)  # checked against the book when filling
    if ord_type != "limit" and time_in_force == "post_only":
        raise _invalid(side, "post_only 는 지정가 주문에서만 사용할 수 있습니다.")
    if ord_type in ("price", "market") and time_in_force is not None:
        raise _invalid(side, "시장가 주문에는 time_in_force 를 지정할 수 없습니다.")
    if total < min_total(market):
        raise OrderRejected(
            400,
            f"under_min_total_{side}",
            f"최소주문금액 이상으로 주문해주세요. ({plain(min_total(market))} {quote_of(market)})",
        )
    return OrderRequest(market, side, ord_type, price, volume, time_in_force, smp_type)
