"""The server builds every market's seeded past in the background, without a request."""

from __future__ import annotations

import asyncio

from sim_harness import FIXED_NOW, TIMEOUT

from upbit_tui.exchange import ExchangeServer


async def test_server_warms_up_every_market_in_the_background() -> None:
    async with ExchangeServer(seed=3, markets=60, rate=0, clock=lambda: FIXED_NOW) as sim:
        await asyncio.wait_for(sim.warmed_up.wait(), TIMEOUT)
        assert sim.model.unbuilt_markets() == 0
        assert sim.model.take_changed_candles() == []  # the past is not pushed as news


async def test_build_markets_builds_the_named_markets_and_skips_unknown_codes() -> None:
    async with ExchangeServer(seed=3, markets=60, rate=0, clock=lambda: FIXED_NOW) as sim:
        assert sim.model.unbuilt_markets() == 60  # the warm-up task has not run yet
        await sim.build_markets(["KRW-SIM020", "KRW-NOPE", "KRW-BTC"])
        assert not sim.model.ensure_built("KRW-SIM020")  # already built: nothing to do
        assert not sim.model.ensure_built("KRW-BTC")
        assert not sim.model.ensure_built("KRW-NOPE")  # not listed
