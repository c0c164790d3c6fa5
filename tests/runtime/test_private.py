"""The private side: JWT on the handshake, seeded balances, myAsset/myOrder, REST fallback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from runtime_helpers import (
    ACCESS,
    SECRET,
    Collector,
    fast_config,
    on_wire,
    sessions,
    wait_until,
)

from upbit_tui.client.manager import GlobalWebSocketManager, PrivateUnavailableError
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.exchange import ExchangeServer
from upbit_tui.exchange.ticks import round_price
from upbit_tui.net.connection import ConnectionState
from upbit_tui.wire.events import BalanceEvent, OrderEvent, StreamType

PRIVATE_WIRE = {"myAsset": set(), "myOrder": set()}


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with ExchangeServer(
        seed=5, markets=20, rate=20.0, port=0, api_keys={ACCESS: SECRET}
    ) as server:
        yield server


@pytest.fixture(params=["http", "error"])
async def refusing_sim(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Bad tokens refused with HTTP 401 at the handshake, or with INVALID_AUTH after it."""
    async with ExchangeServer(
        seed=5,
        markets=20,
        rate=20.0,
        port=0,
        api_keys={ACCESS: SECRET},
        private_auth_failure=request.param,
    ) as server:
        yield server


def place_bid(sim: Any) -> Any:
    """A resting limit bid well below the market (locks KRW, does not fill)."""
    price = round_price(sim.model.ticker("KRW-BTC").trade_price * 0.8)
    return sim.model.place_order(ACCESS, "KRW-BTC", "bid", "limit", price=price, volume=0.001)


def sim_balances(sim: Any) -> dict[str, tuple[float, float]]:
    return {b.currency: (b.balance, b.locked) for b in sim.model.accounts(ACCESS)}


def event_balances(event: BalanceEvent) -> dict[str, tuple[float, float]]:
    return {a.currency: (a.balance, a.locked) for a in event.assets}


def merged_balances(events: list[BalanceEvent]) -> dict[str, tuple[float, float]]:
    """What a subscriber knows after applying every event (updates may list changes only)."""
    known: dict[str, tuple[float, float]] = {}
    for event in events:
        known.update(event_balances(event))
    return {c: v for c, v in known.items() if v != (0.0, 0.0) or c == "KRW"}


async def test_without_keys_private_is_unavailable_and_public_keeps_working(sim: Any) -> None:
    async with GlobalWebSocketManager(fast_config(sim)) as manager:
        ticks = Collector()
        proxy = WebSocketClientProxy("portfolio", manager)
        assert not proxy.is_private_available()
        reason = proxy.private_unavailable_reason
        assert reason is not None and "UPBIT_ACCESS_KEY" in reason
        with pytest.raises(PrivateUnavailableError, match="UPBIT_ACCESS_KEY"):
            await proxy.subscribe_balance(Collector())
        await proxy.subscribe_ticker(["KRW-BTC"], ticks)
        await ticks.wait_for(lambda c: len(c.events) >= 1)
        health = await proxy.health_check()
        assert health["private"]["available"] is False
        assert health["status"] == "healthy"
        assert sim.stats()["connections"]["open_private"] == 0
        await proxy.cleanup()


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the test key
async def test_jwt_is_hs512_with_a_fresh_nonce_and_never_shows_the_secret(sim: Any) -> None:
    async with GlobalWebSocketManager(fast_config(sim, keys=True)) as manager:
        tokens = [manager._auth_headers()["Authorization"].removeprefix("Bearer ") for _ in "ab"]
        assert all(jwt.get_unverified_header(t)["alg"] == "HS512" for t in tokens)
        payloads = [jwt.decode(t, SECRET, algorithms=["HS512"]) for t in tokens]
        assert {p["access_key"] for p in payloads} == {ACCESS}
        assert payloads[0]["nonce"] != payloads[1]["nonce"]
        text = repr(manager.config) + repr(await manager.health_check()) + repr(manager.dashboard())
        assert SECRET not in text


async def test_balances_and_orders_match_the_simulators_accounts(sim: Any) -> None:
    async with GlobalWebSocketManager(fast_config(sim, keys=True)) as manager:
        balances, orders = Collector(), Collector()
        proxy = WebSocketClientProxy("wallet", manager)
        assert proxy.is_private_available()
        await proxy.subscribe_balance(balances)
        await proxy.subscribe_orders(orders)
        # myAsset has no snapshot: the first balance comes from REST /v1/accounts.
        await balances.wait_for(lambda c: len(c.events) >= 1)
        seed = balances.events[0]
        assert isinstance(seed, BalanceEvent) and seed.stream_type == StreamType.REST
        assert event_balances(seed) == sim_balances(sim)
        await on_wire(sim, PRIVATE_WIRE, endpoint="private")
        (session,) = [s for s in sessions(sim, "private") if s["open"]]
        assert session["access_key"] == ACCESS  # the simulator verified our HS512 token

        order = place_bid(sim)
        await orders.wait_for(lambda c: any(e.uuid == order.uuid for e in c.events))
        event = next(e for e in orders.events if e.uuid == order.uuid)
        assert isinstance(event, OrderEvent) and event.state == "wait"
        assert event.stream_type == StreamType.REALTIME and event.symbol == "KRW-BTC"
        await balances.wait_for(
            lambda c: (
                event_balances(c.events[-1]) == sim_balances(sim)
                and c.events[-1].stream_type == StreamType.REALTIME
            )
        )
        assert sim_balances(sim)["KRW"][1] > 0  # the bid locked KRW, and we saw it
        await proxy.cleanup()


async def test_bad_keys_fall_back_to_rest_then_return_to_websocket(refusing_sim: Any) -> None:
    sim = refusing_sim
    config = fast_config(sim, keys=True, secret="not-the-secret")
    async with GlobalWebSocketManager(config) as manager:
        balances = Collector()
        proxy = WebSocketClientProxy("wallet", manager)
        await proxy.subscribe_balance(balances)
        await wait_until(lambda: "private" in manager.connections(), what="private conn")
        conn = manager.connections()["private"]
        # 401 at the handshake, or INVALID_AUTH after it: both mean "keys refused".
        await wait_until(
            lambda: (
                conn.state is ConnectionState.UNAUTHORIZED
                and manager.private_degraded_reason is not None
            ),
            what="unauthorized + fallback",
        )
        health = await proxy.health_check()
        assert health["status"] == "degraded"
        assert health["private"]["mode"] == "rest-fallback"
        expected = "401" if sim.private_auth_failure == "http" else "INVALID_AUTH"
        assert any(expected in r for r in health["reasons"]), health["reasons"]
        assert "not-the-secret" not in repr(health) + repr(manager.dashboard())

        await manager.update_credentials(ACCESS, SECRET)
        await wait_until(lambda: conn.is_live, what="private live again")
        await wait_until(lambda: manager.private_degraded_reason is None, what="no fallback")
        await balances.wait_for(lambda c: merged_balances(c.events) == sim_balances(sim))
        place_bid(sim)
        await balances.wait_for(
            lambda c: (
                c.events[-1].stream_type == StreamType.REALTIME
                and merged_balances(c.events) == sim_balances(sim)
            )
        )
        assert (await proxy.health_check())["private"]["mode"] == "websocket"
        await proxy.cleanup()


async def test_a_failing_private_socket_switches_to_rest_polling_and_back(sim: Any) -> None:
    async with GlobalWebSocketManager(fast_config(sim, keys=True)) as manager:
        orders, balances = Collector(), Collector()
        proxy = WebSocketClientProxy("wallet", manager)
        sim.faults.reject_handshakes(1000, status=429)
        await proxy.subscribe_orders(orders, ["KRW-BTC"])
        await proxy.subscribe_balance(balances)
        await wait_until(
            lambda: manager.private_degraded_reason is not None, within=15, what="fallback"
        )
        # Same event types, now from REST polling.
        order = place_bid(sim)
        await orders.wait_for(lambda c: any(e.uuid == order.uuid for e in c.events))
        polled = next(e for e in orders.events if e.uuid == order.uuid)
        assert isinstance(polled, OrderEvent) and polled.stream_type == StreamType.REST
        await balances.wait_for(lambda c: merged_balances(c.events) == sim_balances(sim))
        assert balances.events[-1].stream_type == StreamType.REST
        sim.faults.clear()
        await wait_until(lambda: manager.private_degraded_reason is None, within=15, what="back")
        second = place_bid(sim)
        await orders.wait_for(lambda c: any(e.uuid == second.uuid for e in c.events))
        live = [e for e in orders.events if e.uuid == second.uuid]
        assert live[0].stream_type == StreamType.REALTIME
        await proxy.cleanup()


async def test_debug_logging_never_shows_the_keys_or_the_token(
    sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with GlobalWebSocketManager(fast_config(sim, keys=True)) as manager:
        proxy = WebSocketClientProxy("wallet", manager)
        await proxy.subscribe_orders(Collector())
        await on_wire(sim, {"myOrder": set()}, endpoint="private")
        await proxy.cleanup()
    assert "Authorization" not in caplog.text and "Bearer" not in caplog.text
    assert ACCESS not in caplog.text and SECRET not in caplog.text
