"""`upbit-tui exchange`: run the simulated Upbit exchange until interrupted.

The first line of output is the three URLs (public WebSocket, private WebSocket, REST base), so
scripts can read them; the test API keys follow (they are the simulator's own test keys, not
anyone's secrets). SIGINT / SIGTERM stop the server cleanly with exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
from collections.abc import Callable
from typing import Any

from upbit_tui.exchange.catalog import (
    BTC_MARKETS_LISTED,
    DEFAULT_MARKET_COUNT,
    USDT_MARKETS_LISTED,
)
from upbit_tui.exchange.control import is_loopback_host
from upbit_tui.exchange.market import OUT_OF_ORDER_IDS
from upbit_tui.exchange.server import DEFAULT_API_KEYS, ExchangeServer

DEFAULT_PORT = 8765
DEFAULT_RATE = 20.0
DEFAULT_ANNOUNCEMENTS_EVERY = 180.0  # a notice every few minutes, so a demo shows some
EXIT_OK = 0
EXIT_ERROR = 1


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if math.isnan(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _fraction(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def _quote_market_count(most: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 0 <= value <= most:
            raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and {most}")
        return value

    return parse


MAX_MARKETS = 1_000  # each market builds its history at start: keep start-up to seconds


def _market_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_MARKETS:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 1 and {MAX_MARKETS}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range 0-65535")
    return value


def add_exchange_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `exchange` subcommand (sets `run`)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "exchange",
        help="run the embedded Upbit exchange simulator",
        description=(
            "Serve a simulated Upbit exchange (WebSocket, private WebSocket, REST, /_sim/ "
            "control API) on one port until interrupted."
        ),
        epilog=(
            "test API keys for the private WebSocket and REST account endpoints: "
            + ", ".join(f"access {a} / secret {s}" for a, s in DEFAULT_API_KEYS.items())
            + " (e.g. UPBIT_ACCESS_KEY=test-access UPBIT_SECRET_KEY=test-secret)"
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )
    parser.add_argument("--seed", type=int, default=1, help="market seed (default 1)")
    parser.add_argument(
        "--markets",
        type=_market_count,
        default=DEFAULT_MARKET_COUNT,
        help=f"number of KRW markets (default {DEFAULT_MARKET_COUNT})",
    )
    parser.add_argument(
        "--rate",
        type=_non_negative,
        default=DEFAULT_RATE,
        metavar="MSGS_PER_S",
        help=(
            "trades per second over all markets (default "
            f"{DEFAULT_RATE:g}); each trade is one trade, ticker and orderbook message to "
            "its subscribers; 0 = only on demand (POST /_sim/trades)"
        ),
    )
    parser.add_argument(
        "--firehose",
        type=_non_negative,
        default=0.0,
        metavar="MSGS_PER_S",
        help="benchmark mode: total messages per second over the subscribed markets "
        "(inf = as fast as the server can send; default off)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_non_negative,
        default=120.0,
        metavar="SECONDS",
        help="close connections idle this long (default 120, as Upbit)",
    )
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="do not enforce Upbit's rate limits"
    )
    parser.add_argument(
        "--btc-markets",
        type=_quote_market_count(BTC_MARKETS_LISTED),
        default=BTC_MARKETS_LISTED,
        metavar="N",
        help=f"BTC-quoted markets to list (0..{BTC_MARKETS_LISTED}, default all)",
    )
    parser.add_argument(
        "--usdt-markets",
        type=_quote_market_count(USDT_MARKETS_LISTED),
        default=USDT_MARKETS_LISTED,
        metavar="N",
        help=f"USDT-quoted markets to list (0..{USDT_MARKETS_LISTED}, default all)",
    )
    parser.add_argument(
        "--out-of-order-ids",
        type=_fraction,
        default=OUT_OF_ORDER_IDS,
        metavar="FRACTION",
        help="share of trades (0..1) sent with a sequential_id below the previous one, as "
        f"Upbit allows (unique, seeded; default {OUT_OF_ORDER_IDS})",
    )
    parser.add_argument(
        "--announcements-every",
        type=_non_negative,
        default=DEFAULT_ANNOUNCEMENTS_EVERY,
        metavar="SECONDS",
        help="mean seconds between seeded notices on the private `announcement` stream "
        f"(default {DEFAULT_ANNOUNCEMENTS_EVERY:g}; 0 = only POST /_sim/announcements)",
    )
    parser.set_defaults(run=run_exchange)
    return parser


def run_exchange(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; exit code 0 on a clean stop."""
    if args.idle_timeout <= 0:
        print("upbit-tui exchange: --idle-timeout must be > 0", file=sys.stderr)
        return EXIT_ERROR
    if not is_loopback_host(args.host):
        print(
            f"upbit-tui exchange: WARNING: --host {args.host or '(all interfaces)'} is not a "
            "loopback address: other machines can reach the simulator, its test keys and its "
            "unauthenticated /_sim/ API",
            file=sys.stderr,
            flush=True,
        )
    server = ExchangeServer(
        seed=args.seed,
        markets=args.markets,
        rate=args.rate,
        host=args.host,
        port=args.port,
        idle_timeout=args.idle_timeout,
        firehose=args.firehose,
        rate_limits=not args.no_rate_limits,
        out_of_order_ids=args.out_of_order_ids,
        btc_markets=args.btc_markets,
        usdt_markets=args.usdt_markets,
        announcements_every=args.announcements_every,
    )
    try:
        asyncio.run(_serve(server))
    except OSError as exc:
        print(
            f"upbit-tui exchange: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except KeyboardInterrupt:
        pass
    return EXIT_OK


async def _serve(server: ExchangeServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        print(
            f"public={server.websocket_url} private={server.private_websocket_url} "
            f"rest={server.rest_url}",
            flush=True,
        )
        for access_key, secret_key in server.api_keys.items():
            print(f"test API key: access_key={access_key} secret_key={secret_key}", flush=True)
        notices = (
            f"a notice every ~{server.announcements_every:g} s"
            if server.announcements_every
            else "no seeded notices"
        )
        print(
            f"{server.market_count} KRW, {server.btc_markets} BTC and {server.usdt_markets} "
            f"USDT markets, seed {server.seed}, {server.rate:g} trades/s, {notices}; "
            f"control API: {server.rest_url}/_sim/ ; stop with Ctrl-C",
            flush=True,
        )
        await stop.wait()
    print("upbit-tui exchange: stopped", flush=True)
