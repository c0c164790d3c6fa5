"""Helpers for the pure core tests (imported as `core_harness`: the layout has no __init__.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from suite_harness import TIMEOUT_FACTOR as TIMEOUT_FACTOR  # re-exported

TIMEOUT = 2.0 * TIMEOUT_FACTOR


class Collector:
    """A callback that records events and lets a test await a count or a condition."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[list[Any]], bool]) -> list[Any]:
        async def until() -> None:
            while not predicate(self.events):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), TIMEOUT)
        return self.events

    async def wait_count(self, n: int) -> list[Any]:
        return await self.wait_for(lambda events: len(events) >= n)
