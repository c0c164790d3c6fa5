"""The base of every data pane: it owns one WebSocketClientProxy for as long as it is mounted.

A pane states what it wants (symbol, timeframe, symbols) and calls `want_update()`; one
long-lived worker per pane applies the newest wish with the proxy, one at a time, so fast
cursor movement never leaves half-applied subscriptions behind. Data arrives in proxy callbacks
(on the app's event loop, the manager runs as an async worker) and only updates plain state;
each pane repaints from that state on its own timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual.widget import Widget
from textual.worker import Worker, WorkerState

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.net.markets import MarketDirectory
from upbit_tui.net.rest import UnknownSymbolError
from upbit_tui.tui.runtime import ManagerUnavailable, Runtime
from widgets.error_text import describe_error

log = logging.getLogger(__name__)

# Seconds before re-applying after a failure: quick at first, then no more than once a minute.
RETRY_DELAYS = (2.0, 5.0, 15.0, 30.0, 60.0)


class ProxyPane(Widget):
    """A pane with its own proxy: created on mount, cleaned up on unmount."""

    KIND: ClassVar[str] = "pane"

    def __init__(self, runtime: Runtime, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runtime = runtime
        self.proxy: WebSocketClientProxy | None = None
        # Named at construction (compose order), so ids do not depend on which worker starts first.
        self.client_id = runtime.client_id(self.KIND)
        self.last_error: str | None = None
        self._wish = asyncio.Event()
        self._failures = 0
        # "stale since 16:57:10" while the connection feeding the pane is down (set by the app).
        self.stale_since: str | None = None
        self._note = ""

    def on_mount(self) -> None:
        self._wish.set()
        # Passed uncalled: a worker cancelled before it starts leaves no un-awaited coroutine.
        work: Callable[[], Awaitable[None]] = self._follow_wishes
        self.run_worker(
            work,
            name=f"{self.KIND}-proxy",
            group="proxy",
            exclusive=True,
            exit_on_error=False,
        )

    async def on_unmount(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is None:
            return
        try:
            await proxy.cleanup()
        except Exception:
            log.exception("%s: proxy cleanup failed", self.client_id)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A pane's worker only fails before its loop starts (e.g. a duplicate client id)."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.last_error = describe_error(error) if error else "unknown error"
            log.error("%s worker failed: %s", self.KIND, self.last_error, exc_info=error)
            self.notify(f"{self.KIND}: {self.last_error}", severity="error", timeout=10)
            self.refresh()

    # Which connection feeds the pane ("public" or "private"), for staleness.
    CONNECTION: ClassVar[str] = "public"

    def mark_stale(self, since: str | None) -> None:
        """Dim the pane and say since when its data is old (None: live again)."""
        if since == self.stale_since:
            return
        self.stale_since = since
        self.set_class(since is not None, "-stale")
        self._show_subtitle()

    def set_note(self, text: str) -> None:
        """The pane's own subtitle (a total, a state); shown after the staleness mark."""
        self._note = text
        self._show_subtitle()

    def _show_subtitle(self) -> None:
        parts = [f"stale since {self.stale_since}"] if self.stale_since else []
        if self._note:
            parts.append(self._note)
        text = " · ".join(parts)
        if self.border_subtitle != text:
            self.border_subtitle = text

    def flush_every(self, hz: float, flush: Callable[[], object], *, offset: float = 0.0) -> None:
        """Call `flush` `hz` times a second, starting `offset` seconds late.

        Panes flushing at the same rate from the same start would all repaint in one frame, whose
        region then spans the screen; offsets give each frame one column's worth of work.
        """
        if offset > 0:
            self.set_timer(offset, lambda: self.set_interval(1 / hz, flush))
        else:
            self.set_interval(1 / hz, flush)

    def want_update(self) -> None:
        """Ask the pane's worker to bring the subscriptions in line with the pane's state."""
        self._wish.set()

    async def _follow_wishes(self) -> None:
        manager = await self.runtime.wait_manager()
        self.proxy = WebSocketClientProxy(self.client_id, manager)
        while True:
            await self._wish.wait()
            self._wish.clear()
            try:
                await self.apply(self.proxy)
            except asyncio.CancelledError:
                raise
            except UnknownSymbolError as exc:
                # Final: retrying cannot list a market; say so once and wait for a new wish.
                log.warning("%s: %s", self.client_id, exc)
                self.last_error = str(exc)
                self.notify(f"{self.KIND}: {exc}", severity="error", timeout=8)
                self.refresh()
            except Exception as exc:
                # A refused request or no network: say so once, keep the pane alive, and try
                # again later (a chart without history would otherwise stay empty for good).
                log.warning("%s: %s", self.client_id, exc, exc_info=True)
                message = describe_error(exc)
                if message != self.last_error:
                    self.notify(f"{self.KIND}: {message}", severity="error", timeout=6)
                self.last_error = message
                delay = RETRY_DELAYS[min(self._failures, len(RETRY_DELAYS) - 1)]
                self._failures += 1
                self.set_timer(delay, self.want_update, name=f"{self.KIND}-retry")
                self.refresh()
            else:
                self._failures = 0
                self.last_error = None

    def runtime_markets(self) -> MarketDirectory:
        """The running manager's market list (the pane's worker only runs with a manager)."""
        manager = self.runtime.manager
        if manager is None:
            raise ManagerUnavailable("not connected")
        return manager.markets

    async def apply(self, proxy: WebSocketClientProxy) -> None:
        """Make the proxy's subscriptions match what the pane wants (override)."""
