"""examples/ticker_trade_bot.py runs against the simulator and keeps going through a reconnect."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any

from headless_harness import ROOT, TIMEOUT_FACTOR, clean_env

BOT = ROOT / "examples" / "ticker_trade_bot.py"
REPORT = re.compile(
    r"^KRW-BTC: price .* trades (\d+) \(backfilled (\d+)\), signals \d+, epoch (\d+)$"
)


class BotOutput:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def wait_for(self, pattern: re.Pattern[str] | str, within: float = 20.0) -> re.Match[str]:
        """Read stdout until a line matches `pattern`."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        assert self.process.stdout is not None
        async with asyncio.timeout(within * TIMEOUT_FACTOR):
            while True:
                raw = await self.process.stdout.readline()
                assert raw, "the bot ended early:\n" + "\n".join(self.lines)
                line = raw.decode().rstrip("\n")
                self.lines.append(line)
                if match := regex.search(line):
                    return match


async def test_bot_reacts_to_trades_and_survives_a_reconnect(tmp_path: Path, sim: Any) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(
        "[exchange]\n"
        f'websocket_url = "{sim.websocket_url}"\n'
        f'private_websocket_url = "{sim.private_websocket_url}"\n'
        f'rest_url = "{sim.rest_url}"\n'
        "[connection]\nreconnect_initial_delay = 0.05\nreconnect_max_delay = 0.5\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT),
        "--config",
        str(config),
        "--symbols",
        "KRW-BTC,KRW-ETH",
        "--every",
        "0.3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # The checkout's package, as when the example is run from a clone.
        env=clean_env(PYTHONPATH=str(ROOT)),
        cwd=ROOT,
    )
    bot = BotOutput(process)
    try:
        await bot.wait_for("^watching KRW-BTC, KRW-ETH$")
        before = await bot.wait_for(REPORT)
        while int(before.group(1)) == 0:
            before = await bot.wait_for(REPORT)
        assert before.group(3) == "1"
        sim.faults.close_all()
        await bot.wait_for(r"^epoch 2: reconnected, stream resumed$")
        after = await bot.wait_for(REPORT)
        while int(after.group(1)) <= int(before.group(1)) or after.group(3) != "2":
            after = await bot.wait_for(REPORT)
        await bot.wait_for(r"^health: (healthy|degraded)$")
        process.send_signal(signal.SIGINT)
        await bot.wait_for(r"^stopped; callback errors: 0$")
        async with asyncio.timeout(20 * TIMEOUT_FACTOR):
            _, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert b"Traceback" not in err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
