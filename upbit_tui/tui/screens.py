"""Screens on top of the main one: help, add-a-market prompt, the monitoring dashboard."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Input, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from upbit_tui.tui.market_search import Lookup
from upbit_tui.tui.runtime import Runtime
from widgets.dashboard import DashboardPane
from widgets.error_text import describe_error

log = logging.getLogger(__name__)

HELP_TEXT = """\
# upbit-tui

Live Upbit market data. Every pane has its own subscription; they share one connection.

## Keys

Every key works at any width; a narrow footer shows fewer of them ("? All keys").

- `↑` `↓` select a market in the watchlist: the order book and candles follow it
- `a` add a market: a code (`KRW-ADA`), a symbol (`ada`) or a name (`Cardano`, `에이다`)
- `x` / `Delete` remove the selected market · `s` save the watchlist to the config
- `t` / `T` next / previous candle timeframe: 1s 1m 3m 5m 10m 15m 30m 60m 240m day
- `o` `c` `b` `w` show / hide the order book, chart, balances, watchlist pane
- `d` monitoring dashboard (`p` pauses it) · `r` reconnect now
- `ctrl+p` command palette: all of the above, timeframes by name, type a market code
- `?` / `F1` this help · `q` quit

## Panes

- **Watchlist**: price (in the market's tick), change and change % (red up, blue down, as
  on Upbit), 24h volume and 24h traded value in the quote currency (KRW in millions).
  A price flashes when it moves.
- **Order book**: asks above bids for the selected market, size bars, spread, totals.
- **Candles**: 200 candles of history plus live updates, volume underneath.
- **Balances**: available and locked per asset, KRW value at live prices. Needs API keys
  (`UPBIT_ACCESS_KEY` / `UPBIT_SECRET_KEY` or `[auth]` in the config); `--demo` has test keys.
- **Monitor** (`d`): per connection state, epoch, uptime, messages/s, latency p50/p99, queues,
  drops, errors, reconnects, rate-limit tokens, subscriptions per pane, health with reasons.

When the exchange cannot be reached, panes dim and say "stale since ..." and the status line
says when the next attempt is; both clear when data flows again.

Logs go to the file set by `[logging] file` (default `~/.local/state/upbit-tui/upbit-tui.log`).
"""


ADD_PROMPT = (
    "Add a market to the watchlist: a code (KRW-ADA), a symbol (ada) or a name (Cardano, 에이다)."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP_TEXT)
        yield Footer()


class AddSymbolScreen(ModalScreen[str | None]):
    """Asks for a market; dismisses with a listed code, or None when cancelled.

    The text is resolved (`resolve`: a code checked against Upbit's market list, or a symbol or
    name searched in it) before the dialog closes: an error stays on screen with the text and
    the close matches, which Enter on a choice (or ↓ then Enter) adds.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "choices", "Choices", show=False),
    ]

    def __init__(
        self,
        resolve: Callable[[str], Awaitable[Lookup]],
        *,
        text: str = "",
        lookup: Lookup | None = None,
    ) -> None:
        super().__init__()
        self._resolve = resolve
        self._text = text
        self._lookup = lookup

    def compose(self) -> ComposeResult:
        with Vertical(id="add-symbol"):
            yield Static(ADD_PROMPT, id="add-symbol-prompt")
            yield Input(self._text, placeholder="KRW-ADA, ada or Cardano", id="add-symbol-input")
            yield Static("", id="add-symbol-error")
            yield OptionList(id="add-symbol-choices")

    def on_mount(self) -> None:
        self.show(self._lookup)

    def show(self, lookup: Lookup | None) -> None:
        """Show why the text was not added, and the markets it may have meant."""
        error = self.query_one("#add-symbol-error", Static)
        choices = self.query_one("#add-symbol-choices", OptionList)
        error.update(lookup.error if lookup else "")
        error.display = bool(lookup and lookup.error)
        choices.clear_options()
        if lookup and lookup.choices:
            choices.add_options([Option(code, id=code) for code in lookup.choices])
            choices.highlighted = 0
        choices.display = bool(lookup and lookup.choices)

    @property
    def error_text(self) -> str:
        return str(self.query_one("#add-symbol-error", Static).render())

    @property
    def choices(self) -> list[str]:
        options = self.query_one("#add-symbol-choices", OptionList)
        return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.dismiss(None)
            return
        self.query_one("#add-symbol-error", Static).update("checking...")
        self.query_one("#add-symbol-error", Static).display = True
        self.run_worker(self._check(text), group="add-symbol", exclusive=True, exit_on_error=False)

    async def _check(self, text: str) -> None:
        try:
            lookup = await self._resolve(text)
        except Exception as exc:  # the dialog says what went wrong; the app stays up
            log.warning("resolving %r failed", text, exc_info=True)
            lookup = Lookup(error=f"cannot check '{text}' now: {describe_error(exc)}")
        if lookup.code is not None:
            self.dismiss(lookup.code)
        else:
            self.show(lookup)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_choices(self) -> None:
        choices = self.query_one("#add-symbol-choices", OptionList)
        if choices.display and not choices.has_focus:
            choices.focus()


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; dismisses with True only for y (or Enter on Yes)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", id="yes", variant="primary")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


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
