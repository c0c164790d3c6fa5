"""Headless `balance,orders` after trades on BTC- and USDT-quoted markets: the JSON lines carry
the quote currencies' balances to every digit the exchange sent, and myOrder the quote market's
code."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from headless_harness import TIMEOUT_FACTOR, assert_clean_stderr, clean_env, headless, write_config

from upbit_tui.exchange import ExchangeServer

ACCESS, SECRET = "test-access", "test-secret"
FIXED_NOW = 1_787_728_554.797  # the same prices every run


def subscribed_to_my_assets(sim: Any) -> bool:
    return any(
        session["endpoint"] == "private"
        and session["open"]
        and any(item["type"] == "myAsset" for item in session["subscription"] or ())
        for session in sim.stats()["connections"]["items"]
    )


async def until_subscribed(sim: Any) -> None:
    """Poll the simulator's view (no event to await there) until myAsset is applied."""
    async with asyncio.timeout(10 * TIMEOUT_FACTOR):
        while True:
            if subscribed_to_my_assets(sim):
                return
            await asyncio.sleep(0.02)


async def test_balance_and_order_lines_follow_btc_and_usdt_market_trades(tmp_path: Path) -> None:
    async with ExchangeServer(
        seed=2,
        markets=10,
        btc_markets=8,
        usdt_markets=8,
        rate=0.0,
        clock=lambda: FIXED_NOW,
        host="127.0.0.1",
        port=0,
        api_keys={ACCESS: SECRET},
    ) as sim:
        config = write_config(tmp_path / "c.toml", sim)
        env = clean_env(UPBIT_ACCESS_KEY=ACCESS, UPBIT_SECRET_KEY=SECRET)
        async with headless("--config", str(config), "--types", "balance,orders", env=env) as run:
            (seed,) = await run.read_events(1)
            assert seed["type"] == "myAsset"
            assert {"BTC", "USDT"} <= {a["currency"] for a in seed["assets"]}
            await until_subscribed(sim)

            ask = sim.model.orderbook("BTC-ETH", depth=1).orderbook_units[0].ask_price
            bought = sim.model.place_order(ACCESS, "BTC-ETH", "bid", "limit", ask, 0.25)
            sold = sim.model.place_order(ACCESS, "USDT-BTC", "ask", "market", volume=0.003)
            held = {
                b.currency: (float(b.balance), float(b.locked))
                for b in sim.model.ledger.exact_accounts(ACCESS)
            }
            known: dict[str, tuple[float, float]] = {}
            done: dict[str, str] = {}
            while known != held or len(done) < 2:
                (line,) = await run.read_events(1)
                if line["type"] == "myAsset":
                    known.update(
                        {a["currency"]: (a["balance"], a["locked"]) for a in line["assets"]}
                    )
                elif line["state"] == "done":
                    done[line["uuid"]] = line["code"]
        assert done == {bought.uuid: "BTC-ETH", sold.uuid: "USDT-BTC"}
        assert len(repr(known["BTC"][0])) > len("0.12345678")  # a BTC fee's digits, not cut
        assert_clean_stderr(run.stderr)
