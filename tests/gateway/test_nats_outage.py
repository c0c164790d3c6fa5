"""A NATS outage after the start: reported in health, and everything resumes by itself."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway_harness import Collector, fast_config, fast_settings, unique_prefix, wait_until

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.remote import RemoteWebSocketManager
from upbit_tui.gateway.service import GatewayService


async def test_streams_resume_after_the_nats_server_restarts(sim: Any) -> None:
    prefix = unique_prefix()
    with LocalNatsServer() as server:  # its own server: this test stops it
        async with (
            GatewayService(
                fast_config(sim), nats_url=server.url, settings=fast_settings(prefix)
            ) as gateway,
            RemoteWebSocketManager(server.url, prefix=prefix, heartbeat=0.2) as remote,
        ):
            await gateway.wait_active()
            ticks = Collector()
            proxy = WebSocketClientProxy("bot", remote)
            await proxy.subscribe_ticker(["KRW-BTC", "KRW-ETH"], ticks)
            await ticks.wait_for(lambda c: len(c.events) >= 3)
            await asyncio.to_thread(server.stop)
            await wait_until(lambda: not remote.link_status()["nats_connected"], what="cut off")
            health = await proxy.health_check()
            assert health["status"] != "healthy"
            assert any("NATS unreachable" in r for r in health["reasons"])
            await asyncio.to_thread(server.start)
            seen = len(ticks.events)
            await ticks.wait_for(lambda c: len(c.events) >= seen + 3, within=20)
            assert proxy.subscriptions() == {"ticker": ["KRW-BTC", "KRW-ETH"]}
            await wait_until(lambda: remote.last_gateway_error is None, what="gateway answers")
            health = await proxy.health_check()
            assert not any("NATS unreachable" in r for r in health["reasons"])
