"""The websockets transport (the default install): websockets' asyncio client, push delivery.

websockets parses every frame in `data_received` and hands each to `process_event`, which
normally queues data frames for `recv()`: a queue put, a future and a task wake-up per message.
`_PushConnection` (a `create_connection` subclass, as websockets documents for customising a
connection) hands complete data messages to the stream's handler right there instead. Control
frames (ping, pong, close) and the handshake still take websockets' own path, so keepalive and
the close handshake are websockets' unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

from upbit_tui.net.transport_base import READ_BURST, MessageHandler, TransportOptions

_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT


class _PushConnection(ClientConnection):
    """A ClientConnection whose data messages go to one handler, synchronously."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handler: MessageHandler | None = None
        # Messages before the handler is attached (None once attached or detached).
        self.early: list[tuple[bytes, float]] | None = []
        self.fragments: list[bytes] | None = None

    def data_received(self, data: bytes) -> None:
        burst = READ_BURST
        if burst.active:  # not expected: reads are separate loop callbacks
            super().data_received(data)
            return
        burst.active = True
        try:
            super().data_received(data)
        finally:
            burst.end()

    def process_event(self, event: Event) -> None:
        if self.response is None or event.__class__ is not Frame:
            super().process_event(event)  # the handshake response
            return
        frame: Frame = event
        opcode = frame.opcode
        if opcode is _BINARY or opcode is _TEXT:
            if not frame.fin:
                self.fragments = [bytes(frame.data)]
                return
            data = bytes(frame.data)
        elif opcode is _CONT:
            if self.fragments is None:
                return  # the protocol layer rejects a stray continuation before this
            self.fragments.append(bytes(frame.data))
            if not frame.fin:
                return
            data = b"".join(self.fragments)
            self.fragments = None
        else:
            super().process_event(event)  # ping, pong, close
            return
        handler = self.handler
        if handler is not None:
            handler(data, time.time())
        elif self.early is not None:
            self.early.append((data, time.time()))

    def attach(self, handler: MessageHandler) -> None:
        early, self.early = self.early, None
        self.handler = handler
        for data, received_at in early or ():
            handler(data, received_at)

    def detach(self) -> None:
        self.handler = None
        self.early = None


class WebsocketsTransport:
    name = "websockets"

    def __init__(self, connection: _PushConnection) -> None:
        self._ws = connection

    async def send_text(self, data: bytes | str) -> None:
        await self._ws.send(data, text=True)

    async def stream(self, on_message: MessageHandler) -> None:
        ws = self._ws
        ws.attach(on_message)
        try:
            await ws.wait_closed()
        finally:
            ws.detach()
        raise ws.protocol.close_exc

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code, reason)


async def open_websockets(
    url: str, headers: Mapping[str, str] | None, options: TransportOptions
) -> WebsocketsTransport:
    ws = await connect(
        url,
        additional_headers=dict(headers) if headers else None,
        open_timeout=options.open_timeout or None,
        ping_interval=options.ping_interval or None,
        ping_timeout=options.ping_timeout or None,
        close_timeout=options.close_timeout,
        proxy=None,
        compression=None,
        max_size=options.max_size,
        max_queue=64,
        logger=options.logger,
        create_connection=_PushConnection,
    )
    assert isinstance(ws, _PushConnection)
    return WebsocketsTransport(ws)
