"""Shared helpers of the headless tests: run the real `upbit-tui headless` as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from suite_harness import TIMEOUT_FACTOR as TIMEOUT_FACTOR  # re-exported

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("upbit-tui")
# The installed console script when there is one (the real command), else the module.
COMMAND: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "upbit_tui"]


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without Upbit keys or a config path leaking in from the shell."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY", "UPBIT_TUI_CONFIG")
    }
    env["XDG_CONFIG_HOME"] = str(Path(env.get("TMPDIR", "/tmp")) / "upbit-tui-tests-no-config")
    env.update(extra)
    return env


def write_config(path: Path, sim: Any, **sections: Mapping[str, Any]) -> Path:
    """A TOML config pointing at the simulator, with `sections` merged over test defaults."""
    data: dict[str, dict[str, Any]] = {
        "exchange": {
            "websocket_url": sim.websocket_url,
            "private_websocket_url": sim.private_websocket_url,
            "rest_url": sim.rest_url,
        },
        "watchlist": {"symbols": ["KRW-BTC", "KRW-ETH"]},
        "headless": {"health_interval": 0.5},
        "logging": {"level": "INFO"},
        # Fast reconnects keep fault-injection tests short.
        "connection": {"reconnect_initial_delay": 0.05, "reconnect_max_delay": 0.5},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in data.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


class Headless:
    """A running `upbit-tui headless`: stdout lines on demand, stderr collected as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr = ""
        self._stderr_changed = asyncio.Condition()
        self._stderr_task = asyncio.create_task(self._collect_stderr())

    async def _collect_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(4096):
            async with self._stderr_changed:
                self.stderr += chunk.decode(errors="replace")
                self._stderr_changed.notify_all()

    async def wait_for_stderr(self, pattern: str, within: float = 10.0) -> re.Match[str]:
        """The first match of `pattern` in stderr, waiting for it to be logged."""
        async with asyncio.timeout(within * TIMEOUT_FACTOR), self._stderr_changed:
            while (match := re.search(pattern, self.stderr)) is None:
                if self._stderr_task.done():
                    raise AssertionError(f"stderr ended without {pattern!r}:\n{self.stderr}")
                await self._stderr_changed.wait()
        return match

    async def read_events(self, n: int, within: float = 15.0) -> list[dict[str, Any]]:
        """The next `n` lines of stdout, each parsed as one JSON object."""
        assert self.process.stdout is not None
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            while len(events) < n:
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"stdout ended after {len(events)} lines:\n{self.stderr}")
                assert line.endswith(b"\n"), f"partial line {line[:80]!r}"
                events.append(json.loads(line))
        return events

    async def read_rest(self, within: float = 15.0) -> list[dict[str, Any]]:
        """Every remaining stdout line until EOF, parsed."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            data = await self.process.stdout.read()
        assert not data or data.endswith(b"\n"), f"output ends in a partial line {data[-80:]!r}"
        return [json.loads(line) for line in data.splitlines()]

    async def wait(self, within: float = 20.0) -> int:
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            code = await self.process.wait()
            await self._stderr_task
        return code

    def send_signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._stderr_task


@contextlib.asynccontextmanager
async def headless(
    *args: str, env: Mapping[str, str] | None = None, stdout: int | None = None
) -> AsyncIterator[Headless]:
    """Start `upbit-tui headless ARGS`; killed on the way out if the test did not end it."""
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "headless",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if stdout is None else stdout,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else clean_env(),
        cwd=ROOT,
        limit=1 << 22,
    )
    run = Headless(process)
    try:
        yield run
    finally:
        await run.close()


def assert_clean_stderr(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr


async def scrape(url: str) -> dict[str, list[Any]]:
    """Every sample by sample name, parsed by prometheus-client's own parser."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Any]], name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    assert name in samples, f"no {name} in {sorted(samples)}"
    matching = [s for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    assert matching, f"no {name}{labels} in {samples[name]}"
    return float(sum(s.value for s in matching))
