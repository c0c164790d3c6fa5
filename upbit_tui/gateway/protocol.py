"""What travels on NATS between a gateway and its remote managers. No I/O.

Events: one NATS message per event on `<prefix>.<type>.<code>` (`upbit.trade.KRW-BTC`,
`upbit.candle.1m.KRW-BTC`, `upbit.myAsset.all`), the payload the event's msgspec JSON (Upbit's
DEFAULT field names plus `epoch`, `stream_type`, `received_at`, and `backfilled` for trades), so
a consumer decodes straight into the same typed event. Trades also carry `Nats-Msg-Id:
<code>:<sequential_id>`, JetStream's de-duplication key.

Batches: the public events of one type that one socket read brought (plus what queued while NATS
was busy) also go out together, as a JSON array of the same encodings, on
`<prefix>.batch.<type>` (`upbit.batch.trade`). A consumer that wants most codes of a type takes
the batch and drops the codes it does not want; one that wants a few takes their subjects. The
per-code subjects and the trade stream are unchanged (JetStream still keeps one message per
trade, de-duplicated by its Nats-Msg-Id), so batches need no de-duplication key of their own.

Wishes: request/reply on `<prefix>.gw.<op>` with JSON bodies:
- `subscribe`   {session, name, wish, lease} -> {ok: {latest: [event...]}}: the gateway's cached
  latest values of the wish's codes, which a local late subscriber would be handed at once.
- `sync`        {session, name, wishes: [Wish...], lease} -> {ok: {gateway, rejected}}: the
  whole state of one remote manager, sent as its heartbeat; a gateway that never saw the session (it
  restarted, or a standby took over) rebuilds it from this alone.
- `bye`         {session} -> {ok: true}
- `snapshot`    {kind: ticker|orderbook|candle, codes, depth, timeframe, count} -> {ok: [...]}
- `markets`     {} -> {ok: [codes]};  `health` {} -> {ok: {...}}
Errors come back as {error: {kind, message, symbols?, suggestions?}} and are raised again on
the caller's side as the same exception class (UnlistedSymbolError keeps its suggestions).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from upbit_tui.net.markets import UnlistedSymbolError
from upbit_tui.net.rest import UpbitApiError
from upbit_tui.wire.events import (
    BalanceEvent,
    CandleEvent,
    DataType,
    MarketEvent,
    OrderbookEvent,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)

DEFAULT_PREFIX: Final = "upbit"
# Queue group of the control subjects: with two gateways up, only one answers each request.
CONTROL_QUEUE: Final = "upbit-gateway"
# The subject token of events that have no market code (myAsset).
NO_CODE: Final = "all"

EVENT_CLASSES: Final[dict[DataType, type[MarketEvent]]] = {
    DataType.TICKER: TickerEvent,
    DataType.TRADE: TradeEvent,
    DataType.ORDERBOOK: OrderbookEvent,
    DataType.BALANCE: BalanceEvent,
    DataType.ORDER: OrderEvent,
    **{t: CandleEvent for t in DataType if t.is_candle},
}


def event_subject(prefix: str, kind: str, code: str) -> str:
    """`upbit.trade.KRW-BTC`; `code` "*" (myAsset) becomes `all`."""
    return f"{prefix}.{kind}.{NO_CODE if code == '*' else code}"


def batch_subject(prefix: str, kind: str) -> str:
    """`upbit.batch.trade`: every code's events of one type, several per message."""
    return f"{prefix}.batch.{kind}"


def subscription_subject(prefix: str, data_type: DataType, code: str | None) -> str:
    """What a consumer subscribes to for one wish: a code, or every code of the type."""
    if data_type is DataType.BALANCE:
        return event_subject(prefix, data_type.value, "*")
    return f"{prefix}.{data_type.value}.{'*' if code is None else code}"


def control_subject(prefix: str, op: str) -> str:
    return f"{prefix}.gw.{op}"


def trade_msg_id(code: str, sequential_id: int) -> str:
    return f"{code}:{sequential_id}"


class Wish(msgspec.Struct, array_like=True):
    """One (client, type) subscription of a remote manager: what its proxy holds."""

    client_id: str
    type: str
    codes: list[str] | None
    depth: int | None = None
    level: float | None = None


class SyncRequest(msgspec.Struct):
    session: str
    name: str
    wishes: list[Wish]
    # Seconds the wishes outlive the last heartbeat (0: the gateway's lease_ttl). A bot that
    # resumes its trades from JetStream asks for longer, so the trades keep being recorded.
    lease: float = 0.0


class SubscribeRequest(msgspec.Struct):
    session: str
    name: str
    wish: Wish
    lease: float = 0.0


class SnapshotRequest(msgspec.Struct):
    kind: str
    codes: list[str]
    depth: int = 30
    timeframe: str = ""
    count: int = 200


class ErrorBody(msgspec.Struct, omit_defaults=True):
    kind: str
    message: str
    symbols: list[str] | None = None
    suggestions: dict[str, list[str]] | None = None


class Reply(msgspec.Struct, omit_defaults=True):
    ok: Any = None
    error: ErrorBody | None = None


class GatewayCallError(RuntimeError):
    """The gateway refused or failed a call for a reason with no closer local exception."""


class GatewayUnavailableError(ConnectionError):
    """No NATS server or no gateway answered in time."""


def error_body(exc: BaseException) -> ErrorBody:
    """An exception as the error part of a reply (the inverse of `raise_error`)."""
    if isinstance(exc, UnlistedSymbolError):
        return ErrorBody(
            kind="unlisted",
            message=str(exc),
            symbols=list(exc.symbols),
            suggestions=exc.suggestions,
        )
    if isinstance(exc, UpbitApiError):
        return ErrorBody(kind="upbit", message=str(exc))
    if isinstance(exc, ValueError):
        return ErrorBody(kind="value", message=str(exc))
    if isinstance(exc, TypeError):
        return ErrorBody(kind="type", message=str(exc))
    if exc.__class__.__name__ == "PrivateUnavailableError":
        return ErrorBody(kind="private", message=str(exc))
    return ErrorBody(kind="gateway", message=f"{exc.__class__.__name__}: {exc}")


def raise_error(error: ErrorBody) -> None:
    """Raise the local exception a reply's error stands for."""
    if error.kind == "unlisted":
        raise UnlistedSymbolError(error.symbols or [], error.suggestions or {})
    if error.kind == "value":
        raise ValueError(error.message)
    if error.kind == "type":
        raise TypeError(error.message)
    if error.kind == "private":
        from upbit_tui.client.manager import PrivateUnavailableError

        raise PrivateUnavailableError(error.message)
    raise GatewayCallError(error.message)


_reply_decoder = msgspec.json.Decoder(Reply)
encode = msgspec.json.encode


def ok_reply(value: Any) -> bytes:
    return encode(Reply(ok=value))


def error_reply(exc: BaseException) -> bytes:
    return encode(Reply(error=error_body(exc)))


def unwrap(data: bytes) -> Any:
    """A reply's value, or raise its error."""
    reply = _reply_decoder.decode(data)
    if reply.error is not None:
        raise_error(reply.error)
    return reply.ok
