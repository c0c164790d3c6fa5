"""Numbers as Upbit shows them: tick decimals, separators, signed rates, KRW millions."""

from __future__ import annotations

import pytest

from widgets.balances import price_route
from widgets.market_format import (
    FALL_STYLE,
    RISE_STYLE,
    change_style,
    depth_bar,
    format_amount,
    format_change_rate,
    format_duration,
    format_krw_millions,
    format_price,
    format_signed_price,
    format_size,
    format_size_column,
    format_traded_value,
    format_volume,
)


@pytest.mark.parametrize(
    ("price", "symbol", "shown"),
    [
        (148_500_000.0, "KRW-BTC", "148,500,000"),
        (5_230_000.0, "KRW-ETH", "5,230,000"),
        (3_420.0, "KRW-XRP", "3,420"),
        (331.0, "KRW-DOGE", "331"),
        (61.3, "KRW-CHZ", "61.3"),
        (3.21, "KRW-MBL", "3.21"),
        (0.0321, "KRW-XEC", "0.0321"),
        (0.00854, "KRW-SHIB", "0.00854"),
        (0.000482, "KRW-BTT", "0.000482"),
        (0.00012345, "BTC-ETH", "0.00012345"),
        (65_123.45, "USDT-BTC", "65,123.45"),
        (2.345, "USDT-XRP", "2.345"),
    ],
)
def test_price_has_the_tick_decimals_and_thousands_separators(
    price: float, symbol: str, shown: str
) -> None:
    assert format_price(price, symbol) == shown


def test_change_rate_is_a_signed_percentage() -> None:
    assert format_change_rate(0.0126713295) == "+1.27%"
    assert format_change_rate(-0.0053) == "-0.53%"
    assert format_change_rate(0.0) == "0.00%"
    assert format_change_rate(-0.00001) == "0.00%"


def test_rise_is_red_and_fall_is_blue_as_on_upbit() -> None:
    assert "red" in change_style("RISE") and change_style("RISE") == RISE_STYLE
    assert "blue" in change_style("FALL") and change_style("FALL") == FALL_STYLE
    assert change_style("EVEN") == ""


def test_signed_change_price_keeps_tick_decimals() -> None:
    assert format_signed_price(404_000.0, "KRW-BTC") == "+404,000"
    assert format_signed_price(-0.00012, "KRW-SHIB", 0.00854) == "-0.00012"
    assert format_signed_price(0.0, "KRW-BTC") == "0"


def test_volumes_values_and_amounts() -> None:
    assert format_volume(7158.8028356) == "7,159"
    assert format_volume(12.34567) == "12.346"
    assert format_volume(357_481_506.66) == "357.48M"
    assert format_volume(6_043_906.5) == "6.04M"
    assert format_volume(2_500_000_000) == "2.50B"
    assert format_krw_millions(228_827_082_483.7) == "228,827M"
    assert format_krw_millions(300_000) == "<1M"
    assert format_amount(0.5) == "0.5"
    assert format_amount(1234.00000001) == "1,234.00000001"
    assert format_amount(0) == "0"


def test_order_book_sizes_fit_their_column_without_losing_digits() -> None:
    assert format_size(0.27235839) == "0.27235839"
    assert format_size(0.1) == "0.1"
    assert format_size(23_185.18334) == "23,185.18"
    assert format_size(1_234_567.891) == "1,234,568"
    assert format_size(45_678_901.2) == "45.68M"
    assert format_size(12.345678) == "12.3457"
    assert all(len(format_size(s)) <= 11 for s in (0.00000001, 9_999_999.99, 123_456_789.0))


def test_order_book_size_column_lines_up_its_decimal_points() -> None:
    # format_size alone trims zeros ('0.4416699' beside '0.33690800' is ragged).
    column = format_size_column([0.336908, 0.4416699, 0.30185616])
    assert column == ["0.33690800", "0.44166990", "0.30185616"]
    assert format_size_column([0.5, 12.345678]) == ["0.5000", "12.3457"]
    assert format_size_column([0.5, 23_185.18334]) == ["0.50", "23,185.18"]
    column = format_size_column([0.5, 45_678_901.2])
    assert column == [format_size(0.5), "45.68M"]
    assert all(len(t) <= 11 for t in format_size_column([0.00000001, 9_999_999.99]))


def test_duration() -> None:
    assert format_duration(42.9) == "42s"
    assert format_duration(725) == "12m 05s"
    assert format_duration(3 * 3600 + 4 * 60) == "3h 04m"
    assert format_duration(None) == "-"


def test_depth_bar_is_proportional_and_fixed_width() -> None:
    assert depth_bar(10, 10, 8) == "█" * 8
    assert depth_bar(5, 10, 8) == "████    "
    assert depth_bar(0, 10, 4) == "    "
    half_cell = depth_bar(1, 2, 1)
    assert half_cell == "▌"
    assert all(len(depth_bar(s, 7, 12)) == 12 for s in (0.1, 1, 3.3, 7, 9))


@pytest.mark.parametrize(
    ("volume", "shown"),
    [
        (2_668_360_000_000.0, "2.67T"),  # KRW-BTT's 24h volume: never '2,668.36'
        (999_999_999_999.0, "1,000.0B"),
        (12_345_678_901.0, "12.35B"),
        (123_456.0, "123,456"),
        (1e18, "1,000.0P"),
        (1e21, "1.0e+21"),
    ],
)
def test_volume_picks_a_unit_that_fits_the_column(volume: float, shown: str) -> None:
    text = format_volume(volume)
    assert text == shown and len(text) <= 8


def test_traded_value_is_in_the_quote_currency_and_fits() -> None:
    assert format_traded_value(228_827_000_000.0, "KRW-BTC") == "228,827M"
    assert format_traded_value(2.67e15, "KRW-BTT") == "2.67P"
    # BTC and USDT name their currency (a bare '5.16M' beside KRW's '93,846M' reads as KRW),
    # giving up decimals first, then taking a unit.
    assert format_traded_value(34.766, "BTC-ETH") == "34.766 BTC"
    assert format_traded_value(34.766, "BTC-ETH", width=9) == "34.77 BTC"
    assert format_traded_value(1.5, "BTC-XRP") == "1.5000 BTC"
    assert format_traded_value(5_160_000.0, "USDT-BTC") == "5.16M USDT"
    assert format_traded_value(5_160_000.0, "USDT-BTC", width=9) == "5.2M USDT"
    assert format_traded_value(512.5, "USDT-XRP") == "512.5 USDT"
    assert format_traded_value(999.999, "USDT-XRP", width=9) == "1.0K USDT"
    assert format_traded_value(0.0, "BTC-ETH") == "0 BTC"
    # Never a traded market shown as 0.
    assert format_traded_value(0.004, "USDT-XRP") == "<0.01 USDT"
    assert format_traded_value(0.00004, "BTC-XRP") == "<0.0001"
    for value in (0.00004, 0.5, 999.99, 1_000.0, 123_456.789, 9.99e9, 2.67e15, 1e25):
        for symbol in ("KRW-BTC", "BTC-ETH", "USDT-BTC"):
            for width in (9, 10):
                assert len(format_traded_value(value, symbol, width)) <= width


def test_balances_are_valued_through_btc_or_usdt_where_krw_does_not_list_the_coin() -> None:
    listed = frozenset({"KRW-BTC", "KRW-USDT", "KRW-ETH", "BTC-ETH", "BTC-NEO", "USDT-TON"})
    assert price_route("ETH", listed) == ("KRW-ETH",)
    assert price_route("NEO", listed) == ("BTC-NEO", "KRW-BTC")
    assert price_route("TON", listed) == ("USDT-TON", "KRW-USDT")
    assert price_route("XYZ", listed) == ()
    assert price_route("XYZ", None) == ("KRW-XYZ",)


def test_amounts_give_up_decimals_before_they_overflow_the_balances_column() -> None:
    assert format_amount(12_345.12345678) == "12,345.1234568"
    assert format_amount(123_456_789_012.5) == "123.46B"  # 15 digits with separators: a unit
    assert format_amount(0.00000001) == "0.00000001"
    assert all(len(format_amount(v)) <= 14 for v in (1e15, 98_765_432.123456, 0.123456789))
