"""Upbit's SIMPLE format: each abbreviated key and its DEFAULT name, per type.

Data for the codec's slow path (SIMPLE frames, LIST_SUBSCRIPTIONS answers, the 2018 guide's
shapes), kept apart from the decoding logic in codec.py because it is a table to check against
the docs (shared/upbit-protocol.md section 3), not code to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# shared/upbit-protocol.md section 3: SIMPLE key -> DEFAULT key, per type. `mk` and `market` are
# the legacy (2018) spelling of `code`.
COMMON_SIMPLE: Final = {
    "ty": "type",
    "cd": "code",
    "mk": "code",
    "tms": "timestamp",
    "st": "stream_type",
}
TICKER_SIMPLE: Final = {
    **COMMON_SIMPLE,
    "op": "opening_price",
    "hp": "high_price",
    "lp": "low_price",
    "tp": "trade_price",
    "pcp": "prev_closing_price",
    "atp": "acc_trade_price",
    "c": "change",
    "cp": "change_price",
    "scp": "signed_change_price",
    "cr": "change_rate",
    "scr": "signed_change_rate",
    "ab": "ask_bid",
    "tv": "trade_volume",
    "atv": "acc_trade_volume",
    "tdt": "trade_date",
    "ttm": "trade_time",
    "ttms": "trade_timestamp",
    "aav": "acc_ask_volume",
    "abv": "acc_bid_volume",
    "h52wp": "highest_52_week_price",
    "h52wdt": "highest_52_week_date",
    "l52wp": "lowest_52_week_price",
    "l52wdt": "lowest_52_week_date",
    "ms": "market_state",
    "its": "is_trading_suspended",
    "dd": "delisting_date",
    "mw": "market_warning",
    "atp24h": "acc_trade_price_24h",
    "atv24h": "acc_trade_volume_24h",
}
TRADE_SIMPLE: Final = {
    **COMMON_SIMPLE,
    "tp": "trade_price",
    "tv": "trade_volume",
    "ab": "ask_bid",
    "pcp": "prev_closing_price",
    "c": "change",
    "cp": "change_price",
    "td": "trade_date",
    "ttm": "trade_time",
    "ttms": "trade_timestamp",
    "sid": "sequential_id",
    "bap": "best_ask_price",
    "bas": "best_ask_size",
    "bbp": "best_bid_price",
    "bbs": "best_bid_size",
}
ORDERBOOK_SIMPLE: Final = {
    **COMMON_SIMPLE,
    "tas": "total_ask_size",
    "tbs": "total_bid_size",
    "obu": "orderbook_units",
    "lv": "level",
}
ORDERBOOK_UNIT_SIMPLE: Final = {
    "ap": "ask_price",
    "bp": "bid_price",
    "as": "ask_size",
    "bs": "bid_size",
}
CANDLE_SIMPLE: Final = {
    **COMMON_SIMPLE,
    "cdttmu": "candle_date_time_utc",
    "cdttmk": "candle_date_time_kst",
    "op": "opening_price",
    "hp": "high_price",
    "lp": "low_price",
    "tp": "trade_price",
    "catv": "candle_acc_trade_volume",
    "catp": "candle_acc_trade_price",
}
ORDER_SIMPLE: Final = {
    **COMMON_SIMPLE,
    "uid": "uuid",
    "ab": "ask_bid",
    "ot": "order_type",
    "s": "state",
    "tuid": "trade_uuid",
    "p": "price",
    "ap": "avg_price",
    "v": "volume",
    "rv": "remaining_volume",
    "ev": "executed_volume",
    "tc": "trades_count",
    "rsf": "reserved_fee",
    "rmf": "remaining_fee",
    "pf": "paid_fee",
    "l": "locked",
    "ef": "executed_funds",
    "tif": "time_in_force",
    "tf": "trade_fee",
    "im": "is_maker",
    "id": "identifier",
    "smpt": "smp_type",
    "pv": "prevented_volume",
    "pl": "prevented_locked",
    "ttms": "trade_timestamp",
    "otms": "order_timestamp",
}
ASSET_SIMPLE: Final = {
    **COMMON_SIMPLE,
    "astuid": "asset_uuid",
    "ast": "assets",
    "asttms": "asset_timestamp",
}
ASSET_ITEM_SIMPLE: Final = {"cu": "currency", "b": "balance", "l": "locked"}
LIST_SUBSCRIPTIONS_SIMPLE: Final = {"mthd": "method", "rslt": "result", "tckt": "ticket"}
LISTED_SIMPLE: Final = {"ty": "type", "cds": "codes", "lv": "level"}


def to_default_keys(obj: dict[str, Any], table: Mapping[str, str]) -> dict[str, Any]:
    # A DEFAULT key passes through unchanged; a SIMPLE key becomes its DEFAULT name.
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = table.get(key, key)
        if name == "market":
            name = "code"
        out[name] = value
    return out
