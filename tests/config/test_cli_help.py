"""`upbit-tui --version` and the help texts, run as the real command."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from textual.binding import Binding

from upbit_tui.tui.app import UpbitApp


def upbit_tui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "upbit_tui", *args], capture_output=True, text=True, timeout=60
    )


def test_version_is_the_installed_version() -> None:
    result = upbit_tui("--version")
    assert result.returncode == 0
    assert result.stdout == f"upbit-tui {importlib.metadata.version('upbit-tui')}\n"


def test_help_says_no_command_opens_the_app_and_where_config_comes_from() -> None:
    result = upbit_tui("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Without a COMMAND, upbit-tui opens the terminal app" in text
    order = ["--config PATH", "$UPBIT_TUI_CONFIG", "~/.config/upbit-tui/config.toml", "defaults"]
    config_part = text[text.index("config file, the first that applies") :]
    positions = [config_part.index(item) for item in order]
    assert positions == sorted(positions)
    assert "UPBIT_ACCESS_KEY" in text and "UPBIT_SECRET_KEY" in text


def test_help_lists_every_key_of_the_app() -> None:
    text = upbit_tui("--help").stdout
    keys = text[text.index("keys in the terminal app:") : text.index("examples:")]
    for binding in Binding.make_bindings(UpbitApp.BINDINGS):
        assert binding.description in keys, binding
    assert "ctrl+p" in keys and "?/f1" in keys


def test_exchange_help_gives_the_simulator_test_keys() -> None:
    result = upbit_tui("exchange", "--help")
    assert result.returncode == 0
    assert "test-access" in result.stdout and "test-secret" in result.stdout
