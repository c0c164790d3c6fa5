"""The ExchangeServer as a whole: URLs, automatic trades, the firehose, the CLI."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import pytest
from sim_harness import TIMEOUT, recv, send, subscription, sync
from websockets.asyncio.client import connect

from upbit_tui.exchange import ExchangeServer

_SCRIPT = Path(sys.executable).with_name("upbit-tui")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "upbit_tui"]


async def test_urls_point_at_one_port() -> None:
    async with ExchangeServer(rate=0.0, markets=2) as sim:
        assert sim.port > 0
        assert sim.websocket_url == f"ws://127.0.0.1:{sim.port}/websocket/v1"
        assert sim.private_websocket_url == f"ws://127.0.0.1:{sim.port}/websocket/v1/private"
        assert sim.rest_url == f"http://127.0.0.1:{sim.port}"


async def test_rate_generates_trades_with_increasing_ids() -> None:
    async with (
        ExchangeServer(rate=200.0, markets=3, out_of_order_ids=0.0) as sim,
        connect(sim.websocket_url) as ws,
    ):
        codes = sim.model.market_codes()
        await send(ws, subscription({"type": "trade", "codes": codes, "is_only_realtime": True}))
        trades = [await recv(ws) for _ in range(30)]
    sids = [t["sequential_id"] for t in trades]
    assert sids == sorted(sids) and len(set(sids)) == 30
    assert {t["code"] for t in trades} <= set(codes)


async def test_firehose_floods_only_the_subscribed_markets() -> None:
    async with (
        ExchangeServer(
            rate=0.0, markets=10, firehose=float("inf"), rate_limits=False, out_of_order_ids=0.0
        ) as sim,
        connect(sim.websocket_url, compression=None) as ws,
    ):
        await send(
            ws,
            subscription(
                {"type": "trade", "codes": ["KRW-XRP", "KRW-SOL"], "is_only_realtime": True}
            ),
        )
        messages = [await recv(ws) for _ in range(1_500)]
        sim.set_firehose(0.0)
        await sync(ws)  # read what is still in flight, so the close handshake is prompt
    assert {m["code"] for m in messages} == {"KRW-XRP", "KRW-SOL"}
    for code in ("KRW-XRP", "KRW-SOL"):
        sids = [m["sequential_id"] for m in messages if m["code"] == code]
        assert sids == sorted(sids)


async def test_firehose_rate_can_be_set_and_cleared() -> None:
    async with ExchangeServer(rate=0.0, markets=3, rate_limits=False) as sim:
        async with connect(sim.websocket_url) as ws:
            await send(ws, subscription({"type": "trade", "codes": ["KRW-BTC"]}))
            await recv(ws)  # snapshot
            sim.set_firehose(500.0)
            burst = [await recv(ws) for _ in range(50)]
            assert all(m["stream_type"] == "REALTIME" for m in burst)
            sim.set_firehose(0.0)
            await sync(ws)
        assert sim.stats()["firehose"] == 0.0


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
async def test_cli_prints_urls_first_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "exchange",
        "--port",
        "0",
        "--markets",
        "3",
        "--rate",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 4 * TIMEOUT)).decode()
        urls = re.findall(r"(?:ws|http)://\S+", first)
        assert len(urls) == 3, first
        public, private, rest = urls
        assert public.endswith("/websocket/v1") and private.endswith("/websocket/v1/private")
        assert rest.startswith("http://127.0.0.1:") and not rest.endswith("/v1")
        keys = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode()
        assert "test-access" in keys
        async with connect(public) as ws:
            await send(ws, subscription({"type": "ticker", "codes": ["KRW-BTC"]}))
            assert (await recv(ws))["code"] == "KRW-BTC"
        process.send_signal(stop_signal)
        assert await asyncio.wait_for(process.wait(), 2 * TIMEOUT) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_rejects_bad_arguments() -> None:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "exchange",
        "--markets",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 4 * TIMEOUT)
    assert process.returncode == 2 and b"--markets" in err


async def test_a_taken_port_fails_cleanly_and_can_be_retried() -> None:
    async with ExchangeServer(rate=0.0, markets=2) as first:
        second = ExchangeServer(rate=0.0, markets=2, port=first.port)
        with pytest.raises(OSError):
            await second.start()
        await second.stop()  # nothing to stop: no error
    async with ExchangeServer(rate=0.0, markets=2, port=first.port) as again:
        assert again.port == first.port
