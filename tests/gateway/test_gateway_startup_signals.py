"""A gateway told to stop while it starts stops at once, cleanly, as it does once running.

The NATS "server" here accepts the connection and never answers (a black hole: a server that
hangs, a firewall dropping packets), so the gateway is stuck in its start-up until its
connect deadline; SIGTERM or SIGINT must end it there with the exit status of a stop (0).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from gateway_harness import TIMEOUT_FACTOR

from upbit_tui.gateway.localserver import LocalNatsServer


@pytest.fixture
async def black_hole() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A loopback TCP server that accepts and never says anything; the event: a client came."""
    came = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        came.set()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"nats://127.0.0.1:{port}", came
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_while_connecting_to_nats_stops_the_gateway_cleanly(
    black_hole: tuple[str, asyncio.Event], signum: signal.Signals
) -> None:
    url, came = black_hole
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "upbit_tui", "gateway", "--demo", "--nats", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(20 * TIMEOUT_FACTOR):
            await came.wait()  # the gateway is inside its NATS connect now
            process.send_signal(signum)
            _, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = err.decode(errors="replace")
    # Before the fix: the signal waited for the connect deadline, then "cannot reach NATS", 2.
    assert process.returncode == 0, text
    assert "cannot reach NATS" not in text and "Traceback" not in text
    assert "stopped while starting" in text


async def test_nats_without_jetstream_is_one_line_and_exit_2() -> None:
    with LocalNatsServer(jetstream=False) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "upbit_tui", "gateway", "--demo", "--nats", server.url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(30 * TIMEOUT_FACTOR):
            _, err = await process.communicate()
    text = err.decode(errors="replace")
    assert process.returncode == 2, text
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.startswith("upbit-tui gateway:")]
    assert len(lines) == 1 and "JetStream" in lines[0] and "-js" in lines[0], text
