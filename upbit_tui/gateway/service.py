"""GatewayService: one GlobalWebSocketManager served on NATS to every process and machine.

    async with GatewayService(config, nats_url="nats://127.0.0.1:4222", name="gw-a") as gw:
        await gw.wait_active()       # holds the lease (a standby waits here)
        ...

- Remote wishes become proxies inside the gateway (`<session>/<client_id>`), so the manager's
  union, ref-counting, grace period, rate limits, epochs and recovery apply unchanged; events go
  out through the EventPublisher (once per event, whoever wants it).
- Leases: a remote manager's `sync` (its whole state, every `heartbeat` seconds) renews its
  session; a session silent for `lease_ttl` seconds (or the longer lease it asked for, up to
  `max_lease`) is dropped with all its proxies, so the union shrinks. A gateway that never saw
  a session rebuilds it from its next sync: that is how clients resume after a gateway restart
  or a failover, without any extra protocol.
- High availability: the gateway that holds the key `active` in the JetStream KV bucket
  `<prefix>-gateway` (TTL = `active_ttl`) serves; the others stand by, try `create` every
  `active_ttl / 4` seconds and take over when the holder stops refreshing (killed, cut off).
- Trades are also kept in the JetStream stream `<PREFIX>_TRADES` (bounded by `trade_retention`
  seconds and `trade_max_bytes`), de-duplicated by `Nats-Msg-Id = <code>:<sequential_id>`.
  A gateway that starts streaming a market whose last stored trade is recent (a restart, a
  failover) holds the live trades, fetches the gap from Upbit once, and publishes both in
  order: consumers see no gap and no duplicate across the switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.js.api import StorageType
from nats.js.errors import KeyWrongLastSequenceError, ServiceUnavailableError
from nats.js.kv import KeyValue

from upbit_tui.client.manager import GlobalWebSocketManager, PrivateUnavailableError
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.config import Config
from upbit_tui.gateway import protocol
from upbit_tui.gateway.natslink import connect_nats, redact_url, server_requires_auth
from upbit_tui.gateway.protocol import (
    CONTROL_QUEUE,
    GatewayUnavailableError,
    SnapshotRequest,
    SubscribeRequest,
    SyncRequest,
    Wish,
)
from upbit_tui.gateway.publisher import EventPublisher
from upbit_tui.wire.events import DataType, TradeEvent

log = logging.getLogger("upbit_tui.gateway")
# Seconds a bridge waits for the live stream's first trade before fetching the gap anyway.
BRIDGE_WAIT_FOR_LIVE = 10.0

ORDERBOOK_DEPTH = 30  # the gateway streams full books; each consumer trims its own copy
# Keys of the gateways' own lines in the lease bucket, next to `active`.
MEMBER_PREFIX = "member."
GATEWAY_QUEUE_SIZE = 65536  # gateway-side subscriber queues: a publish never waits on NATS long


@dataclass
class GatewaySettings:
    prefix: str = protocol.DEFAULT_PREFIX
    lease_ttl: float = 10.0
    max_lease: float = 3600.0  # the longest a client may ask its wishes to outlive it
    active_ttl: float = 3.0
    trade_retention: float = 24 * 3600.0
    trade_max_bytes: int = 256 * 1024 * 1024
    connect_timeout: float = 2.0
    # A trade stored by a previous gateway at most this old is bridged (its gap fetched once).
    bridge_max_age: float = 120.0
    # Also publish each read's events of a type as one message (protocol.py: batches).
    batches: bool = True


@dataclass
class _Session:
    name: str
    last_seen: float
    lease: float
    # client_id -> (gateway proxy, {type: wish held})
    clients: dict[str, tuple[WebSocketClientProxy, dict[DataType, Wish]]] = field(
        default_factory=dict
    )


class GatewayService:
    """See the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        nats_url: str,
        name: str | None = None,
        settings: GatewaySettings | None = None,
    ) -> None:
        self.config = config
        self.nats_url = nats_url
        self.name = name or f"gateway-{uuid.uuid4().hex[:8]}"
        self.settings = settings or GatewaySettings()
        self.instance = uuid.uuid4().hex  # changes with every start: clients see a switch
        self.manager: GlobalWebSocketManager | None = None
        self._nc: NatsClient | None = None
        self._kv: KeyValue | None = None
        self._publisher: EventPublisher | None = None
        self._sessions: dict[str, _Session] = {}
        self._subs: list[Any] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._serving: list[asyncio.Task[Any]] = []  # ended when this gateway steps down
        self._active = asyncio.Event()
        self._stopped = False
        self.nats_authenticated = False  # the server requires credentials (set at start)
        self.became_active_at: float | None = None
        self.requests_served = 0
        self._wish_lock = asyncio.Lock()
        self._bridged: set[str] = set()
        self._rest: Any = None  # UpbitRestClient for the trade bridge, made on first need
        self.bridged_trades = 0  # subscribe and sync handlers run concurrently

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> GatewayService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def active(self) -> bool:
        return self._active.is_set()

    async def wait_active(self) -> None:
        await self._active.wait()

    async def start(self) -> None:
        """Connect to NATS (GatewayUnavailableError if it cannot) and start the lease loop."""
        self._nc = await connect_nats(
            self.nats_url,
            name=self.name,
            start_within=self.settings.connect_timeout,
            on_disconnected=self._on_disconnected,
            on_reconnected=self._on_reconnected,
            on_error=self._on_nats_error,
            auth=self.config.gateway,
        )
        self.nats_authenticated = server_requires_auth(self._nc)
        self._warn_about_private_data()
        js = self._nc.jetstream()
        bucket = f"{self.settings.prefix}-gateway"
        try:
            kv = await js.create_key_value(
                bucket=bucket, ttl=self.settings.active_ttl, history=1, storage=StorageType.FILE
            )
        except (ServiceUnavailableError, NoRespondersError, nats.errors.TimeoutError):
            raise self._no_jetstream() from None
        except Exception:  # made by a gateway with another --active-ttl: its TTL stands
            try:
                kv = await js.key_value(bucket)
            except Exception as exc:
                raise GatewayUnavailableError(
                    f"cannot use the JetStream bucket {bucket} on NATS at "
                    f"{redact_url(self.nats_url)}: {exc}"
                ) from None
        self._kv = kv
        self._tasks.append(asyncio.create_task(self._hold_lease(kv), name="gateway-lease"))

    def private_refusal(self) -> str | None:
        """Why this gateway does not serve myAsset/myOrder, or None: they would go over a NATS
        server that lets anyone connect and subscribe, unless the operator opted in."""
        if self.nats_authenticated or self.config.gateway.allow_unauthenticated_private:
            return None
        return (
            "the gateway does not serve private data over a NATS server without authentication "
            "(set [gateway] nats_user/nats_password, nats_token, nats_creds or a TLS client "
            "certificate, or allow_unauthenticated_private = true)"
        )

    def _warn_about_private_data(self) -> None:
        if not self.config.auth.has_keys:
            return  # no private data to serve
        shown = redact_url(self.nats_url)
        if self.private_refusal() is not None:
            log.warning(
                "NATS at %s requires no authentication: private data (myAsset, myOrder) is "
                "not served; secure the server (README: Securing the gateway) or set "
                "[gateway] allow_unauthenticated_private = true",
                shown,
            )
        elif not self.nats_authenticated:
            log.warning(
                "serving private data (myAsset, myOrder) over NATS at %s without "
                "authentication (allow_unauthenticated_private = true): anyone who reaches "
                "the server can read the account's balances and orders",
                shown,
            )

    def _no_jetstream(self) -> GatewayUnavailableError:
        return GatewayUnavailableError(
            f"NATS at {redact_url(self.nats_url)} has no JetStream (the gateway keeps its lease "
            "and trades there): start nats-server with -js"
        )

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        was_active = self.active
        await self._step_down()
        if was_active and self._kv is not None:
            # A clean stop hands over at once instead of after the lease's TTL.
            with contextlib.suppress(Exception):
                await self._kv.delete("active")
        if self._kv is not None:
            with contextlib.suppress(Exception):
                await self._kv.delete(self._member_key)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    # ------------------------------------------------------------------ the active lease

    async def _hold_lease(self, kv: KeyValue) -> None:
        """Take the `active` key when free, refresh it while serving, stand by otherwise."""
        interval = self.settings.active_ttl / 4
        revision: int | None = None
        me = self.instance.encode()
        while True:
            try:
                if revision is None:
                    with contextlib.suppress(Exception):
                        revision = await kv.create("active", me)
                    if revision is not None:
                        log.info("gateway %s is active", self.name)
                        await self._serve()
                else:
                    try:
                        revision = await kv.update("active", me, last=revision)
                    except KeyWrongLastSequenceError:
                        log.warning("gateway %s lost the active lease; standing by", self.name)
                        revision = None
                        await self._step_down()
                await kv.put(self._member_key, self._member_entry(revision is not None))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS unreachable: keep serving, retry the lease
                log.debug("lease refresh failed: %s", exc)
            await asyncio.sleep(interval)

    @property
    def _member_key(self) -> str:
        return f"{MEMBER_PREFIX}{self.instance}"

    def _member_entry(self, active: bool) -> bytes:
        """This gateway's line in the bucket (gone with the bucket's TTL once it stops
        refreshing it): how the active gateway knows its standbys, for the monitor."""
        return msgspec.json.encode({"name": self.name, "instance": self.instance, "active": active})

    async def peers(self) -> list[dict[str, Any]]:
        """The other gateways on this NATS and this bucket (standbys), from their lines."""
        kv = self._kv
        if kv is None:
            return []
        try:
            keys = await kv.keys()
        except Exception:  # no keys (nats-py raises), or NATS away: none known
            return []
        found: list[dict[str, Any]] = []
        for key in keys:
            if not key.startswith(MEMBER_PREFIX) or key == self._member_key:
                continue
            with contextlib.suppress(Exception):
                entry = await kv.get(key)
                found.append(msgspec.json.decode(entry.value or b"{}"))
        return sorted(found, key=lambda p: str(p.get("name")))

    async def _serve(self) -> None:
        """Become the active gateway: start the manager, answer wishes, sweep leases."""
        assert self._nc is not None
        nc = self._nc
        js = nc.jetstream()
        await self._ensure_trade_stream(js)
        self.manager = GlobalWebSocketManager(self.config)
        await self.manager.start()
        self._publisher = EventPublisher(
            self._send, self.settings.prefix, batches=self.settings.batches
        )
        prefix = self.settings.prefix
        handlers = {
            "subscribe": self._on_subscribe,
            "sync": self._on_sync,
            "bye": self._on_bye,
            "snapshot": self._on_snapshot,
            "markets": self._on_markets,
            "health": self._on_health,
        }
        for op, handler in handlers.items():
            self._subs.append(
                await nc.subscribe(
                    protocol.control_subject(prefix, op),
                    queue=CONTROL_QUEUE,
                    cb=self._answer(handler),
                )
            )
        await nc.flush()
        self._serving.append(asyncio.create_task(self._sweep_leases(), name="gateway-sweep"))
        self.became_active_at = time.monotonic()
        self._active.set()

    async def _step_down(self) -> None:
        self._active.clear()
        serving, self._serving = self._serving, []
        for task in serving:
            task.cancel()
        for task in serving:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        for session in list(self._sessions):
            self._drop_session(session)
        if self._publisher is not None:
            await self._publisher.aclose()
        manager, self.manager = self.manager, None
        if manager is not None:
            await manager.stop()
        rest, self._rest = self._rest, None
        if rest is not None:
            await rest.close()
        self._bridged.clear()

    async def _ensure_trade_stream(self, js: Any) -> None:
        s = self.settings
        params = {
            "name": f"{s.prefix.upper()}_TRADES",
            "subjects": [f"{s.prefix}.trade.>"],
            "max_age": s.trade_retention,
            "max_bytes": s.trade_max_bytes,
            "duplicate_window": min(120.0, s.trade_retention),
            "storage": StorageType.FILE,
        }
        try:
            await js.add_stream(**params)
        except Exception:
            await js.update_stream(**params)

    async def _send(self, subject: str, payload: bytes, headers: dict[str, str] | None) -> None:
        assert self._nc is not None
        await self._nc.publish(subject, payload, headers=headers)

    # ------------------------------------------------------------------ sessions and wishes

    def _session(self, session_id: str, name: str, lease: float) -> _Session:
        lease = min(max(lease, self.settings.lease_ttl), self.settings.max_lease)
        session = self._sessions.get(session_id)
        if session is None:
            session = self._sessions[session_id] = _Session(name, time.monotonic(), lease)
            log.info("client %s (%s) attached", name, session_id[:8])
        session.last_seen = time.monotonic()
        session.lease = lease
        return session

    def _client(self, session_id: str, session: _Session, client_id: str
                ) -> tuple[WebSocketClientProxy, dict[DataType, Wish]]:  # fmt: skip
        entry = session.clients.get(client_id)
        if entry is None:
            assert self.manager is not None
            proxy = WebSocketClientProxy(f"{session_id}/{client_id}", self.manager)
            entry = session.clients[client_id] = (proxy, {})
        return entry

    async def _apply(self, session_id: str, session: _Session, wish: Wish, *, add: bool) -> None:
        """Make the gateway hold `wish` (add=True: on top of what it holds; else exactly)."""
        assert self.manager is not None and self._publisher is not None
        data_type = DataType(wish.type)
        if data_type.is_private and (refusal := self.private_refusal()) is not None:
            raise PrivateUnavailableError(refusal)
        proxy, held = self._client(session_id, session, wish.client_id)
        gw_id = proxy.client_id
        before = held.get(data_type)
        codes = wish.codes
        if add and before is not None and before.codes is not None and codes is not None:
            codes = sorted(set(before.codes) | set(codes))
        target = Wish(wish.client_id, wish.type, codes, wish.depth, wish.level)
        if before == target:
            return
        extra: dict[str, Any] = {}
        if data_type is DataType.ORDERBOOK:
            extra = {"depth": ORDERBOOK_DEPTH, "level": wish.level or 0}
        if before is not None and (
            before.codes is None or codes is None or before.level != target.level
        ):
            await self._withdraw(proxy, held, data_type)
            before = None
        had = set() if before is None or before.codes is None else set(before.codes)
        new_codes = None if codes is None else [c for c in codes if c not in had]
        if data_type is DataType.TRADE and new_codes:
            await self._hold_for_bridge(new_codes)
        if new_codes is None or new_codes:
            await self.manager.subscribe(
                gw_id,
                data_type,
                new_codes,
                self._publisher.forwarder(gw_id),
                queue_size=GATEWAY_QUEUE_SIZE,
                **extra,
            )
            self._publisher.hold(gw_id, data_type, new_codes, wish.level)
        gone = sorted(had - set(codes or ()))
        if gone:
            await self.manager.unsubscribe(gw_id, data_type, gone)
            self._publisher.release(gw_id, data_type, gone, wish.level)
        held[data_type] = target

    async def _hold_for_bridge(self, codes: list[str]) -> None:
        """Codes this gateway streams for the first time: if a previous gateway published their
        trades recently (JetStream has the last one), hold the live trades and fetch the gap
        from Upbit once, so a restart or failover loses no trade."""
        assert self._nc is not None and self._publisher is not None
        js = self._nc.jetstream()
        stream = f"{self.settings.prefix.upper()}_TRADES"
        for code in codes:
            if code in self._bridged:
                continue
            self._bridged.add(code)
            subject = protocol.event_subject(self.settings.prefix, "trade", code)
            try:
                raw = await js.get_last_msg(stream, subject)
                last = msgspec.json.decode(raw.data or b"", type=TradeEvent)
            except Exception:  # nothing stored (first start) or unreadable: nothing to bridge
                continue
            last_ms = last.trade_timestamp or last.timestamp_ms
            if time.time() * 1000 - last_ms > self.settings.bridge_max_age * 1000:
                continue
            self._publisher.hold_trades(code, last.sequential_id)
            self._serving.append(
                asyncio.create_task(self._bridge(code, last.sequential_id, last_ms), name="bridge")
            )

    async def _bridge(self, code: str, after_sid: int, after_ms: int) -> None:
        assert self._publisher is not None and self.manager is not None
        missed: list[TradeEvent] = []
        # Fetch once the live stream has begun: the gap then overlaps it (duplicates are dropped
        # by id) instead of missing what was traded between the fetch and the stream's start.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BRIDGE_WAIT_FOR_LIVE):
                await self._publisher.first_live_trade(code)
        try:
            if self._rest is None:
                from upbit_tui.net.rest import UpbitRestClient

                self._rest = UpbitRestClient(self.config, rate_limiter=self.manager.rate_limiter)
            missed = await self._rest.get_trades_since(
                code, since_sequential_id=after_sid, since_timestamp_ms=after_ms
            )
        except Exception as exc:
            log.warning("trades of %s between gateways not fetched (%s): a gap", code, exc)
        await self._publisher.bridge_trades(code, missed)
        self.bridged_trades += len(missed)
        log.info("%s: %d trades missed between gateways filled from Upbit", code, len(missed))

    async def _withdraw(self, proxy: WebSocketClientProxy, held: dict[DataType, Wish],
                        data_type: DataType) -> None:  # fmt: skip
        assert self.manager is not None and self._publisher is not None
        wish = held.pop(data_type, None)
        if wish is None:
            return
        await self.manager.unsubscribe(proxy.client_id, data_type, None)
        self._publisher.release(proxy.client_id, data_type, wish.codes, wish.level)

    def _drop_session(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        for proxy, _held in session.clients.values():
            if self._publisher is not None:
                self._publisher.release_all(proxy.client_id)
            if self.manager is not None:
                self.manager.remove_client(proxy.client_id)
        log.info("client %s (%s) detached", session.name, session_id[:8])

    async def _sweep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_ttl / 4)
            now = time.monotonic()
            for session_id, session in list(self._sessions.items()):
                if now - session.last_seen > session.lease:
                    log.warning("client %s stopped heartbeating: its wishes expire", session.name)
                    self._drop_session(session_id)

    # ------------------------------------------------------------------ request handlers

    async def _on_subscribe(self, data: bytes) -> Any:
        req = msgspec.json.decode(data, type=SubscribeRequest)
        async with self._wish_lock:
            session = self._session(req.session, req.name, req.lease)
            await self._apply(req.session, session, req.wish, add=True)
            return {"latest": self._latest_for(req.session, req.wish)}

    def _latest_for(self, session_id: str, wish: Wish) -> list[Any]:
        """The latest values a local late subscriber would be handed (Router.replay_values),
        for a remote one: its process has none cached. Codes whose owner is this very wish
        are left out: its own replay went out on the bus already (publisher.py)."""
        assert self.manager is not None and self._publisher is not None
        data_type = DataType(wish.type)
        level = float(wish.level or 0.0) if data_type is DataType.ORDERBOOK else None
        gw_id = f"{session_id}/{wish.client_id}"
        return [
            event
            for event in self.manager.replay_values(data_type, wish.codes, level)
            if self._publisher.owner(data_type.value, event.symbol, level) != gw_id  # type: ignore[attr-defined]
        ]

    async def _on_sync(self, data: bytes) -> Any:
        req = msgspec.json.decode(data, type=SyncRequest)
        async with self._wish_lock:
            return await self._sync_session(req)

    async def _sync_session(self, req: SyncRequest) -> Any:
        session = self._session(req.session, req.name, req.lease)
        wanted = {(w.client_id, DataType(w.type)): w for w in req.wishes}
        rejected: list[dict[str, str]] = []
        for client_id, (proxy, held) in list(session.clients.items()):
            for data_type in list(held):
                if (client_id, data_type) not in wanted:
                    await self._withdraw(proxy, held, data_type)
            if not held and all(c != client_id for c, _ in wanted):
                del session.clients[client_id]
                proxy_id = proxy.client_id
                if self.manager is not None:
                    self.manager.remove_client(proxy_id)
        for wish in wanted.values():
            try:
                await self._apply(req.session, session, wish, add=False)
            except Exception as exc:  # one bad wish (a code delisted meanwhile) fails alone
                rejected.append({"client_id": wish.client_id, "type": wish.type, "error": str(exc)})
        assert self.manager is not None
        return {
            "gateway": self.name,
            "instance": self.instance,
            "rejected": rejected,
            "private": self._private_status(),
        }

    def _private_status(self) -> dict[str, Any]:
        assert self.manager is not None
        refusal = self.private_refusal()
        if refusal is not None:
            return {"available": False, "reason": refusal}
        return {
            "available": self.manager.is_private_available(),
            "reason": self.manager.private_unavailable_reason,
        }

    async def _on_bye(self, data: bytes) -> Any:
        self._drop_session(msgspec.json.decode(data)["session"])
        return True

    async def _on_snapshot(self, data: bytes) -> Any:
        assert self.manager is not None
        req = msgspec.json.decode(data, type=SnapshotRequest)
        if req.kind == "ticker":
            return await self.manager.get_ticker_snapshot(req.codes)
        if req.kind == "orderbook":
            return await self.manager.get_orderbook_snapshot(req.codes, depth=req.depth)
        if req.kind == "candle":
            return await self.manager.get_candle_snapshot(req.codes, req.timeframe, req.count)
        raise ValueError(f"unknown snapshot kind {req.kind!r}")

    async def _on_markets(self, data: bytes) -> Any:
        assert self.manager is not None
        listed = await self.manager.markets.listed()
        return None if listed is None else sorted(listed)

    async def _on_health(self, data: bytes) -> Any:
        assert self.manager is not None
        health = await self.manager.health_check()
        refusal = self.private_refusal()
        if refusal is not None and isinstance(health.get("private"), dict):
            health["private"] = {**health["private"], "available": False, "reason": refusal}
        health["gateway"] = self.status()
        health["gateway"]["standbys"] = [p for p in await self.peers() if not p.get("active")]
        return health

    def status(self) -> dict[str, Any]:
        """The gateway, its clients and their subscriptions (for health and the monitor)."""
        now = time.monotonic()
        publisher = self._publisher
        return {
            "name": self.name,
            "instance": self.instance,
            "active": self.active,
            "active_for_s": (
                None
                if not self.active or self.became_active_at is None
                else round(now - self.became_active_at, 3)
            ),
            "nats_url": redact_url(self.nats_url),
            "nats_connected": self._nc is not None and self._nc.is_connected,
            "nats_authenticated": self.nats_authenticated,
            "private_served": self.private_refusal() is None,
            "published": 0 if publisher is None else publisher.published,
            "batches_published": 0 if publisher is None else publisher.batches_published,
            "bridged_trades": self.bridged_trades,
            "publish_errors": 0 if publisher is None else publisher.publish_errors,
            "requests_served": self.requests_served,
            "clients": [
                {
                    "session": sid,
                    "name": s.name,
                    "last_seen_s": round(now - s.last_seen, 3),
                    "lease_s": s.lease,
                    "subscriptions": {
                        cid: {t.value: w.codes for t, w in held.items()}
                        for cid, (_p, held) in s.clients.items()
                    },
                }
                for sid, s in self._sessions.items()
            ],
        }

    def _answer(self, handler: Any) -> Any:
        """A NATS callback answering a request with the handler's value or its error."""

        async def on_request(msg: Msg) -> None:
            self.requests_served += 1
            try:
                reply = protocol.ok_reply(await handler(msg.data))
            except Exception as exc:
                reply = protocol.error_reply(exc)
            if msg.reply:
                with contextlib.suppress(Exception):
                    await msg.respond(reply)

        return on_request

    # ------------------------------------------------------------------ NATS callbacks

    async def _on_nats_error(self, exc: Exception) -> None:
        log.debug("NATS: %s", exc)

    async def _on_disconnected(self) -> None:
        if not self._stopped and self._nc is not None:  # not a start that failed
            log.warning("gateway %s lost NATS; reconnecting", self.name)

    async def _on_reconnected(self) -> None:
        log.info("gateway %s reconnected to NATS", self.name)
