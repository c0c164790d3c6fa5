"""Configuration: a TOML file plus UPBIT_* environment variables.

Every section is a frozen dataclass with defaults, so a missing file means "use Upbit's real
endpoints and the defaults". Errors name the file, the key (or the TOML line) and what was
expected, because a trader editing a config at 3 a.m. needs to know exactly what to fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import hmac
import importlib.util
import logging
import math
import os
import stat
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from upbit_tui.eventloop import resolve_event_loop
from upbit_tui.redaction import redact_url

log = logging.getLogger(__name__)

UPBIT_WEBSOCKET_URL = "wss://api.upbit.com/websocket/v1"
UPBIT_PRIVATE_WEBSOCKET_URL = "wss://api.upbit.com/websocket/v1/private"
UPBIT_REST_URL = "https://api.upbit.com"

ACCESS_KEY_ENV = "UPBIT_ACCESS_KEY"
SECRET_KEY_ENV = "UPBIT_SECRET_KEY"
CONFIG_PATH_ENV = "UPBIT_TUI_CONFIG"
# [gateway] NATS credentials from the environment (they override the config file).
NATS_ENV: Final = {
    "nats_user": "UPBIT_TUI_NATS_USER",
    "nats_password": "UPBIT_TUI_NATS_PASSWORD",
    "nats_token": "UPBIT_TUI_NATS_TOKEN",
    "nats_creds": "UPBIT_TUI_NATS_CREDS",
    "nats_nkey_seed": "UPBIT_TUI_NATS_NKEY_SEED",
}
_NATS_SECRETS: Final = ("nats_password", "nats_token")


# [connection] transport: the names, and which one "auto" means here (net/transport.py opens it).
TRANSPORTS: Final = ("auto", "websockets", "picows")
FAST_TRANSPORT: Final = "picows"


def fast_transport_installed() -> bool:
    return importlib.util.find_spec(FAST_TRANSPORT) is not None


def resolve_transport(name: str) -> str:
    """The transport `name` stands for ("auto" -> picows if installed, else websockets).

    Raises ValueError for an unknown name, or for "picows" when it is not installed.
    """
    if name not in TRANSPORTS:
        raise ValueError(f"unknown transport {name!r} (expected one of {', '.join(TRANSPORTS)})")
    if name == "auto":
        return FAST_TRANSPORT if fast_transport_installed() else "websockets"
    if name == FAST_TRANSPORT and not fast_transport_installed():
        raise ValueError(
            "transport 'picows' is not installed (pip install 'upbit-tui[fast]'), "
            'or use transport = "websockets"'
        )
    return name


class ConfigError(ValueError):
    """A configuration problem, worded so the user can fix it without reading code."""


# What the candle chart draws (widgets/candles.py); "1d" is the older spelling of "day".
CANDLE_TIMEFRAMES = ("1s", "1m", "3m", "5m", "10m", "15m", "30m", "60m", "240m", "day")
_TIMEFRAME_SPELLINGS = (*CANDLE_TIMEFRAMES, "1d")
# Textual's built-in themes (textual.theme.BUILTIN_THEMES; a test keeps the two equal), listed
# here because importing Textual to check one name would cost every front end ~0.2 s.
TEXTUAL_THEMES = (
    "ansi-dark",
    "ansi-light",
    "atom-one-dark",
    "atom-one-light",
    "catppuccin-frappe",
    "catppuccin-latte",
    "catppuccin-macchiato",
    "catppuccin-mocha",
    "dracula",
    "flexoki",
    "gruvbox",
    "monokai",
    "nord",
    "rose-pine",
    "rose-pine-dawn",
    "rose-pine-moon",
    "solarized-dark",
    "solarized-light",
    "textual-dark",
    "textual-light",
    "tokyo-night",
)


class Secret:
    """An API key that never shows itself: repr, str, format, pickle and copies all keep it out.

    Only the code that signs requests calls `reveal()`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key in clear, for signing a token; never print, log or store the result."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        # Immutable; dataclasses.asdict deep-copies values, and the copy stays a Secret.
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling would write the key to a file or a socket in clear: refuse.
        raise TypeError("an API key (Secret) cannot be pickled")


def _as_secret(value: str | Secret | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


@dataclass(frozen=True)
class ExchangeConfig:
    websocket_url: str = UPBIT_WEBSOCKET_URL
    private_websocket_url: str = UPBIT_PRIVATE_WEBSOCKET_URL
    # REST base without the /v1 suffix, as Upbit documents it ("https://api.upbit.com").
    rest_url: str = UPBIT_REST_URL


@dataclass(frozen=True, init=False)
class AuthConfig:
    """The API key pair, each kept in a `Secret` (plain strings are wrapped on the way in)."""

    access_key: Secret | None = field(default=None, repr=False)
    secret_key: Secret | None = field(default=None, repr=False)

    def __init__(
        self, access_key: str | Secret | None = None, secret_key: str | Secret | None = None
    ) -> None:
        object.__setattr__(self, "access_key", _as_secret(access_key))
        object.__setattr__(self, "secret_key", _as_secret(secret_key))

    @property
    def has_keys(self) -> bool:
        return bool(self.access_key and self.secret_key)

    def __repr__(self) -> str:
        # Never show a secret, not even in a traceback or a debug log.
        state = "set" if self.has_keys else "not set"
        return f"AuthConfig(keys {state})"


@dataclass(frozen=True)
class WatchlistConfig:
    symbols: tuple[str, ...] = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE")


@dataclass(frozen=True)
class ConnectionConfig:
    """Timings of the WebSocket connections; every value in seconds."""

    ping_interval: float = 30.0
    ping_timeout: float = 10.0
    open_timeout: float = 10.0
    reconnect_initial_delay: float = 1.0
    reconnect_max_delay: float = 60.0
    reconnect_multiplier: float = 2.0
    reconnect_jitter: float = 0.25
    # A connection that stayed up this long resets the backoff.
    reconnect_reset_after: float = 30.0
    # Attempts after which health turns critical (the manager keeps trying).
    reconnect_critical_after: int = 10
    # A connection silent this long is probed with LIST_SUBSCRIPTIONS (quiet markets are normal);
    # it is reconnected only if the probe goes unanswered for ping_timeout.
    stale_after: float = 60.0
    # Subscribe calls inside this window become one request message.
    batch_window: float = 0.05
    # A symbol that lost its last subscriber stays subscribed this long.
    unsubscribe_grace: float = 5.0
    # The WebSocket library: "auto" (picows if installed, else websockets), "websockets", "picows".
    transport: str = "auto"
    # The event loop of the app and headless: "auto" (uvloop if installed, else asyncio),
    # "asyncio", "uvloop" (eventloop.py).
    event_loop: str = "auto"


@dataclass(frozen=True)
class RoutingConfig:
    """Per-subscriber queue defaults; each subscription may override them."""

    queue_size: int = 1024
    policy: str = "drop_oldest"
    throttle_per_second: float = 10.0
    # A callback running longer than this is reported as slow.
    slow_callback: float = 0.5


@dataclass(frozen=True)
class HealthConfig:
    error_rate_percent: float = 5.0
    latency_ms: float = 1000.0


@dataclass(frozen=True)
class PrivateConfig:
    # REST polling interval used when the private WebSocket is unavailable.
    rest_poll_interval: float = 2.0


@dataclass(frozen=True)
class UIConfig:
    table_refresh_hz: float = 8.0
    chart_refresh_hz: float = 2.0
    # One of CANDLE_TIMEFRAMES.
    candle_timeframe: str = "1m"
    orderbook_depth: int = 15
    # One of TEXTUAL_THEMES.
    theme: str = "textual-dark"


@dataclass(frozen=True)
class HeadlessConfig:
    types: tuple[str, ...] = ("ticker", "trade")
    policy: str = "drop_oldest"
    queue_size: int = 10000
    health_interval: float = 30.0


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    # Empty means the XDG state directory (~/.local/state/upbit-tui/upbit-tui.log).
    file: str = ""


@dataclass(frozen=True)
class GatewayConfig:
    """Attach to an upbit-tui gateway over NATS instead of Upbit ("" = connect directly); the
    gateway itself reads the lease and trade-retention settings.

    The NATS credentials serve both sides (the gateway's connection and an attached app's or
    bot's): user and password, a token, a .creds file (JWT + nkey) or an nkey seed file, and
    TLS (a CA to trust, a client certificate and key). Private data (myAsset, myOrder) travels
    over NATS, so a gateway serves it only over a server that requires authentication, unless
    `allow_unauthenticated_private` says otherwise."""

    nats_url: str = ""
    lease_ttl: float = 10.0
    trade_retention: float = 86400.0
    nats_user: str = ""
    nats_password: Secret | None = field(default=None, repr=False)
    nats_token: Secret | None = field(default=None, repr=False)
    nats_creds: str = ""
    nats_nkey_seed: str = ""
    nats_tls_ca: str = ""
    nats_tls_cert: str = ""
    nats_tls_key: str = ""
    allow_unauthenticated_private: bool = False
    # An attached process takes a type's batch subject (one message per socket read) instead
    # of per-market subjects when it wants all markets or at least this many (0: never).
    batch_min_codes: int = 16


@dataclass(frozen=True)
class Config:
    exchange: ExchangeConfig = ExchangeConfig()
    auth: AuthConfig = AuthConfig()
    watchlist: WatchlistConfig = WatchlistConfig()
    connection: ConnectionConfig = ConnectionConfig()
    routing: RoutingConfig = RoutingConfig()
    health: HealthConfig = HealthConfig()
    private: PrivateConfig = PrivateConfig()
    ui: UIConfig = UIConfig()
    headless: HeadlessConfig = HeadlessConfig()
    logging: LoggingConfig = LoggingConfig()
    gateway: GatewayConfig = GatewayConfig()
    # Where the config came from, for error messages and for saving the watchlist back.
    source: Path | None = None

    def replace(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)


_SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name != "source"
}


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "upbit-tui" / "config.toml"


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: typing.Mapping[str, str] | None = None,
) -> Config:
    """Read a TOML config (or the defaults when `path` is None) and apply UPBIT_* env vars.

    Raises ConfigError with the file name and the offending key or line.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        source = Path(path)
        try:
            raw = source.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{source}: file not found") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read ({exc.strerror})") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{source}: invalid TOML: arrays or tables nested too deep") from None
    where = str(source) if source else "<defaults>"
    config = _build(data, where)
    auth = config.auth
    access = env.get(ACCESS_KEY_ENV) or auth.access_key
    secret = env.get(SECRET_KEY_ENV) or auth.secret_key
    gateway = config.gateway
    if source is not None and (
        auth.access_key or auth.secret_key or gateway.nats_password or gateway.nats_token
    ):
        _warn_if_readable_by_others(source)
    from_env: dict[str, Any] = {}
    for name, variable in NATS_ENV.items():
        value = env.get(variable)
        if value:
            from_env[name] = Secret(value) if name in _NATS_SECRETS else value
    gateway = dataclasses.replace(gateway, **from_env)
    _validate_nats(gateway, where)
    return dataclasses.replace(
        config,
        auth=AuthConfig(access_key=access, secret_key=secret),
        gateway=gateway,
        source=source,
    )


def _validate_nats(gateway: GatewayConfig, where: str) -> None:
    """The NATS credentials make sense together and their files are there: one line if not."""
    head = f"{where}: [gateway]"
    if gateway.nats_password and not gateway.nats_user:
        raise ConfigError(f"{head} nats_password: needs nats_user too")
    if gateway.nats_user and not gateway.nats_password:
        raise ConfigError(f"{head} nats_user: needs nats_password too")
    ways = [
        name
        for name, used in (
            ("nats_user/nats_password", gateway.nats_user),
            ("nats_token", gateway.nats_token),
            ("nats_creds", gateway.nats_creds),
            ("nats_nkey_seed", gateway.nats_nkey_seed),
        )
        if used
    ]
    if len(ways) > 1:
        raise ConfigError(f"{head}: use one way to authenticate to NATS, not {' and '.join(ways)}")
    if bool(gateway.nats_tls_cert) != bool(gateway.nats_tls_key):
        raise ConfigError(f"{head} nats_tls_cert and nats_tls_key: set both or neither")
    for name in ("nats_creds", "nats_nkey_seed", "nats_tls_ca", "nats_tls_cert", "nats_tls_key"):
        path = getattr(gateway, name)
        if not path:
            continue
        try:
            with Path(path).expanduser().open("rb"):
                pass
        except OSError as exc:
            raise ConfigError(f"{head} {name}: cannot read '{path}' ({exc.strerror})") from None
    if (gateway.nats_creds or gateway.nats_nkey_seed) and (
        importlib.util.find_spec("nkeys") is None
    ):
        raise ConfigError(
            f"{head}: nats_creds and nats_nkey_seed need the nkeys package: pip install nkeys"
        )
    if gateway.nats_tls_ca or gateway.nats_tls_cert:
        try:
            nats_tls_context(gateway)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ConfigError(f"{head} nats_tls_*: unusable TLS files ({exc})") from None


def nats_tls_context(gateway: GatewayConfig) -> Any:
    """An ssl.SSLContext trusting `nats_tls_ca` (else the system's CAs) and presenting the
    client certificate when one is set; None when no TLS file is configured."""
    if not (gateway.nats_tls_ca or gateway.nats_tls_cert):
        return None
    import ssl

    context = ssl.create_default_context(
        cafile=str(Path(gateway.nats_tls_ca).expanduser()) if gateway.nats_tls_ca else None
    )
    if gateway.nats_tls_cert:
        context.load_cert_chain(
            str(Path(gateway.nats_tls_cert).expanduser()),
            str(Path(gateway.nats_tls_key).expanduser()),
        )
    return context


def _warn_if_readable_by_others(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning(
            "%s holds an API secret and other users can read it; run: chmod 600 %s", path, path
        )


def _build(data: dict[str, Any], where: str) -> Config:
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{where}: unknown section [{name}]{_suggest(name, _SECTIONS)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table, got {_kind(value)}")
        sections[name] = _build_section(_SECTIONS[name], value, f"{where}: [{name}]")
    config = Config(**sections)
    _validate(config, where)
    return config


def _build_section(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where} unknown key '{key}'{_suggest(key, known)}")
        kwargs[key] = _coerce(value, hints[key], f"{where} {key}")
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(value, options[0], where)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {_kind(value)}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {_kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {_kind(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite number, got {_kind(value)}")
        return number
    if hint is Secret:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__}")
        return Secret(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_kind(value)}")
        return value
    raise ConfigError(f"{where}: unsupported value {_kind(value)}")


def _validate(config: Config, where: str) -> None:
    from upbit_tui.wire.symbols import SymbolError, normalize_symbol

    try:
        symbols = tuple(normalize_symbol(s) for s in config.watchlist.symbols)
    except SymbolError as exc:
        raise ConfigError(f"{where}: [watchlist] symbols: {exc}") from None
    object.__setattr__(config.watchlist, "symbols", tuple(dict.fromkeys(symbols)))
    for name in ("websocket_url", "private_websocket_url"):
        url = getattr(config.exchange, name)
        if not url.startswith(("ws://", "wss://")):
            raise ConfigError(
                f"{where}: [exchange] {name}: expected a ws:// or wss:// URL, got '{url}'"
            )
    if not config.exchange.rest_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{where}: [exchange] rest_url: expected an http:// or https:// URL, "
            f"got '{config.exchange.rest_url}'"
        )
    try:
        resolve_transport(config.connection.transport)
    except ValueError as exc:
        raise ConfigError(f"{where}: [connection] transport: {exc}") from None
    try:
        resolve_event_loop(config.connection.event_loop)
    except ValueError as exc:
        raise ConfigError(f"{where}: [connection] event_loop: {exc}") from None
    policies = ("drop_oldest", "coalesce_by_symbol", "throttle")
    for section in ("routing", "headless"):
        policy = getattr(config, section).policy
        if policy not in policies:
            raise ConfigError(
                f"{where}: [{section}] policy: unknown policy '{policy}' "
                f"(expected one of {', '.join(policies)})"
            )
    nats_url = config.gateway.nats_url
    if nats_url and not nats_url.startswith(("nats://", "tls://", "ws://", "wss://")):
        raise ConfigError(
            f"{where}: [gateway] nats_url: expected a nats:// (or tls://) URL, "
            f"got '{redact_url(nats_url)}'"
        )
    for name in ("lease_ttl", "trade_retention"):
        if not getattr(config.gateway, name) > 0:
            raise ConfigError(f"{where}: [gateway] {name}: must be a positive number of seconds")
    levels = ("DEBUG", "INFO", "WARNING", "ERROR")
    if config.logging.level.upper() not in levels:
        raise ConfigError(
            f"{where}: [logging] level: unknown level '{config.logging.level}' "
            f"(expected one of {', '.join(levels)})"
        )
    if config.ui.orderbook_depth not in (1, 5, 15, 30):
        raise ConfigError(
            f"{where}: [ui] orderbook_depth: expected 1, 5, 15 or 30, "
            f"got {config.ui.orderbook_depth}"
        )
    if config.ui.candle_timeframe not in _TIMEFRAME_SPELLINGS:
        raise ConfigError(
            f"{where}: [ui] candle_timeframe: unknown timeframe '{config.ui.candle_timeframe}' "
            f"(expected one of {', '.join(CANDLE_TIMEFRAMES)})"
        )
    if config.ui.theme not in TEXTUAL_THEMES:
        raise ConfigError(
            f"{where}: [ui] theme: unknown theme '{config.ui.theme}' "
            f"({_did_you_mean(config.ui.theme, TEXTUAL_THEMES)}"
            f"expected one of {', '.join(TEXTUAL_THEMES)})"
        )
    for section_name in ("connection", "routing", "health", "private", "ui", "headless", "gateway"):
        section = getattr(config, section_name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                bounds = _RANGES.get((section_name, f.name), _Range())
                bounds.check(value, f"{where}: [{section_name}] {f.name}")


# Larger is a typo, and would overflow a queue's size or a timer.
LARGEST_NUMBER = 1e9


@dataclass(frozen=True)
class _Range:
    """Where a number may lie: above `low` (strictly when `above`), at most `high`."""

    low: float = 0.0
    above: bool = False
    high: float = LARGEST_NUMBER

    def check(self, value: float, where: str) -> None:
        if value <= self.low if self.above else value < self.low:
            relation = ">" if self.above else ">="
            raise ConfigError(f"{where}: expected a value {relation} {self.low:g}, got {value:g}")
        if value > self.high:
            raise ConfigError(f"{where}: expected a value <= {self.high:g}, got {value:g}")


# Bounds beyond the default 0 to LARGEST_NUMBER (0 turns off a ping, a timeout or the watchdog).
_POSITIVE = _Range(above=True)
_RANGES: dict[tuple[str, str], _Range] = {
    ("connection", "reconnect_max_delay"): _POSITIVE,
    ("connection", "reconnect_multiplier"): _Range(low=1),
    ("connection", "reconnect_jitter"): _Range(high=1),
    ("connection", "reconnect_critical_after"): _Range(low=1),
    ("routing", "queue_size"): _Range(low=1, high=10_000_000),
    ("routing", "throttle_per_second"): _POSITIVE,
    ("routing", "slow_callback"): _POSITIVE,
    ("health", "latency_ms"): _POSITIVE,
    ("private", "rest_poll_interval"): _POSITIVE,
    ("ui", "table_refresh_hz"): _POSITIVE,
    ("ui", "chart_refresh_hz"): _POSITIVE,
    ("headless", "queue_size"): _Range(low=1, high=10_000_000),
}


def _did_you_mean(name: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def _suggest(name: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of {', '.join(sorted(choices))})"


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return type(value).__name__
