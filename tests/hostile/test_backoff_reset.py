"""The backoff restarts after a connection that delivered data, however short its life; a server
that accepts and drops at once (no data) keeps the client backing off."""

from __future__ import annotations

import itertools
import time
from typing import Any

from hostile_harness import TIMEOUT_FACTOR, hostile_config, wait_until, watching_ticker
from hostile_server import HostileServer
from websockets.asyncio.server import ServerConnection

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.exchange import ExchangeServer


async def test_a_fault_every_few_moments_recovers_as_fast_as_from_calm() -> None:
    async with ExchangeServer(seed=1, markets=5, rate=300.0, host="127.0.0.1", port=0) as sim:
        # Backoff 0.05 s doubling to 5 s, reset only after 30 s of uptime: what used to make
        # the sixth close in a row wait 1.6 s (and a minute with the default timings).
        config = hostile_config(
            sim.websocket_url,
            sim,
            reconnect_initial_delay=0.05,
            reconnect_max_delay=5.0,
            reconnect_reset_after=30.0,
        )
        seen: list[Any] = []
        async with (
            GlobalWebSocketManager(config) as manager,
            watching_ticker(manager, *sim.model.market_codes(), seen=seen),
        ):
            conn = manager.connections()["public"]
            recoveries = []
            await wait_until(lambda: conn.is_live, what="the first connection")
            for _ in range(7):
                epoch = conn.epoch
                await wait_until(
                    lambda e=epoch: any(s.epoch == e for s in seen[-50:]), what=f"data at {epoch}"
                )
                closed = time.monotonic()
                assert sim.faults.close_all(1001, "going away", endpoint="public") == 1
                await wait_until(
                    lambda e=epoch: conn.epoch > e and conn.is_live, within=10, what="reconnect"
                )
                recoveries.append(time.monotonic() - closed)
            assert conn.recovery.attempts <= 1, recoveries
            # The 7th close in a row took 3.2 s before the reset (it doubles from 0.05 s).
            assert max(recoveries) < 1.0 * TIMEOUT_FACTOR, recoveries


async def test_a_server_that_accepts_and_drops_at_once_keeps_the_backoff_growing(
    rest_sim: Any,
) -> None:
    async def drop_at_once(conn: ServerConnection, server: HostileServer) -> None:
        await conn.recv()  # the subscription request, then nothing but a close
        await conn.close(1001, "going away")

    async with HostileServer(on_connect=drop_at_once) as hostile:
        config = hostile_config(
            hostile, rest_sim, reconnect_initial_delay=0.05, reconnect_max_delay=5.0
        )
        async with GlobalWebSocketManager(config) as manager, watching_ticker(manager):
            await wait_until(lambda: len(hostile.accepted_at) >= 5, within=10)
        gaps = [b - a for a, b in itertools.pairwise(hostile.accepted_at)]
    # 0.05, 0.1, 0.2, 0.4 s (plus the time to connect): growing, never reset.
    assert gaps[3] > 0.35, gaps
    assert gaps[0] < gaps[3]
