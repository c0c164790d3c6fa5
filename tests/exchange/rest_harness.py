"""Helpers for the simulator's REST tests: signed calls with a plain aiohttp session.

The signing here is written from Upbit's auth docs, independent of the app's client: the
``query_hash`` covers the query exactly as sent (GET/DELETE) or the JSON body rendered
``k=v&k2=v2`` (POST).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote, urlencode

import aiohttp
import pytest
from sim_harness import API_KEYS, FIXED_NOW, token

from upbit_tui.exchange import ExchangeServer

Params = list[tuple[str, str]]


class Rest:
    """A running simulator and a session pointed at its REST base."""

    def __init__(self, sim: ExchangeServer, session: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        body: dict[str, str] | None = None,
        *,
        signed: bool = True,
    ) -> tuple[int, Any]:
        """One request; the answer's JSON (or its text when it is not JSON)."""
        headers = {}
        if signed:
            if body is not None:
                query = "&".join(f"{k}={v}" for k, v in body.items())
            else:
                query = unquote(urlencode(params or []))
            extra = {}
            if query:
                extra = {
                    "query_hash": hashlib.sha512(query.encode()).hexdigest(),
                    "query_hash_alg": "SHA512",
                }
            headers["Authorization"] = f"Bearer {token(**extra)}"
        url = self.sim.rest_url + path
        async with self.session.request(
            method, url, params=params, json=body, headers=headers
        ) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text


@pytest.fixture
async def rest() -> AsyncIterator[Rest]:
    """A quiet exchange on a fixed clock, no automatic trades, no rate limits."""
    async with (
        ExchangeServer(
            seed=3,
            markets=10,
            rate=0.0,
            api_keys=API_KEYS,
            clock=lambda: FIXED_NOW,
            candle_interval=3600.0,
            rate_limits=False,
        ) as sim,
        aiohttp.ClientSession() as session,
    ):
        yield Rest(sim, session)


def best_prices(sim: ExchangeServer, market: str) -> tuple[float, float]:
    """(best bid, best ask) of `market` now."""
    book = sim.model.orderbook(market, depth=1)
    assert book is not None
    unit = book.orderbook_units[0]
    return unit.bid_price, unit.ask_price


def plain(value: float) -> str:
    """A price as a client sends it: "118000000", not "1.18e8"."""
    return f"{value:f}".rstrip("0").rstrip(".")
