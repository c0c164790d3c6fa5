"""Helpers of the gateway tests: fast configs, unique subject prefixes, waiting for conditions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Re-exported: the gateway tests import them from here.
from suite_harness import ACCESS as ACCESS
from suite_harness import SECRET as SECRET
from suite_harness import TIMEOUT_FACTOR as TIMEOUT_FACTOR  # re-exported
from suite_harness import fast_config as fast_config
from suite_harness import wait_until as wait_until

from upbit_tui.gateway.service import GatewaySettings


def unique_prefix() -> str:
    """Subjects, stream and KV bucket of one test, so tests sharing a server never meet."""
    return f"t{uuid.uuid4().hex[:10]}"


def fast_settings(prefix: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {"prefix": prefix, "lease_ttl": 3.0, "active_ttl": 1.0}
    values.update(overrides)
    return GatewaySettings(**values)


def live_subscription(sim: Any) -> dict[str, set[str]]:
    """What the simulator's open public connection carries: type -> codes."""
    items = sim.stats()["connections"]["items"]
    live = [s for s in items if s["open"] and s["endpoint"] == "public"]
    out: dict[str, set[str]] = {}
    for session in live:
        for item in session["subscription"] or ():
            out.setdefault(item["type"], set()).update(item["codes"] or ())
    return out


def public_connections_opened(sim: Any) -> int:
    return sum(1 for s in sim.stats()["connections"]["items"] if s["endpoint"] == "public")


class Collector:
    """A callback recording events; a test awaits a predicate over them."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[Collector], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()


HERE = Path(__file__).resolve().parent


class Child:
    """A subprocess whose stdout lines are collected by a reader task; killed with SIGKILL."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, *args: str) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().rstrip("\n"))
            self._changed.set()

    async def wait_line(self, predicate: Callable[[list[str]], bool], within: float = 15.0) -> None:
        try:
            async with asyncio.timeout(within * TIMEOUT_FACTOR):
                while not predicate(self.lines):
                    if self.process.returncode is not None:
                        break
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pass
        if not predicate(self.lines):
            err = await self._stderr()
            pytest.fail(f"child never printed what was expected; stderr: {err[-2000:]}")

    async def _stderr(self) -> str:
        if self.process.returncode is None:
            self.kill()
            await self.process.wait()
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye (a crash)."""
        if self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)

    async def close(self) -> None:
        self.kill()
        await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def start_consumer(url: str, prefix: str, *options: str) -> Child:
    child = await Child.start(str(HERE / "consumer_proc.py"), url, prefix, *options)
    await child.wait_line(lambda lines: "ready" in lines)
    return child


def gateway_config_file(tmp_path: Path, sim: Any, lease_ttl: float = 3.0) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(
        "[exchange]\n"
        f'websocket_url = "{sim.websocket_url}"\n'
        f'private_websocket_url = "{sim.private_websocket_url}"\n'
        f'rest_url = "{sim.rest_url}"\n'
        "[connection]\nreconnect_initial_delay = 0.01\nreconnect_max_delay = 0.1\n"
        "unsubscribe_grace = 0.1\n"
        f"[gateway]\nlease_ttl = {lease_ttl}\n"
    )
    return path


async def start_gateway(config: Path, url: str, prefix: str, name: str) -> Child:
    """`upbit-tui gateway` in its own process (so a test can kill -9 it)."""
    return await Child.start(
        "-m", "upbit_tui", "gateway", "--config", str(config), "--nats", url,
        "--prefix", prefix, "--name", name, "--active-ttl", "1",
    )  # fmt: skip


def trades_of(lines: list[str]) -> list[tuple[str, int]]:
    out = []
    for line in lines:
        if line.startswith("T "):
            _, code, sid = line.split()
            out.append((code, int(sid)))
    return out


def assert_trades_exact(sim: Any, events: list[Any], codes: list[str]) -> None:
    """Per market: every trade the simulator made over the delivered span, once, in time order.

    Upbit's ids are unique but not ordered (the simulator sends some out of order), so ids are
    never compared by size: a trade is lost when the simulator made it strictly between the
    first and the last delivered trade's millisecond and it was not delivered.
    """
    for code in codes:
        mine = [e for e in events if e.symbol == code]
        sids = [e.sequential_id for e in mine]
        assert len(sids) == len(set(sids)), f"{code}: a trade twice"
        times = [e.trade_timestamp for e in mine]
        assert times == sorted(times), f"{code}: trades out of time order"
        made = {t.sequential_id: t.trade_timestamp for t in sim.model.trades(code, count=100_000)}
        between = {sid for sid, ts in made.items() if times[0] < ts < times[-1]}
        missing = between - set(sids)
        assert not missing, f"{code}: {len(missing)} trades lost"
