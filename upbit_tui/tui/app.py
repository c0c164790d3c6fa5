"""The Textual app: panes on one screen, the manager as an async worker, `upbit-tui` itself.

Data path: the manager's drain tasks call each pane's proxy callbacks on this event loop; the
callbacks only store the latest value, and each pane repaints on its own timer (tables at
`ui.table_refresh_hz`, charts at `ui.chart_refresh_hz`). That is the spec's GUI bridge
(shared/spec-v6.md 3.2.2) without a second thread: nothing ever repaints per message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Header, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from upbit_tui.config import (
    Config,
    ConfigError,
    default_config_path,
)
from upbit_tui.eventloop import resolve_event_loop, run
from upbit_tui.logsetup import LoggingSetupError
from upbit_tui.net.rest import MarketInfo, UpbitRestClient
from upbit_tui.redaction import redact_url
from upbit_tui.tui.commands import UpbitCommands
from upbit_tui.tui.health_alerts import HealthAlerts
from upbit_tui.tui.layout import PANES, apply_layout, layout_mode
from upbit_tui.tui.liveness import Liveness
from upbit_tui.tui.market_search import Lookup, MarketLookup
from upbit_tui.tui.messages import SymbolSelected, WatchlistChanged
from upbit_tui.tui.runtime import Clock, Runtime
from upbit_tui.tui.screens import AddSymbolScreen, ConfirmScreen, DashboardScreen, HelpScreen
from upbit_tui.tui.startup import load_startup, start_demo_exchange
from upbit_tui.tui.watchlist_file import WatchlistSaveError, save_watchlist
from upbit_tui.wire.symbols import SymbolError, normalize_symbol
from widgets.balances import BalancesPane
from widgets.candles import CandlesPane, timeframe_label
from widgets.error_text import describe_error, humanize_reason
from widgets.fitted_footer import FittedFooter
from widgets.orderbook import OrderbookPane
from widgets.proxy_pane import ProxyPane
from widgets.status_bar import StatusBar, kst_time
from widgets.watchlist import WatchlistPane

log = logging.getLogger(__name__)

EXIT_CONFIG = 2

ALL_HIDDEN_HINT = (
    "All panes are hidden.\n\n"
    "w watchlist · c chart · o order book · b balances\n"
    "? help · ctrl+p commands · q quit"
)
# Footer keys given up first on a narrow terminal (they stay bound; help lists them all).
FOOTER_DROP_ORDER = (
    "reconnect",
    "toggle_watchlist",
    "toggle_balances",
    "toggle_orderbook",
    "toggle_candles",
    "save_watchlist",
    "next_timeframe",
    "dashboard",
    "remove_symbol",
)

MAIN_SCREEN_ACTIONS = frozenset(
    {"add_symbol", "remove_symbol", "save_watchlist", "timeframe", "toggle_pane"}
)


class UpbitApp(App[int]):
    """Market data panes sharing one manager (and so one Upbit connection)."""

    CSS_PATH = "app.tcss"
    TITLE = "upbit-tui"
    COMMANDS: ClassVar = App.COMMANDS | {UpbitCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="help"),
        Binding("a", "add_symbol", "Add", id="add_symbol"),
        Binding("x,delete", "remove_symbol", "Remove", key_display="x", id="remove_symbol"),
        Binding("s", "save_watchlist", "Save", id="save_watchlist"),
        Binding("t", "timeframe(1)", "Timeframe", id="next_timeframe"),
        Binding("T", "timeframe(-1)", "Prev timeframe", show=False, id="previous_timeframe"),
        Binding("o", "toggle_pane('orderbook')", "Book", id="toggle_orderbook"),
        Binding("c", "toggle_pane('candles')", "Chart", id="toggle_candles"),
        Binding("b", "toggle_pane('balances')", "Balances", id="toggle_balances"),
        Binding("w", "toggle_pane('watchlist')", "Watchlist", id="toggle_watchlist"),
        Binding("d", "dashboard", "Monitor", id="dashboard"),
        Binding("r", "reconnect", "Reconnect", id="reconnect"),
    ]

    def __init__(
        self,
        config: Config,
        *,
        demo: bool = False,
        clock: Clock | None = None,
        demo_options: dict[str, Any] | None = None,
        health_interval: float | None = 1.0,
        panes: tuple[str, ...] = tuple(PANES),
    ) -> None:
        super().__init__()
        unknown = [p for p in panes if p not in PANES]
        if unknown:
            raise ValueError(f"unknown pane(s) {', '.join(unknown)} (expected {', '.join(PANES)})")
        self.initial_panes = panes
        self.config = config
        self.demo = demo
        self.runtime = Runtime(config, clock=clock)
        self.demo_options = demo_options or {}
        self.health_interval = health_interval
        self.selected_symbol: str | None = (
            config.watchlist.symbols[0] if config.watchlist.symbols else None
        )
        self.timeframe = config.ui.candle_timeframe
        self.watchlist_symbols: tuple[str, ...] = config.watchlist.symbols
        self.runtime_worker: Worker[None] | None = None
        self.last_health: dict[str, Any] | None = None
        self.alerts = HealthAlerts(self.notify, lambda text: humanize_reason(text, self.where))
        self._health_proxy: Any = None
        self._market_lookup: MarketLookup | None = None
        # Warnings from before the app started (shown once it is up; they are in the log too).
        self.notices: tuple[str, ...] = ()
        self.liveness = Liveness(self.runtime.clock, time.monotonic)
        self._gc_frozen = False
        # Narrow layout state: whether the balances were asked for, which pane is in front.
        self.narrow_balances = False
        self.tiny_front = "candles"
        if config.ui.theme in self.available_themes:
            self.theme = config.ui.theme

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="₩")
        with Horizontal(id="main"):
            for container_id in ("left", "center", "right"):
                names = [n for n, (c, _, _) in PANES.items() if c == container_id]
                shown = [n for n in names if n in self.initial_panes]
                with Vertical(id=container_id) as container:
                    container.display = bool(shown)
                    for name in shown:
                        yield self._new_pane(name)
            yield Static(ALL_HIDDEN_HINT, id="all-hidden")
        yield StatusBar(id="status")
        yield FittedFooter(drop_order=FOOTER_DROP_ORDER)

    def _new_pane(self, name: str) -> ProxyPane:
        if name == "watchlist":
            return WatchlistPane(self.runtime, self.watchlist_symbols, id="watchlist")
        if name == "balances":
            return BalancesPane(self.runtime, id="balances")
        if name == "candles":
            return CandlesPane(self.runtime, self.selected_symbol, self.timeframe, id="candles")
        if name == "orderbook":
            return OrderbookPane(self.runtime, self.selected_symbol, id="orderbook")
        raise ValueError(f"unknown pane '{name}'")

    def pane(self, name: str) -> ProxyPane | None:
        found = self.screen_stack[0].query(f"#{name}")
        widget = found.first() if found else None
        return widget if isinstance(widget, ProxyPane) else None

    @property
    def status_bar(self) -> StatusBar | None:
        """The main screen's status line; None while the app shuts down."""
        if self.screen_stack:
            found = self.screen_stack[0].query(StatusBar)
            if found:
                return found.first(StatusBar)
        return None

    @property
    def where(self) -> str:
        if self.demo:
            return "demo simulator"
        gateway = self.runtime.config.gateway.nats_url
        if gateway:  # attached: the gateway is where the data comes from
            return "gateway " + redact_url(gateway).split("//", 1)[-1].split("/", 1)[0]
        url = self.runtime.config.exchange.websocket_url
        return url.split("//", 1)[-1].split("/", 1)[0]

    def on_mount(self) -> None:
        for notice in self.notices:
            self.notify(notice, title="Config", severity="warning", timeout=30)
        self._relayout()
        self.sub_title = self.where
        if bar := self.status_bar:
            bar.show_starting(self.where)
        self.runtime_worker = self.run_worker(
            self._run_runtime,
            name="runtime",
            group="runtime",
            exclusive=True,
            exit_on_error=False,
            description="GlobalWebSocketManager",
        )
        if self.health_interval:
            self.set_interval(self.health_interval, self._watch_health)

    def on_ready(self) -> None:
        """Take the start-up heap out of the cyclic GC's sight once the first frame is up.

        Textual's classes, CSS and widget tree are ~120k tracked objects that live as long as the
        app. Each full (generation 2) collection walked all of them: 80-120 ms with the event
        loop stopped, about once a second under a busy market (the render churn of Strips keeps
        promoting objects). Frozen, they are skipped, and a full collection only walks what was
        made since. Unfrozen on exit, so an app started in a test process leaves nothing behind.
        """
        if not self._gc_frozen:
            gc.collect()
            gc.freeze()
            self._gc_frozen = True

    def _unfreeze_gc(self) -> None:
        if self._gc_frozen:
            self._gc_frozen = False
            gc.unfreeze()

    # -- the manager as a worker ------------------------------------------------------------

    async def _run_runtime(self) -> None:
        from upbit_tui.client.proxy import WebSocketClientProxy
        from upbit_tui.gateway.attach import build_manager

        async with contextlib.AsyncExitStack() as stack:
            config = self.runtime.config
            if self.demo:
                config = await start_demo_exchange(stack, config, self.demo_options)
            manager = build_manager(config, name="upbit-tui")  # a gateway's, if one is named
            await stack.enter_async_context(manager)
            self._health_proxy = WebSocketClientProxy(self.runtime.client_id("app"), manager)
            stack.push_async_callback(self._health_proxy.cleanup)
            self.runtime.attach(manager, config)
            if bar := self.status_bar:
                bar.show_connected(self.where)
            log.info("manager started for %s", self.where)
            try:
                await asyncio.Event().wait()  # runs until the app cancels it
            finally:
                self.runtime.detach()
                self._health_proxy = None

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures are handled: say what broke, keep the UI up."""
        worker = event.worker
        log.debug("worker %s -> %s", worker.name, event.state.name)
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        reason = describe_error(error) if error else "unknown error"
        log.error("worker %s failed: %s", worker.name, reason, exc_info=error)
        if worker.name == "runtime":
            self.runtime.detach(reason)
            if bar := self.status_bar:
                bar.show_failure(reason)
            self.notify(f"Connection manager stopped: {reason}", severity="error", timeout=30)
        else:
            self.notify(f"{worker.name} failed: {reason}", severity="error", timeout=10)

    async def _watch_health(self) -> None:
        proxy = self._health_proxy
        bar = self.status_bar
        if bar is None:
            return
        if self.runtime.failure:
            bar.show_failure(self.runtime.failure)
            return
        if proxy is None:
            return
        try:
            health = await proxy.health_check()
        except Exception as exc:
            log.warning("health check failed: %s", exc)
            return
        self.last_health = health
        from upbit_tui.client.manager import GlobalWebSocketManager

        manager = self.runtime.manager
        # Only a local manager has sockets of its own; a gateway's outages come in its health.
        delays = (
            {kind: conn.recovery.last_delay for kind, conn in manager.connections().items()}
            if isinstance(manager, GlobalWebSocketManager)
            else {}
        )
        self.liveness.update(health.get("connections") or {}, delays)
        self._mark_stale_panes()
        outage = self.liveness.outages.get("public")
        if outage is not None:
            why = humanize_reason(outage.reason, self.where) if outage.reason else None
            since = kst_time(outage.since) if outage.since is not None else None
            status = str(health.get("status", ""))
            bar.show_disconnected(self.where, since, outage.retry_in, why, status)
        else:
            bar.show_health(health, self.runtime.clock(), self.where)
        self.alerts.update(health)

    def _mark_stale_panes(self) -> None:
        for pane in self.screen_stack[0].query(ProxyPane):
            outage = self.liveness.outages.get(pane.CONNECTION)
            since = outage.since if outage is not None else None
            pane.mark_stale(kst_time(since) if since is not None else None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pane and watchlist keys only act on the main screen (and only show in its Footer)."""
        return not (action in MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1)

    # -- selection and watchlist ------------------------------------------------------------

    @on(SymbolSelected)
    def _symbol_selected(self, message: SymbolSelected) -> None:
        self.selected_symbol = message.symbol
        for name in ("orderbook", "candles"):
            pane = self.pane(name)
            if isinstance(pane, OrderbookPane | CandlesPane):
                pane.set_symbol(message.symbol)

    @on(WatchlistChanged)
    def _watchlist_changed(self, message: WatchlistChanged) -> None:
        self.watchlist_symbols = message.symbols
        if self.selected_symbol in message.symbols:
            return
        # Follow the watchlist's highlight (after a removal it moves to the next row), so the
        # highlighted row, the order book and the chart show the same market.
        pane = self.pane("watchlist")
        highlighted = pane.selected_symbol if isinstance(pane, WatchlistPane) else None
        if highlighted is None and message.symbols:
            highlighted = message.symbols[0]
        if highlighted is not None:
            self.post_message(SymbolSelected(highlighted))
        else:
            self._clear_selection()

    def _clear_selection(self) -> None:
        self.selected_symbol = None
        for name in ("orderbook", "candles"):
            pane = self.pane(name)
            if isinstance(pane, OrderbookPane | CandlesPane):
                pane.set_symbol(None)

    async def lookup_market(self, text: str) -> Lookup:
        """Resolve what was typed into "add a market" (see market_search.py)."""
        manager = self.runtime.manager
        if manager is None:  # not connected yet: a well-formed code is checked by the pane
            try:
                return Lookup(code=normalize_symbol(text))
            except SymbolError as exc:
                return Lookup(error=str(exc))
        if self._market_lookup is None:
            rest_url = self.runtime.config.exchange.rest_url

            async def fetch_markets() -> list[MarketInfo]:
                async with UpbitRestClient(rest_url) as rest:
                    return await rest.get_markets()

            self._market_lookup = MarketLookup(manager.markets.validate, fetch_markets)
        return await self._market_lookup.resolve(text)

    def add_symbol(self, text: str) -> None:
        """Add what the user typed once it resolves to a listed market; otherwise open the
        add dialog with the text, the error and the close matches."""
        self.run_worker(
            self._add_checked(text), name="add a market", group="add-symbol", exit_on_error=False
        )

    async def _add_checked(self, text: str) -> None:
        lookup = await self.lookup_market(text)
        if lookup.code is None:
            self.push_screen(
                AddSymbolScreen(self.lookup_market, text=text, lookup=lookup), self._added
            )
            return
        self._added(lookup.code)

    def _added(self, symbol: str | None) -> None:
        if symbol is None:
            return
        pane = self.pane("watchlist")
        if not isinstance(pane, WatchlistPane):
            self.notify("The watchlist pane is hidden (press w)", severity="warning")
        elif not pane.add_symbol(symbol):
            self.notify(f"{symbol} is already in the watchlist")
            pane.select(symbol)
        else:
            self.notify(f"Added {symbol} (s saves the watchlist)")

    def remove_symbol(self, symbol: str) -> bool:
        pane = self.pane("watchlist")
        if isinstance(pane, WatchlistPane) and pane.remove_symbol(symbol):
            self.notify(f"Removed {symbol} (s saves the watchlist)")
            return True
        return False

    def select_symbol(self, symbol: str) -> bool:
        """Move the watchlist's highlight to `symbol` (the book and the chart follow it)."""
        pane = self.pane("watchlist")
        return isinstance(pane, WatchlistPane) and pane.select(symbol)

    def action_add_symbol(self) -> None:
        self.push_screen(AddSymbolScreen(self.lookup_market), self._added)

    def action_remove_symbol(self) -> None:
        pane = self.pane("watchlist")
        symbol = pane.selected_symbol if isinstance(pane, WatchlistPane) else None
        if symbol is None:
            self.notify("Select a market in the watchlist first", severity="warning")
            return
        self.remove_symbol(symbol)

    def action_save_watchlist(self) -> None:
        target = self.config.source or default_config_path()
        if self.demo and not target.exists():
            # A demo watchlist in the default config would be picked up by real-Upbit runs.
            question = (
                f"Save the demo's watchlist to {target}?\n\nThe file does not exist yet; "
                "upbit-tui without --demo reads it too."
            )
            self.push_screen(
                ConfirmScreen(question), lambda yes: self._save_watchlist(target) if yes else None
            )
            return
        self._save_watchlist(target)

    def _save_watchlist(self, target: Path) -> None:
        try:
            path = save_watchlist(target, self.watchlist_symbols)
        except WatchlistSaveError as exc:
            log.warning("watchlist not saved to %s: %s", target, exc)
            self.notify(f"Not saved to {target}: {exc}", severity="error", timeout=15)
            return
        except OSError as exc:
            self.notify(f"Could not save {target}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Saved {len(self.watchlist_symbols)} markets to {path}")

    # -- other actions ----------------------------------------------------------------------

    def action_timeframe(self, step: int) -> None:
        pane = self.pane("candles")
        if isinstance(pane, CandlesPane):
            self.timeframe = pane.next_timeframe(step)

    def set_timeframe(self, timeframe: str) -> None:
        self.timeframe = timeframe
        pane = self.pane("candles")
        if isinstance(pane, CandlesPane):
            pane.set_timeframe(timeframe)
        self.notify(f"Candles: {timeframe_label(timeframe)}")

    @property
    def layout_mode(self) -> str:
        """ "wide", "narrow" or "tiny": the main screen's layout for the terminal's width."""
        return layout_mode(self.screen_stack[0] if self.screen_stack else None)

    def on_resize(self, event: events.Resize) -> None:
        self._relayout(event.size.width)

    async def action_toggle_pane(self, name: str) -> None:
        pane = self.pane(name)
        mode = self.layout_mode
        if pane is not None and not pane.display and mode != "wide":
            # Mounted but kept out of sight by the narrow layout: the key brings it forward.
            self._bring_forward(name)
            self._relayout()
            return
        container_id, position, _label = PANES[name]
        container = self.screen_stack[0].query_one(f"#{container_id}", Vertical)
        if pane is not None:
            await pane.remove()
            if name == "balances":
                self.narrow_balances = False
        else:
            siblings = [w for w in container.children if isinstance(w, Widget)]
            before = next(
                (w for w in siblings if w.id and PANES.get(w.id, ("", 99))[1] > position), None
            )
            await container.mount(self._new_pane(name), before=before)
            if mode != "wide":
                self._bring_forward(name)
        self._relayout()

    def _bring_forward(self, name: str) -> None:
        if name == "balances":
            self.narrow_balances = True
        elif name in ("candles", "orderbook"):
            self.tiny_front = name

    def _relayout(self, width: int | None = None) -> None:
        mounted = {n: p for n in PANES if (p := self.pane(n)) is not None}
        apply_layout(
            self.screen_stack[0],
            self.size.width if width is None else width,
            mounted,
            narrow_balances=self.narrow_balances,
            tiny_front=self.tiny_front,
        )

    def action_dashboard(self) -> None:
        if isinstance(self.screen, DashboardScreen):
            self.pop_screen()
        else:
            self.push_screen(DashboardScreen(self.runtime))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    @work(group="reconnect", exclusive=True, exit_on_error=False)
    async def action_reconnect(self) -> None:
        manager = self.runtime.manager
        if manager is None:
            self.notify("Not connected yet", severity="warning")
            return
        self.notify("Reconnecting...")
        await manager.reconnect()

    async def action_quit(self) -> None:
        await self.stop_runtime()
        self.exit(0)

    async def stop_runtime(self) -> None:
        """Panes first (each cleans up its proxy), then the manager worker, then the simulator."""
        for pane in list(self.query(ProxyPane)):
            with contextlib.suppress(Exception):
                await pane.remove()
        for screen in self.screen_stack[1:]:
            for pane in list(screen.query(ProxyPane)):
                with contextlib.suppress(Exception):
                    await pane.remove()
        worker = self.runtime_worker
        if worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            worker.cancel()
        if worker is not None and worker.state != WorkerState.PENDING:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()

    async def on_unmount(self) -> None:
        try:
            await self.stop_runtime()
        finally:
            self._unfreeze_gc()


def make_app(
    config: Config,
    *,
    demo: bool = False,
    clock: Clock | None = None,
    demo_options: dict[str, Any] | None = None,
    health_interval: float | None = 1.0,
    panes: tuple[str, ...] = tuple(PANES),
) -> UpbitApp:
    """Build the (unstarted) app; the CLI, the tests and the snapshot tests all use this.

    `demo` starts the simulator inside the app (`demo_options` go to ExchangeServer: seed,
    markets, rate, clock, api_keys); `clock` is the wall clock shown on screen;
    `health_interval=None` turns off the once-a-second health poll (status line, alerts);
    `panes` picks the panes shown at start.
    """
    return UpbitApp(
        config,
        demo=demo,
        clock=clock,
        demo_options=demo_options,
        health_interval=health_interval,
        panes=panes,
    )


def run_app(args: argparse.Namespace, *, print_error: Callable[[str], None] | None = None) -> int:
    """`upbit-tui [--config PATH] [--demo]`: 0 on a normal quit, 2 on a config problem."""
    say = print_error or (lambda line: print(line, file=sys.stderr))
    try:
        startup = load_startup(args)
    except (ConfigError, LoggingSetupError) as exc:
        say(f"upbit-tui: {exc}")
        return EXIT_CONFIG
    event_loop = startup.config.connection.event_loop
    log.info(
        "upbit-tui starting (demo=%s, %s loop), logging to %s",
        bool(args.demo),
        resolve_event_loop(event_loop),
        startup.log_file,
    )
    app = make_app(startup.config, demo=bool(getattr(args, "demo", False)))
    app.notices = startup.notices
    # The app's own loop choice ([connection] event_loop); Textual runs on either loop.
    code = run(app.run_async(), event_loop)
    return int(code or 0)
