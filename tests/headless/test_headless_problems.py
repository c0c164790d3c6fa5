"""What headless says when it cannot do its job: no network, refused keys, an unlisted market.

Each is said on stderr promptly and once, with an exit status a supervisor can act on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Iterator
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
    write_config,
)

from upbit_tui import Config, GlobalWebSocketManager, WebSocketClientProxy
from upbit_tui.config import ConnectionConfig, ExchangeConfig
from upbit_tui.exchange import ExchangeServer
from upbit_tui.headless.run import warn_while_unreachable

UNREACHABLE = "cannot connect"


def refused_port() -> int:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def unreachable_config(path: Path) -> Path:
    port = refused_port()
    path.write_text(
        "[exchange]\n"
        f'websocket_url = "ws://127.0.0.1:{port}/websocket/v1"\n'
        f'private_websocket_url = "ws://127.0.0.1:{port}/websocket/v1/private"\n'
        f'rest_url = "http://127.0.0.1:{port}"\n'
        '[watchlist]\nsymbols = ["KRW-BTC"]\n'
        "[headless]\nhealth_interval = 0.3\n"
        "[connection]\nreconnect_initial_delay = 0.05\nreconnect_max_delay = 0.2\n"
    )
    return path


async def test_unreachable_exchange_is_reported_at_once_and_not_repeated(tmp_path: Path) -> None:
    config = unreachable_config(tmp_path / "c.toml")
    started = time.monotonic()
    async with headless("--config", str(config), "--types", "ticker") as run:
        await run.wait_for_stderr(UNREACHABLE)
        first_warning_after = time.monotonic() - started
        # Several failed attempts (the health line counts them) later, still one warning.
        await run.wait_for_stderr(r"(health:.*\n.*){3}")
        await run.wait_for_stderr(r"ws://127\.0\.0\.1:\d+/websocket/v1: cannot connect")
        assert run.stderr.count(UNREACHABLE) == 1, run.stderr
    # The market-list check gives up after 2 s; the first failed connect follows at once,
    # where it used to wait for the first 30 s health line.
    assert first_warning_after < 10 * TIMEOUT_FACTOR


async def test_refused_keys_with_only_private_types_exit_3_and_say_why(
    tmp_path: Path, sim: Any
) -> None:
    config = write_config(tmp_path / "c.toml", sim)
    env = clean_env(UPBIT_ACCESS_KEY="test-access", UPBIT_SECRET_KEY="not-the-test-secret-42")
    async with headless("--config", str(config), "--types", "balance,orders", env=env) as run:
        out = await run.read_rest()
        code = await run.wait()
    assert (code, out) == (3, []), run.stderr
    lines = run.stderr.splitlines()
    refusal = [line for line in lines if "refused the API keys" in line]
    assert len(refusal) == 1 and refusal[0].startswith("upbit-tui headless: cannot stream")
    assert "jwt_verification" in refusal[0]  # the server's reason
    assert "not-the-test-secret-42" not in run.stderr
    assert "private WebSocket is back" not in run.stderr
    assert_clean_stderr(run.stderr)


async def test_refused_keys_leave_public_types_streaming(tmp_path: Path, sim: Any) -> None:
    config = write_config(tmp_path / "c.toml", sim)
    env = clean_env(UPBIT_ACCESS_KEY="someone-else", UPBIT_SECRET_KEY="their-secret-key-77")
    args = ("--config", str(config), "--types", "trade,balance", "--count", "5")
    async with headless(*args, env=env) as run:
        events = await run.read_rest()
        assert await run.wait() == 0
    assert [e["type"] for e in events] == ["trade"] * 5
    assert re.search(
        r"not streaming myAsset: Upbit refused the API keys.*invalid_access_key", run.stderr
    )
    assert "their-secret-key-77" not in run.stderr and "someone-else" not in run.stderr


async def test_unlisted_symbol_with_demo_is_one_stderr_line() -> None:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "headless",
        "--demo",
        "--symbols",
        "KRW-BTCC",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
        cwd=ROOT,
    )
    async with asyncio.timeout(30 * TIMEOUT_FACTOR):
        out, err = await process.communicate()
    assert process.returncode == 2
    assert out == b""
    assert err.decode().splitlines() == [
        "upbit-tui headless: --symbols: KRW-BTCC is not listed on Upbit (did you mean KRW-BTC?)"
    ]


def test_token_redaction() -> None:
    from upbit_tui.redaction import redact

    jwt = "eyJhbGciOiJIUzUxMiJ9.eyJhY2Nlc3Nfa2V5IjoiYSJ9.c2lnbmF0dXJl"
    text = redact(f"bad header 'Authorization: Bearer {jwt}' and {jwt}")
    assert "eyJ" not in text and "c2lnbmF0dXJl" not in text
    assert text == "bad header 'Authorization: Bearer [redacted]' and [redacted JWT]"


class LogWatch(logging.Handler):
    """The records of one logger as they are emitted, awaitable."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self._changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self._changed.set()

    def matching(self, text: str) -> list[logging.LogRecord]:
        return [r for r in self.records if text in r.getMessage()]

    async def wait_for(self, text: str, within: float = 10.0) -> None:
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            while not self.matching(text):
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
def headless_log() -> Iterator[LogWatch]:
    logger = logging.getLogger("upbit_tui.headless")
    watch, level = LogWatch(), logger.level
    logger.addHandler(watch)
    logger.setLevel(logging.INFO)
    yield watch
    logger.removeHandler(watch)
    logger.setLevel(level)


async def test_unreachable_warning_repeats_periodically_then_says_connected(
    headless_log: LogWatch,
) -> None:
    port = refused_port()
    config = Config(
        exchange=ExchangeConfig(
            websocket_url=f"ws://127.0.0.1:{port}/websocket/v1",
            private_websocket_url=f"ws://127.0.0.1:{port}/websocket/v1/private",
            rest_url=f"http://127.0.0.1:{port}",
        ),
        connection=ConnectionConfig(reconnect_initial_delay=0.05, reconnect_max_delay=0.1),
    )
    async with GlobalWebSocketManager(config) as manager:
        watcher = asyncio.create_task(warn_while_unreachable(manager, config, reminder=0.5))
        try:
            async with WebSocketClientProxy("t", manager) as proxy:
                await proxy.subscribe_ticker(["KRW-BTC"], lambda _: None)
                await headless_log.wait_for("(still)")
                warnings = headless_log.matching(UNREACHABLE)
                assert len(warnings) == 2  # at once, then one reminder
                assert warnings[1].created - warnings[0].created >= 0.5
                # The exchange comes up at that address: one note that it connected.
                async with ExchangeServer(seed=2, markets=5, host="127.0.0.1", port=port):
                    await headless_log.wait_for(": connected")
                assert len(headless_log.matching(": connected")) == 1
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
