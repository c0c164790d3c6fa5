"""Upbit's exchange REST endpoints (JWT) as the simulator serves them: accounts, orders,
order chance, wallet status, API keys, deposits.

Each handler takes the request's parameters (the query, or a POST's JSON body as strings) and
the verified access key, and returns an :class:`~upbit_tui.exchange.rest_answers.Answer`;
rest.py wraps them with authentication, rate limits and headers. Amounts are decimal strings,
exact (``"4.999523925"``); keys Upbit omits for an order type are omitted, never null. Key
order follows the recorded real answers (shared/upbit-protocol.md section 7): the list
endpoints add ``executed_funds``, GET /v1/order adds ``trades``, the create and cancel
answers have neither.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from multidict import MultiMapping

from upbit_tui.exchange.ledger import CLOSED_STATES, OPEN_STATES, STARTING_BALANCES, as_placed
from upbit_tui.exchange.market import MarketModel
from upbit_tui.exchange.order_rules import (
    ASK_TYPES,
    BID_TYPES,
    MAX_TOTAL_KRW,
    OrderRejected,
    base_of,
    fee_rate,
    min_total,
    plain,
    quote_of,
)
from upbit_tui.exchange.records import KST_OFFSET_S, ExactBalance, Order, OrderTrade, iso_kst
from upbit_tui.exchange.rest_answers import (
    Answer,
    Json,
    exchange_error,
    invalid_parameter,
)

__all__ = ["ExchangeApi"]

Query = MultiMapping[str]

MAX_ORDERS_PER_PAGE = 100
MAX_CLOSED_ORDERS = 1_000
MAX_UUIDS = 100
MAX_CANCEL_UUIDS = 20
MAX_CANCEL_ALL = 300
CLOSED_WINDOW_MS = 7 * 24 * 3600 * 1000
API_KEY_LIFETIME = timedelta(days=365)


# -- rendering ---------------------------------------------------------------------------------


def balance_json(b: ExactBalance) -> dict[str, Json]:
    return {
        "currency": b.currency,
        "balance": plain(b.balance),
        "locked": plain(b.locked),
        "avg_buy_price": plain(b.avg_buy_price),
        "avg_buy_price_modified": b.avg_buy_price_modified,
        "unit_currency": b.unit_currency,
    }


def order_json(o: Order, *, listing: bool = False, trades: bool = False) -> dict[str, Json]:
    """Key order of the real answers (2026-03). A market buy has no ``volume``,
    ``remaining_volume`` or ``prevented_volume``; a market sell has no ``price``."""
    body: dict[str, Json] = {"uuid": o.uuid, "side": o.side, "ord_type": o.ord_type}
    if o.price is not None:
        body["price"] = plain(o.price)
    body["state"] = o.state
    body["market"] = o.market
    body["created_at"] = iso_kst(o.created_at)
    if o.volume is not None:
        body["volume"] = plain(o.volume)
        body["remaining_volume"] = plain(o.remaining_volume or Decimal(0))
        body["prevented_volume"] = plain(o.prevented_volume)
    body["reserved_fee"] = plain(o.reserved_fee)
    body["remaining_fee"] = plain(o.remaining_fee)
    body["paid_fee"] = plain(o.paid_fee)
    body["locked"] = plain(o.locked)
    body["prevented_locked"] = plain(o.prevented_locked)
    body["executed_volume"] = plain(o.executed_volume)
    if listing:
        body["executed_funds"] = plain(o.executed_funds)
    body["trades_count"] = o.trades_count
    for key in ("time_in_force", "identifier", "smp_type"):
        value = getattr(o, key)
        if value is not None:
            body[key] = value
    if trades:
        body["trades"] = [_trade_json(t) for t in o.trades]
    return body


def _trade_json(t: OrderTrade) -> dict[str, Json]:
    return {
        "market": t.market,
        "uuid": t.uuid,
        "price": plain(t.price),
        "volume": plain(t.volume),
        "funds": plain(t.funds),
        "trend": t.trend,
        "created_at": iso_kst(t.created_at),
        "side": t.side,
    }


def _cancel_result(done: list[Order], failed: list[dict[str, Json]]) -> dict[str, Json]:
    orders = [_cancel_entry(o) for o in done]
    return {
        "success": {"count": len(orders), "orders": orders},
        "failed": {"count": len(failed), "orders": failed},
    }


def _cancel_entry(o: Order) -> dict[str, Json]:
    entry: dict[str, Json] = {"uuid": o.uuid, "market": o.market}
    if o.identifier is not None:
        entry["identifier"] = o.identifier
    return entry


# -- parameters --------------------------------------------------------------------------------


def _amount(raw: str | None, name: str) -> Decimal | None:
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise exchange_error(400, "validation_error", f"{name} 값이 올바르지 않습니다.") from None
    if not value.is_finite():
        raise exchange_error(400, "validation_error", f"{name} 값이 올바르지 않습니다.")
    return value


def _integer(raw: str | None, default: int, low: int, high: int | None) -> int:
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d+", raw):
        raise invalid_parameter()
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise invalid_parameter()
    return value


def _choice(query: Query, name: str, allowed: Iterable[str], default: str) -> str:
    value = query.get(name) or default
    if value not in allowed:
        raise invalid_parameter()
    return value


def _list(query: Query, name: str) -> list[str]:
    """``name[]=a&name[]=b`` (also ``name=a,b``)."""
    values = query.getall(f"{name}[]", [])
    if not values and query.get(name):
        values = query[name].split(",")
    return [v for v in (v.strip() for v in values) if v]


def _time_ms(raw: str | None) -> int | None:
    """Upbit's ``start_time`` / ``end_time``: ISO 8601 (UTC without a zone) or epoch ms."""
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "+") if "T" in raw else raw)
    except ValueError:
        raise invalid_parameter() from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _opaque_id(*parts: object) -> str:
    """A stable UUID-shaped identifier of `parts` (seeded records need no RNG state)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"


# -- the handlers ------------------------------------------------------------------------------


class ExchangeApi:
    """The exchange handlers over one market model (its ledger holds the accounts)."""

    def __init__(self, model: MarketModel, seed: int) -> None:
        self.model = model
        self._seed = seed
        self._opened_ms = model.now_ms()  # when the test accounts were "opened"

    # accounts

    def accounts(self, query: Query, access_key: str) -> Answer:
        return Answer([balance_json(b) for b in self.model.ledger.exact_accounts(access_key)])

    # orders: reads

    def order(self, query: Query, access_key: str) -> Answer:
        uuid, identifier = query.get("uuid") or None, query.get("identifier") or None
        if uuid is None and identifier is None:
            raise exchange_error(400, "validation_error", "uuid 또는 identifier 가 필요합니다.")
        order = self.model.ledger.get_order(access_key, uuid, identifier)
        return Answer(order_json(order, trades=True))

    def orders_open(self, query: Query, access_key: str) -> Answer:
        wanted = self._states(query, OPEN_STATES, default=["wait"])
        order_by = _choice(query, "order_by", ("asc", "desc"), "desc")
        page = _integer(query.get("page"), 1, 1, None)
        limit = _integer(query.get("limit"), MAX_ORDERS_PER_PAGE, 1, MAX_ORDERS_PER_PAGE)
        market = query.get("market") or None
        if market is not None and not self.model.has_market(market):
            return Answer([])
        orders = self.model.ledger.orders(access_key, market=market, states=wanted)
        if order_by == "asc":
            orders.reverse()
        window = orders[(page - 1) * limit : page * limit]
        return Answer([order_json(o, listing=True) for o in window])

    def orders_closed(self, query: Query, access_key: str) -> Answer:
        wanted = self._states(query, CLOSED_STATES, default=list(CLOSED_STATES))
        order_by = _choice(query, "order_by", ("asc", "desc"), "desc")
        limit = _integer(query.get("limit"), MAX_ORDERS_PER_PAGE, 1, MAX_CLOSED_ORDERS)
        start, end = _time_ms(query.get("start_time")), _time_ms(query.get("end_time"))
        if start is None and end is None:
            end = self.model.now_ms()
        if start is None:
            assert end is not None
            start = end - CLOSED_WINDOW_MS
        elif end is None:
            end = start + CLOSED_WINDOW_MS
        if end < start or end - start > CLOSED_WINDOW_MS:
            raise invalid_parameter()
        market = query.get("market") or None
        orders = [
            o
            for o in self.model.ledger.orders(access_key, market=market, states=wanted)
            if start <= o.created_at <= end
        ]
        if order_by == "asc":
            orders.reverse()
        return Answer([order_json(o, listing=True) for o in orders[:limit]])

    def orders_by_ids(self, query: Query, access_key: str) -> Answer:
        chosen = self._by_ids(query, access_key, MAX_UUIDS)
        if _choice(query, "order_by", ("asc", "desc"), "desc") == "asc":
            chosen.reverse()
        market = query.get("market") or None
        return Answer([order_json(o, listing=True) for o in chosen if market in (None, o.market)])

    def _states(self, query: Query, allowed: Iterable[str], default: list[str]) -> list[str]:
        state, states = query.get("state"), query.getall("states[]", [])
        if state is not None and states:
            raise invalid_parameter()
        wanted = state.split(",") if state is not None else (states or default)
        if not wanted or not all(s in allowed for s in wanted):
            raise invalid_parameter()
        return wanted

    def _by_ids(self, query: Query, access_key: str, most: int) -> list[Order]:
        """The orders named by ``uuids[]`` or ``identifiers[]``, newest first; unknown ones
        are left out."""
        uuids, identifiers = _list(query, "uuids"), _list(query, "identifiers")
        if bool(uuids) == bool(identifiers) or len(uuids) + len(identifiers) > most:
            raise invalid_parameter()
        every = self.model.ledger.orders(access_key, states=OPEN_STATES + CLOSED_STATES)
        if uuids:
            return [o for o in every if o.uuid in set(uuids)]
        return [o for o in every if o.identifier in set(identifiers)]

    # orders: writes

    def _place(self, body: Mapping[str, str], access_key: str, *, dry_run: bool = False) -> Order:
        market = body.get("market")
        if not market:
            raise exchange_error(400, "validation_error", "market 값이 필요합니다.")
        if not self.model.has_market(market):
            raise exchange_error(400, "validation_error", "market does not have a valid value")
        book = self.model.orderbook(market, depth=1)
        assert book is not None  # level 0 is always supported
        best = book.orderbook_units[0]
        return self.model.ledger.place(
            access_key,
            market,
            body.get("side", ""),
            body.get("ord_type") or "limit",
            _amount(body.get("price"), "price"),
            _amount(body.get("volume"), "volume"),
            now_ms=self.model.now_ms(),
            best_bid=best.bid_price,
            best_ask=best.ask_price,
            identifier=body.get("identifier") or None,
            time_in_force=body.get("time_in_force") or None,
            smp_type=body.get("smp_type") or None,
            dry_run=dry_run,
        )

    def place_order(self, body: Query, access_key: str) -> Answer:
        # Upbit answers the order as created (`wait`, nothing executed); fills come after.
        return Answer(order_json(as_placed(self._place(body, access_key))), 201)

    def test_order(self, body: Query, access_key: str) -> Answer:
        return Answer(order_json(self._place(body, access_key, dry_run=True)), 201)

    def cancel_order(self, query: Query, access_key: str) -> Answer:
        uuid, identifier = query.get("uuid") or None, query.get("identifier") or None
        if uuid is None and identifier is None:
            raise exchange_error(
                400, "validation_error", "uuid 또는 identifier 중 하나가 필요합니다."
            )
        order = self.model.cancel_order(access_key, uuid=uuid, identifier=identifier)
        # Upbit answers a cancel with the order as it stood (`wait`): cancelling is async.
        return Answer(order_json(replace(order, state="wait")))

    def cancel_by_ids(self, query: Query, access_key: str) -> Answer:
        done: list[Order] = []
        failed: list[dict[str, Json]] = []
        for order in self._by_ids(query, access_key, MAX_CANCEL_UUIDS):
            if order.state in OPEN_STATES:
                done.append(self.model.cancel_order(access_key, uuid=order.uuid))
            else:
                failed.append({**_cancel_entry(order), "error": _NOT_OPEN})
        return Answer(_cancel_result(done, failed))

    def cancel_open(self, query: Query, access_key: str) -> Answer:
        """DELETE /v1/orders/open: at most ``count`` waiting orders matching the filters."""
        side = _choice(query, "cancel_side", ("all", "ask", "bid"), "all")
        count = _integer(query.get("count"), 20, 1, MAX_CANCEL_ALL)
        order_by = _choice(query, "order_by", ("asc", "desc"), "desc")
        pairs = _list(query, "pairs")
        # The docs say exclude_pairs; Upbit's own SDK sends excluded_pairs: both are read.
        excluded = set(_list(query, "exclude_pairs") or _list(query, "excluded_pairs"))
        quotes = _list(query, "quote_currencies")
        if (pairs and quotes) or len(pairs) > 20 or len(excluded) > 20:
            raise invalid_parameter()
        orders = [
            o
            for o in self.model.ledger.orders(access_key, states=["wait"])
            if (not pairs or o.market in pairs)
            and (not quotes or quote_of(o.market) in quotes)
            and o.market not in excluded
            and side in ("all", o.side)
        ]
        if order_by == "asc":
            orders.reverse()
        done = [self.model.cancel_order(access_key, uuid=o.uuid) for o in orders[:count]]
        return Answer(_cancel_result(done, []))

    def cancel_and_new(self, body: Query, access_key: str) -> Answer:
        """Cancel one open order, then place a new one on its market and side (the cancel
        stands even when the new order is refused)."""
        prev_uuid = body.get("prev_order_uuid") or None
        prev_identifier = body.get("prev_order_identifier") or None
        if (prev_uuid is None) == (prev_identifier is None) or not body.get("new_ord_type"):
            raise exchange_error(400, "validation_error", "잘못된 API 요청입니다.")
        prev = self.model.ledger.get_order(access_key, prev_uuid, prev_identifier)
        if prev.state not in OPEN_STATES:
            raise OrderRejected(404, "order_not_found", "주문을 찾지 못했습니다.")
        new_volume = body.get("new_volume")
        if new_volume == "remain_only":
            new_volume = plain(prev.remaining_volume or Decimal(0))
        fields: dict[str, str | None] = {
            "market": prev.market,
            "side": prev.side,
            "ord_type": body.get("new_ord_type", ""),
            "price": body.get("new_price"),
            "volume": new_volume,
            "identifier": body.get("new_identifier"),
            "time_in_force": body.get("new_time_in_force"),
            "smp_type": body.get("new_smp_type"),
        }
        self.model.cancel_order(access_key, uuid=prev.uuid)
        new = self._place({k: v for k, v in fields.items() if v is not None}, access_key)
        answer = {**order_json(prev), "new_order_uuid": new.uuid}
        if new.identifier is not None:
            answer["new_order_identifier"] = new.identifier
        return Answer(answer)

    def chance(self, query: Query, access_key: str) -> Answer:
        market = query.get("market")
        if not market:
            raise exchange_error(400, "validation_error", "market 값이 필요합니다.")
        if not self.model.has_market(market):
            raise exchange_error(404, "market_does_not_exist", "마켓을 찾지 못했습니다.")
        quote, base = quote_of(market), base_of(market)
        rate = plain(fee_rate(market))
        ledger = self.model.ledger
        market_body: dict[str, Json] = {
            "id": market,
            "name": f"{base}/{quote}",
            "order_types": ["limit"],
            "order_sides": ["ask", "bid"],
            "bid_types": list(BID_TYPES),
            "ask_types": list(ASK_TYPES),
            "bid": {"currency": quote, "min_total": plain(min_total(market))},
            "ask": {"currency": base, "min_total": plain(min_total(market))},
        }
        if quote == "KRW":
            market_body["max_total"] = plain(MAX_TOTAL_KRW)
        market_body["state"] = "active"
        return Answer(
            {
                "bid_fee": rate,
                "ask_fee": rate,
                "maker_bid_fee": rate,
                "maker_ask_fee": rate,
                "market": market_body,
                "bid_account": balance_json(ledger.balance(access_key, quote)),
                "ask_account": balance_json(ledger.balance(access_key, base)),
            }
        )

    # service

    def wallet_status(self, query: Query, access_key: str) -> Answer:
        height_base = int(hashlib.sha256(f"wallet:{self._seed}".encode()).hexdigest()[:6], 16)
        updated = datetime.fromtimestamp(self.model.now_ms() // 60_000 * 60, UTC)
        seen: dict[str, str] = {}
        for info in self.model.markets():
            seen.setdefault(base_of(info.market), info.english_name)
        return Answer(
            [
                {
                    "currency": currency,
                    "wallet_state": "working",
                    "block_state": "normal",
                    "block_height": height_base + i * 7919,
                    "block_updated_at": updated.isoformat(),
                    "block_elapsed_minutes": 0,
                    "net_type": currency,
                    "network_name": name,
                }
                for i, (currency, name) in enumerate(seen.items())
            ]
        )

    def api_keys(self, query: Query, access_key: str) -> Answer:
        opened = datetime.fromtimestamp(self._opened_ms / 1000 + KST_OFFSET_S, UTC)
        expire = (opened + API_KEY_LIFETIME).replace(hour=0, minute=0, second=0, microsecond=0)
        stamp = expire.strftime("%Y-%m-%dT%H:%M:%S") + "+09:00"
        return Answer([{"access_key": access_key, "expire_at": stamp}])

    # deposits

    def _deposits(self, access_key: str) -> list[dict[str, Json]]:
        """Each starting balance arrived as one accepted deposit, a day before start-up."""
        when = iso_kst(self._opened_ms - 86_400_000)
        return [
            {
                "type": "deposit",
                "uuid": _opaque_id("deposit", self._seed, access_key, currency),
                "currency": currency,
                "net_type": None if currency == "KRW" else currency,
                "txid": _opaque_id("txid", self._seed, access_key, currency).replace("-", ""),
                "state": "ACCEPTED",
                "created_at": when,
                "done_at": when,
                "amount": plain(amount),
                "fee": "0",
                "transaction_type": "default",
            }
            for currency, amount, _ in STARTING_BALANCES
        ]

    def deposits(self, query: Query, access_key: str) -> Answer:
        self.model.accounts(access_key)
        currency, state = query.get("currency"), query.get("state")
        uuids, txids = set(_list(query, "uuids")), set(_list(query, "txids"))
        limit = _integer(query.get("limit"), 100, 1, 100)
        page = _integer(query.get("page"), 1, 1, None)
        rows = [
            d
            for d in self._deposits(access_key)
            if currency in (None, d["currency"])
            and state in (None, d["state"])
            and (not uuids or d["uuid"] in uuids)
            and (not txids or d["txid"] in txids)
        ]
        if _choice(query, "order_by", ("asc", "desc"), "desc") == "asc":
            rows.reverse()
        return Answer(rows[(page - 1) * limit : page * limit])

    def deposit(self, query: Query, access_key: str) -> Answer:
        self.model.accounts(access_key)
        uuid, txid, currency = query.get("uuid"), query.get("txid"), query.get("currency")
        for d in self._deposits(access_key):
            if (
                uuid in (None, d["uuid"])
                and txid in (None, d["txid"])
                and currency
                in (
                    None,
                    d["currency"],
                )
            ):
                return Answer(d)
        raise exchange_error(404, "deposit_not_found", "입출금 정보를 찾지 못했습니다.")

    def deposit_addresses(self, query: Query, access_key: str) -> Answer:
        self.model.accounts(access_key)
        return Answer([])  # no address was ever generated for the test accounts

    def deposit_address(self, query: Query, access_key: str) -> Answer:
        if not query.get("currency") or not query.get("net_type"):
            raise exchange_error(400, "validation_error", "currency, net_type 값이 필요합니다.")
        raise exchange_error(404, "coin_address_not_found", "입금 주소를 찾지 못했습니다.")

    def deposit_chance(self, query: Query, access_key: str) -> Answer:
        currency, net_type = query.get("currency"), query.get("net_type")
        if not currency or not net_type:
            raise exchange_error(400, "validation_error", "currency, net_type 값이 필요합니다.")
        return Answer(
            {
                "currency": currency,
                "net_type": net_type,
                "is_deposit_possible": True,
                "deposit_impossible_reason": "",
                "minimum_deposit_amount": "0",
                "minimum_deposit_confirmations": 1,
                "decimal_precision": 8,
            }
        )


_NOT_OPEN = {"name": "order_not_found", "message": "주문을 찾지 못했습니다."}
