"""`upbit-tui headless` run for real, as a subprocess, against the simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from headless_harness import (
    COMMAND,
    ROOT,
    TIMEOUT_FACTOR,
    assert_clean_stderr,
    clean_env,
    headless,
    scrape,
    value,
    write_config,
)

SYMBOLS = {"KRW-BTC", "KRW-ETH"}


def _check_event(event: dict[str, Any]) -> None:
    """The fields every line carries: Upbit's DEFAULT names plus epoch and receive time."""
    assert isinstance(event["type"], str)
    assert isinstance(event["timestamp"], int) and event["timestamp"] > 1_000_000_000_000
    assert event["stream_type"] in ("SNAPSHOT", "REALTIME", "REST")
    assert isinstance(event["epoch"], int)
    assert isinstance(event["received_at"], float) and event["received_at"] > 1_000_000_000


async def test_streams_requested_types_and_symbols_as_json_lines(config_path: Path) -> None:
    args = ("--config", str(config_path), "--symbols", "krw-btc,KRW-ETH", "--types", "ticker,trade")
    async with headless(*args, "--count", "60") as run:
        events = await run.read_events(60)
        assert await run.read_rest() == []
        assert await run.wait() == 0
    for event in events:
        _check_event(event)
        assert event["type"] in ("ticker", "trade")
        assert event["code"] in SYMBOLS
        assert event["epoch"] >= 1
    tickers = [e for e in events if e["type"] == "ticker"]
    trades = [e for e in events if e["type"] == "trade"]
    assert tickers and trades
    assert all(isinstance(t["trade_price"], float) and "change_rate" in t for t in tickers)
    assert all(
        isinstance(t["sequential_id"], int) and t["ask_bid"] in ("ASK", "BID") for t in trades
    )
    assert "stopped (count): wrote 60 events" in run.stderr
    assert_clean_stderr(run.stderr)


@pytest.mark.parametrize("count", [1, 7, 250])
async def test_count_is_exact_over_several_subscriptions(config_path: Path, count: int) -> None:
    args = ("--config", str(config_path), "--types", "ticker,trade,orderbook,candle.1s")
    async with headless(*args, "--count", str(count)) as run:
        events = await run.read_rest(within=30)
        assert await run.wait() == 0
    assert len(events) == count
    for event in events:
        _check_event(event)


async def test_symbols_and_types_default_to_the_config(tmp_path: Path, sim: Any) -> None:
    config = write_config(
        tmp_path / "c.toml",
        sim,
        watchlist={"symbols": ["KRW-XRP"]},
        headless={"types": ["orderbook", "candle.1s"], "health_interval": 0.5},
    )
    async with headless("--config", str(config), "--count", "12") as run:
        events = await run.read_rest()
        assert await run.wait() == 0
    assert len(events) == 12
    assert {e["code"] for e in events} == {"KRW-XRP"}
    assert {e["type"] for e in events} <= {"orderbook", "candle.1s"}
    books = [e for e in events if e["type"] == "orderbook"]
    assert books, "the orderbook snapshot comes first on subscribing"
    unit = books[0]["orderbook_units"][0]
    assert set(unit) >= {"ask_price", "bid_price", "ask_size", "bid_size"}


async def test_config_flag_works_before_the_subcommand(config_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "--config",
        str(config_path),
        "headless",
        "--types",
        "ticker",
        "--count",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
        cwd=ROOT,
    )
    async with asyncio.timeout(20 * TIMEOUT_FACTOR):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert len(out.splitlines()) == 3


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_signal_flushes_and_exits_zero(config_path: Path, signum: signal.Signals) -> None:
    async with headless("--config", str(config_path), "--types", "ticker,trade") as run:
        first = await run.read_events(3)
        run.send_signal(signum)
        rest = await run.read_rest()
        assert await run.wait() == 0
    for event in [*first, *rest]:
        _check_event(event)
    assert f"stopped ({signum.name})" in run.stderr
    written = int(run.stderr.split(f"stopped ({signum.name}): wrote ")[1].split()[0])
    assert written == len(first) + len(rest), "every accepted line was flushed"
    assert_clean_stderr(run.stderr)


async def test_duration_stops_cleanly(config_path: Path) -> None:
    async with headless("--config", str(config_path), "--duration", "1.0") as run:
        events = await run.read_rest()
        assert await run.wait() == 0
    assert events
    assert "stopped (duration)" in run.stderr


async def test_health_summaries_go_to_stderr(config_path: Path) -> None:
    async with headless("--config", str(config_path), "--types", "ticker,trade") as run:
        await run.wait_for_stderr(r"health: (healthy|degraded|critical)")
        run.send_signal(signal.SIGTERM)
        for event in await run.read_rest():
            _check_event(event)
        assert await run.wait() == 0


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--count", "many"], "argument --count: expected a whole number > 0, got 'many'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--types", "tickr"], "unknown type 'tickr'"),
        (["--config", "/nonexistent/upbit.toml"], "/nonexistent/upbit.toml: file not found"),
    ],
)
async def test_bad_invocation_exits_2_with_one_line(args: list[str], reason: str) -> None:
    # The full list of usage errors runs in-process (test_usage_errors.py); these few prove
    # the installed command prints one line and no traceback.
    async with headless(*args) as run:
        out = await run.read_rest()
        assert await run.wait() == 2
    assert run.stderr.splitlines() == [run.stderr.strip()], run.stderr
    assert run.stderr.startswith("upbit-tui headless: ") and reason in run.stderr
    assert out == []


async def test_reader_closing_the_pipe_ends_it_quietly(config_path: Path, tmp_path: Path) -> None:
    err = tmp_path / "stderr.txt"
    command = " ".join([*COMMAND, "headless", "--config", str(config_path)])
    shell = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f"set -o pipefail; {command} 2>{err} | head -n 3",
        stdout=asyncio.subprocess.PIPE,
        env=clean_env(),
        cwd=ROOT,
    )
    async with asyncio.timeout(30 * TIMEOUT_FACTOR):
        out, _ = await shell.communicate()
    # pipefail: the pipeline fails if upbit-tui exits non-zero after head closes the pipe.
    assert shell.returncode == 0, err.read_text()
    assert len(out.splitlines()) == 3
    assert "stopped (output closed)" in err.read_text()
    assert_clean_stderr(err.read_text())


async def test_private_types_without_keys_leave_public_types_streaming(config_path: Path) -> None:
    args = ("--config", str(config_path), "--types", "ticker,balance,orders", "--count", "5")
    async with headless(*args) as run:
        events = await run.read_rest()
        assert await run.wait() == 0
    assert [e["type"] for e in events] == ["ticker"] * 5
    assert "not streaming myAsset, myOrder" in run.stderr
    assert "UPBIT_ACCESS_KEY" in run.stderr


@pytest.mark.parametrize("before_subcommand", [False, True])
async def test_demo_flag_runs_the_simulator_in_process(before_subcommand: bool) -> None:
    args = ["--types", "ticker", "--symbols", "KRW-BTC", "--count", "3"]
    argv = ["--demo", "headless", *args] if before_subcommand else ["headless", "--demo", *args]
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
        cwd=ROOT,
    )
    async with asyncio.timeout(30 * TIMEOUT_FACTOR):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["type"], e["code"]) for e in events] == [("ticker", "KRW-BTC")] * 3
    assert "streaming ticker for KRW-BTC from http://127.0.0.1:" in err.decode()


async def test_demo_lists_btc_and_usdt_quoted_markets() -> None:
    """--demo lists the simulator's BTC and USDT markets too, so a user can stream them."""
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "headless",
        "--demo",
        *("--symbols", "BTC-ETH,USDT-BTC", "--types", "ticker,orderbook,trade", "--count", "20"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
        cwd=ROOT,
    )
    async with asyncio.timeout(30 * TIMEOUT_FACTOR):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    events = [json.loads(line) for line in out.splitlines()]
    seen = {(e["type"], e["code"]) for e in events}
    for code in ("BTC-ETH", "USDT-BTC"):
        assert {(t, code) for t in ("ticker", "orderbook", "trade")} <= seen, seen
    for event in events:  # Upbit's field names, quoted in BTC / USDT
        if event["type"] == "ticker":
            assert {"trade_price", "acc_trade_price_24h", "signed_change_rate"} <= set(event)
        elif event["type"] == "orderbook":
            assert {"ask_price", "bid_size"} <= set(event["orderbook_units"][0])
        else:
            assert {"trade_price", "trade_volume", "sequential_id", "ask_bid"} <= set(event)
        if event["code"] == "BTC-ETH" and "trade_price" in event:
            assert 0 < event["trade_price"] < 1  # ETH in BTC, not in KRW


async def test_stream_survives_a_dropped_connection(config_path: Path, sim: Any) -> None:
    async with headless("--config", str(config_path), "--types", "ticker,trade") as run:
        before = await run.read_events(5)
        sim.faults.close_all()
        async with asyncio.timeout(20 * TIMEOUT_FACTOR):
            while True:
                (event,) = await run.read_events(1)
                _check_event(event)
                if event["epoch"] > before[-1]["epoch"]:
                    break
        run.send_signal(signal.SIGINT)
        await run.read_rest()
        assert await run.wait() == 0


async def _stall_output(run: Any) -> None:
    """Wait until the output buffer is full because nobody reads stdout."""
    url = (await run.wait_for_stderr(r"metrics: (http://\S+/metrics)")).group(1)
    async with asyncio.timeout(30 * TIMEOUT_FACTOR):
        # Another process's state: polled over its metrics endpoint.
        while True:
            if value(await scrape(url), "upbit_tui_headless_output_stalls_total") > 0:
                return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def stalled_headless(tmp_path: Path, sim: Any) -> AsyncIterator[Any]:
    """A headless run of every market whose stdout nobody reads, with its output buffer full."""
    every_market = ",".join(sim.stats()["markets"])
    config = write_config(tmp_path / "c.toml", sim, headless={"health_interval": 0})
    read_fd, write_fd = os.pipe()
    try:
        args = ("--config", str(config), "--symbols", every_market, "--types", "orderbook,trade")
        async with headless(*args, "--metrics-port", "0", stdout=write_fd) as run:
            os.close(write_fd)
            write_fd = -1
            await _stall_output(run)
            yield run
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


async def test_stalled_reader_cannot_hold_up_a_signal_stop(tmp_path: Path, sim: Any) -> None:
    async with stalled_headless(tmp_path, sim) as run:
        run.send_signal(signal.SIGTERM)
        # The flush waits a bounded time for a reader that never comes, then exits 0.
        assert await run.wait() == 0
    assert "the reader stopped reading" in run.stderr
    assert_clean_stderr(run.stderr)


async def test_second_signal_while_stopping_exits_at_once(tmp_path: Path, sim: Any) -> None:
    async with stalled_headless(tmp_path, sim) as run:
        run.send_signal(signal.SIGINT)
        await run.wait_for_stderr(r"SIGINT: stopping")
        run.send_signal(signal.SIGINT)
        assert await run.wait(within=3) == 128 + signal.SIGINT
    assert "SIGINT while stopping: exiting now" in run.stderr


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
async def test_runs_on_the_configured_event_loop(tmp_path: Path, sim: Any, event_loop: str) -> None:
    path = write_config(tmp_path / "config.toml", sim, connection={"event_loop": event_loop})
    async with headless("--config", str(path), "--types", "trade", "--count", "20") as run:
        events = await run.read_events(20)
        assert await run.wait() == 0
    assert [e["type"] for e in events] == ["trade"] * 20
    assert f"{event_loop} loop)" in run.stderr
    assert_clean_stderr(run.stderr)
