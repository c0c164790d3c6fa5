"""Fixtures of the pure core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from core_harness import Collector

from upbit_tui.net.metrics import MetricsCollector
from upbit_tui.net.routing import Router


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    r = Router(metrics=MetricsCollector())
    yield r
    await r.aclose()
