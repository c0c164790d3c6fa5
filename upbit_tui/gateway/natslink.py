"""connect_nats: one NATS connection that reconnects forever, but fails fast at start.

nats-py retries the first connection as long as `max_reconnect_attempts` allows, and -1 (what
we want after the start, so outages heal by themselves) would make an unreachable server hang
the start forever. The start gets its own deadline instead; past it, GatewayUnavailableError.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient

from upbit_tui.gateway.protocol import GatewayUnavailableError


async def connect_nats(
    url: str,
    *,
    name: str,
    start_within: float,
    on_disconnected: Callable[[], Awaitable[None]],
    on_reconnected: Callable[[], Awaitable[None]],
    on_error: Callable[[Exception], Awaitable[None]],
    **options: Any,
) -> NatsClient:
    nc = NatsClient()
    try:
        async with asyncio.timeout(start_within):
            await nc.connect(
                url,
                name=name,
                connect_timeout=max(1, int(start_within)),
                reconnect_time_wait=0.25,  # type: ignore[arg-type]  # typed int; floats work
                max_reconnect_attempts=-1,
                allow_reconnect=True,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
                **options,
            )
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await nc.close()
        if isinstance(exc, asyncio.CancelledError) and not isinstance(exc, TimeoutError):
            raise
        reason = "no answer" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
        raise GatewayUnavailableError(f"cannot reach NATS at {url}: {reason}") from None
    return nc
