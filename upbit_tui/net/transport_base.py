"""What every transport shares: the Transport protocol, its options, and the read burst.

Split from transport.py so that the implementations (transport_websockets.py,
transport_picows.py) and the module that picks one (transport.py) import this, not each other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

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
