"""Every usage and config error: exit code 2 and one line on stderr (through cli.main)."""

from __future__ import annotations

from pathlib import Path

import pytest

from upbit_tui.cli import main


@pytest.fixture(autouse=True)
def _no_keys_no_default_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY", "UPBIT_TUI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own errors
        code = exit.code if isinstance(exit.code, int) else 1
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err.splitlines()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--count", "0"], "argument --count: expected a whole number > 0, got 0"),
        (["--count", "many"], "argument --count: expected a whole number > 0, got 'many'"),
        (["--duration", "-3"], "argument --duration: expected seconds > 0, got '-3'"),
        (["--duration", "nan"], "argument --duration: expected seconds > 0, got 'nan'"),
        (["--types", "tickr"], "unknown type 'tickr'"),
        (["--types", "candle.2m"], "unknown type 'candle.2m'"),
        (["--types", ","], "no types given"),
        (["--symbols", "btc"], "--symbols: 'btc' is not an Upbit market code"),
        (["--metrics-port", "99999"], "argument --metrics-port: expected a port 0..65535"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--types", "ticker", "extra"], "unrecognized arguments: extra"),
        (["--config", "/nonexistent/upbit.toml"], "/nonexistent/upbit.toml: file not found"),
        (["--types", "balance,orders"], "balance and orders need API keys"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_cli(["headless", *args], capsys)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("upbit-tui headless: ") and reason in lines[0], lines[0]


def test_config_given_before_and_after_the_subcommand_must_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text("")
    second.write_text("")
    code, lines = run_cli(["--config", str(first), "headless", "--config", str(second)], capsys)
    assert code == 2
    assert lines == [
        f"upbit-tui headless: --config given twice ('{first}' and '{second}'): keep one"
    ]


@pytest.mark.parametrize(
    ("toml", "reason"),
    [
        ("[headless]\npolicy = 'drop_newest'\n", "unknown policy 'drop_newest'"),
        ("[headless]\ntypes = ['ticker', 'trades']\n", "[headless] types: unknown type 'trades'"),
        ("[headless]\nqueue_size = -1\n", "[headless] queue_size"),
        ("[watchlist]\nsymbols = ['BTC']\n", "[watchlist] symbols"),
        ("[headless\n", "invalid TOML"),
        ("[headles]\ntypes = []\n", "did you mean 'headless'"),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, toml: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    code, lines = run_cli(["headless", "--config", str(path)], capsys)
    assert code == 2
    assert len(lines) == 1 and reason in lines[0] and str(path) in lines[0], lines
