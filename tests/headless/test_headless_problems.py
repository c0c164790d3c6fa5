"""What headless says when it cannot do its job: no network, refused keys, an unlisted market.

Each is said on stderr promptly and once, with an exit status a supervisor can act on.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from pathlib import Path
from typing import Any

from headless_harness import (
    COMMAND,
    ROOT,
    TIMEOUT_FACTOR,
    assert_clean_stderr,
    clean_env,
    headless,
    write_config,
)

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
    from upbit_tui.headless.run import redact_tokens

    jwt = "eyJhbGciOiJIUzUxMiJ9.eyJhY2Nlc3Nfa2V5IjoiYSJ9.c2lnbmF0dXJl"
    text = redact_tokens(f"bad header 'Authorization: Bearer {jwt}' and {jwt}")
    assert "eyJ" not in text and "c2lnbmF0dXJl" not in text
    assert json.dumps(text).count("***") == 2
