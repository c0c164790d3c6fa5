from __future__ import annotations

import copy
import dataclasses
import logging
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest

from upbit_tui.config import (
    TEXTUAL_THEMES,
    AuthConfig,
    Config,
    ConfigError,
    Secret,
    default_config_path,
    load_config,
)

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
    assert config.auth.access_key is not None and config.auth.secret_key is not None
    assert (config.auth.access_key.reveal(), config.auth.secret_key.reveal()) == ("env-a", "env-s")


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
        ('[ui]\ncandle_timeframe = "2m"\n', "unknown timeframe '2m' (expected one of 1s, 1m"),
        ('[ui]\ntheme = "nope"\n', "unknown theme 'nope' (expected one of ansi-dark"),
        ('[ui]\ntheme = "nordd"\n', "unknown theme 'nordd' (did you mean 'nord'? expected one of"),
        ("[connection]\nbatch_window = inf\n", "batch_window: expected a finite number, got inf"),
        ("[connection]\nstale_after = nan\n", "stale_after: expected a finite number, got nan"),
        ("[connection]\nping_interval = -inf\n", "expected a finite number, got -inf"),
        ("[connection]\nopen_timeout = 1" + "0" * 400 + "\n", "expected a finite number"),
        ("[routing]\nqueue_size = 0\n", "[routing] queue_size: expected a value >= 1, got 0"),
        ("[routing]\nqueue_size = 1" + "0" * 30 + "\n", "expected a value <= 1e+07, got 1e+30"),
        ("[connection]\nping_interval = 1e300\n", "expected a value <= 1e+09, got 1e+300"),
        ("[headless]\nqueue_size = 0\n", "[headless] queue_size: expected a value >= 1, got 0"),
        ("[routing]\nthrottle_per_second = 0\n", "expected a value > 0, got 0"),
        ("[connection]\nreconnect_jitter = 2\n", "expected a value <= 1, got 2"),
        ("[auth]\nsecret_key = 5\n", "[auth] secret_key: expected a string, got int"),
        ("a = " + "[" * 10_000 + "]" * 10_000 + "\n", "nested too deep"),
        ("a = " + "{b = " * 10_000 + "1" + "}" * 10_000 + "\n", "nested too deep"),
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


@pytest.mark.parametrize(
    "timeframe", ["1s", "1m", "3m", "5m", "10m", "15m", "30m", "60m", "240m", "day", "1d"]
)
def test_every_chart_timeframe_is_accepted(tmp_path: Path, timeframe: str) -> None:
    path = write(tmp_path, f'[ui]\ncandle_timeframe = "{timeframe}"\n')
    assert load_config(path, environ={}).ui.candle_timeframe == timeframe


def test_theme_list_matches_textual() -> None:
    from textual.theme import BUILTIN_THEMES

    assert set(TEXTUAL_THEMES) == set(BUILTIN_THEMES)


def test_loading_a_config_does_not_import_textual(tmp_path: Path) -> None:
    path = write(tmp_path, '[ui]\ntheme = "nord"\n')
    code = f"import sys, upbit_tui.config as c; c.load_config({str(path)!r}, environ={{}}); "
    code += "print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


KEYS = {"UPBIT_ACCESS_KEY": "AKEY-123-access", "UPBIT_SECRET_KEY": "SKEY-456-secret"}


def test_keys_never_in_clear_in_asdict_or_pickle(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\naccess_key = "FILE-AKEY-9"\nsecret_key = "FILE-SKEY-9"\n')
    for config in (load_config(None, environ=KEYS), load_config(path, environ={})):
        as_dict = dataclasses.asdict(config)
        shown = repr(as_dict) + str(as_dict) + repr(config) + f"{config.auth.secret_key}"
        for key in (*KEYS.values(), "FILE-AKEY-9", "FILE-SKEY-9"):
            assert key not in shown
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(config)
        with pytest.raises(TypeError, match="cannot be pickled"):
            copy.copy(config.auth.secret_key).__reduce_ex__(pickle.HIGHEST_PROTOCOL)


def test_secret_reveals_only_on_request() -> None:
    secret = Secret("s3cr3t")
    assert secret.reveal() == "s3cr3t"
    assert "s3cr3t" not in f"{secret} {secret!r} {secret:>20} {[secret]}"
    assert secret == Secret("s3cr3t") and secret != Secret("other")
    assert not Secret("")


def test_auth_config_wraps_plain_strings() -> None:
    auth = AuthConfig(access_key="a", secret_key="b")
    assert isinstance(auth.access_key, Secret) and isinstance(auth.secret_key, Secret)
    assert auth.has_keys and auth == AuthConfig(access_key=Secret("a"), secret_key="b")
    assert dataclasses.replace(auth, secret_key="c").secret_key == Secret("c")


# Lines a fuzzed config is made of: valid keys with hostile values, and hostile TOML.
_KEYS = [
    ("connection", "batch_window"),
    ("connection", "stale_after"),
    ("connection", "reconnect_jitter"),
    ("connection", "reconnect_critical_after"),
    ("routing", "queue_size"),
    ("routing", "policy"),
    ("ui", "candle_timeframe"),
    ("ui", "theme"),
    ("ui", "orderbook_depth"),
    ("headless", "types"),
    ("headless", "queue_size"),
    ("watchlist", "symbols"),
    ("exchange", "websocket_url"),
    ("auth", "secret_key"),
    ("logging", "level"),
    ("nosuch", "key"),
]
_VALUES = [
    "nan",
    "inf",
    "-inf",
    "+nan",
    "0",
    "-1",
    "1e309",
    "1" + "0" * 40,
    "-0.0",
    "true",
    '"2m"',
    '"nope"',
    '""',
    '"\\u0000"',
    "[]",
    '["KRW-BTC", 1]',
    "{a = 1}",
    '"ws:/x"',
    "1979-05-27T07:32:00Z",
    "1" + "0" * 400,
    "[" * 3000 + "]" * 3000,
    '"' + "x" * 5000 + '"',
    "0x7f",
    "[[1]]",
]
_GARBAGE = ["[", "]]", "= 1", "[ui]\n[ui]", "a.b.c = 1", "\x00", '"""', "[[ui]]", "ui = 1"]


def _fuzzed_config(rng: random.Random) -> str:
    lines: list[str] = []
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.15:
            lines.append(rng.choice(_GARBAGE))
            continue
        section, key = rng.choice(_KEYS)
        lines.append(f"[{section}]\n{key} = {rng.choice(_VALUES)}")
    return "\n".join(lines) + "\n"


def test_fuzzed_configs_only_ever_raise_config_error(tmp_path: Path) -> None:
    rng = random.Random(20261203)
    path = tmp_path / "config.toml"
    outcomes = {"ok": 0, "error": 0}
    for _ in range(400):
        text = _fuzzed_config(rng)
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path, environ={})
        except ConfigError as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith(str(path)), (text[:200], message)
            outcomes["error"] += 1
        else:
            outcomes["ok"] += 1
    assert outcomes["error"] > 300  # the generator mostly makes bad files


def _cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_")}
    return subprocess.run(
        [sys.executable, "-m", "upbit_tui", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[ui]\ncandle_timeframe = "2m"\n', "[ui] candle_timeframe"),
        ('[ui]\ntheme = "nope"\n', "[ui] theme"),
        ("[ui]\ntable_refresh_hz = nan\n", "[ui] table_refresh_hz"),
        ("[headless]\nqueue_size = 0\n", "[headless] queue_size"),
        ("[connection]\nbatch_window = inf\n", "[connection] batch_window"),
        ("a = " + "[" * 10_000 + "]" * 10_000 + "\n", "nested too deep"),
    ],
    ids=["timeframe", "theme", "nan", "queue-size-0", "inf", "nested"],
)
@pytest.mark.parametrize("front_end", [["headless", "--count", "1"], []], ids=["headless", "app"])
def test_bad_config_is_one_line_and_exit_2_for_every_front_end(
    tmp_path: Path, text: str, where: str, front_end: list[str]
) -> None:
    path = write(tmp_path, text)
    result = _cli(*front_end, config=path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and where in lines[0], result.stderr
    assert "Traceback" not in result.stderr
