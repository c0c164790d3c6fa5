"""One WebSocket connection as the simulator sees it: its subscription, format and outbox.

Frames are queued synchronously (market events arrive from synchronous model callbacks) and
written by the connection's own sender task, so a slow reader never blocks the market or other
connections. A connection whose backlog passes `max_backlog` frames is closed with 1008
(policy violation): the simulator's answer to a consumer that cannot keep up (Upbit does not
document one). A close that the peer does not let through (it stopped reading) is turned into
an abort after CLOSE_TIMEOUT seconds.

The sender writes what is queued in batches: the frames of a batch (the same bytes aiohttp
would frame: FIN, binary opcode, unmasked) go to the transport in one write, so a busy stream
costs one system call per batch instead of one per frame. When permessage-deflate was
negotiated, or the transport pushes back (writing paused) or is closing, frames go through
aiohttp one at a time (its compression, flow control and errors).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import deque
from typing import Any, cast

from aiohttp import web

from upbit_tui.exchange.faults import Endpoint
from upbit_tui.exchange.limits import MessageBudget
from upbit_tui.exchange.ws_request import SubscribeRequest

MAX_RECORDED_REQUESTS = 200
CLOSE_TIMEOUT = 2.0
MAX_RECORDED_REQUEST_CHARS = 2_048
MAX_BATCH_FRAMES = 256  # frames per transport write
MAX_BATCH_BYTES = 1 << 18
_BINARY_FIN = 0x82
_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


def frame_header(length: int) -> bytes:
    """The header of an unmasked, final, binary WebSocket frame carrying `length` bytes."""
    if length < 126:
        return bytes((_BINARY_FIN, length))
    if length < 65_536:
        return _pack_medium(_BINARY_FIN, 126, length)
    return _pack_long(_BINARY_FIN, 127, length)


class Session:
    """State of one accepted WebSocket connection (owned by the server's handler)."""

    def __init__(
        self,
        session_id: int,
        endpoint: Endpoint,
        ws: web.WebSocketResponse,
        request: web.Request,
        budget: MessageBudget,
        *,
        access_key: str | None,
        auth_error: str | None,
        max_backlog: int,
    ) -> None:
        self.id = session_id
        self.endpoint: Endpoint = endpoint
        self.ws = ws
        self.request = request
        self.budget = budget
        self.access_key = access_key
        self.auth_error = auth_error  # set: every request answers INVALID_AUTH
        self.max_backlog = max_backlog
        self.peer = _peer(request)
        self.opened_at_ms = int(time.time() * 1000)
        self.closed_at_ms: int | None = None
        self.close_reason: str | None = None
        self.format = "DEFAULT"
        self.subscription: SubscribeRequest | None = None
        self.requests: list[dict[str, Any]] = []
        self.requests_received = 0
        self.frames_sent = 0
        self.bytes_sent = 0
        self.frames_discarded = 0
        self.stalled_until: float | None = None  # loop time; inf = until resumed
        self.status_up_at: float | None = None  # loop time of the last {"status":"UP"} (PING)
        self.last_activity = asyncio.get_running_loop().time()
        self._outbox: deque[bytes] = deque()
        self._wakeup = asyncio.Event()
        self._pending_close: tuple[int, str] | None = None
        self.sender: asyncio.Task[None] | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.closed_at_ms is None

    def is_stalled(self, now: float) -> bool:
        if self.stalled_until is None:
            return False
        if now >= self.stalled_until:
            self.stalled_until = None
            self._wakeup.set()
            return False
        return True

    @property
    def backlog(self) -> int:
        return len(self._outbox)

    def record_request(self, text: str) -> None:
        self.requests_received += 1
        if len(self.requests) < MAX_RECORDED_REQUESTS:
            self.requests.append(
                {"at_ms": int(time.time() * 1000), "message": text[:MAX_RECORDED_REQUEST_CHARS]}
            )

    # -- sending -------------------------------------------------------------------------------

    def enqueue(self, data: bytes) -> None:
        """Queue one frame (discarded while stalled, closing or closed)."""
        if (
            self.closed_at_ms is not None
            or self._pending_close is not None
            or (
                self.stalled_until is not None
                and self.is_stalled(asyncio.get_running_loop().time())
            )
        ):
            self.frames_discarded += 1
            return
        self._outbox.append(data)
        if len(self._outbox) > self.max_backlog:
            self.close_soon(1008, "consumer too slow", flush=False)
            return
        self._wakeup.set()

    def close_soon(self, code: int, reason: str, *, flush: bool = True) -> None:
        """Ask the connection's handler to close it with `code` (callable from sync code).

        flush=True sends what is already queued first (an error frame before a close);
        flush=False drops the queue and interrupts a send stuck on a reader that does not read.
        """
        if self._pending_close is not None:
            return
        self.close_reason = self.close_reason or f"{code} {reason}"
        self._pending_close = (code, reason)
        if flush:
            self._wakeup.set()
            return
        self.frames_discarded += len(self._outbox)
        self._outbox.clear()
        if self.sender is not None:
            self.sender.cancel()

    @property
    def pending_close(self) -> tuple[int, str] | None:
        """The (code, reason) the handler must close with, if a close was asked for."""
        return self._pending_close

    def wake(self) -> None:
        """Let the sender look at its queue again (after a stall ends)."""
        self._wakeup.set()

    async def run_sender(self) -> None:
        """Write queued frames until the connection ends or a close is asked for."""
        loop = asyncio.get_running_loop()
        ws = self.ws
        outbox = self._outbox
        transport = self.request.transport
        protocol = self.request.protocol
        # Batching needs to see the transport push back (BaseProtocol.writing_paused).
        batching = transport is not None and not ws.compress and hasattr(protocol, "writing_paused")
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while outbox and not self.is_stalled(loop.time()):
                if ws.closed:
                    return
                if (
                    batching
                    and len(outbox) > 1
                    and not protocol.writing_paused
                    and transport is not None
                    and not transport.is_closing()
                ):
                    self._write_batch(transport)
                    self.last_activity = loop.time()
                    await asyncio.sleep(0)  # let the loop flush and the market move on
                    continue
                data = outbox.popleft()
                await ws.send_bytes(data)
                self.frames_sent += 1
                self.bytes_sent += len(data)
                self.last_activity = loop.time()
            if self._outbox and self.stalled_until is not None:
                self.frames_discarded += len(self._outbox)
                self._outbox.clear()
            if self._pending_close is not None:
                return  # the handler sends the close frame

    def _write_batch(self, transport: asyncio.BaseTransport) -> None:
        """Frame up to MAX_BATCH_FRAMES queued messages and hand them over in one write."""
        outbox = self._outbox
        popleft = outbox.popleft
        parts: list[bytes] = []
        append = parts.append
        size = count = 0
        while outbox and count < MAX_BATCH_FRAMES and size < MAX_BATCH_BYTES:
            data = popleft()
            length = len(data)
            append(_pack_medium(_BINARY_FIN, 126, length) if 125 < length < 65_536 else
                   frame_header(length))  # fmt: skip
            append(data)
            size += length
            count += 1
        # Duck-typed: uvloop's transports write like asyncio's but subclass none of its ABCs.
        cast(asyncio.WriteTransport, transport).write(b"".join(parts))
        self.frames_sent += count
        self.bytes_sent += size

    def abort(self) -> None:
        """Close the TCP connection without a close frame."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    def stats(self) -> dict[str, Any]:
        subscription = None
        if self.subscription is not None:
            subscription = [
                {
                    "type": t.type,
                    "codes": list(t.codes) if t.codes is not None else None,
                    "level": t.level,
                    "snapshot": t.snapshot,
                    "realtime": t.realtime,
                }
                for t in self.subscription.types
            ]
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "peer": self.peer,
            "access_key": self.access_key,
            "open": self.is_open,
            "opened_at_ms": self.opened_at_ms,
            "closed_at_ms": self.closed_at_ms,
            "close_reason": self.close_reason,
            "format": self.format,
            "subscription": subscription,
            "requests_received": self.requests_received,
            "requests": list(self.requests),
            "messages_sent": self.frames_sent,
            "bytes_sent": self.bytes_sent,
            "messages_discarded": self.frames_discarded,
            "backlog": self.backlog,
            "stalled": self.stalled_until is not None,
        }


def _peer(request: web.Request) -> str:
    transport = request.transport
    if transport is None:
        return "?"
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
