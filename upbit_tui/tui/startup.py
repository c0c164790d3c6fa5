"""Before the app starts: its config (and the warnings loading it gave), and for `--demo` the
simulator started inside the app."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from upbit_tui.config import (
    CONFIG_PATH_ENV,
    AuthConfig,
    Config,
    ExchangeConfig,
    default_config_path,
    load_config,
)
from upbit_tui.gateway.attach import with_gateway
from upbit_tui.logsetup import setup_logging

log = logging.getLogger(__name__)

# The simulator's test key pair for --demo: balances show without a real account.
DEMO_ACCESS_KEY = "demo-access"
DEMO_SECRET_KEY = "demo-secret-not-a-real-key"
DEMO_SEED = 20261127
DEMO_MARKETS = 40
DEMO_RATE = 40.0


async def start_demo_exchange(
    stack: contextlib.AsyncExitStack, config: Config, overrides: dict[str, Any]
) -> Config:
    """Start the simulator on 127.0.0.1 (closed with `stack`); the config pointed at it.

    `overrides` go to ExchangeServer (seed, markets, rate, clock, api_keys)."""
    from upbit_tui.exchange import ExchangeServer
    from upbit_tui.exchange.catalog import BTC_MARKETS_LISTED, USDT_MARKETS_LISTED

    options: dict[str, Any] = {
        "seed": DEMO_SEED,
        "markets": DEMO_MARKETS,
        # Every BTC- and USDT-quoted market the simulator lists, as `upbit-tui exchange` does.
        "btc_markets": BTC_MARKETS_LISTED,
        "usdt_markets": USDT_MARKETS_LISTED,
        "rate": DEMO_RATE,
        "host": "127.0.0.1",
        "port": 0,
        "api_keys": {DEMO_ACCESS_KEY: DEMO_SECRET_KEY},
    }
    options.update(overrides)
    sim = await stack.enter_async_context(ExchangeServer(**options))
    log.info("demo exchange at %s", sim.rest_url)
    keys = options["api_keys"]
    access, secret = next(iter(keys.items())) if keys else (None, None)
    return demo_config(
        config, sim.websocket_url, sim.private_websocket_url, sim.rest_url, access, secret
    )


def demo_config(
    config: Config,
    websocket_url: str,
    private_websocket_url: str,
    rest_url: str,
    access_key: str | None,
    secret_key: str | None,
) -> Config:
    """The user's config pointed at the in-process simulator, with its test keys."""
    return dataclasses.replace(
        config,
        exchange=ExchangeConfig(
            websocket_url=websocket_url,
            private_websocket_url=private_websocket_url,
            rest_url=rest_url,
        ),
        auth=AuthConfig(access_key=access_key, secret_key=secret_key),
    )


def config_path_from(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> Path | None:
    """--config, else $UPBIT_TUI_CONFIG, else the XDG path if that file exists, else None."""
    env = os.environ if environ is None else environ
    if getattr(args, "config", None):
        return Path(args.config)
    if env.get(CONFIG_PATH_ENV):
        return Path(env[CONFIG_PATH_ENV])
    default = default_config_path()
    return default if default.exists() else None


class _Collect(logging.Handler):
    """Holds warnings logged before the log file is set up (they would reach stderr, under
    the app's alternate screen, where nobody sees them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclasses.dataclass(frozen=True)
class Startup:
    config: Config
    log_file: Path
    notices: tuple[str, ...]  # warnings to show in the app (already in the log file)


def load_startup(args: argparse.Namespace) -> Startup:
    """Load the config and set up logging; warnings given on the way (a secret file other
    users can read, say) go to the log file and come back as `notices` for the app to show.
    Raises ConfigError or LoggingSetupError."""
    root = logging.getLogger()
    collect = _Collect()
    root.addHandler(collect)  # with a handler present, logging's stderr last resort stays quiet
    try:
        config = with_gateway(load_config(config_path_from(args)), getattr(args, "gateway", None))
        log_file = setup_logging(config.logging)
    finally:
        root.removeHandler(collect)
    for record in collect.records:
        logging.getLogger(record.name).handle(record)
    return Startup(config, log_file, tuple(r.getMessage() for r in collect.records))
