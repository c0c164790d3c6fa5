"""One Upbit WebSocket, kept alive for as long as there is something to subscribe to.

A thin async shell (python-websockets style) around callables the manager supplies:
- `request_factory()` returns the whole desired subscription as one request message (bytes or
  str), or None when nothing is wanted. Upbit replaces the subscription on every request, so the
  connection only ever sends the full current request: once after each (re)connect, and again
  whenever `request_changed()` is called and the request differs from what was last sent.
- `on_frame(data, epoch, received_at)` decodes and routes one frame; it must not block. It
  returns True when the frame carried market data (feeds the staleness watchdog).
- `on_open(epoch)` runs synchronously after the subscription went out and before the first
  frame is read (the manager arms trade backfill there).
- `on_resubscribe(epoch)` runs synchronously just before a request goes out that restores a
  subscription the server lost (see below): the socket stayed, but data was missed.
- `probe()` returns a LIST_SUBSCRIPTIONS request and `probe_matches(request, listing)` says
  whether an answer shows `request`; the manager hands answers back via `subscription_listed`.

Silence is probed before it is punished. Quiet markets (illiquid tickers and trades, candles)
legitimately send nothing for minutes, so after `stale_after` without a data frame the watchdog
asks the server what it thinks we are subscribed to (one message from the per-connection
budget, at most once per `stale_after` of silence) and waits up to `ping_timeout` for the
answer:
- it shows our subscription -> healthy but quiet: stays LIVE, `status()["quiet"]` is true;
- it differs (the server lost or changed it) -> the whole desired request is sent again, on
  the same socket, with `on_resubscribe` first (`resubscribes`);
- no frame at all -> the connection is dead: close and reconnect (`stale_closes`);
- some other frame but no answer (an error frame, say) -> alive, subscription unverified.
Without `probe` the watchdog closes on silence, as it does for any stream that cannot be asked.

What kills a connection and what happens then:
- abrupt drop or clean close from the server -> reconnect after backoff;
- no pong within ping_timeout (half-open socket) -> the transport closes it -> reconnect;
- no data frame for `stale_after` while subscribed and no answer to the watchdog's probe
  within `ping_timeout` -> close, reconnect;
- handshake refused with 429/418 -> wait what the server asks (Retry-After, capped), else 1 s
  doubling (recovery.py);
- handshake refused with 401/403, or `auth_failed()` after an INVALID_AUTH error frame ->
  state UNAUTHORIZED, keep retrying with backoff and a fresh token each time.
Each successful open is a new epoch (EpochManager); frames are tagged with it.

The socket itself is a transport (net/transport.py: websockets, or picows with the `fast` extra,
per `[connection] transport`) that pushes each message to the read loop's handler from its
socket reader: no task wake-up per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from upbit_tui.config import ConnectionConfig
from upbit_tui.net.recovery import EpochManager, RecoveryEngine, parse_retry_after
from upbit_tui.net.transport import Transport, TransportOptions, open_transport
from upbit_tui.redaction import redact

log = logging.getLogger(__name__)
# websockets logs every handshake header at DEBUG, the private socket's Authorization (whose JWT
# carries the access key) included, and picows logs every connect and disconnect at INFO (our
# own state changes say that already): the transports' logger for our sockets shows warnings.
_WIRE_LOG = logging.getLogger(f"{__name__}.wire")
_WIRE_LOG.setLevel(logging.WARNING)
# Seconds a close handshake may take before the socket is aborted (see Connection._open).
CLOSE_TIMEOUT = 2.0

Request = bytes | str
FrameHandler = Callable[[bytes, int, float], bool]


class ConnectionState(StrEnum):
    IDLE = "idle"  # nothing to subscribe to: no socket (opened lazily)
    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"  # the watchdog found a dead stream (silent, probe unanswered); reconnecting
    BACKOFF = "backoff"  # waiting before the next attempt
    FAILED = "failed"  # the last attempt failed (network, handshake)
    UNAUTHORIZED = "unauthorized"  # keys refused (401 at the handshake or INVALID_AUTH)
    CLOSED = "closed"  # stopped by its owner


class MessageBudget(Protocol):
    """Upbit's per-connection request budget (5/s and 100/min); one per socket."""

    async def acquire(self) -> None: ...


class Connection:
    """A self-healing WebSocket to one Upbit endpoint. Owned and stopped by the manager."""

    def __init__(
        self,
        kind: str,
        url: str,
        config: ConnectionConfig,
        *,
        epochs: EpochManager,
        on_frame: FrameHandler,
        request_factory: Callable[[], Request | None],
        message_budget: MessageBudget,
        connect_gate: Callable[[], Awaitable[None]] | None = None,
        headers_factory: Callable[[], Mapping[str, str]] | None = None,
        on_open: Callable[[int], None] | None = None,
        on_resubscribe: Callable[[int], None] | None = None,
        on_state: Callable[[Connection], None] | None = None,
        watchdog: bool = True,
        probe: Callable[[], Request] | None = None,
        probe_matches: Callable[[Request, Any], bool] | None = None,
        recovery: RecoveryEngine | None = None,
    ) -> None:
        self.kind = kind
        self.url = url
        self._config = config
        self._epochs = epochs
        self._on_frame = on_frame
        self._request_factory = request_factory
        self._message_budget = message_budget
        self._connect_gate = connect_gate
        self._headers_factory = headers_factory
        self._on_open = on_open
        self._on_resubscribe = on_resubscribe
        self._on_state = on_state
        self._watchdog_enabled = watchdog
        self._probe = probe
        self._probe_matches = probe_matches
        self.recovery = recovery or RecoveryEngine(config)
        self._options = TransportOptions(
            open_timeout=config.open_timeout or None,
            ping_interval=config.ping_interval or None,
            ping_timeout=config.ping_timeout or None,
            # We only close to stop or to reconnect: under a flood the server may send its whole
            # backlog before answering the close, so wait briefly, then abort.
            close_timeout=min(max(config.ping_timeout, 0.5), CLOSE_TIMEOUT),
            logger=_WIRE_LOG,
        )

        self.state = ConnectionState.IDLE
        self.epoch = 0
        self.last_error: str | None = None
        self.messages_sent = 0
        self.frames_received = 0
        self.frame_errors = 0
        self.stale_closes = 0
        self.probes_sent = 0
        self.probes_unverified = 0  # answered with something other than the listing
        self.resubscribes = 0  # the server's listing differed: whole request sent again
        self._connected_at: float | None = None  # monotonic
        self._last_data = 0.0
        self._last_answer = 0.0  # the last probe the server answered (epoch seconds)
        self._quiet_since = 0.0  # a probe confirmed our subscription on a silent stream
        self._probe_reply: asyncio.Future[Any] | None = None
        self._probe_epoch = 0
        self._lost = False  # the server lost our subscription: the next send restores it
        self._ws: Transport | None = None
        self._sent: Request | None = None
        self._dirty = asyncio.Event()
        self._wanted = asyncio.Event()
        self._kick = asyncio.Event()
        self._synced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._close_reason: str | None = None
        self._skip_backoff = False

    # ----------------------------------------------------------------- control

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"upbit-{self.kind}-connection"
            )
            self.request_changed()

    async def stop(self) -> None:
        """Close the socket and end every task of this connection."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state(ConnectionState.CLOSED)

    def request_changed(self) -> None:
        """The desired subscription may have changed: send it (batched) if it differs."""
        self._dirty.set()
        self._wanted.set()

    async def reconnect(self) -> None:
        """Drop the current socket and connect again at once (user request, new keys)."""
        self.recovery.reset()
        self._skip_backoff = True
        self._kick.set()
        await self._close_current("reconnect requested")

    async def auth_failed(self, reason: str) -> None:
        """The server refused our credentials after the handshake (INVALID_AUTH frame)."""
        self.last_error = reason
        self._set_state(ConnectionState.UNAUTHORIZED)
        await self._close_current(reason)

    def subscription_listed(self, listing: object, epoch: int) -> None:
        """The server answered LIST_SUBSCRIPTIONS on the socket of `epoch` (from on_frame)."""
        reply = self._probe_reply
        if reply is not None and not reply.done() and epoch == self._probe_epoch:
            reply.set_result(listing)

    async def wait_synced(self) -> None:
        """Wait until the socket is live and the current desired request has been sent.

        Wrap it in `asyncio.timeout()`: it waits as long as the connection is down.
        """

        def synced() -> bool:
            want = self._request_factory()
            return self.state is ConnectionState.LIVE and self._sent == want

        async with self._synced:
            await self._synced.wait_for(synced)

    # ----------------------------------------------------------------- status

    @property
    def uptime(self) -> float:
        """Seconds the current socket has been open (0 when not live)."""
        if self._connected_at is None:
            return 0.0
        return time.monotonic() - self._connected_at

    @property
    def reconnects(self) -> int:
        return self.recovery.total_reconnects

    @property
    def is_live(self) -> bool:
        return self.state is ConnectionState.LIVE

    @property
    def is_critical(self) -> bool:
        return not self.is_live and self.recovery.is_critical

    @property
    def is_quiet(self) -> bool:
        """Live and silent, but the server confirmed our subscription since the last data."""
        return self.is_live and self._quiet_since > self._last_data

    def status(self) -> dict[str, object]:
        """JSON-serialisable state for the dashboard."""
        silent = time.time() - self._last_data if self.is_live and self._last_data else 0.0
        return {
            "state": self.state.value,
            "epoch": self.epoch,
            "uptime": round(self.uptime, 3),
            "reconnects": self.reconnects,
            "attempts": self.recovery.attempts,
            "critical": self.is_critical,
            "last_error": self.last_error,
            "messages_sent": self.messages_sent,
            "frames_received": self.frames_received,
            "frame_errors": self.frame_errors,
            "stale_closes": self.stale_closes,
            "quiet": self.is_quiet,
            "silent_for": round(silent, 3),
            "probes": self.probes_sent,
            "probes_unverified": self.probes_unverified,
            "resubscribes": self.resubscribes,
        }

    # ----------------------------------------------------------------- internals

    def _set_state(self, state: ConnectionState) -> None:
        if state is self.state:
            return
        self.state = state
        if self._on_state is not None:
            try:
                self._on_state(self)
            except Exception:  # a broken observer must not break the connection
                log.exception("connection state observer failed")

    async def _notify_synced(self) -> None:
        async with self._synced:
            self._synced.notify_all()

    async def _close_current(self, reason: str) -> None:
        ws = self._ws
        if ws is not None:
            self._close_reason = reason
            await ws.close(1000, reason[:120])

    async def _supervise(self) -> None:
        try:
            while not self._stopping:
                if self._request_factory() is None:
                    self._set_state(ConnectionState.IDLE)
                    self._wanted.clear()
                    if self._request_factory() is None:
                        await self._wanted.wait()
                    continue
                opened = await self._connect_once()
                if self._stopping:
                    break
                if opened and self._request_factory() is None:
                    continue  # closed on purpose because nothing is wanted: no backoff
                if self._skip_backoff:
                    self._skip_backoff = False
                    continue
                if self.state is not ConnectionState.UNAUTHORIZED:
                    self._set_state(ConnectionState.BACKOFF)
                delay = self.recovery.next_delay()
                # `reconnect()` (new keys, a user's request) cuts the wait short.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), delay)
                self._kick.clear()
                self._skip_backoff = False
                log.debug("%s connection: retrying after %.3fs", self.kind, delay)
        finally:
            self._connected_at = None

    async def _connect_once(self) -> bool:
        """One connection attempt and, if it opens, its whole life. True if it opened."""
        if self.state is not ConnectionState.UNAUTHORIZED:
            self._set_state(ConnectionState.CONNECTING)
        try:
            if self._connect_gate is not None:
                await self._connect_gate()
            headers = dict(self._headers_factory()) if self._headers_factory else None
            ws = await open_transport(self._config.transport, self.url, headers, self._options)
        except InvalidStatus as exc:
            self._handshake_refused(exc)
            return False
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self.last_error = redact(f"connect failed: {type(exc).__name__}: {exc}")
            self._set_state(ConnectionState.FAILED)
            return False
        await self._run_open(ws)
        return True

    def _handshake_refused(self, exc: InvalidStatus) -> None:
        status = exc.response.status_code
        if status in (429, 418):
            asked = parse_retry_after(exc.response.headers.get("Retry-After"))
            wait = self.recovery.request_wait(asked)
            word = "rate limited" if status == 429 else "blocked"
            self.last_error = f"handshake refused: HTTP {status} ({word})"
            long_wait = self.recovery.server_wait_reason()
            if long_wait is not None:
                self.last_error += f"; {long_wait}"
                log.error("%s connection: %s", self.kind, self.last_error)
            else:
                self.last_error += f"; waiting at least {wait:.1f} s"
            self._set_state(ConnectionState.FAILED)
        elif status in (401, 403):
            self.last_error = f"handshake refused: HTTP {status}" + (
                " (API keys not accepted)" if self.kind == "private" else ""  # public: no keys
            )
            self._set_state(ConnectionState.UNAUTHORIZED)
        else:
            self.last_error = f"handshake refused: HTTP {status}"
            self._set_state(ConnectionState.FAILED)

    async def _run_open(self, ws: Transport) -> None:
        self._ws = ws
        self._close_reason = None
        self.epoch = self._epochs.increment_epoch(self.kind)
        self._sent = None
        self._lost = False
        budget = self._message_budget
        tasks: list[asyncio.Task[None]] = []
        opened_at = time.time()
        try:
            request = self._request_factory()
            if request is not None:
                await budget.acquire()
                await ws.send_text(request)
                self._sent = request
                self.messages_sent += 1
            self._dirty.clear()
            self._connected_at = time.monotonic()
            self._last_data = opened_at
            self.recovery.connected()
            self.last_error = None
            self._set_state(ConnectionState.LIVE)
            await self._notify_synced()
            if self._on_open is not None:
                # Before the first frame is read: the manager arms trade backfill here.
                self._on_open(self.epoch)
            loop = asyncio.get_running_loop()
            tasks.append(loop.create_task(self._read(ws, self.epoch)))
            tasks.append(loop.create_task(self._write(ws, budget)))
            if self._watchdog_enabled and self._config.stale_after > 0:
                tasks.append(loop.create_task(self._watch(ws)))
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    exc = task.exception()
                    self.last_error = redact(f"connection task failed: {type(exc).__name__}: {exc}")
                    log.error("%s connection task failed", self.kind, exc_info=exc)
        except ConnectionClosed as exc:
            self.last_error = _describe_close(exc)
        except (OSError, TimeoutError) as exc:
            self.last_error = f"connection lost: {type(exc).__name__}"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._ws = None
            self._connected_at = None
            with contextlib.suppress(Exception):
                await asyncio.shield(ws.close())
            on_purpose = self._stopping or self._close_reason == "nothing subscribed"
            # Data came, then the server (not our watchdog) ended it: a new incident, not a
            # flapping server, so the backoff starts from calm (recovery.py).
            delivered = self._last_data > opened_at and self._close_reason is None
            self.recovery.disconnected(count=not on_purpose, delivered=delivered)
            if self._close_reason and self.last_error is None:
                self.last_error = self._close_reason

    async def _read(self, ws: Transport, epoch: int) -> None:
        on_frame = self._on_frame

        # Called by the transport from its socket reader, once per message: no task wake-up.
        def on_message(data: bytes, received_at: float) -> None:
            self.frames_received += 1
            try:
                if on_frame(data, epoch, received_at):
                    self._last_data = received_at
            except Exception:  # one bad frame or handler bug must not end the stream
                self.frame_errors += 1
                log.exception("%s frame handler failed", self.kind)

        try:
            await ws.stream(on_message)
        except ConnectionClosed as exc:
            self.last_error = self._close_reason or _describe_close(exc)

    async def _write(self, ws: Transport, budget: MessageBudget) -> None:
        batch = self._config.batch_window
        while True:
            await self._dirty.wait()
            if batch > 0:
                await asyncio.sleep(batch)
            self._dirty.clear()
            request = self._request_factory()
            if request is None:
                # Upbit has no unsubscribe message: the only way to stop every stream.
                self._close_reason = "nothing subscribed"
                await ws.close(1000, "nothing subscribed")
                return
            if request == self._sent:
                await self._notify_synced()
                continue
            await budget.acquire()
            # Changes that arrived while waiting for the budget ride along in this message.
            request = self._request_factory()
            if request is None or request == self._sent:
                self._dirty.set()
                continue
            self._dirty.clear()
            if self._lost:
                self._lost = False
                if self._on_resubscribe is not None:
                    # Before the send, like on_open: what was missed is fetched from here on.
                    self._on_resubscribe(self.epoch)
            await ws.send_text(request)
            self._sent = request
            self.messages_sent += 1
            await self._notify_synced()

    async def _watch(self, ws: Transport) -> None:
        stale_after = self._config.stale_after
        interval = max(stale_after / 4, 0.001)
        while True:
            await asyncio.sleep(interval)
            now = time.time()
            if self._sent is None:
                self._last_data = now  # nothing subscribed (yet): nothing to expect
                continue
            if now - max(self._last_data, self._last_answer) <= stale_after:
                continue
            if self._probe is not None:
                try:
                    if await self._probe_alive(ws, self._probe()):
                        continue
                except ConnectionClosed:
                    return  # the reader reports why
            self.stale_closes += 1
            self.last_error = f"no data for {stale_after:g}s: stream stale"
            if self._probe is not None:
                self.last_error += ", LIST_SUBSCRIPTIONS unanswered"
            self._close_reason = self.last_error
            self._set_state(ConnectionState.STALE)
            log.warning("%s connection: %s; reconnecting", self.kind, self.last_error)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(1000, "stale"), timeout=max(stale_after, 1.0))
            return

    async def _probe_alive(self, ws: Transport, probe: Request) -> bool:
        """Ask a silent server what we are subscribed to; False if it does not answer at all.

        On a listing that differs from what the socket carries, the whole desired request is
        queued for the writer again (same socket, same budget).
        """
        await self._message_budget.acquire()
        probed = self._sent
        frames_before = self.frames_received
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._probe_reply, self._probe_epoch = reply, self.epoch
        timeout = self._config.ping_timeout or min(self._config.stale_after, 10.0)
        try:
            await ws.send_text(probe)
            self.messages_sent += 1
            self.probes_sent += 1
            async with asyncio.timeout(timeout):
                listing = await reply
        except TimeoutError:
            listing = None
        finally:
            self._probe_reply = None
        now = time.time()
        if listing is None:
            if self.frames_received == frames_before:
                return False
            # Something came back (an error frame, say): alive, but we could not verify.
            self.probes_unverified += 1
            self._last_answer = now
            return True
        self._last_answer = now
        matches = self._probe_matches
        if probed is None or matches is None or matches(probed, listing):
            self._quiet_since = now
            log.debug("%s connection quiet but subscribed", self.kind)
        elif self._sent == probed:  # nothing newer went out meanwhile: the server lost it
            self.resubscribes += 1
            log.warning(
                "%s connection: the server's subscription differs from ours; sending it again",
                self.kind,
            )
            self._sent = None
            self._lost = True
            self._dirty.set()
        return True


def _describe_close(exc: ConnectionClosed) -> str:
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "connection dropped (no close frame)"
    reason = f": {redact(frame.reason)}" if frame.reason else ""  # server text: no tokens
    if exc.rcvd is not None and frame.code in (1000, 1001):
        return f"closed by server (code {frame.code}{reason})"
    return f"connection closed (code {frame.code}{reason})"
