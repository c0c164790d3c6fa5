"""WebSocket message rendering: DEFAULT / SIMPLE keys and the list formats (the server's side).

Key tables and key order are written from Upbit's docs (upbit-protocol.md section 3, the
`websocket-*` pages) independently of the client's codec. Each type has a tuple of DEFAULT keys
and a parallel tuple of SIMPLE keys, so one tuple of values renders in either naming without
building an intermediate dict. Nested objects (orderbook units, myAsset assets) have their own
tables. Frames are UTF-8 JSON bytes (sent as binary frames, as Upbit does).

A message is a msgspec Struct made from its key table (fields in table order, encoded under the
DEFAULT or SIMPLE names): msgspec builds and encodes those faster than dicts, with the same
bytes (same keys, same order, same values).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from upbit_tui.exchange.records import (
    AssetUpdate,
    Candle,
    Orderbook,
    OrderbookUnit,
    OrderUpdate,
    Ticker,
    Trade,
)

FORMATS = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")

Keys = tuple[tuple[str, ...], tuple[str, ...]]  # (DEFAULT keys, SIMPLE keys), same order


def _table(*pairs: tuple[str, str]) -> Keys:
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


TICKER_KEYS = _table(
    ("type", "ty"),
    ("code", "cd"),
    ("opening_price", "op"),
    ("high_price", "hp"),
    ("low_price", "lp"),
    ("trade_price", "tp"),
    ("prev_closing_price", "pcp"),
    ("acc_trade_price", "atp"),
    ("change", "c"),
    ("change_price", "cp"),
    ("signed_change_price", "scp"),
    ("change_rate", "cr"),
    ("signed_change_rate", "scr"),
    ("ask_bid", "ab"),
    ("trade_volume", "tv"),
    ("acc_trade_volume", "atv"),
    ("trade_date", "tdt"),
    ("trade_time", "ttm"),
    ("trade_timestamp", "ttms"),
    ("acc_ask_volume", "aav"),
    ("acc_bid_volume", "abv"),
    ("highest_52_week_price", "h52wp"),
    ("highest_52_week_date", "h52wdt"),
    ("lowest_52_week_price", "l52wp"),
    ("lowest_52_week_date", "l52wdt"),
    ("market_state", "ms"),
    ("is_trading_suspended", "its"),
    ("delisting_date", "dd"),
    ("market_warning", "mw"),
    ("timestamp", "tms"),
    ("acc_trade_price_24h", "atp24h"),
    ("acc_trade_volume_24h", "atv24h"),
    ("stream_type", "st"),
)

TRADE_KEYS = _table(
    ("type", "ty"),
    ("code", "cd"),
    ("timestamp", "tms"),
    ("trade_date", "td"),  # yyyy-MM-dd here; the ticker's trade_date is yyyyMMdd under "tdt"
    ("trade_time", "ttm"),
    ("trade_timestamp", "ttms"),
    ("trade_price", "tp"),
    ("trade_volume", "tv"),
    ("ask_bid", "ab"),
    ("prev_closing_price", "pcp"),
    ("change", "c"),
    ("change_price", "cp"),
    ("sequential_id", "sid"),
    ("best_ask_price", "bap"),
    ("best_ask_size", "bas"),
    ("best_bid_price", "bbp"),
    ("best_bid_size", "bbs"),
    ("stream_type", "st"),
)

ORDERBOOK_KEYS = _table(
    ("type", "ty"),
    ("code", "cd"),
    ("timestamp", "tms"),
    ("total_ask_size", "tas"),
    ("total_bid_size", "tbs"),
    ("orderbook_units", "obu"),
    ("stream_type", "st"),
    ("level", "lv"),
)
# Rendered inline in orderbook_message (30 units per book: the hot path).
ORDERBOOK_UNIT_KEYS = _table(
    ("ask_price", "ap"),
    ("bid_price", "bp"),
    ("ask_size", "as"),
    ("bid_size", "bs"),
)

CANDLE_KEYS = _table(
    ("type", "ty"),
    ("code", "cd"),
    ("candle_date_time_utc", "cdttmu"),
    ("candle_date_time_kst", "cdttmk"),
    ("opening_price", "op"),
    ("high_price", "hp"),
    ("low_price", "lp"),
    ("trade_price", "tp"),
    ("candle_acc_trade_volume", "catv"),
    ("candle_acc_trade_price", "catp"),
    ("timestamp", "tms"),
    ("stream_type", "st"),
)

MY_ORDER_KEYS = _table(
    ("type", "ty"),
    ("code", "cd"),
    ("uuid", "uid"),
    ("ask_bid", "ab"),
    ("order_type", "ot"),
    ("state", "s"),
    ("trade_uuid", "tuid"),
    ("price", "p"),
    ("avg_price", "ap"),
    ("volume", "v"),
    ("remaining_volume", "rv"),
    ("executed_volume", "ev"),
    ("trades_count", "tc"),
    ("reserved_fee", "rsf"),
    ("remaining_fee", "rmf"),
    ("paid_fee", "pf"),
    ("locked", "l"),
    ("executed_funds", "ef"),
    ("time_in_force", "tif"),
    ("trade_fee", "tf"),
    ("is_maker", "im"),
    ("identifier", "id"),
    ("smp_type", "smpt"),
    ("prevented_volume", "pv"),
    ("prevented_locked", "pl"),
    ("trade_timestamp", "ttms"),
    ("order_timestamp", "otms"),
    ("timestamp", "tms"),
    ("stream_type", "st"),
)

MY_ASSET_KEYS = _table(
    ("type", "ty"),
    ("asset_uuid", "astuid"),
    ("assets", "ast"),
    ("asset_timestamp", "asttms"),
    ("timestamp", "tms"),
    ("stream_type", "st"),
)
MY_ASSET_ITEM_KEYS = _table(("currency", "cu"), ("balance", "b"), ("locked", "l"))

LIST_SUBSCRIPTIONS_KEYS = _table(("method", "mthd"), ("result", "rslt"), ("ticket", "tckt"))
LIST_ITEM_KEYS = _table(("type", "ty"), ("codes", "cds"), ("level", "lv"))

_encode = msgspec.json.Encoder().encode

Message = msgspec.Struct  # one rendered message, encoded by frame()


def _message_types(name: str, keys: Keys) -> tuple[type[Message], type[Message]]:
    """(DEFAULT struct, SIMPLE struct) for a key table: positional fields, in table order."""
    fields = [f"f{i}" for i in range(len(keys[0]))]
    return tuple(  # type: ignore[return-value]
        msgspec.defstruct(
            f"{name}{suffix}",
            fields,
            rename=dict(zip(fields, names, strict=True)),
            array_like=False,
        )
        for suffix, names in (("Default", keys[0]), ("Simple", keys[1]))
    )


_TYPES: dict[int, tuple[type[Message], type[Message]]] = {
    id(table): _message_types(name, table)
    for name, table in (
        ("Ticker", TICKER_KEYS),
        ("Trade", TRADE_KEYS),
        ("Orderbook", ORDERBOOK_KEYS),
        ("OrderbookUnit", ORDERBOOK_UNIT_KEYS),
        ("Candle", CANDLE_KEYS),
        ("MyOrder", MY_ORDER_KEYS),
        ("MyAsset", MY_ASSET_KEYS),
        ("MyAssetItem", MY_ASSET_ITEM_KEYS),
        ("ListSubscriptions", LIST_SUBSCRIPTIONS_KEYS),
    )
}
_UNIT_TYPES = _TYPES[id(ORDERBOOK_UNIT_KEYS)]
assert OrderbookUnit.__struct_fields__ == ORDERBOOK_UNIT_KEYS[0]  # encoded as it is (DEFAULT)


def level_value(level: float) -> float | int:
    """Levels render as the docs print them: `0`, `10000`, `0.1`."""
    return int(level) if float(level).is_integer() else level


def is_simple(fmt: str) -> bool:
    return fmt in ("SIMPLE", "SIMPLE_LIST")


def is_list(fmt: str) -> bool:
    return fmt in ("JSON_LIST", "SIMPLE_LIST")


def _obj(keys: Keys, simple: bool, values: Sequence[Any]) -> Message:
    return _TYPES[id(keys)][simple](*values)


def ticker_values(t: Ticker, stream_type: str) -> tuple[Any, ...]:
    return (
        "ticker",
        t.market,
        t.opening_price,
        t.high_price,
        t.low_price,
        t.trade_price,
        t.prev_closing_price,
        t.acc_trade_price,
        t.change,
        t.change_price,
        t.signed_change_price,
        t.change_rate,
        t.signed_change_rate,
        t.ask_bid,
        t.trade_volume,
        t.acc_trade_volume,
        t.trade_date,
        t.trade_time,
        t.trade_timestamp,
        t.acc_ask_volume,
        t.acc_bid_volume,
        t.highest_52_week_price,
        t.highest_52_week_date,
        t.lowest_52_week_price,
        t.lowest_52_week_date,
        t.market_state,
        t.is_trading_suspended,
        t.delisting_date,
        t.market_warning,
        t.timestamp,
        t.acc_trade_price_24h,
        t.acc_trade_volume_24h,
        stream_type,
    )


def ticker_message(t: Ticker, stream_type: str, simple: bool) -> Message:
    return _obj(TICKER_KEYS, simple, ticker_values(t, stream_type))


def trade_message(t: Trade, stream_type: str, simple: bool, now_ms: int) -> Message:
    return _obj(
        TRADE_KEYS,
        simple,
        (
            "trade",
            t.market,
            max(now_ms, t.trade_timestamp),
            t.trade_date_utc,
            t.trade_time_utc,
            t.trade_timestamp,
            t.trade_price,
            t.trade_volume,
            t.ask_bid,
            t.prev_closing_price,
            t.change,
            t.change_price,
            t.sequential_id,
            t.best_ask_price,
            t.best_ask_size,
            t.best_bid_price,
            t.best_bid_size,
            stream_type,
        ),
    )


def orderbook_message(book: Orderbook, stream_type: str, simple: bool) -> Message:
    units: Sequence[Any] = book.orderbook_units  # OrderbookUnit's fields are the DEFAULT keys
    if simple:
        make = _UNIT_TYPES[True]
        units = [make(u.ask_price, u.bid_price, u.ask_size, u.bid_size) for u in units]
    return _obj(
        ORDERBOOK_KEYS,
        simple,
        (
            "orderbook",
            book.market,
            book.timestamp,
            book.total_ask_size,
            book.total_bid_size,
            units,
            stream_type,
            level_value(book.level),
        ),
    )


def candle_message(c: Candle, stream_type: str, simple: bool, now_ms: int) -> Message:
    return _obj(
        CANDLE_KEYS,
        simple,
        (
            "candle." + c.interval,
            c.market,
            c.candle_date_time_utc,
            c.candle_date_time_kst,
            c.opening_price,
            c.high_price,
            c.low_price,
            c.trade_price,
            c.candle_acc_trade_volume,
            c.candle_acc_trade_price,
            max(now_ms, c.timestamp),
            stream_type,
        ),
    )


def my_order_message(o: OrderUpdate, simple: bool) -> Message:
    return _obj(
        MY_ORDER_KEYS,
        simple,
        (
            "myOrder",
            o.code,
            o.uuid,
            o.ask_bid,
            o.order_type,
            o.state,
            o.trade_uuid,
            o.price,
            o.avg_price,
            o.volume,
            o.remaining_volume,
            o.executed_volume,
            o.trades_count,
            o.reserved_fee,
            o.remaining_fee,
            o.paid_fee,
            o.locked,
            o.executed_funds,
            o.time_in_force,
            o.trade_fee,
            o.is_maker,
            o.identifier,
            o.smp_type,
            o.prevented_volume,
            o.prevented_locked,
            o.trade_timestamp,
            o.order_timestamp,
            o.timestamp,
            "REALTIME",
        ),
    )


def my_asset_message(a: AssetUpdate, simple: bool) -> Message:
    item_type = _TYPES[id(MY_ASSET_ITEM_KEYS)][simple]
    assets = [item_type(*item) for item in a.assets]
    return _obj(
        MY_ASSET_KEYS,
        simple,
        ("myAsset", a.asset_uuid, assets, a.asset_timestamp, a.timestamp, "REALTIME"),
    )


def list_subscriptions_message(
    result: Sequence[tuple[str, Sequence[str] | None, float | None]],
    ticket: str,
    simple: bool,
) -> Message:
    """`result` items are (type, codes or None for myAsset, level or None if not orderbook)."""
    type_key, codes_key, level_key = LIST_ITEM_KEYS[1] if simple else LIST_ITEM_KEYS[0]
    items: list[dict[str, Any]] = []
    for type_, codes, level in result:
        item: dict[str, Any] = {type_key: type_}
        if codes is not None:
            item[codes_key] = list(codes)
        if level is not None:
            item[level_key] = level_value(level)
        items.append(item)
    return _obj(LIST_SUBSCRIPTIONS_KEYS, simple, ("LIST_SUBSCRIPTIONS", items, ticket))


def frame(messages: Sequence[Message], fmt: str) -> bytes:
    """One WebSocket frame: a single object (DEFAULT/SIMPLE) or a JSON array (list formats)."""
    if is_list(fmt):
        return _encode(list(messages))
    assert len(messages) == 1, "non-list formats carry one message per frame"
    return _encode(messages[0])


def encode(message: object) -> bytes:
    return _encode(message)


def encode_realtime(message: Message, as_list: bool) -> bytes:
    """frame([message], fmt) with is_list(fmt) known: a realtime frame carries one message."""
    return _encode([message]) if as_list else _encode(message)


def error_frame(name: str, message: str) -> bytes:
    """Upbit's WebSocket error object (the same in every format)."""
    return _encode({"error": {"name": name, "message": message}})


STATUS_UP = _encode({"status": "UP"})
