"""The picows transport (`pip install 'upbit-tui[fast]'`): frames parsed in C, pushed to us.

picows calls `on_ws_frame` from its `data_received` for every frame; data messages go straight
to the stream's handler. Pings are answered by picows (auto pong); our own keepalive is picows'
auto ping, sent only when the socket has been idle for `ping_interval` (a busy stream proves
itself), and a pong missing for `ping_timeout` drops the connection, as with websockets.
Refusals and closes are reported with websockets' exceptions (see net/transport.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping

from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSInvalidStatusError,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from upbit_tui.net.transport_base import READ_BURST, MessageHandler, TransportOptions

_TEXT, _BINARY, _CONT, _CLOSE = (
    WSMsgType.TEXT,
    WSMsgType.BINARY,
    WSMsgType.CONTINUATION,
    WSMsgType.CLOSE,
)


class _Listener(WSListener):
    def __init__(self) -> None:
        super().__init__()
        self.handler: MessageHandler | None = None
        self.early: list[tuple[bytes, float]] | None = []
        self.fragments: list[bytes] | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        # picows hands over one read's frames in a row, the last one marked `last_in_buffer`.
        burst = READ_BURST
        burst.active = True
        try:
            self._on_frame(transport, frame)
        finally:
            if frame.last_in_buffer:
                burst.end()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        READ_BURST.end()  # a read cut short by a protocol error leaves nothing pending

    def _on_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _BINARY or kind is _TEXT:
            if not frame.fin:
                self.fragments = [frame.get_payload_as_bytes()]
                return
            data = frame.get_payload_as_bytes()
        elif kind is _CONT:
            if self.fragments is None:
                return
            self.fragments.append(frame.get_payload_as_bytes())
            if not frame.fin:
                return
            data = b"".join(self.fragments)
            self.fragments = None
        elif kind is _CLOSE:
            # Answer the server's close (picows does not), then drop the socket.
            if not transport.is_close_frame_sent:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
            return
        else:
            return  # ping (answered by picows) or pong (consumed by its auto ping)
        handler = self.handler
        if handler is not None:
            handler(data, time.time())
        elif self.early is not None:
            self.early.append((data, time.time()))


class PicowsTransport:
    name = "picows"

    def __init__(self, transport: WSTransport, listener: _Listener, close_timeout: float) -> None:
        self._transport = transport
        self._listener = listener
        self._close_timeout = close_timeout

    async def send_text(self, data: bytes | str) -> None:
        transport = self._transport
        if transport.is_disconnected or transport.is_close_frame_sent:
            raise self._closed()
        transport.send(_TEXT, data.encode() if isinstance(data, str) else data)

    async def stream(self, on_message: MessageHandler) -> None:
        listener = self._listener
        early, listener.early = listener.early, None
        listener.handler = on_message
        try:
            for data, received_at in early or ():
                on_message(data, received_at)
            with contextlib.suppress(WSError):  # a protocol error: reported as the close below
                await self._transport.wait_disconnected()
        finally:
            listener.handler = None
        raise self._closed()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        transport = self._transport
        if transport.is_disconnected:
            return
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode(code), reason.encode())
        # Wait for the server's close (the listener then disconnects), then cut it short.
        with contextlib.suppress(TimeoutError, WSError):
            await asyncio.wait_for(transport.wait_disconnected(), self._close_timeout)
        transport.disconnect(graceful=False)

    def _closed(self) -> ConnectionClosed:
        handshake = self._transport.close_handshake
        if handshake is None:
            return ConnectionClosed(None, None)
        rcvd = _close(handshake.recv)
        sent = _close(handshake.sent)
        return ConnectionClosed(rcvd, sent, handshake.recv_then_sent)


def _close(info: object) -> Close | None:
    if info is None:
        return None
    code = info.code  # type: ignore[attr-defined]
    return Close(code.value if isinstance(code, WSCloseCode) else int(code), info.reason)  # type: ignore[attr-defined]


async def open_picows(
    url: str, headers: Mapping[str, str] | None, options: TransportOptions
) -> PicowsTransport:
    ping = options.ping_interval or 0.0
    # picows wants the pong wait no longer than the idle time before a ping.
    pong = min(options.ping_timeout or ping, ping) if ping else 30.0
    try:
        async with asyncio.timeout(options.open_timeout or None):
            transport, listener = await ws_connect(
                _Listener,
                url,
                websocket_handshake_timeout=options.open_timeout or None,
                logger_name=options.logger,
                enable_auto_ping=ping > 0,
                auto_ping_idle_timeout=ping or 30.0,
                auto_ping_reply_timeout=pong,
                max_frame_size=options.max_size,
                extra_headers=dict(headers) if headers else None,
                max_redirects=0,
            )
    except WSInvalidStatusError as exc:
        response = exc.response
        if response is None:
            raise InvalidHandshake(str(exc)) from None
        refused = Response(
            int(response.status),
            getattr(response.status, "phrase", ""),
            Headers(list(response.headers.items())),
            response.body or b"",
        )
        raise InvalidStatus(refused) from None
    except WSError as exc:
        raise InvalidHandshake(f"{type(exc).__name__}: {exc}") from None
    assert isinstance(listener, _Listener)
    return PicowsTransport(transport, listener, options.close_timeout)
