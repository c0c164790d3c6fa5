"""The command palette: a code typed in full ranks its own command first, never a removal."""

from __future__ import annotations

from typing import Any

from app_harness import SIZE, sim_config, wait_for
from textual.command import CommandList, CommandPalette

from upbit_tui.tui.app import UpbitApp, make_app
from upbit_tui.tui.commands import typed_code


def _prompts(app: UpbitApp) -> list[str]:
    if not isinstance(app.screen, CommandPalette):
        return []
    hits = app.screen.query_one(CommandList)
    return [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]


async def _type(app: UpbitApp, pilot: Any, query: str, first: str) -> list[str]:
    if not isinstance(app.screen, CommandPalette):
        await pilot.press("ctrl+p")
    await pilot.press(*query)
    await wait_for(
        pilot,
        lambda: bool(_prompts(app)) and first in _prompts(app)[0],
        f"'{first}' first for {query!r} (got {_prompts(app)[:3]})",
    )
    return _prompts(app)


async def test_a_code_typed_in_full_ranks_its_own_command_first(sim: Any) -> None:
    app = make_app(sim_config(sim, symbols=("KRW-BTC", "KRW-ADA")), health_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        prompts = await _type(app, pilot, "KRW-DOT", "Add KRW-DOT")
        assert not any(p.startswith("Remove") for p in prompts)
        await pilot.press("escape")

        prompts = await _type(app, pilot, "KRW-BTCC", "Add KRW-BTCC")
        assert not any("Remove KRW-BTC" in p for p in prompts)
        await pilot.press("escape")

        # A listed code selects its row; Enter never removes a market typed as a search.
        await _type(app, pilot, "krw-ada", "Select KRW-ADA")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.selected_symbol == "KRW-ADA", "KRW-ADA selected")
        assert app.watchlist_symbols == ("KRW-BTC", "KRW-ADA")

        await _type(app, pilot, "remove KRW-ADA", "Remove KRW-ADA")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.watchlist_symbols == ("KRW-BTC",), "KRW-ADA removed")


def test_typed_code_reads_the_last_word_as_a_full_code_only() -> None:
    assert typed_code("krw-dot") == "KRW-DOT"
    assert typed_code("remove KRW-ADA") == "KRW-ADA"
    assert typed_code("timeframe") is None
    assert typed_code("") is None
