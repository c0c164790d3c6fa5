"""`upbit-tui gateway`: serve one Upbit connection to every process and machine over NATS.

    upbit-tui gateway --nats nats://127.0.0.1:4222 [--config PATH] [--demo] [--name NAME]

Exit status: 0 on SIGINT/SIGTERM, 2 for bad arguments or config, or when NATS is unreachable at
start (one line on stderr). Two gateways on one NATS form an active/standby pair.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from upbit_tui.config import AuthConfig, Config, ConfigError, ExchangeConfig, load_config
from upbit_tui.eventloop import run as run_on_loop
from upbit_tui.eventloop import running_loop_name

log = logging.getLogger("upbit_tui.gateway")

PROG = "upbit-tui gateway"
EXIT_OK = 0
EXIT_USAGE = 2
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEMO_ACCESS_KEY = "demo-access-key"
DEMO_SECRET_KEY = "demo-secret-key"
DEMO_RATE = 40.0


def add_gateway_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `gateway` subcommand to the `upbit-tui` parser (cli.py calls this)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="serve one shared Upbit connection over NATS to other processes and machines",
        description=(
            "Run one manager (one public + one private Upbit WebSocket) and serve it over NATS:\n"
            "events on upbit.<type>.<code>, trades kept in JetStream. Attach with\n"
            "`upbit-tui --gateway URL` or `upbit-tui headless --gateway URL`."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", dest="gateway_config", metavar="PATH", help="TOML config")
    parser.add_argument(
        "--demo",
        dest="gateway_demo",
        action="store_true",
        help="serve the embedded Upbit simulator (no account or network needed)",
    )
    parser.add_argument(
        "--nats", metavar="URL", help=f"NATS server ([gateway] nats_url, else {DEFAULT_NATS_URL})"
    )
    parser.add_argument("--name", metavar="NAME", help="this gateway's name in health and logs")
    parser.add_argument(
        "--prefix", default="upbit", metavar="P", help="subject prefix (default: upbit)"
    )
    parser.add_argument(
        "--active-ttl",
        type=float,
        default=3.0,
        metavar="S",
        help="seconds a standby waits for a silent active gateway before taking over (3)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(getattr(args, "gateway_config", None) or getattr(args, "config", None))
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    url = args.nats or config.gateway.nats_url or DEFAULT_NATS_URL
    demo = bool(getattr(args, "gateway_demo", False) or getattr(args, "demo", False))
    logging.basicConfig(
        stream=sys.stderr,
        level=config.logging.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        code = serve(
            config, url, name=args.name, demo=demo, prefix=args.prefix, active_ttl=args.active_ttl
        )
        return run_on_loop(code, config.connection.event_loop)
    return EXIT_OK


async def serve(
    config: Config,
    nats_url: str,
    *,
    name: str | None,
    demo: bool,
    prefix: str = "upbit",
    active_ttl: float = 3.0,
) -> int:
    """Run the gateway until SIGINT/SIGTERM; the exit code."""
    from upbit_tui.gateway.protocol import GatewayUnavailableError

    try:
        from upbit_tui.gateway.natslink import redact_url
        from upbit_tui.gateway.service import GatewayService, GatewaySettings
    except ImportError as exc:  # nats-py is the `gateway` extra
        print(
            f"{PROG}: the gateway needs nats-py ({exc}): pip install 'upbit-tui[gateway]'",
            file=sys.stderr,
        )
        return EXIT_USAGE

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    settings = GatewaySettings(
        prefix=prefix,
        lease_ttl=config.gateway.lease_ttl,
        active_ttl=active_ttl,
        trade_retention=config.gateway.trade_retention,
    )
    async with contextlib.AsyncExitStack() as stack:
        if demo:
            config = await stack.enter_async_context(_demo_exchange(config))
        gateway = GatewayService(config, nats_url=nats_url, name=name, settings=settings)
        stack.push_async_callback(gateway.stop)  # also undoes a start cut short
        try:
            started = await _unless_stopped(gateway.start(), stop)
        except GatewayUnavailableError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if not started:
            log.info("gateway %s stopped while starting", gateway.name)
            return EXIT_OK
        log.info(
            "gateway %s on %s, %s loop (standing by until it holds the lease)",
            gateway.name,
            redact_url(nats_url),
            running_loop_name(),
        )
        await stop.wait()
        log.info("gateway %s stopping", gateway.name)
    return EXIT_OK


async def _unless_stopped(step: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `step` unless `stop` is set first (SIGTERM while connecting to a NATS server that
    hangs): then cancel it and return False. The step's own errors propagate."""
    from upbit_tui.gateway.natslink import cancel_and_wait

    task = asyncio.ensure_future(step)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        task.result()
        return True
    await cancel_and_wait(task)
    return False


@contextlib.asynccontextmanager
async def _demo_exchange(config: Config) -> Any:
    from upbit_tui.exchange import ExchangeServer

    async with ExchangeServer(
        rate=DEMO_RATE, host="127.0.0.1", port=0, api_keys={DEMO_ACCESS_KEY: DEMO_SECRET_KEY}
    ) as sim:
        log.info("demo: simulator at %s", sim.rest_url)
        yield config.replace(
            exchange=ExchangeConfig(
                websocket_url=sim.websocket_url,
                private_websocket_url=sim.private_websocket_url,
                rest_url=sim.rest_url,
            ),
            auth=AuthConfig(access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY),
            # The simulator's test account has nothing to protect: the demo shows balances
            # over any NATS (README: Securing the gateway, for real keys).
            gateway=dataclasses.replace(config.gateway, allow_unauthenticated_private=True),
        )
