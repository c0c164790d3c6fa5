"""A market Upbit does not list is a usage error: exit 2, one line naming it, nothing streamed.

Before the market-list check such a code went on the wire with the good ones, Upbit refused the
whole request, and the run waited forever for events that never came.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from headless_harness import assert_clean_stderr, headless, write_config


def codes_requested(sim: Any) -> set[str]:
    """Every market code any request to the simulator's public socket carried."""
    out: set[str] = set()
    for session in sim.stats()["connections"]["items"]:
        for request in session["requests"]:
            for item in json.loads(request["message"]):
                out.update(c.split(".")[0] for c in item.get("codes") or ())
    return out


@pytest.mark.parametrize(
    ("symbols", "line"),
    [
        ("KRW-NOPE,KRW-BTC", "upbit-tui headless: --symbols: KRW-NOPE is not listed on Upbit"),
        (
            "KRW-BTC,krw-btcc",
            "upbit-tui headless: --symbols: KRW-BTCC is not listed on Upbit "
            "(did you mean KRW-BTC?)",
        ),
    ],
)
async def test_unknown_symbol_exits_2_with_one_line_before_streaming(
    tmp_path: Path, sim: Any, symbols: str, line: str
) -> None:
    config = write_config(tmp_path / "c.toml", sim, logging={"level": "WARNING"})
    args = ("--config", str(config), "--symbols", symbols, "--types", "ticker,trade")
    async with headless(*args, "--count", "5") as run:
        out = await run.read_rest()
        assert await run.wait() == 2
    assert out == []
    assert run.stderr.splitlines() == [line]
    assert_clean_stderr(run.stderr)
    assert codes_requested(sim) == set()  # nothing was subscribed, not even KRW-BTC


async def test_unknown_symbol_in_the_watchlist_names_the_config(tmp_path: Path, sim: Any) -> None:
    config = write_config(
        tmp_path / "c.toml",
        sim,
        watchlist={"symbols": ["KRW-ETH", "KRW-XRPP"]},
        logging={"level": "WARNING"},
    )
    async with headless("--config", str(config), "--types", "orderbook", "--count", "5") as run:
        out = await run.read_rest()
        assert await run.wait() == 2
    assert out == []
    assert run.stderr.splitlines() == [
        f"upbit-tui headless: {config}: [watchlist] symbols: KRW-XRPP is not listed on Upbit "
        "(did you mean KRW-XRP?)"
    ]


async def test_known_symbols_still_stream_while_the_market_list_is_unavailable(
    tmp_path: Path, sim: Any
) -> None:
    # REST is down: the codes cannot be checked, so they are accepted (with one warning).
    sim.faults.fail_rest(10_000, status=503)
    config = write_config(tmp_path / "c.toml", sim, logging={"level": "WARNING"})
    args = ("--config", str(config), "--symbols", "KRW-BTC", "--types", "ticker")
    async with headless(*args, "--count", "3") as run:
        events = await run.read_rest(within=30)
        assert await run.wait(within=30) == 0
    assert [e["code"] for e in events] == ["KRW-BTC"] * 3
    assert "accepting them unchecked" in run.stderr
    assert_clean_stderr(run.stderr)
