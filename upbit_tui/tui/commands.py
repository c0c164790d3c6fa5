"""Command palette (ctrl+p): add/remove markets, timeframes, panes, reconnect, save, help.

The provider sees the app through `PaletteHost`, the few things it calls, so this module does
not import the app module (which imports it for `COMMANDS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from upbit_tui.tui.layout import PANES
from upbit_tui.wire.symbols import SymbolError, normalize_symbol
from widgets.candles import TIMEFRAMES, timeframe_label

# Above any fuzzy score (Textual's scores grow with the match length): a code typed in full
# ranks its own command first.
EXACT_SCORE = 1_000.0


class _Config(Protocol):
    @property
    def source(self) -> Path | None: ...


class PaletteHost(Protocol):
    """What the palette needs from the app."""

    @property
    def config(self) -> _Config: ...
    @property
    def watchlist_symbols(self) -> tuple[str, ...]: ...
    def pane(self, name: str) -> object | None: ...
    def add_symbol(self, text: str) -> object: ...
    def remove_symbol(self, symbol: str) -> bool: ...
    def select_symbol(self, symbol: str) -> bool: ...
    def set_timeframe(self, timeframe: str) -> None: ...
    def call_later(self, callback: Callable[..., Any], *args: Any) -> bool: ...
    async def action_toggle_pane(self, name: str) -> None: ...
    def action_add_symbol(self) -> None: ...
    def action_save_watchlist(self) -> None: ...
    def action_dashboard(self) -> None: ...
    def action_help(self) -> None: ...
    async def run_action(self, action: str, default_namespace: Any = None) -> bool: ...


class Command:
    """One palette entry; `removes` names the market a destructive command removes."""

    __slots__ = ("callback", "help", "removes", "text")

    def __init__(
        self, text: str, callback: Callable[[], object], help: str, removes: str | None = None
    ) -> None:
        self.text = text
        self.callback = callback
        self.help = help
        self.removes = removes


def typed_code(query: str) -> str | None:
    """The market code the query's last word spells in full ('krw-dot' -> 'KRW-DOT'), if any."""
    words = query.split()
    if not words or "-" not in words[-1]:
        return None
    try:
        return normalize_symbol(words[-1])
    except SymbolError:
        return None


def palette_commands(
    host: PaletteHost, panes: Mapping[str, tuple[str, int, str]] = PANES
) -> list[Command]:
    commands = [
        Command(
            f"Remove {symbol} from the watchlist",
            partial(host.remove_symbol, symbol),
            "stops its ticker subscription",
            removes=symbol,
        )
        for symbol in host.watchlist_symbols
    ]
    commands += [
        Command(
            f"Timeframe: {timeframe_label(timeframe)} candles",
            partial(host.set_timeframe, timeframe),
            "switch the candle chart",
        )
        for timeframe in TIMEFRAMES
    ]
    for name, (_container, _position, label) in panes.items():
        verb = "Hide" if host.pane(name) is not None else "Show"
        commands.append(
            Command(
                f"{verb} the {label} pane",
                partial(host.call_later, host.action_toggle_pane, name),
                "its subscriptions leave / join the shared connection",
            )
        )
    commands += [
        Command(
            "Add a market to the watchlist...",
            host.action_add_symbol,
            "a code (KRW-ADA), a symbol (ada) or a name (Cardano, 에이다)",
        ),
        Command(
            "Save the watchlist to the config file",
            host.action_save_watchlist,
            str(host.config.source or "the default config path"),
        ),
        Command(
            "Reconnect now",
            partial(host.run_action, "reconnect"),
            "close and reopen the connections, then resubscribe",
        ),
        Command("Monitoring dashboard", host.action_dashboard, "connections, rates, latency"),
        Command("Help: keys and panes", host.action_help, ""),
    ]
    return commands


class UpbitCommands(Provider):
    """Commands that depend on the app's state: the current watchlist and panes."""

    @property
    def host(self) -> PaletteHost:
        return cast(PaletteHost, self.app)

    async def discover(self) -> Hits:
        for command in palette_commands(self.host):
            yield DiscoveryHit(command.text, command.callback, help=command.help or None)

    async def search(self, query: str) -> Hits:
        host = self.host
        code = typed_code(query)
        if code is not None and code not in host.watchlist_symbols:
            text = f"Add {code} to the watchlist"
            yield Hit(
                EXACT_SCORE,
                text,
                partial(host.add_symbol, code),
                text=text,
                help="checks that Upbit lists it, then subscribes its ticker",
            )
        elif code is not None and query.split()[0].lower() in ("remove", "delete", "rm"):
            text = f"Remove {code} from the watchlist"
            yield Hit(EXACT_SCORE, text, partial(host.remove_symbol, code), text=text)
        elif code is not None:
            text = f"Select {code} in the watchlist"
            yield Hit(
                EXACT_SCORE,
                text,
                partial(host.select_symbol, code),
                text=text,
                help="the order book and chart follow it",
            )
        matcher = self.matcher(query)
        for command in palette_commands(host):
            # A destructive command never wins a fuzzy match for a code typed in full: typing
            # KRW-DOT must not offer "Remove KRW-ADA", nor KRW-BTCC "Remove KRW-BTC".
            if code is not None and command.removes is not None and command.removes != code:
                continue
            score = matcher.match(command.text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.text),
                    command.callback,
                    text=command.text,
                    help=command.help or None,
                )
