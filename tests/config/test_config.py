from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from upbit_tui.config import Config, ConfigError, default_config_path, load_config

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_defaults_point_at_upbit() -> None:
    config = load_config(None, environ={})
    assert config.exchange.websocket_url == "wss://api.upbit.com/websocket/v1"
    assert config.exchange.private_websocket_url == "wss://api.upbit.com/websocket/v1/private"
    assert config.exchange.rest_url == "https://api.upbit.com"
    assert not config.auth.has_keys


def test_example_config_is_valid_and_matches_defaults() -> None:
    config = load_config(ROOT / "config.example.toml", environ={})
    defaults = load_config(None, environ={})
    assert config.replace(source=None) == defaults


def test_watchlist_symbols_are_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, '[watchlist]\nsymbols = ["krw-btc", " KRW-ETH", "KRW-BTC"]\n')
    assert load_config(path, environ={}).watchlist.symbols == ("KRW-BTC", "KRW-ETH")


def test_environment_keys_override_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\naccess_key = "file-a"\nsecret_key = "file-s"\n')
    env = {"UPBIT_ACCESS_KEY": "env-a", "UPBIT_SECRET_KEY": "env-s"}
    config = load_config(path, environ=env)
    assert (config.auth.access_key, config.auth.secret_key) == ("env-a", "env-s")


def test_secrets_never_in_repr(tmp_path: Path) -> None:
    env = {"UPBIT_ACCESS_KEY": "AKEY-123", "UPBIT_SECRET_KEY": "SKEY-456"}
    config = load_config(None, environ=env)
    text = repr(config) + str(config)
    assert "SKEY-456" not in text and "AKEY-123" not in text
    assert "keys set" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[exchange\n", "invalid TOML"),
        ("[exchnge]\n", "unknown section [exchnge] (did you mean 'exchange'?)"),
        ("[connection]\nping_intervall = 3\n", "unknown key 'ping_intervall' (did you mean"),
        ('[connection]\nping_interval = "fast"\n', "ping_interval: expected a number, got 'fast'"),
        ('[watchlist]\nsymbols = "KRW-BTC"\n', "expected a list of strings"),
        ('[watchlist]\nsymbols = ["BTC"]\n', "'BTC' is not an Upbit market code"),
        ('[routing]\npolicy = "fastest"\n', "unknown policy 'fastest'"),
        ('[exchange]\nwebsocket_url = "http://x"\n', "expected a ws:// or wss:// URL"),
        ("[ui]\norderbook_depth = 7\n", "expected 1, 5, 15 or 30, got 7"),
        ("[connection]\nstale_after = -1\n", "expected a value >= 0"),
        ("exchange = 3\n", "[exchange] must be a table"),
    ],
)
def test_bad_config_names_file_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[watchlist]\nsymbols = ["KRW-BTC",\n\n[ui]\n')
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(path, environ={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_world_readable_secret_gets_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, '[auth]\naccess_key = "a"\nsecret_key = "very-secret"\n')
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        load_config(path, environ={})
    assert "chmod 600" in caplog.text
    assert "very-secret" not in caplog.text


def test_private_file_gets_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, '[auth]\naccess_key = "a"\nsecret_key = "s"\n')
    with caplog.at_level(logging.WARNING):
        load_config(path, environ={})
    assert caplog.text == ""


def test_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "upbit-tui" / "config.toml"


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.exchange = None  # type: ignore[misc]
