"""Trades whose sequential_id is out of order, as Upbit allows (issue 9 item 2).

Upbit: sequential_id identifies a trade uniquely but "체결의 순서를 보장하지는 못합니다". The
option sends a seeded share of trades with an id below the previous one, still unique.
"""

from __future__ import annotations

import argparse

import pytest
from sim_harness import API_KEYS, FIXED_NOW, recv, send, subscription, sync
from websockets.asyncio.client import connect

from upbit_tui.exchange import ExchangeServer, MarketModel
from upbit_tui.exchange.cli import add_exchange_parser


def _ids(model: MarketModel, count: int) -> list[int]:
    return [model.generate_trade().sequential_id for _ in range(count)]


def _drops(ids: list[int]) -> int:
    """Trades whose id is below the highest id delivered before them."""
    highest, drops = 0, 0
    for sid in ids:
        if sid < highest:
            drops += 1
        highest = max(highest, sid)
    return drops


def test_by_default_a_few_ids_are_out_of_order_and_zero_turns_it_off() -> None:
    ids = _ids(MarketModel(seed=3, markets=5, clock=lambda: FIXED_NOW), 2_000)
    assert len(set(ids)) == len(ids)
    assert 40 < _drops(ids) < 200  # about 5 %: every client meets Upbit's weaker promise
    strict = MarketModel(seed=3, markets=5, clock=lambda: FIXED_NOW, out_of_order_ids=0.0)
    assert _drops(_ids(strict, 2_000)) == 0


def test_out_of_order_ids_are_unique_some_out_of_order_and_seeded() -> None:
    def run(seed: int) -> list[int]:
        model = MarketModel(seed=seed, markets=5, clock=lambda: FIXED_NOW, out_of_order_ids=0.2)
        return _ids(model, 3_000)

    ids = run(3)
    assert len(set(ids)) == len(ids)
    assert 300 < _drops(ids) < 900  # about a fifth, on a frozen clock (one millisecond)
    assert run(3) == ids
    assert run(4) != ids


def test_out_of_order_ids_stay_unique_as_the_clock_moves() -> None:
    now = [FIXED_NOW]

    def clock() -> float:
        now[0] += 0.0007
        return now[0]

    model = MarketModel(seed=5, markets=3, clock=clock, out_of_order_ids=0.5)
    trades = [model.generate_trade() for _ in range(3_000)]
    ids = [t.sequential_id for t in trades]
    assert len(set(ids)) == len(ids) and _drops(ids) > 1_000
    # an id never names a later millisecond than its trade's
    assert all(t.sequential_id // 10_000 <= t.trade_timestamp for t in trades)


def test_the_share_must_be_a_fraction() -> None:
    with pytest.raises(ValueError):
        MarketModel(seed=1, markets=1, out_of_order_ids=1.5)


def test_the_exchange_flag_sets_the_share() -> None:
    parser = argparse.ArgumentParser()
    add_exchange_parser(parser.add_subparsers())
    assert parser.parse_args(["exchange"]).out_of_order_ids == 0.05
    assert parser.parse_args(["exchange", "--out-of-order-ids", "0.1"]).out_of_order_ids == 0.1
    with pytest.raises(SystemExit):
        parser.parse_args(["exchange", "--out-of-order-ids", "2"])


async def test_the_websocket_delivers_ids_out_of_order() -> None:
    async with ExchangeServer(
        seed=2, markets=3, rate=0.0, api_keys=API_KEYS, clock=lambda: FIXED_NOW,
        candle_interval=3600.0, out_of_order_ids=0.3,
    ) as sim:  # fmt: skip
        async with connect(sim.websocket_url) as ws:
            request = {"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True}
            await send(ws, subscription(request))
            await sync(ws)
            made = sim.generate_trades(200, "KRW-BTC")
            received = [(await recv(ws))["sequential_id"] for _ in made]
        assert received == [t.sequential_id for t in made]
        assert len(set(received)) == 200 and _drops(received) > 20
