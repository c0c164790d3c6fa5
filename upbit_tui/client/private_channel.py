"""PrivateChannel: the keys, and REST polling while the private WebSocket cannot serve.

The manager owns the private `Connection` (it opens and closes sockets); this owns what is
particular to the private side: the API keys (a fresh JWT per handshake, never logged), whether
private data can be had at all, the switch to RestFallbackPoller when the socket keeps failing
(and back when it is live), and seeding balances from REST since myAsset has no snapshot.

    channel = PrivateChannel(auth, rest_client, publish, spawn, wants=..., poll_interval=2.0)
    channel.credentials, channel.set_credentials(auth)
    channel.auth_headers() -> {"Authorization": "Bearer ..."}
    channel.unavailable_reason / degraded_reason / mode ("websocket" | "rest-fallback")
    channel.on_connection_state(conn, wanted)   # LIVE stops the fallback; failing starts it
    await channel.stop_fallback()
    channel.seed_balances()                     # spawns a REST seed of every balance
    channel.report() -> dict                    # health's and the dashboard's "private"
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from upbit_tui.config import AuthConfig
from upbit_tui.net.auth import NO_KEYS_REASON, Credentials, bearer
from upbit_tui.net.connection import Connection, ConnectionState
from upbit_tui.wire.events import DataType, MarketEvent

if TYPE_CHECKING:
    from upbit_tui.client.private import RestFallbackPoller
    from upbit_tui.net.rest import UpbitRestClient

log = logging.getLogger(__name__)

# Private WebSocket attempts that fail in a row before balances/orders switch to REST polling.
PRIVATE_FALLBACK_AFTER = 3


class PrivateChannel:
    """Keys, fallback polling and balance seeding of the private side; see the module doc."""

    def __init__(
        self,
        credentials: AuthConfig,
        rest_client: Callable[[], UpbitRestClient],
        publish: Callable[[MarketEvent], Any],
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
        *,
        subscribed: Callable[[DataType], bool],
        poll_interval: float,
    ) -> None:
        self.credentials = credentials
        self.publish = publish  # replaced by the manager when its router is rebuilt
        self._rest_client = rest_client
        self._spawn = spawn
        self._subscribed = subscribed
        self._poll_interval = poll_interval
        self.fallback: RestFallbackPoller | None = None
        self._fallback_reason: str | None = None

    @property
    def has_keys(self) -> bool:
        return self.credentials.has_keys

    @property
    def unavailable_reason(self) -> str | None:
        """Why balances/orders cannot be provided at all (None when they can)."""
        return None if self.credentials.has_keys else NO_KEYS_REASON

    @property
    def degraded_reason(self) -> str | None:
        """Set while balances/orders come from REST polling instead of the WebSocket."""
        return self._fallback_reason if self.fallback is not None else None

    @property
    def mode(self) -> str:
        return "rest-fallback" if self.fallback is not None else "websocket"

    def set_credentials(self, access_key: str, secret_key: str) -> None:
        self.credentials = AuthConfig(access_key=access_key, secret_key=secret_key)

    def auth_headers(self) -> dict[str, str]:
        # A fresh token (new nonce) for every handshake; never logged.
        creds = self.credentials
        assert creds.access_key and creds.secret_key
        return bearer(Credentials(creds.access_key.reveal(), creds.secret_key.reveal()))

    # ------------------------------------------------------------------ fallback

    def on_connection_state(self, conn: Connection, wanted: bool) -> None:
        """The private socket changed state: stop polling when live, poll when it keeps failing."""
        if conn.state is ConnectionState.LIVE:
            self._spawn(self.stop_fallback(), "upbit-stop-fallback")
            return
        if not wanted:
            return
        failing = conn.state is ConnectionState.UNAUTHORIZED or (
            conn.state in (ConnectionState.FAILED, ConnectionState.BACKOFF)
            and conn.recovery.attempts >= PRIVATE_FALLBACK_AFTER
        )
        if failing and self.fallback is None:
            reason = conn.last_error or "private WebSocket unavailable"
            self._start_fallback(f"balances and orders polled over REST: {reason}")

    def _start_fallback(self, reason: str) -> None:
        from upbit_tui.client.private import RestFallbackPoller

        self._fallback_reason = reason
        log.warning("%s", reason)
        self.fallback = RestFallbackPoller(
            self._rest_client(),
            self._on_fallback_event,
            interval=self._poll_interval,
            orders=lambda: self._subscribed(DataType.ORDER),
            balances=lambda: self._subscribed(DataType.BALANCE),
        )
        self.fallback.start()

    async def stop_fallback(self, why: str = "private WebSocket is back") -> None:
        poller, self.fallback = self.fallback, None
        if poller is not None:
            log.info("%s: REST polling stopped", why)
            await poller.stop()
        self._fallback_reason = None

    def _on_fallback_event(self, event: MarketEvent) -> None:
        # REST data belongs to no connection: epoch 0, so a reconnect never discards it.
        self.publish(event)

    # ------------------------------------------------------------------ balances

    def seed_balances(self) -> None:
        """myAsset has no snapshot: seed every balance from REST for a new subscriber."""
        self._spawn(self._seed_balances(), "upbit-seed-balances")

    async def _seed_balances(self) -> None:
        from upbit_tui.client.private import seed_balances

        try:
            event = await seed_balances(self._rest_client())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("could not seed balances from REST: %s", exc)
            return
        self.publish(event)

    def report(self) -> dict[str, Any]:
        """Health's and the dashboard's "private" section."""
        return {
            "available": self.unavailable_reason is None,
            "reason": self.unavailable_reason,
            "mode": self.mode,
            "degraded_reason": self.degraded_reason,
        }
