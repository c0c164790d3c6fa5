"""A WebSocket server of the tests' own that misbehaves on demand (127.0.0.1, port 0).

The simulator plays a faithful Upbit with faults; this server plays a hostile or broken one:
anything a test wants on the wire, byte for byte, including what the simulator never sends.

    async with HostileServer() as server:            # server.url -> ws://127.0.0.1:PORT/
        server.refuse_next(429, {"Retry-After": "0"})  # the next handshake gets HTTP 429
        server.refuse_next(418)                      # ... then a 418 without Retry-After
        conn = await server.next_connection()         # an accepted socket (ServerConnection)
        await server.send_all(nested_json(100_000))   # any bytes (binary frame) or str (text)
        await server.close_all(4999, "odd")          # a close frame with any code, even 1005
        server.drop_all()                            # TCP closed, no close frame
        server.stall_all()                           # stop reading: no pongs, no answers

`on_connect(conn, server)` (optional) runs for each accepted socket instead of the default
(record what the client sends until it goes). `server.received` holds every message a client
sent, `server.handshakes` the monotonic time of every handshake attempt (refused ones too).
Built on websockets' asyncio server; no Upbit logic beyond the frame builders at the bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

OnConnect = Callable[[ServerConnection, "HostileServer"], Awaitable[None]]


class HostileServer:
    """See the module docstring."""

    def __init__(self, on_connect: OnConnect | None = None, *, max_size: int | None = None) -> None:
        self._on_connect = on_connect
        self._max_size = max_size
        self._server: Server | None = None
        self._refusals: list[tuple[int, dict[str, str], bytes]] = []
        self._accepted: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.connections: set[ServerConnection] = set()
        self.handshakes: list[float] = []
        self.accepted_at: list[float] = []
        self.received: list[str | bytes] = []
        self.url = ""

    async def __aenter__(self) -> HostileServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            max_size=self._max_size,
            compression=None,
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 5.0)

    # ----------------------------------------------------------------- handshakes

    def refuse_next(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        count: int = 1,
    ) -> None:
        """Answer the next `count` handshakes with HTTP `status`, `headers` and `body`."""
        self._refusals.extend([(status, dict(headers or {}), body)] * count)

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.handshakes.append(time.monotonic())
        if not self._refusals:
            return None
        status, headers, body = self._refusals.pop(0)
        response = conn.respond(status, body.decode("utf-8", "replace"))
        for name, value in headers.items():
            response.headers[name] = value
        return response

    # ----------------------------------------------------------------- accepted sockets

    async def _handle(self, conn: ServerConnection) -> None:
        self.connections.add(conn)
        self.accepted_at.append(time.monotonic())
        self._accepted.put_nowait(conn)
        try:
            if self._on_connect is not None:
                await self._on_connect(conn, self)
            else:
                async for message in conn:
                    self.received.append(message)
        except Exception:  # a client going away mid-script is what these tests are about
            pass
        finally:
            self.connections.discard(conn)

    async def next_connection(self, within: float = 5.0) -> ServerConnection:
        """The next accepted socket (in order of acceptance); TimeoutError after `within` s."""
        return await asyncio.wait_for(self._accepted.get(), within)

    async def send_all(self, message: bytes | str) -> int:
        """Send `message` to every open socket: bytes as a binary frame, str as a text frame."""
        sent = 0
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.send(message)
                sent += 1
        return sent

    async def close_all(self, code: int, reason: str = "") -> int:
        """A close frame with any `code` (invalid ones too, written raw), then TCP close."""
        frame = _raw_close_frame(code, reason)
        conns = list(self.connections)
        for conn in conns:
            if conn.transport is not None:
                conn.transport.write(frame)
                conn.transport.close()
        return len(conns)

    def drop_all(self) -> int:
        """Abort every socket: TCP gone, no close frame."""
        conns = list(self.connections)
        for conn in conns:
            if conn.transport is not None:
                conn.transport.abort()
        return len(conns)

    def stall_all(self) -> int:
        """Stop reading every socket: pings go unanswered, requests unread, nothing is sent."""
        conns = list(self.connections)
        for conn in conns:
            if conn.transport is not None:
                conn.transport.pause_reading()
        return len(conns)


def _raw_close_frame(code: int, reason: str) -> bytes:
    payload = struct.pack("!H", code) + reason.encode()[:120]
    return bytes([0x88, len(payload)]) + payload


# --------------------------------------------------------------------- hostile payloads


def nested_json(depth: int) -> bytes:
    """`[[[...]]]` nested `depth` deep: valid JSON that recursive decoders choke on."""
    return b"[" * depth + b"]" * depth


def big_frame(size: int) -> bytes:
    """A syntactically valid JSON frame of about `size` bytes."""
    return b'{"type":"ticker","code":"KRW-BTC","pad":"' + b"x" * max(size - 40, 0) + b'"}'


def ticker_frame(code: str = "KRW-BTC", *, timestamp: Any = None, **fields: Any) -> bytes:
    """An Upbit ticker (DEFAULT format, REALTIME) with `timestamp` in ms (default: now)."""
    ts = int(time.time() * 1000) if timestamp is None else timestamp
    frame: dict[str, Any] = {
        "type": "ticker",
        "code": code,
        "opening_price": 100.0,
        "high_price": 110.0,
        "low_price": 90.0,
        "trade_price": 105.0,
        "prev_closing_price": 100.0,
        "change": "RISE",
        "change_price": 5.0,
        "signed_change_price": 5.0,
        "change_rate": 0.05,
        "signed_change_rate": 0.05,
        "trade_volume": 1.0,
        "acc_trade_volume": 10.0,
        "acc_trade_volume_24h": 10.0,
        "acc_trade_price": 1000.0,
        "acc_trade_price_24h": 1000.0,
        "trade_date": "20260101",
        "trade_time": "000000",
        "trade_timestamp": ts,
        "ask_bid": "BID",
        "acc_ask_volume": 5.0,
        "acc_bid_volume": 5.0,
        "highest_52_week_price": 200.0,
        "highest_52_week_date": "2026-01-01",
        "lowest_52_week_price": 50.0,
        "lowest_52_week_date": "2025-01-01",
        "market_state": "ACTIVE",
        "is_trading_suspended": False,
        "delisting_date": None,
        "market_warning": "NONE",
        "timestamp": ts,
        "stream_type": "REALTIME",
        **fields,
    }
    # json.dumps writes 1e30 as 1e+30 and ints of any size as digits: what a hostile server sends.
    return json.dumps(frame).encode()


def error_frame(name: str, message: str) -> bytes:
    """An Upbit error frame: `{"error": {"name": ..., "message": ...}}`."""
    return json.dumps({"error": {"name": name, "message": message}}).encode()
