"""Fixtures of the headless tests: a simulator on 127.0.0.1 and a config file pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from headless_harness import write_config

from upbit_tui.exchange import ExchangeServer

TEST_KEYS = {"test-access": "test-secret"}


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    # 200 trades/s over 20 markets: every watched symbol trades several times a second.
    async with ExchangeServer(
        seed=1, markets=20, rate=200.0, host="127.0.0.1", port=0, api_keys=TEST_KEYS
    ) as server:
        yield server


@pytest.fixture
def config_path(tmp_path: Path, sim: Any) -> Path:
    return write_config(tmp_path / "config.toml", sim)
