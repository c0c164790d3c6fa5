"""`[connection] transport`: the WebSocket library, checked when the config loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from upbit_tui.config import ConfigError, load_config


def load(tmp_path: Path, value: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[connection]\ntransport = "{value}"\n', encoding="utf-8")
    path.chmod(0o600)
    return load_config(path, environ={}).connection.transport


@pytest.mark.parametrize("value", ["auto", "websockets", "picows"])
def test_every_transport_name_loads(tmp_path: Path, value: str) -> None:
    assert load(tmp_path, value) == value


def test_an_unknown_transport_is_one_line_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "aiohttp")
    message = str(info.value)
    assert "[connection] transport: unknown transport 'aiohttp'" in message
    assert "expected one of auto, websockets, picows" in message
    assert "\n" not in message
