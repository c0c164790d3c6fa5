"""`upbit-tui [--config PATH]`: config problems are one clear line and exit code 2."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from upbit_tui.config import LoggingConfig
from upbit_tui.logsetup import setup_logging
from upbit_tui.tui.app import EXIT_CONFIG, run_app
from upbit_tui.tui.startup import config_path_from, load_startup


def args(config: str | None = None, demo: bool = False) -> argparse.Namespace:
    return argparse.Namespace(config=config, demo=demo, command=None)


def test_bad_config_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[watchlist]\nsymbols = ["bitcoin"]\n')
    assert run_app(args(str(path))) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("upbit-tui: ") and str(path) in err and "'bitcoin'" in err


def test_missing_config_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_app(args(str(tmp_path / "nope.toml"))) == EXIT_CONFIG
    assert "nope.toml: file not found" in capsys.readouterr().err


def test_unwritable_log_file_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = tmp_path / "config.toml"
    path.write_text(f'[logging]\nfile = "{blocker}/sub/app.log"\n')
    assert run_app(args(str(path))) == EXIT_CONFIG
    assert "cannot write the log file" in capsys.readouterr().err


def test_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path_from(args(), {}) is None
    xdg = tmp_path / "upbit-tui" / "config.toml"
    xdg.parent.mkdir()
    xdg.write_text("")
    assert config_path_from(args(), {}) == xdg
    assert config_path_from(args(), {"UPBIT_TUI_CONFIG": "/env.toml"}) == Path("/env.toml")
    assert config_path_from(args("/cli.toml"), {"UPBIT_TUI_CONFIG": "/env.toml"}) == Path(
        "/cli.toml"
    )


def test_logging_goes_to_the_file_only(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        path = setup_logging(LoggingConfig(level="INFO", file=str(tmp_path / "logs" / "a.log")))
        logging.getLogger("upbit_tui.test").info("hello file")
        assert len(root.handlers) == 1 and isinstance(root.handlers[0], logging.FileHandler)
        for handler in root.handlers:
            handler.flush()
        assert "hello file" in path.read_text()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_a_readable_secret_file_warns_in_the_app_and_the_log_not_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "app.log"
    path = tmp_path / "config.toml"
    path.write_text(f'[auth]\naccess_key = "a"\nsecret_key = "s"\n[logging]\nfile = "{log_file}"\n')
    path.chmod(0o644)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        startup = load_startup(args(str(path)))
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
    assert capsys.readouterr().err == ""
    assert len(startup.notices) == 1 and "chmod 600" in startup.notices[0]
    assert "chmod 600" in log_file.read_text()
    assert 's"' not in startup.notices[0]
