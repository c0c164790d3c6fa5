"""wire.py's Struct messages encode exactly as a dict with the key tables' names, in order."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from upbit_tui.exchange import INTERVALS, MarketModel, wire

NOW = 1_780_000_000.0


def as_dict(keys: wire.Keys, simple: bool, values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(keys[1] if simple else keys[0], values, strict=True))


@pytest.mark.parametrize("simple", [False, True])
def test_messages_encode_like_dicts_of_the_key_tables(simple: bool) -> None:
    model = MarketModel(seed=4, markets=16, clock=lambda: NOW)
    for _ in range(200):
        model.generate_trade()
    now = model.now_ms()
    encode = msgspec.json.encode
    for code in model.market_codes():
        ticker = model.ticker(code)
        assert wire.frame([wire.ticker_message(ticker, "REALTIME", simple)], "DEFAULT") == encode(
            as_dict(wire.TICKER_KEYS, simple, wire.ticker_values(ticker, "REALTIME"))
        )
        trade = model.trades(code, 1)[0]
        expected_trade = as_dict(
            wire.TRADE_KEYS,
            simple,
            (
                "trade", trade.market, max(now, trade.trade_timestamp), trade.trade_date_utc,
                trade.trade_time_utc, trade.trade_timestamp, trade.trade_price,
                trade.trade_volume, trade.ask_bid, trade.prev_closing_price, trade.change,
                trade.change_price, trade.sequential_id, trade.best_ask_price,
                trade.best_ask_size, trade.best_bid_price, trade.best_bid_size, "SNAPSHOT",
            ),
        )  # fmt: skip
        assert encode(wire.trade_message(trade, "SNAPSHOT", simple, now)) == encode(expected_trade)
        for level in model.supported_levels(code)[:2]:
            book = model.orderbook(code, 15, level)
            assert book is not None
            units = [
                as_dict(
                    wire.ORDERBOOK_UNIT_KEYS,
                    simple,
                    (u.ask_price, u.bid_price, u.ask_size, u.bid_size),
                )
                for u in book.orderbook_units
            ]
            expected_book = as_dict(
                wire.ORDERBOOK_KEYS,
                simple,
                (
                    "orderbook", code, book.timestamp, book.total_ask_size, book.total_bid_size,
                    units, "REALTIME", wire.level_value(level),
                ),
            )  # fmt: skip
            assert wire.frame(
                [wire.orderbook_message(book, "REALTIME", simple)], "JSON_LIST"
            ) == encode([expected_book])
        for interval in INTERVALS:
            candle = model.latest_candle(code, interval)
            message = encode(wire.candle_message(candle, "SNAPSHOT", simple, now))
            assert list(msgspec.json.decode(message)) == list(
                wire.CANDLE_KEYS[1] if simple else wire.CANDLE_KEYS[0]
            )
