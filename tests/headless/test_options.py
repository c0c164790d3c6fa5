"""Resolving `--symbols` / `--types` / limits against the config, and the health line."""

from __future__ import annotations

import pytest

from upbit_tui.config import Config, HeadlessConfig, WatchlistConfig
from upbit_tui.headless.options import HeadlessUsageError, parse_data_type, resolve_options
from upbit_tui.headless.run import health_summary
from upbit_tui.wire.events import DataType


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ticker", DataType.TICKER),
        (" Trade ", DataType.TRADE),
        ("candle.1m", DataType.CANDLE_1M),
        ("candle.minute240", DataType.CANDLE_240M),
        ("candle.1s", DataType.CANDLE_1S),
        ("balance", DataType.BALANCE),
        ("myAsset", DataType.BALANCE),
        ("orders", DataType.ORDER),
        ("myOrder", DataType.ORDER),
    ],
)
def test_type_names_accept_upbit_and_spec_spellings(name: str, expected: DataType) -> None:
    assert parse_data_type(name) is expected


@pytest.mark.parametrize("name", ["tickers", "candle", "candle.2m", "candle.minute2", ""])
def test_unknown_type_is_a_usage_error_listing_the_choices(name: str) -> None:
    with pytest.raises(HeadlessUsageError, match="expected one of ticker, trade"):
        parse_data_type(name)


def test_defaults_come_from_the_watchlist_and_headless_section() -> None:
    config = Config(
        watchlist=WatchlistConfig(symbols=("KRW-ETH", "KRW-BTC")),
        headless=HeadlessConfig(types=("orderbook", "candle.minute1")),
    )
    options = resolve_options(config)
    assert options.symbols == ("KRW-ETH", "KRW-BTC")
    assert options.types == (DataType.ORDERBOOK, DataType.CANDLE_1M)
    assert options.order_symbols is None  # orders of every market unless --symbols says


def test_command_line_overrides_keep_order_and_drop_duplicates() -> None:
    options = resolve_options(
        Config(), symbols="krw-xrp, KRW-BTC,krw-xrp", types="trade,ticker,trade,orders"
    )
    assert options.symbols == ("KRW-XRP", "KRW-BTC")
    assert options.types == (DataType.TRADE, DataType.TICKER, DataType.ORDER)
    assert options.public_types == (DataType.TRADE, DataType.TICKER)
    assert options.private_types == (DataType.ORDER,)
    assert options.order_symbols == ("KRW-XRP", "KRW-BTC")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbols": ","}, "no symbols given"),
        ({"types": " , "}, "no types given"),
        ({"symbols": "KRW-BTC,BTC"}, "--symbols: 'BTC' is not an Upbit market code"),
        ({"count": 0}, "--count"),
        ({"duration": 0.0}, "--duration"),
        ({"metrics_port": 65536}, "--metrics-port"),
    ],
)
def test_bad_values_are_one_line_usage_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(HeadlessUsageError) as info:
        resolve_options(Config(), **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_headless_types_in_the_config_name_the_section() -> None:
    config = Config(headless=HeadlessConfig(types=("ticker", "trades")))
    with pytest.raises(HeadlessUsageError, match=r"<defaults>: \[headless\] types: unknown type"):
        resolve_options(config)


def test_health_summary_puts_the_verdict_and_its_reasons_first() -> None:
    health = {
        "status": "degraded",
        "reasons": ["120 events dropped by slow consumers"],
        "connections": {"public": {"state": "live", "epoch": 3}},
        "messages_per_second": 812.5,
        "p50_latency_ms": 2.4,
        "p99_latency_ms": 31.0,
        "dropped_message_count": 120,
        "reconnection_count": 2,
    }
    line = health_summary(health, written=5000, rate=800.0, stalls=4)
    assert line == (
        "health: degraded (120 events dropped by slow consumers); public live epoch 3; "
        "812.5 msg/s; latency p50 2 ms p99 31 ms; written 5000 (800.0/s); dropped 120; "
        "reconnects 2; output stalls 4"
    )
