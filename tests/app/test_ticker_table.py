"""TickerTable painted outside its styled lifetime (the start-up / removal race of issue 12.2)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region

from widgets.ticker_table import Column, TickerTable

COLUMNS = [Column("symbol", "Market", 10, "left"), Column("price", "Price", 12)]


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield TickerTable(COLUMNS, id="table")


async def test_a_table_painted_before_the_stylesheet_reached_it_is_blank_not_a_crash() -> None:
    table = TickerTable(COLUMNS)
    table.add_row("KRW-BTC", {"symbol": ("KRW-BTC", ""), "price": ("1", "")})
    lines = table.render_lines(Region(0, 0, 24, 3))
    assert len(lines) == 3
    assert all(line.text.strip() == "" for line in lines)


async def test_a_pruned_table_still_in_the_compositor_paints_blank_not_a_crash() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 6)) as pilot:
        table = app.query_one(TickerTable)
        table.add_row("KRW-BTC", {"symbol": ("KRW-BTC", ""), "price": ("1", "")})
        await pilot.pause()
        assert "Market" in table.render_lines(Region(0, 0, 24, 2))[0].text
        await table.remove()
        # The compositor keeps its old map until the next layout: a repaint in between
        # reaches the removed table, whose component styles Textual has already cleared.
        lines = table.render_lines(Region(0, 0, 24, 2))
        assert [line.text.strip() for line in lines] == ["", ""]


def test_a_number_too_wide_for_its_column_is_never_cut() -> None:
    table = TickerTable(COLUMNS)
    table.add_row("KRW-BTT", {"symbol": ("KRW-BTT", ""), "price": ("2,668,360,000,000", "")})
    cells = "".join(segment.text for segment in table._row_segments("KRW-BTT"))
    assert "2,668,36" not in cells and "#" * 12 in cells


def test_a_long_market_code_widens_its_column_and_is_never_cut() -> None:
    table = TickerTable(COLUMNS)
    table.add_row("KRW-BTC", {"symbol": ("KRW-BTC", ""), "price": ("1", "")})
    table.add_row("USDT-PUNDIX", {"symbol": ("USDT-PUNDIX", ""), "price": ("0.4", "")})
    rows = ["".join(s.text for s in table._row_segments(key)) for key in table.rows]
    assert "USDT-PUNDIX " in rows[1]
    # Every row lines up on the wider column.
    assert rows[0].index("1") == rows[1].index("0.4") + 2


async def test_a_widened_column_still_fits_the_terminal_by_dropping_columns() -> None:
    columns = [*COLUMNS, Column("volume", "Volume", 12)]

    class Narrow(App[None]):
        def compose(self) -> ComposeResult:
            yield TickerTable(columns, drop_order=("volume",), id="table")

    app = Narrow()
    async with app.run_test(size=(30, 6)) as pilot:
        table = app.query_one(TickerTable)
        await pilot.pause()
        assert [c.key for c in table.columns] == ["symbol", "price"]
        table.add_row("USDT-PUNDIX", {"symbol": ("USDT-PUNDIX", ""), "price": ("0.4", "")})
        await pilot.pause()
        assert [(c.key, c.width) for c in table.columns] == [("symbol", 11), ("price", 12)]
        assert "USDT-PUNDIX" in table.render_lines(Region(0, 0, 30, 2))[1].text
