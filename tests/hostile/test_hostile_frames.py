"""Hostile frames on the public stream: no crash, nothing poisoned, the log stays readable."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp import web
from hostile_harness import hostile_config, wait_until, watching_ticker
from hostile_server import HostileServer, error_frame, nested_json, ticker_frame

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.net.auth import Credentials
from upbit_tui.net.metrics import HEALTHY
from upbit_tui.net.rest import UpbitApiError, UpbitRestClient

# Shaped like our tokens (a JWT whose payload carries the access key): never to be shown.
JWT = (
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJhY2Nlc3Nfa2V5IjoiYWNjZXNzLWtleS0xMjMiLCJub25jZSI6IjEifQ."
    "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)


async def test_an_implausible_timestamp_never_reaches_latency_statistics(
    hostile: HostileServer, rest_sim: Any
) -> None:
    seen: list[Any] = []
    async with (
        GlobalWebSocketManager(hostile_config(hostile, rest_sim)) as manager,
        watching_ticker(manager, seen=seen),
    ):
        await hostile.next_connection()
        await wait_until(lambda: bool(hostile.received), what="the subscription request")
        # One at a time, each delivered before the next: the router samples latency from the
        # first event of every batch.
        for frame in (10**17, None, -(10**15), None, 1, None):
            count = len(seen)
            await hostile.send_all(ticker_frame(timestamp=frame))
            await wait_until(lambda n=count: len(seen) > n, what="the ticker delivered")
        metrics = manager.metrics()
    assert metrics.implausible_timestamp_count == 3, metrics
    assert 0 <= metrics.average_latency_ms < 60_000, metrics.average_latency_ms
    assert abs(metrics.max_latency_ms) < 60_000
    assert metrics.status == HEALTHY, metrics.reasons


async def test_deeply_nested_json_is_one_malformed_frame_not_a_traceback(
    hostile: HostileServer, rest_sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []
    async with (
        GlobalWebSocketManager(hostile_config(hostile, rest_sim)) as manager,
        watching_ticker(manager, seen=seen),
    ):
        await hostile.next_connection()
        await wait_until(lambda: bool(hostile.received), what="the subscription request")
        with caplog.at_level(logging.DEBUG, logger="upbit_tui"):
            for _ in range(20):
                await hostile.send_all(nested_json(200_000))
            await hostile.send_all(ticker_frame())
            await wait_until(lambda: bool(seen), what="the ticker after the nested frames")
        metrics = manager.metrics()
        conn = manager.connections()["public"]
        assert metrics.malformed_message_count == 20
        assert conn.frame_errors == 0 and conn.epoch == 1  # no handler failure, no reconnect
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_timestamp_beyond_a_long_is_malformed_and_the_stream_goes_on(
    hostile: HostileServer, rest_sim: Any
) -> None:
    seen: list[Any] = []
    async with (
        GlobalWebSocketManager(hostile_config(hostile, rest_sim)) as manager,
        watching_ticker(manager, seen=seen),
    ):
        await hostile.next_connection()
        await wait_until(lambda: bool(hostile.received), what="the subscription request")
        # 10**400 decodes as a Python int; its latency arithmetic used to overflow in the
        # router and end the subscriber's delivery for good (0 of the later tickers arrived).
        await hostile.send_all(ticker_frame(timestamp=10**400))
        for _ in range(3):
            await hostile.send_all(ticker_frame())
        await wait_until(lambda: len(seen) == 3, what="the three good tickers")
        assert manager.metrics().malformed_message_count == 1


async def test_a_server_quoting_our_token_gets_it_nowhere(
    hostile: HostileServer, rest_sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    quoted = f"bad request, Authorization: Bearer {JWT}"
    async with (
        GlobalWebSocketManager(hostile_config(hostile, rest_sim)) as manager,
        watching_ticker(manager),
    ):
        await hostile.next_connection()
        await wait_until(lambda: bool(hostile.received), what="the subscription request")
        with caplog.at_level(logging.DEBUG, logger="upbit_tui"):
            await hostile.send_all(error_frame("INVALID_PARAM", quoted))
            await wait_until(lambda: bool(manager.last_error_frame), what="the error frame")
            await hostile.close_all(4000, f"go away {JWT[:100]}")
            conn = manager.connections()["public"]
            await wait_until(lambda: conn.epoch >= 2 and conn.is_live, what="the reconnect")
            seen_by_user = json.dumps(
                [manager.dashboard(), await manager.health_check(), manager.metrics().to_dict()],
                default=str,
            )
    assert "Bearer [redacted]" in seen_by_user
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in (seen_by_user, logged):
        assert "eyJ" not in text


async def test_a_rest_error_quoting_our_token_is_redacted(rest_sim: Any) -> None:
    async def refuse(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        error = {"name": "invalid_access_key", "message": f"rejected {header}; token {JWT}"}
        return web.json_response({"error": error}, status=401)

    app = web.Application()
    app.router.add_get("/v1/accounts", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        credentials = Credentials("access-key-123", "secret-key-456")
        async with UpbitRestClient(f"http://127.0.0.1:{port}", credentials=credentials) as rest:
            with pytest.raises(UpbitApiError) as raised:
                await rest.get_accounts()
    finally:
        await runner.cleanup()
    text = f"{raised.value} {raised.value.message!r} {raised.value!r}"
    assert "rejected Bearer [redacted]" in text
    assert "eyJ" not in text and "secret-key-456" not in text
