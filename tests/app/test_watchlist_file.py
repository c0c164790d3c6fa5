"""Saving the watchlist edits only [watchlist] symbols and keeps the user's comments."""

from __future__ import annotations

from pathlib import Path

from upbit_tui.config import load_config
from upbit_tui.tui.watchlist_file import replace_watchlist, save_watchlist

CONFIG = """\
# my config
[exchange]
rest_url = "https://api.upbit.com"  # real one

[watchlist]
# markets I follow
symbols = [
    "KRW-BTC",  # the big one
    "KRW-ETH",
]

[ui]
candle_timeframe = "5m"
"""


def test_multiline_symbols_are_replaced_and_comments_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    save_watchlist(path, ["KRW-BTC", "KRW-XRP", "KRW-ADA"])
    text = path.read_text()
    assert "# my config" in text and "# markets I follow" in text and "# real one" in text
    assert 'symbols = ["KRW-BTC", "KRW-XRP", "KRW-ADA"]' in text
    assert "KRW-ETH" not in text
    config = load_config(path)
    assert config.watchlist.symbols == ("KRW-BTC", "KRW-XRP", "KRW-ADA")
    assert config.ui.candle_timeframe == "5m"


def test_missing_section_is_appended_and_missing_file_created(tmp_path: Path) -> None:
    assert replace_watchlist('[ui]\ntheme = "nord"', ["KRW-BTC"]) == (
        '[ui]\ntheme = "nord"\n\n[watchlist]\nsymbols = ["KRW-BTC"]\n'
    )
    assert replace_watchlist("[watchlist]\n\n[ui]\n", ["KRW-SOL"]) == (
        '[watchlist]\nsymbols = ["KRW-SOL"]\n\n[ui]\n'
    )
    path = tmp_path / "new" / "config.toml"
    save_watchlist(path, ["KRW-DOGE"])
    assert load_config(path).watchlist.symbols == ("KRW-DOGE",)
    assert path.stat().st_mode & 0o777 == 0o600


def test_symbols_outside_watchlist_are_left_alone() -> None:
    text = '[headless]\nsymbols = ["x"]\n[watchlist]\nsymbols = ["KRW-BTC"]\n'
    assert replace_watchlist(text, ["KRW-ETH"]) == (
        '[headless]\nsymbols = ["x"]\n[watchlist]\nsymbols = ["KRW-ETH"]\n'
    )
