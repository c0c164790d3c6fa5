"""A market's past is built on first use: the order of first uses changes nothing."""

from __future__ import annotations

from upbit_tui.exchange import INTERVALS, MarketModel

NOW = 1_780_000_123.4


def snapshot(model: MarketModel, codes: list[str]) -> dict[str, list[object]]:
    """What REST/WebSocket read of each market, reading the markets in the order given."""
    return {
        code: [
            model.ticker(code),
            model.orderbook(code, 15),
            model.trades(code, 50),
            *(model.candles(code, interval, None, 30) for interval in INTERVALS),
        ]
        for code in codes
    }


def test_first_use_order_and_warm_up_do_not_change_the_market() -> None:
    now = [NOW]
    forward = MarketModel(seed=5, markets=40, clock=lambda: now[0])
    backward = MarketModel(seed=5, markets=40, clock=lambda: now[0])
    warmed = MarketModel(seed=5, markets=40, clock=lambda: now[0])
    codes = forward.market_codes()
    while warmed.warm_up(7):
        pass
    assert not warmed.warm_up()
    a = snapshot(forward, codes)
    assert a == snapshot(backward, list(reversed(codes)))
    assert a == snapshot(warmed, codes)


def test_live_trades_in_a_market_never_read_before_match_a_warmed_model() -> None:
    now = [NOW]
    lazy = MarketModel(seed=9, markets=30, clock=lambda: now[0])
    warmed = MarketModel(seed=9, markets=30, clock=lambda: now[0])
    while warmed.warm_up(30):
        pass
    for _ in range(300):
        now[0] += 0.25
        assert lazy.generate_trade() == warmed.generate_trade()
    assert lazy.take_changed_candles() == warmed.take_changed_candles()
    codes = lazy.market_codes()
    assert snapshot(lazy, codes) == snapshot(warmed, codes)


def test_seeded_trades_are_not_reported_as_changed_candles() -> None:
    model = MarketModel(seed=2, markets=10, clock=lambda: NOW)
    model.ticker("KRW-BTC")
    assert model.take_changed_candles() == []
    model.generate_trade("KRW-ETH")
    changed = model.take_changed_candles()
    assert {candle.market for candle in changed} == {"KRW-ETH"}
    assert sorted(candle.interval for candle in changed) == sorted(INTERVALS)


def test_warm_up_builds_the_given_number_of_markets() -> None:
    model = MarketModel(seed=2, markets=10, clock=lambda: NOW)
    assert model.unbuilt_markets() == 10
    model.ticker("KRW-ETH")  # the second market, built by its first read
    assert model.unbuilt_markets() == 9
    assert model.warm_up(0) and model.unbuilt_markets() == 9
    assert model.warm_up(3) and model.unbuilt_markets() == 6  # KRW-ETH is skipped, not counted
    assert not model.warm_up(100) and model.unbuilt_markets() == 0
