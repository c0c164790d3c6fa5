"""Screens on top of the main one: help, add-a-market prompt, the monitoring dashboard."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Label, Markdown

from upbit_tui.tui.runtime import Runtime
from widgets.dashboard import DashboardPane

HELP_TEXT = """\
# upbit-tui

Live Upbit market data. Every pane has its own subscription; they share one connection.

## Keys

- `↑` `↓` select a market in the watchlist: the order book and candles follow it
- `a` add a market (`KRW-ADA`, `krw-ada`) · `x`/`Delete` remove it · `s` save the watchlist
- `t` / `T` next / previous candle timeframe: 1s 1m 3m 5m 10m 15m 30m 60m 240m day
- `o` `c` `b` `w` show / hide the order book, chart, balances, watchlist pane
- `d` monitoring dashboard (`p` pauses it) · `r` reconnect now
- `ctrl+p` command palette: all of the above, timeframes by name, type a market code to add it
- `?` / `F1` this help · `q` quit

## Panes

- **Watchlist**: price (in the market's tick), change and change % (red up, blue down, as
  on Upbit), 24h volume and 24h value in millions of KRW. A price flashes when it moves.
- **Order book**: asks above bids for the selected market, size bars, spread, totals.
- **Candles**: 200 candles of history plus live updates, volume underneath.
- **Balances**: available and locked per asset, KRW value at live prices. Needs API keys
  (`UPBIT_ACCESS_KEY` / `UPBIT_SECRET_KEY` or `[auth]` in the config); `--demo` has test keys.
- **Monitor** (`d`): per connection state, epoch, uptime, messages/s, latency p50/p99, queues,
  drops, errors, reconnects, rate-limit tokens, subscriptions per pane, health with reasons.

Logs go to the file set by `[logging] file` (default `~/.local/state/upbit-tui/upbit-tui.log`).
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP_TEXT)
        yield Footer()


class AddSymbolScreen(ModalScreen[str | None]):
    """Asks for a market code; dismisses with the text (validated by the app) or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="add-symbol"):
            yield Label("Add a market to the watchlist (QUOTE-BASE, e.g. KRW-ADA):")
            yield Input(placeholder="KRW-ADA", id="add-symbol-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class DashboardScreen(Screen[None]):
    """The monitoring dashboard; its pane holds its own proxy while the screen is shown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,d", "app.pop_screen", "Back"),
        Binding("q", "app.quit", "Quit"),
        Binding("r", "app.reconnect", "Reconnect"),
        Binding("p", "pause", "Pause"),
    ]

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    def compose(self) -> ComposeResult:
        yield Header(icon="₩")
        yield DashboardPane(self.runtime, id="dashboard")
        yield Footer()

    def action_pause(self) -> None:
        self.query_one(DashboardPane).toggle_pause()
