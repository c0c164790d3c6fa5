"""80 and 100 columns: every key reachable, help and monitor fit, no header cut (issue 12.8)."""

from __future__ import annotations

from typing import Any

import pytest
from app_harness import demo_app, wait_for
from rich.console import Console
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from upbit_tui.tui.app import UpbitApp
from upbit_tui.tui.screens import HELP_TEXT, HelpScreen
from widgets.dashboard import render_connections, render_performance, render_queues
from widgets.fitted_footer import FittedFooter

CONNECTIONS = {
    "connections": {
        "public": {
            "state": "backoff",
            "epoch": 3,
            "uptime": 12.0,
            "reconnects": 2,
            "attempts": 4,
            "stale_closes": 1,
            "last_error": "closed by server (1006)",
        },
    },
    "subscribers": [
        {
            "client_id": "watchlist-1",
            "type": "ticker",
            "policy": "coalesce_by_symbol",
            "queue_depth": 0,
            "queue_size": 1000,
            "delivered": 123456,
            "dropped": 0,
            "callback_errors": 0,
            "slow_callbacks": 0,
        },
    ],
}


def _main_bindings(app: UpbitApp) -> list[Any]:
    return [b for b in app.BINDINGS if getattr(b, "show", False)]


@pytest.mark.parametrize("width", [80, 100])
async def test_the_footer_shows_whole_keys_and_help_lists_every_key(width: int) -> None:
    app = demo_app()
    async with app.run_test(size=(width, 24)) as pilot:
        footer = app.query_one(FittedFooter)
        await wait_for(pilot, lambda: bool(footer.query(FooterKey)), "the footer keys")
        keys = list(footer.query(FooterKey))
        assert sum(k.outer_size.width for k in keys) <= width
        for key in keys:  # never "c Cha"
            assert key.outer_size.width >= len(key.key_display) + 1 + len(key.description)
        shown = {k.action for k in keys}
        for binding in _main_bindings(app):
            assert binding.action in shown or f"`{binding.key.split(',')[0]}`" in HELP_TEXT
        if footer.dropped:
            assert any(k.description == "All keys" for k in keys)


async def test_help_fits_80_columns() -> None:
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        body = app.screen.query_one("#help-body")
        assert body.outer_size.width <= 80


def _lines(renderable: Any, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [76, 96])
def test_monitor_tables_drop_whole_columns_instead_of_cutting_headers(width: int) -> None:
    for renderable in (
        render_connections(CONNECTIONS, {"public": 12.5}, width),
        render_queues(CONNECTIONS, width),
        render_performance({"messages_per_second": 12.5, "p99_latency_ms": 3.2}, width),
    ):
        lines = _lines(renderable, width)
        assert all(len(line) <= width for line in lines)
        assert not any("…" in line for line in lines), "\n".join(lines)
    wide = _lines(render_connections(CONNECTIONS, {"public": 12.5}, 200), 200)
    assert "Stale closes" in wide[1] and "Last error" in wide[1]


async def test_with_every_pane_hidden_the_screen_says_how_to_bring_them_back() -> None:
    app = demo_app()
    async with app.run_test(size=(160, 40)) as pilot:
        hint = app.query_one("#all-hidden", Static)
        assert not hint.display
        await pilot.press("w", "b", "c", "o")
        await wait_for(pilot, lambda: hint.display, "the hint")
        assert "w watchlist" in str(hint.render())
        await pilot.press("w")
        await wait_for(pilot, lambda: not hint.display, "the watchlist back")
