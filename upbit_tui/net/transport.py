"""The WebSocket under a Connection: websockets (always installed) or picows (`upbit-tui[fast]`).

A `Connection` owns the protocol (subscription, epochs, watchdog, backoff); a transport only
moves frames. The interface is small and push-based:

    transport = await open_transport("auto", url, headers, options)
    await transport.send_text(request)         # one text message (bytes are UTF-8 JSON)
    await transport.stream(on_message)         # until the socket closes: raises ConnectionClosed
    await transport.close(1000, "reason")      # close handshake, bounded by options.close_timeout

`stream(on_message)` calls `on_message(payload: bytes, received_at: float)` for every data
message, synchronously from the socket's reader (no task wake-up and no queue per message);
messages that arrived before `stream()` was called are delivered first, in order. The handler
must not block or raise. Once `stream()` returns or is cancelled, later messages are discarded.

Both transports speak websockets' exceptions, the vocabulary `Connection` already handles:
`InvalidStatus` (with the refused handshake's status code and headers, e.g. Retry-After),
`InvalidHandshake`, `ConnectionClosed` (with the close frames received/sent), plus `OSError`
and `TimeoutError`.

`[connection] transport`: "auto" (picows when it is installed, else websockets), "websockets"
or "picows". picows parses frames in C (Cython): end to end about half the CPU per message
flat out, ~40 % less paced; see BENCHMARKS.md ("Peers").
"""

from __future__ import annotations

from collections.abc import Mapping

from upbit_tui.config import FAST_TRANSPORT, TRANSPORTS, resolve_transport
from upbit_tui.net.transport_base import (
    READ_BURST,
    MessageHandler,
    Transport,
    TransportOptions,
    after_read_burst,
)

__all__ = [
    "FAST_TRANSPORT",
    "READ_BURST",
    "TRANSPORTS",
    "MessageHandler",
    "Transport",
    "TransportOptions",
    "after_read_burst",
    "open_transport",
    "resolve_transport",
]


async def open_transport(
    name: str, url: str, headers: Mapping[str, str] | None, options: TransportOptions
) -> Transport:
    """Open a WebSocket to `url` with the transport `name` (see `resolve_transport`)."""
    if resolve_transport(name) == "picows":
        from upbit_tui.net.transport_picows import open_picows

        return await open_picows(url, headers, options)
    from upbit_tui.net.transport_websockets import open_websockets

    return await open_websockets(url, headers, options)
