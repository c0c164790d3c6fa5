"""Saving the watchlist edits only [watchlist] symbols and keeps the user's comments."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from upbit_tui.config import load_config
from upbit_tui.tui.watchlist_file import WatchlistSaveError, replace_watchlist, save_watchlist

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
    # The multi-line layout stays, with the comment of the market that stays.
    assert (
        '[watchlist]\n# markets I follow\nsymbols = [\n    "KRW-BTC",  # the big one\n'
        '    "KRW-XRP",\n    "KRW-ADA",\n]\n\n[ui]\n'
    ) in text
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


GROUPED = """\
watchlist.symbols = [  # mine
    # majors
    "KRW-BTC",  # the big one
    "KRW-ETH",
    # memes
    "KRW-DOGE",  # woof
]  # after

[ui]
theme = "nord"
"""


def test_a_dotted_key_is_edited_in_place_not_a_second_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GROUPED)
    save_watchlist(path, ["KRW-DOGE", "KRW-BTC", "KRW-ADA"])
    assert path.read_text() == (
        "watchlist.symbols = [  # mine\n"
        "    # memes\n"
        '    "KRW-DOGE",  # woof\n'
        "    # majors\n"
        '    "KRW-BTC",  # the big one\n'
        '    "KRW-ADA",\n'
        "]  # after\n"
        "\n"
        "[ui]\n"
        'theme = "nord"\n'
    )
    assert "[watchlist]" not in path.read_text()
    assert load_config(path).watchlist.symbols == ("KRW-DOGE", "KRW-BTC", "KRW-ADA")


def test_a_removed_markets_comment_line_moves_to_the_next_market() -> None:
    text = replace_watchlist(GROUPED, ["KRW-ETH", "KRW-DOGE"])
    assert '    # majors\n    "KRW-ETH",\n    # memes\n    "KRW-DOGE",  # woof\n' in text


def test_a_symlinked_config_is_written_through_the_link_with_its_mode(tmp_path: Path) -> None:
    real_dir = tmp_path / "dotfiles"
    real_dir.mkdir()
    real = real_dir / "upbit.toml"
    real.write_text(CONFIG)
    real.chmod(0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    written = save_watchlist(link, ["KRW-SOL"])
    assert written == real
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_config(real).watchlist.symbols == ("KRW-SOL",)
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in real_dir.iterdir()) == ["upbit.toml"]  # no temp file left


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('watchlist = { symbols = ["KRW-BTC"] }\n', "cannot edit the watchlist"),
        ('[watchlist\nsymbols = ["KRW-BTC"]\n', "not valid TOML"),
        ('watchlist = "KRW-BTC"\n', "not a table"),
        ('[[watchlist]]\nsymbols = ["KRW-BTC"]\n', "not a table"),
    ],
)
def test_what_cannot_be_edited_safely_is_refused_and_left_untouched(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(WatchlistSaveError, match=why):
        save_watchlist(path, ["KRW-ETH"])
    assert path.read_text() == text
