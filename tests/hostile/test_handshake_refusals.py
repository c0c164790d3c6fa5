"""Handshakes refused with 429/418: proportionate waits, Retry-After in every form, capped."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from hostile_harness import TIMEOUT_FACTOR, hostile_config, wait_until, watching_ticker
from hostile_server import HostileServer

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.net.metrics import CRITICAL
from upbit_tui.net.recovery import MAX_SERVER_WAIT

# A handshake on a busy machine takes a while: waits may run long by this much, never short.
SLACK = 0.75


def _waited(gap: float, expected: float) -> bool:
    return expected - 0.05 <= gap <= expected + SLACK * TIMEOUT_FACTOR


async def _gaps_until_accepted(hostile: HostileServer, refusals: int) -> list[float]:
    """Seconds between consecutive handshakes, up to the one accepted after `refusals`."""
    await hostile.next_connection(within=20 * TIMEOUT_FACTOR)
    times = hostile.handshakes[: refusals + 1]
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.parametrize("status", [429, 418])
async def test_refusal_without_retry_after_waits_a_second_not_a_minute(
    hostile: HostileServer, rest_sim: Any, status: int
) -> None:
    hostile.refuse_next(status, count=2)
    async with (
        GlobalWebSocketManager(hostile_config(hostile, rest_sim)) as manager,
        watching_ticker(manager),
    ):
        gaps = await _gaps_until_accepted(hostile, 2)
    # 1 s, then 2 s (jitter off): Upbit's connect limit is per second; it used to be 60 s each.
    assert _waited(gaps[0], 1.0) and _waited(gaps[1], 2.0), gaps


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("0", 0.0),  # now: only the configured backoff (0.01 s here)
        ("2", 2.0),
        ("-5", 1.0),  # unusable: the 1 s policy, not a minute
        ("soon", 1.0),
        ("1.5", 1.5),
    ],
)
async def test_retry_after_forms_are_obeyed(
    hostile: HostileServer, rest_sim: Any, retry_after: str, expected: float
) -> None:
    hostile.refuse_next(429, {"Retry-After": retry_after})
    # The first retry's own backoff is 0.01 s; a cap of 5 s shows a refusal that waited it.
    config = hostile_config(hostile, rest_sim, reconnect_max_delay=5.0)
    async with GlobalWebSocketManager(config) as manager, watching_ticker(manager):
        gaps = await _gaps_until_accepted(hostile, 1)
    assert _waited(gaps[0], expected), gaps


async def test_retry_after_as_an_http_date_is_obeyed(hostile: HostileServer, rest_sim: Any) -> None:
    # An HTTP-date has whole seconds: 3 s ahead means a wait between 2 and 3 s.
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3))
    hostile.refuse_next(418, {"Retry-After": when})
    async with (
        GlobalWebSocketManager(hostile_config(hostile, rest_sim)) as manager,
        watching_ticker(manager),
    ):
        gaps = await _gaps_until_accepted(hostile, 1)
    assert 1.9 <= gaps[0] <= 3.0 + SLACK * TIMEOUT_FACTOR, gaps


@pytest.mark.parametrize("retry_after", ["86400", "1e9", "inf"])
async def test_a_huge_retry_after_is_capped_and_reported_critical(
    hostile: HostileServer, rest_sim: Any, retry_after: str
) -> None:
    hostile.refuse_next(429, {"Retry-After": retry_after})
    async with (
        GlobalWebSocketManager(hostile_config(hostile, rest_sim)) as manager,
        watching_ticker(manager),
    ):
        conn = manager.connections()["public"]
        await wait_until(lambda: conn.recovery.server_wait_reason() is not None)
        assert conn.recovery.last_delay == MAX_SERVER_WAIT  # obeyed, but not for a day
        metrics = manager.metrics()
        assert metrics.status == CRITICAL
        reason = " ".join(metrics.reasons)
        assert "HTTP 429" in reason
        assert f"obeyed for {MAX_SERVER_WAIT:g} s" in reason
        assert "until " in reason
        # A reconnect the user asks for cuts the wait short, and the client comes back.
        await manager.reconnect()
        await hostile.next_connection(within=5 * TIMEOUT_FACTOR)
