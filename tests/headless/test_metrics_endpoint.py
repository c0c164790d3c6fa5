"""`--metrics-port`: Prometheus text scraped from the running command and parsed."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from headless_harness import TIMEOUT_FACTOR, headless, scrape, value, write_config
from prometheus_client.parser import text_string_to_metric_families

OUTPUT_BUFFER_BYTES = 1 << 20


async def test_metrics_endpoint_serves_the_stream_and_connection_state(config_path: Path) -> None:
    args = ("--config", str(config_path), "--types", "ticker,trade", "--metrics-port", "0")
    async with headless(*args) as run:
        match = await run.wait_for_stderr(r"metrics: (http://127\.0\.0\.1:\d+/metrics)")
        url = match.group(1)
        events = await run.read_events(40)
        families = await scrape(url)
        run.send_signal(signal.SIGTERM)
        events += await run.read_rest()
        assert await run.wait() == 0
    written_ticker = value(families, "upbit_tui_headless_events_written_total", type="ticker")
    written_trade = value(families, "upbit_tui_headless_events_written_total", type="trade")
    # Scraped after 40 lines were read and before the rest: between the two counts.
    assert 40 <= written_ticker + written_trade <= len(events)
    assert (
        value(families, "upbit_tui_event_latency_seconds_count") == written_ticker + written_trade
    )
    assert value(families, "upbit_tui_event_latency_seconds_bucket", le="+Inf") == (
        written_ticker + written_trade
    )
    for name in (
        "upbit_tui_dropped_events_total",
        "upbit_tui_callback_errors_total",
        "upbit_tui_reconnects_total",
    ):
        assert value(families, name) >= 0
    assert value(families, "upbit_tui_events_delivered_total", client="headless", type="ticker") > 0
    frames = value(families, "upbit_tui_connection_frames_received_total", connection="public")
    assert frames >= written_ticker + written_trade
    assert (
        value(
            families,
            "upbit_tui_connection_state",
            connection="public",
            upbit_tui_connection_state="live",
        )
        == 1
    )
    assert value(families, "upbit_tui_health_status", upbit_tui_health_status="healthy") in (0, 1)
    assert value(families, "upbit_tui_connection_epoch", connection="public") >= 1
    assert value(families, "upbit_tui_connection_up", connection="public") == 1
    assert value(families, "upbit_tui_rate_limit_tokens", group="websocket-connect") >= 0
    assert value(families, "process_resident_memory_bytes") > 0


@pytest.mark.parametrize("policy", ["drop_oldest", "coalesce_by_symbol"])
async def test_slow_reader_gets_the_policy_and_bounded_memory(
    tmp_path: Path, sim: Any, policy: str
) -> None:
    config = write_config(
        tmp_path / "slow.toml",
        sim,
        headless={"queue_size": 50, "policy": policy, "health_interval": 0},
    )
    read_fd, write_fd = os.pipe()
    every_market = ",".join(sim.stats()["markets"])
    args = ("--config", str(config), "--symbols", every_market, "--types", "ticker,trade,orderbook")
    try:
        async with headless(*args, "--metrics-port", "0", stdout=write_fd) as run:
            os.close(write_fd)
            write_fd = -1
            url = (await run.wait_for_stderr(r"metrics: (http://\S+/metrics)")).group(1)
            # Nobody reads stdout: the pipe fills, then the output buffer, then the queues.
            # The scrapes answer all along: the event loop never waits on the pipe.
            dropped_when_stalled: float | None = None
            async with asyncio.timeout(30 * TIMEOUT_FACTOR):
                while True:
                    families = await scrape(url)
                    dropped = value(families, "upbit_tui_dropped_events_total")
                    stalled = value(families, "upbit_tui_headless_output_stalls_total") > 0
                    if stalled and dropped_when_stalled is None:
                        dropped_when_stalled = dropped
                    # Drops that came after the output stalled: the policy at work.
                    if dropped_when_stalled is not None and dropped > dropped_when_stalled:
                        break
                    await asyncio.sleep(0.1)
            policy_drops = value(
                families, "upbit_tui_subscriber_dropped_events_total", policy=policy
            )
            assert policy_drops == dropped
            buffered = value(families, "upbit_tui_headless_output_buffer_bytes")
            assert buffered <= OUTPUT_BUFFER_BYTES + 64 * 1024
            run.send_signal(signal.SIGTERM)
            # Start reading: the buffered lines flush and the run exits 0.
            data = await asyncio.to_thread(_read_all, read_fd)
            assert await run.wait() == 0
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    lines = data.splitlines()
    assert lines and data.endswith(b"\n")
    assert "stopped (SIGTERM)" in run.stderr


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


async def test_every_label_set_appears_once_per_scrape(config_path: Path) -> None:
    # Trades are queued per market: four symbols gave four identical delivered series.
    symbols = "KRW-BTC,KRW-ETH,KRW-XRP,KRW-SOL"
    args = ("--config", str(config_path), "--symbols", symbols, "--types", "ticker,trade")
    async with headless(*args, "--metrics-port", "0") as run:
        url = (await run.wait_for_stderr(r"metrics: (http://\S+/metrics)")).group(1)
        await run.read_events(20)
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
        run.send_signal(signal.SIGTERM)
        await run.read_rest()
        assert await run.wait() == 0
    seen: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    delivered_trades = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            seen[(sample.name, labels)] += 1
            if sample.name == "upbit_tui_events_delivered_total" and sample.labels == {
                "client": "headless",
                "type": "trade",
            }:
                delivered_trades = sample.value
    assert [key for key, n in seen.items() if n > 1] == []
    assert delivered_trades > 0
