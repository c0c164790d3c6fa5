"""The /_sim/ control API answers loopback callers only (DNS rebinding guard); the CLI warns
when it is told to listen beyond loopback."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from sim_harness import TIMEOUT
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from upbit_tui.exchange import ExchangeServer
from upbit_tui.exchange.control import control_refusal

_SCRIPT = Path(sys.executable).parent / "upbit-tui"
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "upbit_tui"]


async def _post(sim: ExchangeServer, path: str, **headers: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.rest_url}/_sim/{path}", headers=headers) as r,
    ):
        return r.status, await r.json()


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},  # a page on evil.example whose name now resolves to us
        {"Host": "evil.example:8765", "Origin": "http://evil.example:8765"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Host": "localhost.evil.example"},
    ],
)
async def test_a_web_page_cannot_inject_faults(
    sim: ExchangeServer, headers: dict[str, str]
) -> None:
    async with connect(sim.websocket_url):
        status, body = await _post(sim, "faults/drop", **headers)
        assert status == 403 and body["error"].startswith("forbidden: ")
        assert len(sim.sessions()) == 1  # nothing was dropped
    status, _ = await _post(sim, "orders?market=KRW-BTC&side=bid&price=1000&volume=1", **headers)
    assert status == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Host": "localhost"},
        {"Host": "[::1]:8765"},
        {"Origin": "http://localhost:3000"},
        {"Origin": "http://127.0.0.1:8765"},
    ],
)
async def test_loopback_callers_are_served(sim: ExchangeServer, headers: dict[str, str]) -> None:
    status, body = await _post(sim, "faults/clear", **headers)
    assert status == 200 and body["ok"] is True


async def test_stats_are_not_readable_through_rebinding(sim: ExchangeServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.rest_url}/_sim/stats", headers={"Host": "evil.example"}) as r,
    ):
        assert r.status == 403


def test_the_configured_host_is_accepted() -> None:
    request = make_mocked_request("POST", "/_sim/faults/clear", headers={"Host": "10.1.2.3:80"})
    assert control_refusal(request, "10.1.2.3") is None
    assert control_refusal(request, "127.0.0.1") is not None


async def _stderr_first_line(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "exchange",
        "--port",
        "0",
        "--markets",
        "2",
        "--rate",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        await asyncio.wait_for(process.stdout.readline(), 4 * TIMEOUT)  # serving
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 4 * TIMEOUT)
        return err.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_cli_warns_when_listening_beyond_loopback() -> None:
    err = await _stderr_first_line("--host", "0.0.0.0")
    lines = err.splitlines()
    assert len(lines) == 1 and "WARNING: --host 0.0.0.0 is not a loopback address" in lines[0]
    assert await _stderr_first_line("--host", "127.0.0.1") == ""


@pytest.mark.parametrize(("retry_after", "header"), [("1", "1"), ("0", None)])
async def test_handshake_refusals_with_and_without_retry_after(
    sim: ExchangeServer, retry_after: str, header: str | None
) -> None:
    path = f"faults/reject-handshakes?count=1&status=429&retry_after={retry_after}"
    assert (await _post(sim, path))[0] == 200
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.websocket_url):
            pass
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers.get("Retry-After") == header
