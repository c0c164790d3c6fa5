"""connect_nats: one NATS connection that reconnects forever, but fails fast at start.

nats-py retries the first connection as long as `max_reconnect_attempts` allows, and -1 (what
we want after the start, so outages heal by themselves) would make an unreachable server hang
the start forever. The start gets its own deadline instead; past it, GatewayUnavailableError.
A server that refuses our credentials or our TLS is not going to change its mind: that ends
the start at once, with what it said.

Credentials come from `[gateway]` (config.GatewayConfig); they reach nats-py as callbacks, so
no password or token sits in the client's options, and `redact_url` takes the user and
password out of any URL shown (`nats://alice:pw@host` -> `nats://***@host`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient

from upbit_tui.config import GatewayConfig, Secret, nats_tls_context
from upbit_tui.gateway.protocol import GatewayUnavailableError
from upbit_tui.redaction import redact_url

__all__ = [
    "cancel_and_wait",
    "connect_nats",
    "connect_options",
    "redact_url",
    "server_requires_auth",
]

# What a server says when it will not take us: retrying cannot help.
_REFUSALS = ("authorization violation", "authentication", "permissions violation")


def connect_options(gateway: GatewayConfig | None) -> dict[str, Any]:
    """nats-py connect() keywords for the configured credentials and TLS (validated by
    config.load_config, so a bad file was reported there in one line)."""
    if gateway is None:
        return {}
    options: dict[str, Any] = {}
    if gateway.nats_user:
        user, password = gateway.nats_user, gateway.nats_password or Secret("")
        options["user"] = lambda: user
        options["password"] = password.reveal  # called at CONNECT, never stored in clear
    if gateway.nats_token:
        options["token"] = gateway.nats_token.reveal
    if gateway.nats_creds:
        options["user_credentials"] = gateway.nats_creds
    if gateway.nats_nkey_seed:
        options["nkeys_seed"] = gateway.nats_nkey_seed
    context = nats_tls_context(gateway)
    if context is not None:
        options["tls"] = context
    return options


def server_requires_auth(nc: NatsClient) -> bool:
    """Whether the server we reached lets nobody in without credentials (its INFO says
    auth_required, or it verifies client certificates): then only those it trusts can read
    the bus. nats-py keeps INFO in `_server_info` (no public accessor)."""
    info = getattr(nc, "_server_info", None) or {}
    return bool(info.get("auth_required") or info.get("tls_verify"))


async def connect_nats(
    url: str,
    *,
    name: str,
    start_within: float,
    on_disconnected: Callable[[], Awaitable[None]],
    on_reconnected: Callable[[], Awaitable[None]],
    on_error: Callable[[Exception], Awaitable[None]],
    auth: GatewayConfig | None = None,
    **options: Any,
) -> NatsClient:
    nc = NatsClient()
    refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def error_cb(exc: Exception) -> None:
        if not refused.done() and not nc.is_connected:
            reason = _refusal(exc)
            if reason is not None:
                refused.set_result(reason)
        await on_error(exc)

    shown = redact_url(url)
    connect = asyncio.ensure_future(
        nc.connect(
            url,
            name=name,
            connect_timeout=max(1, int(start_within)),
            reconnect_time_wait=0.25,  # type: ignore[arg-type]  # typed int; floats work
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            error_cb=error_cb,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            **connect_options(auth),
            **options,
        )
    )
    try:
        async with asyncio.timeout(start_within):
            waits: list[asyncio.Future[Any]] = [connect, refused]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if refused.done() and not connect.done():
            raise GatewayUnavailableError(f"NATS at {shown} refused us: {refused.result()}")
        connect.result()
    except BaseException as exc:
        await cancel_and_wait(connect)
        with contextlib.suppress(Exception):
            await nc.close()
        if isinstance(exc, GatewayUnavailableError):
            raise
        if isinstance(exc, asyncio.CancelledError) and not isinstance(exc, TimeoutError):
            raise
        reason = "no answer" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
        reason = redact_url(reason)
        raise GatewayUnavailableError(f"cannot reach NATS at {shown}: {reason}") from None
    finally:
        refused.cancel()
    return nc


async def cancel_and_wait(task: asyncio.Future[Any], within: float = 5.0) -> None:
    """Cancel `task` until it ends (at most `within` seconds). Once is not always enough:
    Python 3.11's asyncio.wait_for swallows a cancellation that arrives as its inner future
    completes, and nats-py's connect loop, which retries forever, would then never end."""
    deadline = asyncio.get_running_loop().time() + within
    while not task.done() and asyncio.get_running_loop().time() < deadline:
        task.cancel()
        await asyncio.wait([task], timeout=0.05)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: its failure is not news once we gave up on it


def _refusal(exc: BaseException) -> str | None:
    """Why the server will never take this client, or None for an error worth retrying."""
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    text = str(exc).strip()
    if any(word in text.lower() for word in _REFUSALS):
        return text.removeprefix("nats: ").strip("'") or type(exc).__name__
    return None
