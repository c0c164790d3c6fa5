"""A small trading-signal bot on the upbit-tui Python API.

It keeps a rolling VWAP and the buy/sell balance of the last trades per market, watches the
ticker, and prints a signal when the price runs away from its VWAP with one side dominating.
It survives reconnects without extra code: the manager reconnects, resubscribes, backfills the
trades missed during the outage (marked `backfilled`) and tags every event with the connection
`epoch`; the bot only notices the new epoch and says so.

    python examples/ticker_trade_bot.py --demo                  # the built-in simulator
    python examples/ticker_trade_bot.py --symbols KRW-BTC,KRW-ETH --duration 600   # Upbit

Stop it with Ctrl-C (or SIGTERM): it unsubscribes, closes the connection and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from upbit_tui import (
    Config,
    ConfigError,
    GlobalWebSocketManager,
    TickerEvent,
    TradeEvent,
    WebSocketClientProxy,
    load_config,
)
from upbit_tui.config import AuthConfig, ExchangeConfig

WINDOW = 50  # trades in the rolling VWAP
SIGNAL_DEVIATION = 0.001  # 0.1 % away from the VWAP
SIGNAL_DOMINANCE = 0.6  # share of the window's volume on one side


@dataclass
class MarketState:
    """What the bot knows about one market; only touched from the event loop."""

    last_price: float = 0.0
    change_rate: float = 0.0
    trades: deque[tuple[float, float, str]] = field(default_factory=lambda: deque(maxlen=WINDOW))
    seen: deque[int] = field(default_factory=lambda: deque(maxlen=4 * WINDOW))
    trade_count: int = 0
    backfilled: int = 0
    signals: int = 0

    def vwap(self) -> float:
        volume = sum(v for _, v, _ in self.trades)
        return sum(p * v for p, v, _ in self.trades) / volume if volume else 0.0

    def buy_share(self) -> float:
        volume = sum(v for _, v, _ in self.trades)
        bought = sum(v for _, v, side in self.trades if side == "BID")
        return bought / volume if volume else 0.5


class SignalBot:
    def __init__(self, symbols: list[str]) -> None:
        self.markets = {s: MarketState() for s in symbols}
        self.epoch = 0
        self.errors = 0

    def _note_epoch(self, epoch: int) -> None:
        # Epoch 0 = REST snapshot; a higher epoch means a (re)connected WebSocket.
        if epoch > self.epoch:
            if self.epoch:
                print(f"epoch {epoch}: reconnected, stream resumed", flush=True)
            self.epoch = epoch

    def on_ticker(self, event: TickerEvent) -> None:
        self._note_epoch(event.epoch)
        market = self.markets[event.symbol]
        market.last_price = event.trade_price
        market.change_rate = event.signed_change_rate

    def on_trade(self, event: TradeEvent) -> None:
        self._note_epoch(event.epoch)
        market = self.markets[event.symbol]
        # Idempotent: a trade seen twice (e.g. live and again from a backfill) counts once.
        if event.sequential_id in market.seen:
            return
        market.seen.append(event.sequential_id)
        market.trades.append((event.trade_price, event.trade_volume, event.ask_bid))
        market.trade_count += 1
        market.backfilled += event.backfilled
        if len(market.trades) < WINDOW // 2:
            return
        vwap = market.vwap()
        deviation = (event.trade_price - vwap) / vwap
        share = market.buy_share()
        if deviation > SIGNAL_DEVIATION and share > SIGNAL_DOMINANCE:
            self._signal(event, "BUY pressure", deviation, share)
        elif deviation < -SIGNAL_DEVIATION and share < 1 - SIGNAL_DOMINANCE:
            self._signal(event, "SELL pressure", deviation, share)

    def _signal(self, event: TradeEvent, what: str, deviation: float, share: float) -> None:
        self.markets[event.symbol].signals += 1
        print(
            f"{event.timestamp:%H:%M:%S} {event.symbol} {what}: {event.trade_price:,.0f} is "
            f"{deviation:+.2%} from VWAP, buyers {share:.0%} of volume",
            flush=True,
        )

    def on_error(self, exc: BaseException) -> None:
        # A bug in a callback is reported here; the stream (and other callbacks) keep going.
        self.errors += 1
        print(f"callback error: {exc!r}", file=sys.stderr, flush=True)

    def report(self) -> None:
        for symbol, m in self.markets.items():
            print(
                f"{symbol}: price {m.last_price:,.0f} ({m.change_rate:+.2%}), "
                f"VWAP({len(m.trades)}) {m.vwap():,.0f}, trades {m.trade_count} "
                f"(backfilled {m.backfilled}), signals {m.signals}, epoch {self.epoch}",
                flush=True,
            )


async def run_bot(config: Config, symbols: list[str], duration: float | None, every: float) -> None:
    bot = SignalBot(symbols)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with (
        GlobalWebSocketManager(config) as manager,
        WebSocketClientProxy("signal-bot", manager) as proxy,
    ):
        # Start from current prices (REST, or the live cache), then follow the stream.
        for ticker in await proxy.get_ticker_snapshot(symbols):
            bot.on_ticker(ticker)
        await proxy.subscribe_ticker(symbols, bot.on_ticker, error_handler=bot.on_error)
        await proxy.subscribe_trade(symbols, bot.on_trade, error_handler=bot.on_error)
        print(f"watching {', '.join(symbols)}", flush=True)
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.is_set():
            timeout = every if deadline is None else min(every, deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(timeout, 0))
            bot.report()
            health = await proxy.health_check()
            print(f"health: {health['status']}", flush=True)
            if deadline is not None and time.monotonic() >= deadline:
                break
    print(f"stopped; callback errors: {bot.errors}", flush=True)


@contextlib.asynccontextmanager
async def demo_exchange(config: Config) -> AsyncIterator[Config]:
    """The embedded Upbit simulator on a free local port, and a config pointing at it."""
    from upbit_tui import ExchangeServer

    async with ExchangeServer(host="127.0.0.1", port=0, rate=50.0) as sim:
        yield config.replace(
            exchange=ExchangeConfig(
                websocket_url=sim.websocket_url,
                private_websocket_url=sim.private_websocket_url,
                rest_url=sim.rest_url,
            ),
            auth=AuthConfig(),
        )


async def main_async(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    symbols = [s.strip().upper() for s in args.symbols.split(",")] if args.symbols else None
    async with contextlib.AsyncExitStack() as stack:
        if args.demo:
            config = await stack.enter_async_context(demo_exchange(config))
        await run_bot(config, symbols or list(config.watchlist.symbols), args.duration, args.every)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML config (default: Upbit's real endpoints)")
    parser.add_argument("--demo", action="store_true", help="use the embedded simulator")
    parser.add_argument("--symbols", help="comma-separated markets (default: the watchlist)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--every", type=float, default=5.0, help="report interval, seconds")
    args = parser.parse_args()
    try:
        asyncio.run(main_async(args))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
