"""Command palette (ctrl+p): add/remove markets, timeframes, panes, reconnect, save, help."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from upbit_tui.wire.symbols import SymbolError, normalize_symbol

if TYPE_CHECKING:
    from upbit_tui.tui.app import UpbitApp

TIMEFRAME_CHOICES = ("1m", "3m", "5m", "10m", "15m", "30m", "60m", "240m", "1d")


class UpbitCommands(Provider):
    """Commands that depend on the app's state: the current watchlist and panes."""

    @property
    def upbit(self) -> UpbitApp:
        from upbit_tui.tui.app import UpbitApp

        app = self.app
        assert isinstance(app, UpbitApp)
        return app

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.upbit
        from upbit_tui.tui.app import PANES

        commands: list[tuple[str, Callable[[], object], str]] = []
        for symbol in app.watchlist_symbols:
            commands.append(
                (
                    f"Remove {symbol} from the watchlist",
                    partial(app.remove_symbol, symbol),
                    "stops its ticker subscription",
                )
            )
        for timeframe in TIMEFRAME_CHOICES:
            label = "day" if timeframe == "1d" else timeframe
            commands.append(
                (
                    f"Timeframe: {label} candles",
                    partial(app.set_timeframe, timeframe),
                    "switch the candle chart",
                )
            )
        for name, (_container, _position, label) in PANES.items():
            verb = "Hide" if app.pane(name) is not None else "Show"
            commands.append(
                (
                    f"{verb} the {label} pane",
                    partial(app.call_later, app.action_toggle_pane, name),
                    "its subscriptions leave / join the shared connection",
                )
            )
        commands += [
            ("Add a market to the watchlist...", app.action_add_symbol, "e.g. KRW-ADA"),
            (
                "Save the watchlist to the config file",
                app.action_save_watchlist,
                str(app.config.source or "the default config path"),
            ),
            (
                "Reconnect now",
                partial(app.run_action, "reconnect"),
                "close and reopen the connections, then resubscribe",
            ),
            ("Monitoring dashboard", app.action_dashboard, "connections, rates, latency, health"),
            ("Help: keys and panes", app.action_help, ""),
        ]
        return commands

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text or None)

    async def search(self, query: str) -> Hits:
        app = self.upbit
        # Typing a market code offers to add it directly.
        candidate = query.strip().split()[-1] if query.strip() else ""
        try:
            symbol = normalize_symbol(candidate) if "-" in candidate else None
        except SymbolError:
            symbol = None
        if symbol is not None and symbol not in app.watchlist_symbols:
            yield Hit(
                1.0,
                f"Add {symbol} to the watchlist",
                partial(app.add_symbol, symbol),
                text=f"Add {symbol} to the watchlist",
                help="subscribes its ticker",
            )
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(text), command, text=text, help=help_text or None
                )
