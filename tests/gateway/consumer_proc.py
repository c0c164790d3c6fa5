"""A remote consumer in its own process, for the tests that kill one with SIGKILL.

    python consumer_proc.py NATS_URL PREFIX [--trades CODES] [--tickers CODES]
                            [--resume CODE:SID,...] [--keep SECONDS]

Prints `ready` once subscribed, then one line per event: `T <code> <sequential_id>` for a trade,
`K <code>` for a ticker (flushed at once, so a killed process loses nothing it printed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.gateway.remote import RemoteWebSocketManager


def _emit(event: Any) -> None:
    if hasattr(event, "sequential_id"):
        sys.stdout.write(f"T {event.symbol} {event.sequential_id}\n")
    else:
        sys.stdout.write(f"K {event.symbol}\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> None:
    resume = {}
    for item in filter(None, (args.resume or "").split(",")):
        code, _, sid = item.partition(":")
        resume[code] = int(sid)
    async with RemoteWebSocketManager(
        args.url, prefix=args.prefix, name="consumer", heartbeat=0.2,
        resume_trades=resume, keep_wishes_for=args.keep,
    ) as manager:  # fmt: skip
        proxy = WebSocketClientProxy("consumer", manager)
        if args.trades:
            await proxy.subscribe_trade(args.trades.split(","), _emit, queue_size=100_000)
        if args.tickers:
            await proxy.subscribe_ticker(args.tickers.split(","), _emit)
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("--trades")
    parser.add_argument("--tickers")
    parser.add_argument("--resume")
    parser.add_argument("--keep", type=float, default=0.0)
    asyncio.run(main(parser.parse_args()))
