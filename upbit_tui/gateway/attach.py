"""Which manager a front end builds: the local one, or a remote one when a gateway is named.

    manager = build_manager(config, name="headless")   # [gateway] nats_url set: remote

Front ends (the app, headless) call this instead of naming GlobalWebSocketManager, so attaching
to a gateway is one line for them; nats-py is imported only when a gateway is used.
"""

from __future__ import annotations

import dataclasses

from upbit_tui.client.interface import AbstractWebSocketManager
from upbit_tui.config import Config, ConfigError
from upbit_tui.gateway.protocol import GatewayUnavailableError
from upbit_tui.redaction import redact_url

NATS_SCHEMES = ("nats://", "tls://", "ws://", "wss://")


def with_gateway(config: Config, nats_url: str | None) -> Config:
    """`config` attached to the gateway at `nats_url` (None: unchanged); bad URLs raise
    ConfigError with one line."""
    if not nats_url:
        return config
    if not nats_url.startswith(NATS_SCHEMES):
        raise ConfigError(f"--gateway: expected a nats:// URL, got '{redact_url(nats_url)}'")
    return config.replace(gateway=dataclasses.replace(config.gateway, nats_url=nats_url))


def data_source(config: Config) -> str:
    """Where the events come from, for a log line: the gateway (credentials hidden) when
    attached, else Upbit's (or the simulator's) REST address."""
    if config.gateway.nats_url:
        return f"gateway {redact_url(config.gateway.nats_url)}"
    return config.exchange.rest_url


def build_manager(config: Config, *, name: str) -> AbstractWebSocketManager:
    """A RemoteWebSocketManager when `config.gateway.nats_url` is set, else the local manager."""
    if not config.gateway.nats_url:
        from upbit_tui.client.manager import GlobalWebSocketManager

        return GlobalWebSocketManager(config)
    try:
        from upbit_tui.gateway.remote import RemoteWebSocketManager
    except ImportError as exc:  # nats-py missing
        raise GatewayUnavailableError(
            f"attaching to a gateway needs nats-py ({exc}): pip install 'upbit-tui[gateway]'"
        ) from None
    return RemoteWebSocketManager(
        config.gateway.nats_url,
        name=name,
        routing=config.routing,
        health=config.health,
        heartbeat=max(0.2, min(1.0, config.gateway.lease_ttl / 5)),
        auth=config.gateway,
        batch_min_codes=config.gateway.batch_min_codes or None,
    )
