"""Leases and restarts: wishes die with their holder; clients resume by themselves."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from gateway_harness import (
    Collector,
    assert_trades_exact,
    fast_config,
    fast_settings,
    gateway_config_file,
    live_subscription,
    public_connections_opened,
    start_consumer,
    start_gateway,
    wait_until,
)

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.remote import RemoteWebSocketManager
from upbit_tui.gateway.service import GatewayService


async def test_wishes_of_a_killed_client_expire(
    gateway: GatewayService, sim: Any, nats_server: LocalNatsServer, prefix: str
) -> None:
    stays = Collector()
    async with RemoteWebSocketManager(nats_server.url, prefix=prefix, heartbeat=0.2) as local:
        proxy = WebSocketClientProxy("stays", local)
        await proxy.subscribe_ticker("KRW-BTC", stays)
        child = await start_consumer(nats_server.url, prefix, "--tickers", "KRW-DOGE,KRW-BTC")
        try:
            await child.wait_line(lambda lines: "K KRW-DOGE" in lines)
            assert live_subscription(sim)["ticker"] == {"KRW-BTC", "KRW-DOGE"}
            assert len(gateway.status()["clients"]) == 2
            child.kill()  # SIGKILL: no goodbye, only the missing heartbeats tell
            killed_at = time.monotonic()
            await wait_until(
                lambda: live_subscription(sim).get("ticker") == {"KRW-BTC"},
                what="the killed client's KRW-DOGE leaves the wire",
            )
            # Expired by the lease (3 s here), not at once, and not never.
            assert time.monotonic() - killed_at >= 2.0
            assert [c["name"] for c in gateway.status()["clients"]] != ["consumer"]
        finally:
            await child.close()
        seen = len(stays.events)
        await stays.wait_for(lambda c: len(c.events) > seen + 2)


async def test_clients_resume_by_themselves_after_the_gateway_is_killed(
    sim: Any, nats_server: LocalNatsServer, prefix: str, tmp_path: Path
) -> None:
    config = gateway_config_file(tmp_path, sim)
    first = await start_gateway(config, nats_server.url, prefix, "gw-1")
    second = None
    trades = Collector()
    try:
        async with RemoteWebSocketManager(nats_server.url, prefix=prefix, heartbeat=0.2) as remote:
            proxy = WebSocketClientProxy("bot", remote)
            await wait_until(lambda: remote.gateway.get("gateway") == "gw-1", what="gw-1 serves")
            await proxy.subscribe_trade(["KRW-BTC", "KRW-ETH"], trades)
            await trades.wait_for(lambda c: len(c.events) >= 5)
            first.kill()
            await first.process.wait()
            second = await start_gateway(config, nats_server.url, prefix, "gw-2")
            await wait_until(lambda: remote.gateway.get("gateway") == "gw-2", what="gw-2 serves")
            seen = len(trades.events)
            # Nothing but the remote manager's own heartbeat re-sent the wishes.
            await trades.wait_for(lambda c: len(c.events) >= seen + 5)
            assert remote.gateway_switches == 1
            await wait_until(
                lambda: live_subscription(sim).get("trade") == {"KRW-BTC", "KRW-ETH"},
                what="the wishes on gw-2's socket",
            )
            seen = len(trades.events)
            await trades.wait_for(lambda c: len(c.events) >= seen + 5)  # live ones, after the gap
            # The trades made while no gateway ran were fetched once by the new one.
            assert_trades_exact(sim, trades.events, ["KRW-BTC", "KRW-ETH"])
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_standby_takes_over_when_the_active_gateway_is_killed(
    sim: Any, nats_server: LocalNatsServer, prefix: str, tmp_path: Path
) -> None:
    config = gateway_config_file(tmp_path, sim)
    active = await start_gateway(config, nats_server.url, prefix, "gw-active")
    standby = None
    trades = Collector()
    try:
        async with RemoteWebSocketManager(nats_server.url, prefix=prefix, heartbeat=0.2) as remote:
            proxy = WebSocketClientProxy("bot", remote)
            await wait_until(lambda: remote.gateway.get("gateway") == "gw-active")
            standby = await start_gateway(config, nats_server.url, prefix, "gw-standby")
            await proxy.subscribe_trade("KRW-BTC", trades)
            await trades.wait_for(lambda c: len(c.events) >= 5)
            before = public_connections_opened(sim)
            assert before == 1, "the standby must not open Upbit connections while standing by"
            active.kill()
            killed_at = time.monotonic()
            made_before = sim.stats()["markets"]["KRW-BTC"]["last_sequential_id"]
            # Events flow again: a trade made after the kill arrives (through the standby).
            await trades.wait_for(lambda c: c.events[-1].sequential_id > made_before)
            took = time.monotonic() - killed_at
            assert took < 5.0, f"events flowed again only after {took:.1f} s"
            await wait_until(lambda: remote.gateway.get("gateway") == "gw-standby")
            assert_trades_exact(sim, trades.events, ["KRW-BTC"])
    finally:
        await active.close()
        if standby is not None:
            await standby.close()


async def test_gateways_with_different_active_ttls_share_the_lease(
    sim: Any, nats_server: LocalNatsServer, prefix: str
) -> None:
    for active_ttl in (1.0, 2.0):  # the second binds the bucket the first made
        settings = fast_settings(prefix, active_ttl=active_ttl)
        async with GatewayService(
            fast_config(sim), nats_url=nats_server.url, settings=settings
        ) as gw:
            async with asyncio.timeout(10):
                await gw.wait_active()
