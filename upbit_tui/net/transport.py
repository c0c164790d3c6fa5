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

import importlib.util
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

TRANSPORTS: Final = ("auto", "websockets", "picows")
FAST_TRANSPORT: Final = "picows"

MessageHandler = Callable[[bytes, float], None]


class _ReadBurst(threading.local):
    """The messages of one socket read, being handed over (per thread: one event loop each)."""

    def __init__(self) -> None:
        self.active = False
        self.after: list[Callable[[], None]] = []

    def end(self) -> None:
        self.active = False
        after = self.after
        if after:
            self.after = []
            for callback in after:
                callback()


READ_BURST: Final = _ReadBurst()


def after_read_burst(callback: Callable[[], None]) -> bool:
    """Run `callback` once the transport has handed over every message of the current read.

    Returns False outside a read (the caller schedules `callback` itself). The router flushes
    its sync subscribers this way: in the same loop iteration as the read, not one later.
    """
    burst = READ_BURST
    if not burst.active:
        return False
    burst.after.append(callback)
    return True


class Transport(Protocol):
    """One open WebSocket (see the module docstring)."""

    name: str

    async def send_text(self, data: bytes | str) -> None: ...

    async def stream(self, on_message: MessageHandler) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass(frozen=True)
class TransportOptions:
    """What every transport is opened with; seconds, 0 or None = off."""

    open_timeout: float | None = 10.0
    ping_interval: float | None = 30.0
    ping_timeout: float | None = 10.0
    close_timeout: float = 2.0
    max_size: int = 2**22
    logger: logging.Logger | None = None


def fast_transport_installed() -> bool:
    return importlib.util.find_spec(FAST_TRANSPORT) is not None


def resolve_transport(name: str) -> str:
    """The transport `name` stands for ("auto" -> picows if installed, else websockets).

    Raises ValueError for an unknown name, or for "picows" when it is not installed.
    """
    if name not in TRANSPORTS:
        raise ValueError(f"unknown transport {name!r} (expected one of {', '.join(TRANSPORTS)})")
    if name == "auto":
        return FAST_TRANSPORT if fast_transport_installed() else "websockets"
    if name == FAST_TRANSPORT and not fast_transport_installed():
        raise ValueError(
            "transport 'picows' is not installed (pip install 'upbit-tui[fast]'), "
            'or use transport = "websockets"'
        )
    return name


async def open_transport(
    name: str, url: str, headers: Mapping[str, str] | None, options: TransportOptions
) -> Transport:
    """Open a WebSocket to `url` with the transport `name` (see `resolve_transport`)."""
    if resolve_transport(name) == "picows":
        from upbit_tui.net.transport_picows import open_picows

        return await open_picows(url, headers, options)
    from upbit_tui.net.transport_websockets import open_websockets

    return await open_websockets(url, headers, options)
