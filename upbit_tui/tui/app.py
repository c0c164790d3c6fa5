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
import dataclasses
import gc
import logging
import os
import re
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
from textual.widgets import Footer, Header
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from upbit_tui.config import (
    CONFIG_PATH_ENV,
    AuthConfig,
    Config,
    ConfigError,
    ExchangeConfig,
    default_config_path,
    load_config,
)
from upbit_tui.gateway.attach import with_gateway
from upbit_tui.logsetup import LoggingSetupError, setup_logging
from upbit_tui.tui.commands import UpbitCommands
from upbit_tui.tui.messages import SymbolSelected, WatchlistChanged
from upbit_tui.tui.runtime import Clock, Runtime
from upbit_tui.tui.screens import AddSymbolScreen, DashboardScreen, HelpScreen
from upbit_tui.tui.watchlist_file import save_watchlist
from upbit_tui.wire.symbols import SymbolError, normalize_symbol
from widgets.balances import BalancesPane
from widgets.candles import CandlesPane, timeframe_label
from widgets.orderbook import OrderbookPane
from widgets.proxy_pane import ProxyPane
from widgets.status_bar import StatusBar
from widgets.watchlist import WatchlistPane

log = logging.getLogger(__name__)

EXIT_CONFIG = 2
# Seconds of good health before "healthy again" is announced (no flapping toasts).
ALERT_QUIET = 10.0
_NUMBERS = re.compile(r"\d[\d.,]*")
# The simulator's test key pair for --demo: balances show without a real account.
DEMO_ACCESS_KEY = "demo-access"
DEMO_SECRET_KEY = "demo-secret-not-a-real-key"
DEMO_SEED = 20261127
DEMO_MARKETS = 40
DEMO_RATE = 40.0

# Toggleable panes: name -> (container id, position in it, label).
PANES: dict[str, tuple[str, int, str]] = {
    "watchlist": ("left", 0, "watchlist"),
    "balances": ("left", 1, "balances"),
    "candles": ("center", 0, "candles"),
    "orderbook": ("right", 0, "order book"),
}


# Below NARROW_WIDTH columns the watchlist goes on top at full width, the order book and chart
# share the row below and the balances show only when asked for (b); below TINY_WIDTH only one
# of the order book and the chart shows at a time (o / c picks it).
NARROW_WIDTH = 150
TINY_WIDTH = 100

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
        Binding("w", "toggle_pane('watchlist')", "Watchlist", show=False, id="toggle_watchlist"),
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
        self._alerted: tuple[str, frozenset[str]] = ("healthy", frozenset())
        self._last_alert_at = 0.0
        self._health_proxy: Any = None
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
        yield StatusBar(id="status")
        yield Footer()

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
        url = self.runtime.config.exchange.websocket_url
        return url.split("//", 1)[-1].split("/", 1)[0]

    def on_mount(self) -> None:
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
                config = await self._start_demo_exchange(stack, config)
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

    async def _start_demo_exchange(
        self, stack: contextlib.AsyncExitStack, config: Config
    ) -> Config:
        from upbit_tui.exchange import ExchangeServer

        options: dict[str, Any] = {
            "seed": DEMO_SEED,
            "markets": DEMO_MARKETS,
            "rate": DEMO_RATE,
            "host": "127.0.0.1",
            "port": 0,
            "api_keys": {DEMO_ACCESS_KEY: DEMO_SECRET_KEY},
        }
        options.update(self.demo_options)
        sim = await stack.enter_async_context(ExchangeServer(**options))
        log.info("demo exchange at %s", sim.rest_url)
        keys = options["api_keys"]
        access, secret = next(iter(keys.items())) if keys else (None, None)
        return demo_config(
            config, sim.websocket_url, sim.private_websocket_url, sim.rest_url, access, secret
        )

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures are handled: say what broke, keep the UI up."""
        worker = event.worker
        log.debug("worker %s -> %s", worker.name, event.state.name)
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        reason = f"{type(error).__name__}: {error}" if error else "unknown error"
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
        bar.show_health(health, self.runtime.clock(), self.where)
        self._alert(health)

    def _alert(self, health: dict[str, Any]) -> None:
        """Notify when health changes status or gains a new kind of reason (error rate,
        latency, drops...). Reasons are compared without their numbers, so a climbing drop
        count is one alert, not one per second; "healthy again" needs ALERT_QUIET quiet s."""
        status = str(health.get("status", "healthy"))
        reasons = [str(r) for r in health.get("reasons") or []]
        kinds = frozenset(_NUMBERS.sub("#", r) for r in reasons)
        now = time.monotonic()
        previous_status, previous_kinds = self._alerted
        if status == "healthy":
            if previous_status != "healthy" and now - self._last_alert_at >= ALERT_QUIET:
                self._alerted = (status, frozenset())
                self.notify("Connection healthy again", severity="information")
            return
        self._last_alert_at = now
        seen = kinds | previous_kinds if status == previous_status else kinds
        self._alerted = (status, seen)
        if status == previous_status and kinds <= previous_kinds:
            return
        self.notify(
            "; ".join(reasons) or status,
            title=f"Health: {status}",
            severity="error" if status == "critical" else "warning",
            timeout=10,
        )

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
        if message.symbols:
            self.post_message(SymbolSelected(message.symbols[0]))
        else:
            self._clear_selection()

    def _clear_selection(self) -> None:
        self.selected_symbol = None
        for name in ("orderbook", "candles"):
            pane = self.pane(name)
            if isinstance(pane, OrderbookPane | CandlesPane):
                pane.set_symbol(None)

    def add_symbol(self, text: str) -> bool:
        try:
            symbol = normalize_symbol(text)
        except SymbolError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return False
        pane = self.pane("watchlist")
        if not isinstance(pane, WatchlistPane):
            self.notify("The watchlist pane is hidden (press w)", severity="warning")
            return False
        if not pane.add_symbol(symbol):
            self.notify(f"{symbol} is already in the watchlist")
            return False
        self.notify(f"Added {symbol} (s saves the watchlist)")
        return True

    def remove_symbol(self, symbol: str) -> bool:
        pane = self.pane("watchlist")
        if isinstance(pane, WatchlistPane) and pane.remove_symbol(symbol):
            self.notify(f"Removed {symbol} (s saves the watchlist)")
            return True
        return False

    def action_add_symbol(self) -> None:
        def added(text: str | None) -> None:
            if text:
                self.add_symbol(text)

        self.push_screen(AddSymbolScreen(), added)

    def action_remove_symbol(self) -> None:
        pane = self.pane("watchlist")
        symbol = pane.selected_symbol if isinstance(pane, WatchlistPane) else None
        if symbol is None:
            self.notify("Select a market in the watchlist first", severity="warning")
            return
        self.remove_symbol(symbol)

    def action_save_watchlist(self) -> None:
        target = self.config.source or default_config_path()
        try:
            path = save_watchlist(target, self.watchlist_symbols)
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
        screen = self.screen_stack[0] if self.screen_stack else None
        if screen is None or not screen.has_class("-narrow"):
            return "wide"
        return "tiny" if screen.has_class("-tiny") else "narrow"

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
        """Show each column that holds a visible pane; wide: with the chart hidden, the
        right-most visible column takes the free width; narrow (see NARROW_WIDTH) only when
        panes of more than one column are mounted (a single column fills the screen anyway)."""
        screen = self.screen_stack[0]
        width = self.size.width if width is None else width
        in_use = {PANES[n][0] for n in PANES if self.pane(n) is not None}
        narrow = width < NARROW_WIDTH and len(in_use) > 1
        screen.set_class(narrow, "-narrow")
        screen.set_class(narrow and width < TINY_WIDTH, "-tiny")
        mode = self.layout_mode
        main = screen.query_one("#main", Horizontal)
        columns = [screen.query_one(f"#{c}", Vertical) for c in ("left", "center", "right")]
        for column in columns:
            column.styles.width = None  # back to app.tcss
            column.styles.max_width = None
            column.styles.column_span = None
        main.styles.grid_rows = None
        mounted = {n: p for n in PANES if (p := self.pane(n)) is not None}
        front = self.tiny_front
        if front not in mounted:
            front = "orderbook" if front == "candles" else "candles"
        for name, pane in mounted.items():
            shown = True
            if mode != "wide" and name == "balances":
                shown = self.narrow_balances
            if mode == "tiny" and name in ("candles", "orderbook"):
                shown = name == front
            pane.display = shown
        balances = mounted.get("balances")
        screen.set_class(
            mode != "wide" and balances is not None and balances.display, "-with-balances"
        )
        for column in columns:
            column.display = any(isinstance(w, ProxyPane) and w.display for w in column.children)
        visible = [c for c in columns if c.display]
        if mode == "wide":
            if visible and not columns[1].display:
                visible[-1].styles.width = "1fr"
                visible[-1].styles.max_width = "100%"
            return
        bottom = [c for c in columns[1:] if c.display]
        if len(bottom) == 1:
            bottom[0].styles.column_span = 2
        if not (columns[0].display and bottom):
            main.styles.grid_rows = "1fr"

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


def demo_config(
    config: Config,
    websocket_url: str,
    private_websocket_url: str,
    rest_url: str,
    access_key: str | None,
    secret_key: str | None,
) -> Config:
    """The user's config pointed at the in-process simulator, with its test keys."""
    return dataclasses.replace(
        config,
        exchange=ExchangeConfig(
            websocket_url=websocket_url,
            private_websocket_url=private_websocket_url,
            rest_url=rest_url,
        ),
        auth=AuthConfig(access_key=access_key, secret_key=secret_key),
    )


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


def config_path_from(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> Path | None:
    """--config, else $UPBIT_TUI_CONFIG, else the XDG path if that file exists, else None."""
    env = os.environ if environ is None else environ
    if getattr(args, "config", None):
        return Path(args.config)
    if env.get(CONFIG_PATH_ENV):
        return Path(env[CONFIG_PATH_ENV])
    default = default_config_path()
    return default if default.exists() else None


def run_app(args: argparse.Namespace, *, print_error: Callable[[str], None] | None = None) -> int:
    """`upbit-tui [--config PATH] [--demo]`: 0 on a normal quit, 2 on a config problem."""
    say = print_error or (lambda line: print(line, file=sys.stderr))
    try:
        config = with_gateway(load_config(config_path_from(args)), getattr(args, "gateway", None))
        log_file = setup_logging(config.logging)
    except (ConfigError, LoggingSetupError) as exc:
        say(f"upbit-tui: {exc}")
        return EXIT_CONFIG
    log.info("upbit-tui starting (demo=%s), logging to %s", bool(args.demo), log_file)
    app = make_app(config, demo=bool(getattr(args, "demo", False)))
    code = app.run()
    return int(code or 0)
