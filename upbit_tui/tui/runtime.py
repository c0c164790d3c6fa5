"""What every pane needs from the app: the running manager, the config and the clock.

Plain asyncio, no Textual, so the panes (in the top-level `widgets` package) can depend on it
without importing the App, and the App can start the manager after the panes are mounted: a
pane waits for `wait_manager()` before it creates its proxy.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from upbit_tui.config import Config

if TYPE_CHECKING:
    from upbit_tui.client.interface import AbstractWebSocketManager

Clock = Callable[[], float]


class ManagerUnavailable(RuntimeError):
    """The manager could not start (bad URL, simulator failed, ...); the message says why."""


class Runtime:
    """The app's shared state for panes: set once the manager is up, cleared when it stops."""

    def __init__(self, config: Config, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or time.time
        self.manager: AbstractWebSocketManager | None = None
        self.failure: str | None = None
        self._ready = asyncio.Event()
        self._ids = itertools.count(1)

    def attach(self, manager: AbstractWebSocketManager, config: Config) -> None:
        """Called by the app once the manager runs (config may now point at the demo simulator)."""
        self.config = config
        self.manager = manager
        self.failure = None
        self._ready.set()

    def detach(self, failure: str | None = None) -> None:
        self.manager = None
        self.failure = failure
        self._ready.clear()

    @property
    def ready(self) -> bool:
        return self.manager is not None

    async def wait_manager(self) -> AbstractWebSocketManager:
        while True:
            await self._ready.wait()
            if self.manager is not None:
                return self.manager

    def client_id(self, kind: str) -> str:
        """A unique proxy id per pane instance: a re-mounted pane never collides with its
        predecessor while that one is still cleaning up."""
        return f"{kind}-{next(self._ids)}"
