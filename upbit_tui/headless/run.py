"""`upbit-tui headless`: the shared, self-healing stream as JSON lines on stdout, for bots and jq.

stdout carries only events, one JSON object per line, with Upbit's DEFAULT field names plus
`epoch` and `received_at`; logs, health summaries and the final tally go to stderr. The run ends
cleanly on --count, --duration, SIGINT, SIGTERM, or when the reader closes the pipe (`| head`),
always flushing what it already accepted; usage and config errors exit 2 with one line, and so
does a market code Upbit does not list (checked against its market list before streaming). API
keys Upbit refuses are found before streaming too: exit 3 when only balance/orders were asked
for, else a logged refusal and the public types stream. A connection that cannot connect is
reported at its first failed attempt, then every UNREACHABLE_REMINDER seconds.

~670 lines: the argument parser, the run's set-up checks and the stream loop are one command's
life from start to exit code; options.py, output.py and prometheus.py hold the reusable parts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from upbit_tui.config import (
    CONFIG_PATH_ENV,
    AuthConfig,
    Config,
    ConfigError,
    ExchangeConfig,
    default_config_path,
    load_config,
)
from upbit_tui.eventloop import run as run_on_loop
from upbit_tui.eventloop import running_loop_name
from upbit_tui.gateway.attach import data_source, with_gateway
from upbit_tui.headless.options import HeadlessOptions, HeadlessUsageError, resolve_options
from upbit_tui.headless.output import JsonLineEncoder, LineWriter, OutputClosed, OutputStats
from upbit_tui.redaction import redact
from upbit_tui.wire.events import DataType, Event

if TYPE_CHECKING:
    from upbit_tui.client.manager import GlobalWebSocketManager
    from upbit_tui.client.proxy import WebSocketClientProxy

log = logging.getLogger("upbit_tui.headless")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
# Only balance/orders were asked for and the exchange refused the API keys: nothing can stream.
EXIT_KEYS_REFUSED = 3
PROG = "upbit-tui headless"
# What the simulator accepts in --demo; it never leaves the process.
DEMO_ACCESS_KEY = "demo-access-key"
DEMO_SECRET_KEY = "demo-secret-key"
# Trades per second over all simulated markets: lively, like the app's demo.
DEMO_RATE = 40.0
# How long a stopping run waits for a stalled reader to take the last buffered lines.
FLUSH_TIMEOUT = 5.0
# Bytes of encoded lines waiting for the writer thread (a few thousand events).
OUTPUT_BUFFER_BYTES = 1 << 20
# A connection that cannot connect is reported at once, then again this often while it stays down.
UNREACHABLE_REMINDER = 30.0
CONNECTION_CHECK_INTERVAL = 0.25
# Upbit's answers that mean the key pair itself is refused (not a missing permission).
_REFUSED_KEY_ERRORS = {
    "invalid_access_key",
    "jwt_verification",
    "expired_access_key",
    "no_authorization_ip",
}


# A bearer token or a bare JWT quoted back by a server.
class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse's errors as one line (no usage block), so scripts can log the reason."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{PROG}: {message} (see {PROG} --help)\n")

    def parse_known_args(  # type: ignore[override]  # typeshed's overloads; same behaviour
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # Left over, unknown options would reach the top-level parser's multi-line usage error.
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def add_headless_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `headless` subcommand to the `upbit-tui` parser (cli.py calls this)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "headless",
        help="stream events as JSON lines on stdout (for bots, jq, log shippers)",
        description=(
            "Stream Upbit events as JSON lines on stdout: one object per event, Upbit's\n"
            "DEFAULT field names plus epoch and received_at. Logs and health summaries go\n"
            "to stderr."
        ),
        epilog=(
            "examples:\n"
            "  upbit-tui headless --demo --types trade | jq -c '{code, trade_price}'\n"
            "  upbit-tui headless --symbols KRW-BTC --types orderbook --count 100 > book.jsonl\n"
            "\n"
            "exit status: 0 when stopped by --count, --duration, SIGINT/SIGTERM or a reader\n"
            "that closed the pipe; 1 if stdout failed; 2 for bad arguments or config (or a\n"
            "market Upbit does not list); 3 when only balance/orders were asked for and Upbit\n"
            "refused the API keys (with public types too, those stream and the refusal is\n"
            "logged). A connection that cannot connect is reported on stderr at once, then\n"
            f"every {UNREACHABLE_REMINDER:g} s while the run keeps retrying."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.__class__ = _OneLineErrorParser
    # The top-level --config/--demo also work after the subcommand; separate dests keep
    # argparse from overwriting the top-level values with this parser's defaults.
    parser.add_argument("--config", dest="headless_config", metavar="PATH", help="TOML config")
    parser.add_argument(
        "--demo",
        dest="headless_demo",
        action="store_true",
        help="start the embedded Upbit simulator in-process and stream from it",
    )
    parser.add_argument(
        "--symbols",
        metavar="CODES",
        help="comma-separated market codes (default: the config's watchlist)",
    )
    parser.add_argument(
        "--types",
        metavar="TYPES",
        help=(
            "comma-separated: ticker, trade, orderbook, candle.1s..candle.240m, balance, orders "
            "(default: [headless] types)"
        ),
    )
    parser.add_argument(
        "--count", type=_positive_int, metavar="N", help="stop after exactly N events"
    )
    parser.add_argument(
        "--duration", type=_positive_float, metavar="S", help="stop after S seconds"
    )
    parser.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve Prometheus metrics on PORT (0 = any free port, printed on stderr)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address for --metrics-port (default 127.0.0.1)",
    )
    parser.add_argument(
        "--gateway", dest="headless_gateway", metavar="URL", help="attach to a gateway (NATS URL)"
    )
    parser.set_defaults(run=run)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got '{text}'") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got '{text}'")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got '{text}'") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Entry point of `upbit-tui headless`; returns the process exit code."""
    try:
        demo = bool(getattr(args, "demo", False) or getattr(args, "headless_demo", False))
        gateway = getattr(args, "headless_gateway", None) or getattr(args, "gateway", None)
        config = with_gateway(load_config(_config_path(args)), gateway)
        options = resolve_options(
            config,
            symbols=args.symbols,
            types=args.types,
            count=args.count,
            duration=args.duration,
            metrics_port=args.metrics_port,
            metrics_host=args.metrics_host,
        )
        if options.private_types and not options.public_types and not demo:
            _require_keys(config)
    except (ConfigError, HeadlessUsageError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(config)
    try:
        return run_on_loop(run_headless(config, options, demo=demo), config.connection.event_loop)
    except KeyboardInterrupt:
        # A second Ctrl-C while stopping: give up on the flush, still not an error.
        return EXIT_OK


def _config_path(args: argparse.Namespace) -> str | None:
    top = getattr(args, "config", None)
    sub = getattr(args, "headless_config", None)
    if top and sub and Path(top) != Path(sub):
        raise HeadlessUsageError(f"--config given twice ('{top}' and '{sub}'): keep one")
    chosen: str | None = sub or top or os.environ.get(CONFIG_PATH_ENV)
    if chosen:
        return chosen
    default = default_config_path()
    return str(default) if default.is_file() else None


def _require_keys(config: Config) -> None:
    if not config.auth.has_keys:
        raise HeadlessUsageError(
            "balance and orders need API keys (set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY, "
            "or [auth] in the config), and no public type was asked for"
        )


def _configure_logging(config: Config) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.logging.level.upper())


class _Stop:
    """Why and when the run stops: the first reason wins."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason = ""

    def __call__(self, reason: str) -> None:
        if not self.reason:
            self.reason = reason
        self.event.set()

    def on_signal(self, signum: signal.Signals) -> None:
        if self.event.is_set():
            # A second signal while stopping: the user does not want to wait for the flush.
            log.warning("%s while stopping: exiting now, unflushed lines are lost", signum.name)
            os._exit(128 + signum)
        log.info("%s: stopping (again to exit at once)", signum.name)
        self(signum.name)


@contextlib.contextmanager
def _signals_stop(stop: _Stop) -> Iterator[None]:
    """SIGINT and SIGTERM end the run like --count does: flush, then exit 0; a second one
    while stopping exits at once with 128 + the signal number."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.on_signal, signum)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def run_headless(
    config: Config, options: HeadlessOptions, *, demo: bool = False, fd: int | None = None
) -> int:
    """Stream `options` to `fd` (stdout by default) until a stop condition; the exit code."""
    out_fd = sys.stdout.fileno() if fd is None else fd
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    writer = LineWriter(out_fd, max_buffer=OUTPUT_BUFFER_BYTES)
    writer.start()
    stop = _Stop()
    sink = EventSink(writer, limit=options.count, on_limit=lambda: stop("count"))
    started = time.monotonic()
    code = EXIT_FAILURE
    with _signals_stop(stop):
        try:
            async with contextlib.AsyncExitStack() as stack:
                if demo:
                    config = await stack.enter_async_context(_demo_exchange(config))
                code = await _stream(config, options, sink, stack, stop)
                # The reader gets its last line and EOF now, not after the sockets have closed.
                elapsed = await _finish_output(sink, out_fd, started)
        finally:
            elapsed = await _finish_output(sink, out_fd, started)
    if code != EXIT_OK:
        return code
    if writer.error is not None and not writer.broken_pipe:
        log.error("writing to stdout failed: %s", writer.error)
        return EXIT_FAILURE
    log.info(
        "stopped (%s): wrote %d events in %.1f s (%.0f/s)",
        stop.reason or "done",
        sink.written,
        elapsed,
        sink.written / max(elapsed, 1e-9),
    )
    return EXIT_OK


async def _finish_output(sink: EventSink, fd: int, started: float) -> float:
    """Flush what was accepted (bounded wait), release stdout; seconds since `started`.

    Idempotent: the second call only reports the time of the first.
    """
    if sink.finished_at is None:
        sink.closed = True
        writer = sink.writer
        writer.close()
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT):
                await writer.wait_finished()
        except TimeoutError:
            log.warning("the reader stopped reading; %d bytes not written", writer.buffered)
        if fd == 1:
            _release_stdout()
        sink.finished_at = time.monotonic()
    return sink.finished_at - started


async def _stream(
    config: Config,
    options: HeadlessOptions,
    sink: EventSink,
    stack: contextlib.AsyncExitStack,
    stop: _Stop,
) -> int:
    from upbit_tui.client.manager import GlobalWebSocketManager
    from upbit_tui.client.proxy import WebSocketClientProxy
    from upbit_tui.gateway.attach import build_manager
    from upbit_tui.gateway.protocol import GatewayUnavailableError
    from upbit_tui.net.rest import UnknownSymbolError

    try:  # the local manager, or a gateway's when one is named
        manager = await stack.enter_async_context(build_manager(config, name="headless"))
    except GatewayUnavailableError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(manager, GlobalWebSocketManager):  # a gateway reports its own outages
        watcher = asyncio.create_task(warn_while_unreachable(manager, config))
        stack.push_async_callback(_cancel, watcher)
    proxy = await stack.enter_async_context(WebSocketClientProxy("headless", manager))
    try:
        # A market Upbit does not list is a usage error, caught before anything streams.
        await manager.markets.validate(_market_symbols(options))
    except UnknownSymbolError as exc:
        print(f"{PROG}: {_symbols_origin(config, options)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Through a gateway the keys are the gateway's own: it reports a refusal in health.
    local = manager if isinstance(manager, GlobalWebSocketManager) else None
    if options.private_types and proxy.is_private_available() and local is not None:
        refusal = await _keys_refusal(config, local)
        if refusal is not None:
            names = ", ".join(t.value for t in options.private_types)
            if not options.public_types:
                print(f"{PROG}: cannot stream {names}: {refusal}", file=sys.stderr)
                return EXIT_KEYS_REFUSED
            log.error("not streaming %s: %s", names, refusal)
            options = dataclasses.replace(options, types=options.public_types)
    if options.metrics_port is not None:
        from upbit_tui.headless.prometheus import MetricsExporter

        exporter = MetricsExporter(manager, sink.stats, writer=sink.writer)
        try:
            port = await exporter.start(options.metrics_host, options.metrics_port)
        except OSError as exc:
            print(
                f"{PROG}: --metrics-port: cannot listen on "
                f"{options.metrics_host}:{options.metrics_port} ({exc.strerror or exc})",
                file=sys.stderr,
            )
            return EXIT_USAGE
        stack.push_async_callback(exporter.stop)
        log.info("metrics: http://%s:%d/metrics", options.metrics_host, port)
    try:
        types = await _subscribe(config, options, proxy, sink)
    except UnknownSymbolError as exc:  # the market list came back in the meantime
        print(f"{PROG}: {_symbols_origin(config, options)}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not types:
        print(f"{PROG}: nothing to stream (see the lines above)", file=sys.stderr)
        return EXIT_USAGE
    log.info(
        "streaming %s for %s from %s (policy %s, queue %d, %s loop)",
        ", ".join(types),
        ", ".join(options.symbols),
        data_source(config),
        config.headless.policy,
        config.headless.queue_size,
        running_loop_name(),
    )
    waits: dict[asyncio.Task[Any], str] = {
        asyncio.create_task(stop.event.wait()): "",
        asyncio.create_task(sink.writer.wait_finished()): "output closed",
    }
    if options.duration is not None:
        waits[asyncio.create_task(asyncio.sleep(options.duration))] = "duration"
    if config.headless.health_interval > 0:
        interval = config.headless.health_interval
        waits[asyncio.create_task(_report_health(proxy, sink, interval))] = "health report failed"
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    for task in done:
        if waits[task]:
            stop(waits[task])
    # Nothing more is written once stopping (another subscription may still deliver).
    sink.closed = True
    return EXIT_OK


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def warn_while_unreachable(
    manager: GlobalWebSocketManager, config: Config, *, reminder: float = UNREACHABLE_REMINDER
) -> None:
    """A warning at a connection's first failed connect, a reminder every `reminder` seconds
    while it stays down, and a note when it connects again.

    The periodic health line may be minutes apart; a bot's operator should not wait that long
    to learn the network is gone.
    """
    urls = {
        "public": config.exchange.websocket_url,
        "private": config.exchange.private_websocket_url,
    }
    warned_at: dict[str, float] = {}
    while True:
        now = time.monotonic()
        for kind, status in manager.connection_status().items():
            state = status.get("state")
            if state in ("failed", "backoff") and status.get("last_error"):
                last = warned_at.get(kind)
                if last is None or now - last >= reminder:
                    warned_at[kind] = now
                    log.warning(
                        "%s WebSocket %s: cannot connect (%s) after %s attempt(s); retrying%s",
                        kind,
                        urls.get(kind, "?"),
                        redact(str(status["last_error"])),
                        status.get("attempts", "?"),
                        "" if last is None else " (still)",
                    )
            elif state == "live" and warned_at.pop(kind, None) is not None:
                log.info("%s WebSocket %s: connected", kind, urls.get(kind, "?"))
        await asyncio.sleep(CONNECTION_CHECK_INTERVAL)


async def _keys_refusal(config: Config, manager: GlobalWebSocketManager) -> str | None:
    """Why Upbit refuses the configured API keys (one line, secrets redacted), or None when it
    accepts them or cannot be asked (the connection warnings cover an unreachable exchange)."""
    from upbit_tui.net.rest import UpbitApiError, UpbitRestClient

    client = UpbitRestClient(config, rate_limiter=manager.rate_limiter, max_retries=1)
    try:
        await client.get_accounts()
    except UpbitApiError as exc:
        if exc.status in (401, 403) and exc.name in _REFUSED_KEY_ERRORS:
            return f"Upbit refused the API keys: {redact(str(exc))}"
        return None
    finally:
        await client.close()
    return None


def _market_symbols(options: HeadlessOptions) -> tuple[str, ...]:
    """The market codes this run subscribes to (none for balances alone)."""
    if options.public_types or (DataType.ORDER in options.types and options.order_symbols):
        return options.symbols
    return ()


def _symbols_origin(config: Config, options: HeadlessOptions) -> str:
    """Where the symbols came from, for an error line: --symbols or the config's watchlist."""
    if options.order_symbols is not None:
        return "--symbols"
    return f"{config.source or '<defaults>'}: [watchlist] symbols"


async def _subscribe(
    config: Config, options: HeadlessOptions, proxy: WebSocketClientProxy, sink: EventSink
) -> list[str]:
    """Subscribe every requested type; returns the names of those that are streaming."""
    policy, size = config.headless.policy, config.headless.queue_size
    symbols = list(options.symbols)
    emit = sink.emit
    streaming: list[str] = []
    if options.private_types and not proxy.is_private_available():
        reason = proxy.private_unavailable_reason or "no API keys configured"
        names = ", ".join(t.value for t in options.private_types)
        log.error("not streaming %s: %s", names, reason)
    for data_type in options.types:
        if data_type is DataType.TICKER:
            await proxy.subscribe_ticker(symbols, emit, policy=policy, queue_size=size)
        elif data_type is DataType.TRADE:
            await proxy.subscribe_trade(symbols, emit, policy=policy, queue_size=size)
        elif data_type is DataType.ORDERBOOK:
            await proxy.subscribe_orderbook(symbols, emit, policy=policy, queue_size=size)
        elif data_type.is_candle:
            timeframe = data_type.value.removeprefix("candle.")
            await proxy.subscribe_candle(symbols, timeframe, emit, policy=policy, queue_size=size)
        elif not proxy.is_private_available():
            continue
        elif data_type is DataType.BALANCE:
            await proxy.subscribe_balance(emit, policy=policy, queue_size=size)
        elif data_type is DataType.ORDER:
            orders = None if options.order_symbols is None else list(options.order_symbols)
            await proxy.subscribe_orders(emit, symbols=orders, policy=policy, queue_size=size)
        streaming.append(data_type.value)
    return streaming


async def _report_health(proxy: WebSocketClientProxy, sink: EventSink, interval: float) -> None:
    """A one-line health summary on stderr every `interval` seconds."""
    last_written = sink.written
    while True:
        await asyncio.sleep(interval)
        try:
            health = await proxy.health_check()
        except Exception as exc:  # a failed report must not end the stream
            log.warning("health check failed: %s", exc)
            continue
        rate = (sink.written - last_written) / interval
        last_written = sink.written
        level = logging.INFO if health.get("status") == "healthy" else logging.WARNING
        log.log(level, "%s", health_summary(health, sink.written, rate, sink.writer.stalls))


def health_summary(health: dict[str, Any], written: int, rate: float, stalls: int) -> str:
    """`health_check()` as one log line: verdict first, then what explains it."""
    reasons = health.get("reasons") or []
    connections = ", ".join(
        f"{kind} {c.get('state')} epoch {c.get('epoch')}"
        for kind, c in sorted((health.get("connections") or {}).items())
    )
    parts = [
        f"health: {health.get('status', 'unknown')}"
        + (f" ({'; '.join(map(str, reasons))})" if reasons else ""),
        connections or "no connection",
        f"{health.get('messages_per_second', 0):.1f} msg/s",
        f"latency p50 {health.get('p50_latency_ms', 0):.0f} ms"
        f" p99 {health.get('p99_latency_ms', 0):.0f} ms",
        f"written {written} ({rate:.1f}/s)",
        f"dropped {health.get('dropped_message_count', 0)}",
        f"reconnects {health.get('reconnection_count', 0)}",
        f"output stalls {stalls}",
    ]
    return "; ".join(parts)


def _release_stdout() -> None:
    """Point fd 1 at /dev/null: the reader sees EOF at once, and after EPIPE the interpreter's
    exit flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
    finally:
        os.close(devnull)


@contextlib.asynccontextmanager
async def _demo_exchange(config: Config) -> AsyncIterator[Config]:
    """Run the simulator in this process and point the config (and demo keys) at it."""
    from upbit_tui.exchange import ExchangeServer
    from upbit_tui.exchange.catalog import BTC_MARKETS_LISTED, USDT_MARKETS_LISTED

    async with ExchangeServer(
        rate=DEMO_RATE,
        host="127.0.0.1",
        port=0,
        api_keys={DEMO_ACCESS_KEY: DEMO_SECRET_KEY},
        btc_markets=BTC_MARKETS_LISTED,
        usdt_markets=USDT_MARKETS_LISTED,
    ) as sim:
        yield config.replace(
            exchange=ExchangeConfig(
                websocket_url=sim.websocket_url,
                private_websocket_url=sim.private_websocket_url,
                rest_url=sim.rest_url,
            ),
            auth=AuthConfig(access_key=DEMO_ACCESS_KEY, secret_key=DEMO_SECRET_KEY),
        )


class EventSink:
    """The callback every subscription shares: encode, count, and hand to the writer.

    Waits for room when the output is full, so the manager's per-subscriber queue (with the
    configured policy) absorbs a slow reader. `limit` is exact: the check and the write happen
    without an await in between, so concurrent subscriptions cannot overshoot it.
    """

    def __init__(
        self, writer: LineWriter, *, limit: int | None, on_limit: Callable[[], object]
    ) -> None:
        self.writer = writer
        self.limit = limit
        self.written = 0
        self.closed = False
        self.finished_at: float | None = None
        self.stats = OutputStats()
        self._encoder = JsonLineEncoder()
        self._on_limit = on_limit

    def emit(self, event: Event) -> Awaitable[None] | None:
        """The subscription callback: writes at once, or returns an awaitable when full."""
        if self.closed:
            return None
        if not self.writer.has_room():
            return self._emit_when_room(event)
        self._write(event)
        return None

    async def _emit_when_room(self, event: Event) -> None:
        try:
            await self.writer.wait_for_room()
        except OutputClosed:
            self.closed = True
            return
        if not self.closed:
            self._write(event)

    def _write(self, event: Event) -> None:
        try:
            self._encoder.encode_into(event, self.writer.line_buffer())
        except OutputClosed:
            self.closed = True
            return
        self.written += 1
        self.stats.record(event)
        if self.limit is not None and self.written >= self.limit:
            self.closed = True
            self._on_limit()
