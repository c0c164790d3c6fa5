"""`[connection] event_loop`: which loop the app and headless run on, checked at load."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from upbit_tui import eventloop
from upbit_tui.config import ConfigError, load_config
from upbit_tui.eventloop import resolve_event_loop, run, running_loop_name


def load(tmp_path: Path, value: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[connection]\nevent_loop = "{value}"\n', encoding="utf-8")
    path.chmod(0o600)
    return load_config(path, environ={}).connection.event_loop


@pytest.mark.parametrize("value", ["auto", "asyncio", "uvloop"])
def test_every_event_loop_name_loads(tmp_path: Path, value: str) -> None:
    assert load(tmp_path, value) == value


def test_an_unknown_event_loop_is_one_line_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "trio")
    message = str(info.value)
    assert "[connection] event_loop: unknown event loop 'trio'" in message
    assert "expected one of auto, asyncio, uvloop" in message
    assert "\n" not in message


def test_uvloop_asked_for_but_missing_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eventloop, "fast_loop_installed", lambda: False)
    assert resolve_event_loop("auto") == "asyncio"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "uvloop")
    assert "pip install uvloop" in str(info.value)


@pytest.mark.parametrize(("name", "expected"), [("asyncio", "asyncio"), ("uvloop", "uvloop")])
def test_run_runs_on_the_loop_asked_for(name: str, expected: str) -> None:
    async def which() -> tuple[str, str]:
        await asyncio.sleep(0)
        return running_loop_name(), type(asyncio.get_running_loop()).__module__

    loop, module = run(which(), name)
    assert loop == expected and module.split(".")[0] == expected


def test_auto_is_uvloop_when_installed() -> None:
    assert resolve_event_loop("auto") == (
        "uvloop" if eventloop.fast_loop_installed() else "asyncio"
    )
