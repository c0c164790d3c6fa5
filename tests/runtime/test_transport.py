"""Both WebSocket transports against a small raw server of the test's own on 127.0.0.1.

Runs once per transport (conftest's autouse `transport` fixture): what the Connection relies on
must hold for websockets and picows alike.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from runtime_helpers import TIMEOUT_FACTOR
from websockets.exceptions import ConnectionClosed, InvalidStatus

from upbit_tui.net.transport import (
    TransportOptions,
    after_read_burst,
    open_transport,
    resolve_transport,
)

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OPTIONS = TransportOptions(open_timeout=5.0, ping_interval=None, close_timeout=1.0)


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    assert len(payload) < 126
    return bytes(((0x80 if fin else 0) | opcode, len(payload))) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    mask = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    key = next(
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")
        if line.lower().startswith("sec-websocket-key:")
    )
    digest = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + digest + b"\r\n\r\n"
    )


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Script], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/websocket/v1"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_messages_arrive_whole_and_in_order_then_the_close_is_reported(
    serve: Callable[[Script], Awaitable[str]], transport: str
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        assert await read_frame(reader) == (1, b"subscribe")
        writer.write(frame(2, b"a") + frame(1, b"b"))
        # A fragmented message with a ping between its fragments, as RFC 6455 allows.
        writer.write(frame(2, b"c1", fin=False) + frame(0, b"c2", fin=False))
        writer.write(frame(9, b"ping") + frame(0, b"c3") + frame(2, b"d"))
        writer.write(frame(8, (1001).to_bytes(2, "big") + b"bye"))
        await writer.drain()
        opcode, _ = await read_frame(reader)
        while opcode != 8:  # the pong, then the client's close answer
            opcode, _ = await read_frame(reader)

    ws = await open_transport(transport, await serve(script), None, OPTIONS)
    assert ws.name == resolve_transport(transport)
    await ws.send_text(b"subscribe")
    got: list[bytes] = []
    in_read: list[bool] = []
    read_ends: list[int] = []

    def on_message(data: bytes, received_at: float) -> None:
        got.append(data)
        # Work registered now runs once this socket read's messages are all handed over.
        in_read.append(after_read_burst(lambda: read_ends.append(len(got))))

    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(5 * TIMEOUT_FACTOR):
            await ws.stream(on_message)
    assert got == [b"a", b"b", b"c1c2c3", b"d"]
    assert all(in_read) and read_ends and read_ends[-1] == 4
    assert all(type(data) is bytes for data in got)  # the codec's fast path wants bytes
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "bye")


async def test_a_refused_handshake_reports_its_status_and_retry_after(
    serve: Callable[[Script], Awaitable[str]], transport: str
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()

    with pytest.raises(InvalidStatus) as refused:
        await open_transport(transport, await serve(script), {"X-Test": "1"}, OPTIONS)
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers.get("Retry-After") == "7"


async def test_close_sends_a_close_frame_with_code_and_reason(
    serve: Callable[[Script], Awaitable[str]], transport: str
) -> None:
    received: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        opcode, payload = await read_frame(reader)
        received.set_result((opcode, payload))
        writer.write(frame(8, payload))
        await writer.drain()

    ws = await open_transport(transport, await serve(script), None, OPTIONS)
    async with asyncio.timeout(5 * TIMEOUT_FACTOR):
        await ws.close(1000, "nothing subscribed")
        opcode, payload = await received
    assert opcode == 8
    assert payload == (1000).to_bytes(2, "big") + b"nothing subscribed"
    with pytest.raises(ConnectionClosed):
        await ws.send_text("too late")


def test_unknown_transport_names_the_choices() -> None:
    with pytest.raises(ValueError, match="expected one of auto, websockets, picows"):
        resolve_transport("aiohttp")
