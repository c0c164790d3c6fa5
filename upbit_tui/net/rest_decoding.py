"""Upbit's REST answers read into our types: MarketInfo and the events of events.py.

Exchange amounts arrive as strings and are decoded to floats; quotation objects name the market
`market` where the WebSocket says `code`. Anything that does not fit raises UpbitApiError
"bad_response" naming the endpoint (never a traceback).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec

from upbit_tui.net.rest_errors import UpbitApiError
from upbit_tui.wire.events import OrderEvent, StreamType, TradeEvent


class MarketInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One listed market from /v1/market/all."""

    market: str
    korean_name: str = ""
    english_name: str = ""
    # Only filled with is_details=True.
    warning: bool = False
    cautions: dict[str, bool] = msgspec.field(default_factory=dict)


def amount(value: Any) -> float | None:
    """Exchange amounts are strings ("50000.47088291"); quotation numbers are numbers."""
    if value is None or value == "":
        return None
    return float(value)


def parse_kst_iso(text: str | None) -> int:
    """'2026-03-22T21:42:22+09:00' -> ms since the epoch (0 when absent or unreadable)."""
    if not text:
        return 0
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        return 0


def list_of_objects(data: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
        raise UpbitApiError(200, "bad_response", f"{path}: expected a JSON list of objects")
    return data


def unexpected(path: str, exc: Exception) -> UpbitApiError:
    return UpbitApiError(200, "bad_response", f"{path}: unexpected answer ({exc})")


def convert_quotation(item: dict[str, Any], cls: type[Any], path: str, **extra: Any) -> Any:
    """A quotation object (key `market`) -> the event type (wire key `code`)."""
    data = dict(item)
    data["code"] = data.pop("market", "")
    data["stream_type"] = StreamType.REST.value
    data["epoch"] = 0
    data.update(extra)
    try:
        return msgspec.convert(data, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise unexpected(path, exc) from None


def trade_from_rest(item: dict[str, Any], received_at: float) -> TradeEvent:
    try:
        price = float(item["trade_price"])
        prev = item.get("prev_closing_price")
        change = "EVEN"
        if prev is not None:
            change = "RISE" if price > prev else "FALL" if price < prev else "EVEN"
        return TradeEvent(
            symbol=str(item["market"]),
            trade_price=price,
            trade_volume=float(item["trade_volume"]),
            ask_bid=str(item["ask_bid"]),
            sequential_id=int(item["sequential_id"]),
            trade_timestamp=int(item["timestamp"]),
            timestamp_ms=int(item["timestamp"]),
            trade_date=str(item.get("trade_date_utc", "")),
            trade_time=str(item.get("trade_time_utc", "")),
            prev_closing_price=float(prev or 0.0),
            change=change,
            change_price=float(item.get("change_price") or 0.0),
            stream_type=StreamType.REST,
            received_at=received_at,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise unexpected("/trades/ticks", exc) from None


def order_from_rest(item: dict[str, Any], received_at: float) -> OrderEvent:
    try:
        volume = amount(item.get("volume"))
        executed = amount(item.get("executed_volume"))
        funds = amount(item.get("executed_funds"))
        trades = item.get("trades")
        if funds is None and isinstance(trades, list) and trades:
            # GET /v1/order has no executed_funds: its fills carry them.
            funds = sum(float(t["funds"]) for t in trades)
        avg = funds / executed if funds is not None and executed else None
        return OrderEvent(
            symbol=str(item["market"]),
            uuid=str(item["uuid"]),
            ask_bid=str(item["side"]).upper(),
            order_type=str(item["ord_type"]),
            state=str(item["state"]),
            price=amount(item.get("price")),
            avg_price=avg,
            volume=volume,
            remaining_volume=amount(item.get("remaining_volume")),
            executed_volume=executed,
            trades_count=int(item.get("trades_count") or 0),
            reserved_fee=amount(item.get("reserved_fee")),
            remaining_fee=amount(item.get("remaining_fee")),
            paid_fee=amount(item.get("paid_fee")),
            locked=amount(item.get("locked")),
            executed_funds=funds,
            time_in_force=item.get("time_in_force"),
            identifier=item.get("identifier"),
            smp_type=item.get("smp_type"),
            prevented_volume=amount(item.get("prevented_volume")),
            prevented_locked=amount(item.get("prevented_locked")),
            order_timestamp=parse_kst_iso(item.get("created_at")),
            timestamp_ms=int(time.time() * 1000),
            stream_type=StreamType.REST,
            received_at=received_at,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise unexpected("/orders/open", exc) from None
