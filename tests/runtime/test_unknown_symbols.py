"""A market that does not exist fails that one subscribe call and costs nobody else anything.

Upbit replaces a connection's whole subscription with every request and refuses a request that
names an unlisted market: without the market-list check, one component's typo would stop every
component's stream. Each test runs against the simulator (its market list, its request log).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from runtime_helpers import (
    TIMEOUT_FACTOR,
    Collector,
    fast_config,
    on_wire,
    requests_sent,
    synced,
    wait_until,
)

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.config import ExchangeConfig
from upbit_tui.net.markets import UnlistedSymbolError
from upbit_tui.net.ratelimit import GlobalRateLimiter
from upbit_tui.net.rest import UnknownSymbolError, UpbitRestClient


def codes_on_wire(sim: Any) -> set[str]:
    """Every market code in every request the simulator received on the public socket."""
    out: set[str] = set()
    for _, message in requests_sent(sim):
        for item in message:
            for code in item.get("codes") or ():
                out.add(code.split(".")[0])
    return out


async def more_events(collector: Collector, symbol: str, count: int = 3) -> None:
    """Wait until `count` more events of `symbol` arrive than have arrived so far."""
    before = sum(1 for e in collector.events if e.symbol == symbol)
    await collector.wait_for(
        lambda c: sum(1 for e in c.events if e.symbol == symbol) >= before + count
    )


def patient(manager: GlobalWebSocketManager) -> GlobalWebSocketManager:
    """Let the market-list check wait for the (loaded) simulator's answer: a check that gives
    up accepts the code, which these tests must tell apart from a wrong verdict."""
    manager.markets.wait = manager.markets.outage_wait = 10.0 * TIMEOUT_FACTOR
    return manager


class CountingRestProxy:
    """A pass-through HTTP server in front of the simulator's REST API that counts requests.

    Real sockets both ways: the client under test talks to it exactly as to Upbit.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.paths: Counter[str] = Counter()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        self.paths[request.path] += 1
        url = self.upstream + request.path_qs
        async with self._http.get(url, headers={"Accept": "application/json"}) as answer:
            body = await answer.read()
            headers = {
                k: v for k, v in answer.headers.items() if k in ("Remaining-Req", "Content-Type")
            }
            return web.Response(body=body, status=answer.status, headers=headers)

    async def __aenter__(self) -> CountingRestProxy:
        self._http = aiohttp.ClientSession(auto_decompress=True)
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()


@pytest.fixture
async def counted(sim: Any) -> AsyncIterator[CountingRestProxy]:
    async with CountingRestProxy(sim.rest_url) as proxy:
        yield proxy


# ---------------------------------------------------------------------------------- refusal


Subscribe = Callable[[WebSocketClientProxy, list[str], Collector], Awaitable[None]]

SUBSCRIBE_CALLS: dict[str, Subscribe] = {
    "ticker": lambda p, s, c: p.subscribe_ticker(s, c),
    "trade": lambda p, s, c: p.subscribe_trade(s, c),
    "orderbook": lambda p, s, c: p.subscribe_orderbook(s, c, depth=5),
    "candle": lambda p, s, c: p.subscribe_candle(s, "1m", c),
    "orders": lambda p, s, c: p.subscribe_orders(c, symbols=s),
}


@pytest.mark.parametrize("kind", list(SUBSCRIBE_CALLS))
async def test_unknown_code_fails_the_call_and_every_other_stream_keeps_flowing(
    sim: Any, kind: str
) -> None:
    async with GlobalWebSocketManager(fast_config(sim, keys=True)) as manager:
        patient(manager)
        chart = WebSocketClientProxy("chart", manager)
        ticks = Collector()
        await chart.subscribe_ticker(["KRW-BTC"], ticks)
        await ticks.wait_for(lambda c: "KRW-BTC" in c.symbols())

        typo = WebSocketClientProxy("typo", manager)
        wire_before = manager.consolidated_subscription()
        with pytest.raises(UnknownSymbolError) as info:
            await SUBSCRIBE_CALLS[kind](typo, ["KRW-ETH", "KRW-NOPE"], Collector())
        # The error names exactly the unknown code; the good one in the same call is not
        # subscribed either (nothing changed at all).
        assert info.value.symbols == ["KRW-NOPE"]
        assert str(info.value) == "KRW-NOPE is not listed on Upbit"
        assert typo.subscriptions() == {}
        assert manager.consolidated_subscription() == wire_before
        assert not [s for s in manager.subscriber_stats() if s["client_id"] == "typo"]

        # The other component's stream never stopped, and the bad code never reached Upbit.
        await more_events(ticks, "KRW-BTC")
        await synced(manager)
        assert "KRW-NOPE" not in codes_on_wire(sim)
        assert (await chart.health_check())["status"] == "healthy"

        # The same proxy can go on with good codes.
        good = Collector()
        await SUBSCRIBE_CALLS[kind](typo, ["KRW-ETH"], good)
        if kind != "orders":  # my orders only stream when I trade
            await good.wait_for(lambda c: "KRW-ETH" in c.symbols())
        await more_events(ticks, "KRW-BTC")
        assert "KRW-NOPE" not in codes_on_wire(sim)
        await chart.cleanup()
        await typo.cleanup()


async def test_every_unknown_code_is_named_and_close_matches_are_suggested(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    async with WebSocketClientProxy("watchlist", patient(manager)) as proxy:
        with pytest.raises(UnlistedSymbolError) as info:
            await proxy.subscribe_ticker(["KRW-BTCC"], Collector())
        assert str(info.value) == "KRW-BTCC is not listed on Upbit (did you mean KRW-BTC?)"
        assert info.value.suggestions == {"KRW-BTCC": ["KRW-BTC"]}

        with pytest.raises(UnlistedSymbolError) as info:
            await proxy.subscribe_trade(["krw-xrp", "krw-ethh", "BTC-KRW", "KRW-QQQQQ"], print)
        assert info.value.symbols == ["KRW-ETHH", "BTC-KRW", "KRW-QQQQQ"]
        assert info.value.suggestions["KRW-ETHH"] == ["KRW-ETH"]
        assert info.value.suggestions["BTC-KRW"][0] == "KRW-BTC"  # quote and base swapped
        assert info.value.suggestions["KRW-QQQQQ"] == []
        message = str(info.value)
        assert message.startswith("not listed on Upbit: KRW-ETHH (did you mean KRW-ETH?), ")
        assert "KRW-QQQQQ" in message and "KRW-XRP" not in message
        assert proxy.subscriptions() == {}
        assert manager.consolidated_subscription() == {}


# ---------------------------------------------------------------------------------- the list


async def test_the_market_list_is_fetched_once_for_many_subscribes(
    sim: Any, counted: CountingRestProxy
) -> None:
    config = dataclasses.replace(
        fast_config(sim),
        exchange=ExchangeConfig(
            websocket_url=sim.websocket_url,
            private_websocket_url=sim.private_websocket_url,
            rest_url=counted.url,
        ),
    )
    codes = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA", "KRW-TRX"]
    async with GlobalWebSocketManager(config) as manager:
        patient(manager)
        proxies = [WebSocketClientProxy(f"pane-{i}", manager) for i in range(len(codes))]
        collector = Collector()
        # Concurrent first subscribes share one request; later ones use the cached list.
        await asyncio.gather(
            *(p.subscribe_ticker([code], collector) for p, code in zip(proxies, codes, strict=True))
        )
        for proxy in proxies:
            await proxy.subscribe_trade(codes[:3], collector)
        with pytest.raises(UnknownSymbolError):  # a fresh list is trusted: no new request
            await proxies[0].subscribe_orderbook(["KRW-NOPE"], collector)
        assert counted.paths["/v1/market/all"] == 1
        assert manager.markets.fetches == 1
        assert manager.dashboard()["markets"]["listed"] == 20
        await collector.wait_for(lambda c: set(codes) <= c.symbols())

        # An unknown code asked for when the list is old is checked against a new list (a
        # market listed since start-up works without a restart).
        manager.markets.expire()
        with pytest.raises(UnknownSymbolError):
            await proxies[0].subscribe_orderbook(["KRW-NOPE"], collector)
        assert counted.paths["/v1/market/all"] == 2
        # Known codes never refresh it, however old.
        manager.markets.expire()
        await proxies[0].subscribe_orderbook(["KRW-BTC"], collector)
        assert counted.paths["/v1/market/all"] == 2
        for proxy in proxies:
            await proxy.cleanup()


async def test_a_rest_outage_does_not_block_subscribing(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    config = fast_config(sim)
    limiter = GlobalRateLimiter()
    # No REST-level retries: what is tested is that the check gives up and accepts.
    rest = UpbitRestClient(config, rate_limiter=limiter, max_retries=0)
    sim.faults.fail_rest(10_000, status=503)  # REST is down from the start
    caplog.set_level(logging.WARNING, logger="upbit_tui.net.markets")
    try:
        async with (
            GlobalWebSocketManager(config, rate_limiter=limiter, rest_client=rest) as m,
            WebSocketClientProxy("offline-start", m) as proxy,
        ):
            ticks = Collector()
            await proxy.subscribe_ticker(["KRW-BTC"], ticks)
            await proxy.subscribe_trade(["KRW-ETH"], ticks)  # no new attempt this soon
            await ticks.wait_for(lambda c: {"KRW-BTC", "KRW-ETH"} <= c.symbols())
            assert m.markets.fetches == 1
            assert m.dashboard()["markets"]["last_error"]  # codes go unchecked: says why
            warnings = [r for r in caplog.records if r.name == "upbit_tui.net.markets"]
            assert len(warnings) == 1, warnings
            assert "accepting them unchecked" in warnings[0].getMessage()

            # REST is back: a later call fetches the list again and checks for real.
            sim.faults.clear()
            patient(m).markets.retry_interval = 0.0
            with pytest.raises(UnknownSymbolError, match="KRW-NOPE"):
                await proxy.subscribe_ticker(["KRW-NOPE"], ticks)
            assert m.markets.fetches == 2
            await more_events(ticks, "KRW-BTC")
    finally:
        await rest.close()


async def test_a_market_list_slower_than_the_wait_does_not_block_subscribing(
    sim: Any,
) -> None:
    config = fast_config(sim)
    async with GlobalWebSocketManager(config) as m:
        m.markets.wait = 0.0  # nothing answers that fast: the check must not wait for it
        async with WebSocketClientProxy("impatient", m) as proxy:
            ticks = Collector()
            await proxy.subscribe_ticker(["KRW-BTC"], ticks)
            await ticks.wait_for(lambda c: "KRW-BTC" in c.symbols())
            # The fetch went on in the background and its answer is used from then on.
            await wait_until(lambda: m.markets.age is not None, what="market list fetched")
            patient(m)
            with pytest.raises(UnknownSymbolError):
                await proxy.subscribe_ticker(["KRW-NOPE"], ticks)
            assert m.markets.fetches == 1


# ---------------------------------------------------------------------------------- the server


async def test_a_code_the_server_refuses_is_dropped_from_the_wire_and_reported(
    sim: Any,
) -> None:
    config = fast_config(sim)
    limiter = GlobalRateLimiter()
    rest = UpbitRestClient(config, rate_limiter=limiter, max_retries=0)
    try:
        async with GlobalWebSocketManager(config, rate_limiter=limiter, rest_client=rest) as m:
            # With the market list unavailable codes cannot be checked: a bad one is accepted
            # and Upbit refuses the whole request (INVALID_PARAM).
            sim.faults.fail_rest(10_000, status=503)
            chart = WebSocketClientProxy("chart", m)
            ticks = Collector()
            await chart.subscribe_ticker(["KRW-BTC"], ticks)
            await ticks.wait_for(lambda c: "KRW-BTC" in c.symbols())
            typo = WebSocketClientProxy("typo", m)
            await typo.subscribe_ticker(["KRW-NOPE", "KRW-ETH"], ticks)
            await wait_until(lambda: "KRW-NOPE" in m.refused_codes, what="KRW-NOPE refused")

            # The rest of the union goes on the wire again, without the refused code.
            await on_wire(sim, {"ticker": {"KRW-BTC", "KRW-ETH"}})
            await ticks.wait_for(lambda c: "KRW-ETH" in c.symbols())
            await more_events(ticks, "KRW-BTC")
            health = await chart.health_check()
            assert health["status"] == "degraded"
            assert any("KRW-NOPE" in r and "refused" in r for r in health["reasons"])
            assert "KRW-NOPE" in m.dashboard()["refused_codes"]
            assert typo.subscriptions() == {"ticker": ["KRW-ETH", "KRW-NOPE"]}

            # The refused request is not sent again (the stream flows, nothing is probed).
            await synced(m)
            await more_events(ticks, "KRW-ETH", count=5)
            with_nope = [msg for _, msg in requests_sent(sim) if "KRW-NOPE" in json.dumps(msg)]
            assert len(with_nope) == 1

            # Once nobody holds the code it is forgotten, and health is clean again.
            await typo.unsubscribe_ticker(["KRW-NOPE"])
            sim.faults.clear()
            await wait_until(
                lambda: "KRW-NOPE" not in m.consolidated_subscription()["ticker"],
                what="KRW-NOPE out of the union (grace over)",
            )
            await synced(m)
            assert m.refused_codes == {}
            reasons = (await chart.health_check())["reasons"]
            assert not any("refused" in r for r in reasons), reasons
            await chart.cleanup()
            await typo.cleanup()
    finally:
        await rest.close()


async def test_a_refusal_ends_when_the_watchdog_resends_the_lost_request_and_it_streams(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A short silence makes the watchdog ask the server what it carries (LIST_SUBSCRIPTIONS).
    config = fast_config(sim, stale_after=0.4, ping_timeout=0.5)
    async with (
        GlobalWebSocketManager(config) as manager,
        WebSocketClientProxy("chart", manager) as chart,
    ):
        ticks = Collector()
        await chart.subscribe_ticker(["KRW-BTC", "KRW-ETH"], ticks)
        await ticks.wait_for(lambda c: {"KRW-BTC", "KRW-ETH"} <= c.symbols())
        assert manager.markets.fetches == 1
        caplog.set_level(logging.ERROR, logger="upbit_tui.client.refusals")
        # The server drops the subscription and says INVALID_PARAM without naming a code.
        sim.faults.forget_subscriptions(endpoint="public")
        sim.faults.send_error("INVALID_PARAM", "잘못된 요청입니다", endpoint="public")
        await wait_until(
            lambda: any("does not say which code" in r.getMessage() for r in caplog.records),
            what="the unexplained refusal logged",
        )
        # The market list was asked again; every code is listed, so none is dropped.
        assert manager.markets.fetches == 2
        assert manager.refused_codes == {}
        # The watchdog finds the server without our subscription and sends it again (issue 9:
        # it used to stay silent for good); the server accepts it and data flows again...
        public = manager.connections()["public"]
        await wait_until(lambda: public.resubscribes >= 1, what="the lost request re-sent")
        await more_events(ticks, "KRW-ETH")
        # ...which ends the refusal: health no longer says refused.
        await wait_until(
            lambda: not any("refused" in r for r in manager.metrics().reasons),
            what="the refusal ended",
        )


async def test_a_refusal_ends_when_the_same_request_streams_after_a_reconnect(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        GlobalWebSocketManager(fast_config(sim)) as manager,
        WebSocketClientProxy("chart", manager) as chart,
    ):
        ticks = Collector()
        await chart.subscribe_ticker(["KRW-BTC", "KRW-ETH"], ticks)
        await ticks.wait_for(lambda c: {"KRW-BTC", "KRW-ETH"} <= c.symbols())
        caplog.set_level(logging.ERROR, logger="upbit_tui.client.refusals")
        # One unsolicited error frame while data flows.
        sim.faults.send_error("INVALID_PARAM", "잘못된 요청입니다", endpoint="public")
        await wait_until(
            lambda: any("refused the subscription" in r for r in manager.metrics().reasons),
            what="health degraded by the refusal",
        )
        epoch = manager.epochs.current("public")
        sim.faults.drop_all(endpoint="public")
        await wait_until(lambda: manager.epochs.current("public") > epoch, what="a reconnect")
        await more_events(ticks, "KRW-BTC")  # the same request, accepted on the new socket
        health = await chart.health_check()
        assert not any("refused" in r for r in health["reasons"])


async def test_a_refused_request_stays_refused_while_no_data_comes(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        GlobalWebSocketManager(fast_config(sim)) as manager,
        WebSocketClientProxy("chart", manager) as chart,
    ):
        ticks = Collector()
        await chart.subscribe_ticker(["KRW-BTC", "KRW-ETH"], ticks)
        await ticks.wait_for(lambda c: {"KRW-BTC", "KRW-ETH"} <= c.symbols())
        caplog.set_level(logging.ERROR, logger="upbit_tui.client.refusals")
        sim.faults.forget_subscriptions(endpoint="public")  # nothing streams any more
        sim.faults.send_error("INVALID_PARAM", "잘못된 요청입니다", endpoint="public")
        await wait_until(
            lambda: any("refused the subscription" in r for r in manager.metrics().reasons),
            what="health degraded by the refusal",
        )
        for _ in range(5):  # health is read again and again; no data, no acceptance
            assert any("refused the subscription" in r for r in manager.metrics().reasons)
            await asyncio.sleep(0.05)

        # A change of subscription is a new request: sent, and everything streams again.
        await chart.subscribe_ticker(["KRW-XRP"], ticks)
        await on_wire(sim, {"ticker": {"KRW-BTC", "KRW-ETH", "KRW-XRP"}})
        await more_events(ticks, "KRW-ETH")
        await more_events(ticks, "KRW-XRP")
        # (The error frame itself still counts in the error rate for a while.)
        assert not any("refused" in r for r in (await chart.health_check())["reasons"])
