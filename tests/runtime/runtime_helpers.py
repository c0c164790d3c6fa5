"""Helpers for the runtime tests: a config with tiny timings and views of the simulator's stats."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import suite_harness
from suite_harness import ACCESS as ACCESS  # re-exported: the runtime tests import it here
from suite_harness import SECRET as SECRET
from suite_harness import TIMEOUT_FACTOR as TIMEOUT_FACTOR
from suite_harness import wait_until as wait_until

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.config import Config

# The WebSocket transport fast_config() uses; conftest's `transport` fixture runs every runtime
# test once per transport (UPBIT_TUI_TEST_TRANSPORTS=websockets limits the set).
TRANSPORT = "websockets"


def fast_config(sim: Any, *, keys: bool = False, secret: str = SECRET, **connection: Any) -> Config:
    """The suite's fast config on this run's transport."""
    return suite_harness.fast_config(
        sim, keys=keys, secret=secret, **{"transport": TRANSPORT, **connection}
    )


async def synced(manager: GlobalWebSocketManager, within: float = 5.0) -> None:
    async with asyncio.timeout(within * TIMEOUT_FACTOR):
        await manager.wait_synced()


def sessions(sim: Any, endpoint: str | None = None) -> list[dict[str, Any]]:
    """Every connection the simulator has seen (open and recently closed), oldest first."""
    items = sim.stats()["connections"]["items"]
    return [s for s in items if endpoint is None or s["endpoint"] == endpoint]


def requests_sent(sim: Any, endpoint: str = "public") -> list[tuple[int, list[Any]]]:
    """Every request the simulator received on `endpoint`: (at_ms, parsed message)."""
    out = []
    for session in sessions(sim, endpoint):
        for request in session["requests"]:
            out.append((request["at_ms"], json.loads(request["message"])))
    return sorted(out, key=lambda r: r[0])


def live_subscription(sim: Any, endpoint: str = "public") -> dict[str, set[str]]:
    """What the simulator's open connection on `endpoint` is subscribed to: type -> codes."""
    live = [s for s in sessions(sim, endpoint) if s["open"]]
    assert len(live) <= 1, f"more than one open {endpoint} connection: {live}"
    if not live or live[0]["subscription"] is None:
        return {}
    out: dict[str, set[str]] = {}
    for item in live[0]["subscription"]:
        out.setdefault(item["type"], set()).update(item["codes"] or ())
    return out


def assert_within_message_limits(sim: Any) -> None:
    """No connection got more than 5 requests in any second or 100 in any minute."""
    for session in sessions(sim):
        times = sorted(r["at_ms"] for r in session["requests"])
        for i, t in enumerate(times):
            in_second = sum(1 for u in times[i:] if u - t < 1000)
            in_minute = sum(1 for u in times[i:] if u - t < 60_000)
            assert in_second <= 5, f"session {session['id']}: {in_second} requests in 1 s"
            assert in_minute <= 100, f"session {session['id']}: {in_minute} requests in 1 min"


async def on_wire(sim: Any, expected: dict[str, set[str]], endpoint: str = "public") -> None:
    """Wait until the simulator has applied `expected` as the connection's subscription."""
    await wait_until(
        lambda: live_subscription(sim, endpoint) == expected, what=f"{endpoint} wire = {expected}"
    )


def assert_trades_exact(sim: Any, events: list[Any], codes: list[str]) -> int:
    """Delivered trades per market are the simulator's, each once, in time order, none missing.

    Upbit's ids are unique but not ordered (the simulator sends some out of order), so nothing
    here compares ids by size: a trade is missing when the simulator made it strictly between
    the first and the last delivered trade's millisecond and it was not delivered.
    """
    from upbit_tui.wire.events import TradeEvent

    checked = 0
    for code in codes:
        mine = [e for e in events if isinstance(e, TradeEvent) and e.symbol == code]
        sids = [e.sequential_id for e in mine]
        assert len(sids) == len(set(sids)), f"{code}: trades duplicated"
        if not sids:
            continue
        times = [e.trade_timestamp for e in mine]
        assert times == sorted(times), f"{code}: trades out of time order"
        made = {t.sequential_id: t.trade_timestamp for t in sim.model.trades(code, count=5000)}
        assert all(s in made for s in sids), f"{code}: a trade the simulator never made"
        between = {s for s, ts in made.items() if times[0] < ts < times[-1]}
        missing = between - set(sids)
        assert not missing, f"{code}: {len(missing)} trades missing: " + ", ".join(
            f"{s} at {made[s]} ms" for s in sorted(missing)[:5]
        )
        checked += len(sids)
    return checked


class Collector:
    """A callback that records events and lets a test await the next one per symbol."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    def symbols(self) -> set[str]:
        return {e.symbol for e in self.events}

    async def wait_for(self, predicate: Any, within: float = 5.0) -> None:
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
