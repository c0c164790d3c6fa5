"""Upbit WebSocket wire format: frame bytes -> typed events, desired subscription -> request.

Sans-I/O: plain functions and one stateful decoder (for its counters); no sockets, no asyncio.
The simulator has its own, independent reading of the protocol; both are checked against
shared/fixtures/ws/.

Decoding (the read loop calls this for every frame)::

    decoder = FrameDecoder()
    result = decoder.decode(frame, epoch=3, received_at=time.time())  # or positionally

`frame` is the frame payload (`bytes`, or `str` for a text frame). `result` is one of:

- a market event (`TickerEvent`, `TradeEvent`, `OrderbookEvent`, `CandleEvent`, `BalanceEvent`,
  `OrderEvent`) for a DEFAULT or SIMPLE frame;
- a `list` of such events for a JSON_LIST / SIMPLE_LIST frame (possibly empty when every item
  was malformed; each bad item is counted and skipped, the good ones are kept);
- `StatusMessage` for Upbit's keep-alive answer `{"status":"UP"}`;
- `ErrorMessage` for `{"error":{"name":..., "message":...}}` (Upbit rejected a request);
- `SubscriptionList` for the answer to `list_subscriptions_request()`;
- `None` for a frame that could not be used: malformed JSON, a missing required field, or a type
  we do not know (e.g. `announcement`). It is counted (`decoder.malformed` / `decoder.unknown`,
  `decoder.last_problem` says why) and never raises: a bad frame must not kill the read loop.

Every event gets `epoch` and `received_at` set from the arguments. The format is detected per
frame (DEFAULT keys, SIMPLE keys, list or single object), so a format change on a live connection
needs no coordination. Unknown fields are ignored. The fast path decodes a compact DEFAULT frame
straight from the bytes into its msgspec Struct, picking the type from the frame's first 15 bytes
(`{"type":"ticker`: Upbit sends `type` first); candles, frames in another key order or with
whitespace take a first-pass decode of the type only, then the typed decode. SIMPLE frames, the
LIST_SUBSCRIPTIONS answer and the legacy 2018 guide shapes (`market`/`mk` instead of `code`, no
`type`) go through a slower dict path.

Requests::

    build_request(ticket, desired, format="DEFAULT") -> bytes   # one message = whole subscription
    list_subscriptions_request(ticket=None) -> bytes               # ticket: a fresh UUID
    listing_matches(request, subscription_list) -> bool     # answer shows what we asked for

`desired` is a `DesiredSubscription` (types -> codes, orderbook depth/level per code, snapshot
flags) or a plain mapping `{DataType: codes}` using the defaults. The result is UTF-8 JSON; send
it as a text message (websockets: `await ws.send(data.decode())` or `ws.send(data, text=True)`).

Timeframes::

    parse_timeframe("minute1") -> DataType.CANDLE_1M   # also "1m", "candle.1m", "second1", "1s"
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from upbit_tui.redaction import redact
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
from upbit_tui.wire.simple_keys import (
    ASSET_ITEM_SIMPLE,
    ASSET_SIMPLE,
    CANDLE_SIMPLE,
    LIST_SUBSCRIPTIONS_SIMPLE,
    LISTED_SIMPLE,
    ORDER_SIMPLE,
    ORDERBOOK_SIMPLE,
    ORDERBOOK_UNIT_SIMPLE,
    TICKER_SIMPLE,
    TRADE_SIMPLE,
    to_default_keys,
)

log = logging.getLogger(__name__)

FORMATS: Final = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")
ORDERBOOK_DEPTHS: Final = (1, 5, 15, 30)
DEFAULT_ORDERBOOK_DEPTH: Final = 30


# --------------------------------------------------------------------------- control messages


class StatusMessage(msgspec.Struct, frozen=True):
    """`{"status":"UP"}`: the server's answer to a `PING` text message."""

    status: str


class ErrorMessage(msgspec.Struct, frozen=True):
    """`{"error":{"name":"NO_CODES","message":"..."}}`: Upbit rejected the last request."""

    name: str
    message: str = ""


class ListedSubscription(msgspec.Struct, frozen=True):
    type: str
    codes: list[str] = []
    level: float | None = None


class SubscriptionList(msgspec.Struct, frozen=True):
    """The answer to LIST_SUBSCRIPTIONS: what the server believes this connection wants."""

    result: list[ListedSubscription]
    ticket: str = ""


Decoded = MarketEvent | list[MarketEvent] | StatusMessage | ErrorMessage | SubscriptionList | None


# --------------------------------------------------------------------------- type tables

_EVENT_CLASS: Final[dict[str, type[MarketEvent]]] = {
    "ticker": TickerEvent,
    "trade": TradeEvent,
    "orderbook": OrderbookEvent,
    "myAsset": BalanceEvent,
    "myOrder": OrderEvent,
    **{dt.value: CandleEvent for dt in DataType if dt.is_candle},
}
_SIMPLE_TABLE: Final[dict[type[MarketEvent], dict[str, str]]] = {
    TickerEvent: TICKER_SIMPLE,
    TradeEvent: TRADE_SIMPLE,
    OrderbookEvent: ORDERBOOK_SIMPLE,
    CandleEvent: CANDLE_SIMPLE,
    OrderEvent: ORDER_SIMPLE,
    BalanceEvent: ASSET_SIMPLE,
}
_DECODERS: Final[dict[type[MarketEvent], msgspec.json.Decoder[Any]]] = {
    cls: msgspec.json.Decoder(cls) for cls in set(_EVENT_CLASS.values())
}
# Fast path: the leading bytes of a DEFAULT frame -> its decoder.
_PREFIX: Final = b'{"type":"'
_BY_TYPE_BYTES: Final[dict[bytes, msgspec.json.Decoder[Any]]] = {
    name.encode(): _DECODERS[cls] for name, cls in _EVENT_CLASS.items()
}
_CANDLE_TYPES: Final = frozenset(dt.value for dt in DataType if dt.is_candle)
# The first 15 bytes of a compact DEFAULT frame ('{"type":"ticker', '{"type":"trade"', ...).
# Not candles: their 15 bytes ('{"type":"candle') do not say the timeframe, which must be checked.
_BY_HEAD: Final[dict[bytes, Callable[[bytes], Any]]] = {
    (_PREFIX + name.encode() + b'"')[:15]: _DECODERS[cls].decode
    for name, cls in _EVENT_CLASS.items()
    if cls is not CandleEvent
}


class _ErrorBody(msgspec.Struct):
    name: str | int
    message: str = ""


class _Head(msgspec.Struct):
    """First-pass view of a frame object: just enough to know what it is."""

    type: str | None = None
    ty: str | None = None
    status: str | None = None
    error: _ErrorBody | None = None
    method: str | None = None
    mthd: str | None = None


_HEAD_DECODER: Final = msgspec.json.Decoder(_Head)
_RAW_LIST_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw])
_ANY_DECODER: Final = msgspec.json.Decoder()


class FrameDecoder:
    """Decodes frames; counts what it had to skip. One per connection (counters are per use).

    Attributes (read them, do not write them): `malformed` frames or
    list items that were not valid JSON or lacked required fields, `unknown` well-formed objects
    of a type we do not handle, `errors` error frames, `status` status frames, `last_problem` a
    short description of the last skipped frame (never the frame's full text).
    """

    __slots__ = ("errors", "last_problem", "malformed", "status", "unknown")

    def __init__(self) -> None:
        self.malformed = 0
        self.unknown = 0
        self.errors = 0
        self.status = 0
        self.last_problem: str | None = None

    def decode(
        self,
        frame: bytes | bytearray | memoryview | str,
        epoch: int = 0,
        received_at: float = 0.0,
    ) -> Decoded:
        """Decode one frame (see the module docstring for the possible results). Never raises."""
        # Hot path: a compact DEFAULT ticker/trade/orderbook/myAsset/myOrder object with `type`
        # first, as Upbit sends it, recognised by its first 15 bytes (one slice, one dict
        # lookup: bytes.find/startswith cost more). Everything else, candles included (one per
        # second per code at most), takes the general path.
        try:
            decode = _BY_HEAD.get(frame[:15])  # type: ignore[arg-type]
        except TypeError:  # a bytearray or memoryview slice is not hashable
            decode = None
        if decode is not None:
            try:
                event = decode(frame)  # type: ignore[arg-type]
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                self._skip(exc)
                return None
            event.epoch = epoch
            event.received_at = received_at
            return event
        if frame.__class__ is not bytes:
            frame = frame.encode() if isinstance(frame, str) else bytes(frame)
        try:
            return self._decode_bytes(frame, epoch, received_at)
        except RecursionError:  # JSON nested deeper than msgspec follows: malformed too
            self._skip("JSON nested too deeply")
            return None

    def _decode_bytes(self, data: bytes, epoch: int, received_at: float) -> Decoded:
        if data[:9] == _PREFIX:
            decoder = _BY_TYPE_BYTES.get(data[9 : data.find(b'"', 9, 40)])
            if decoder is not None:
                try:
                    event = decoder.decode(data)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    self._skip(exc)
                    return None
                return self._stamp(event, epoch, received_at)
        return self._decode_slow(data, epoch, received_at)

    # ----------------------------------------------------------------- slow paths

    def _decode_slow(self, data: bytes, epoch: int, received_at: float) -> Decoded:
        first = _first_significant_byte(data)
        if first == ord("["):
            try:
                items = _RAW_LIST_DECODER.decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._skip(exc)
                return None
            events: list[MarketEvent] = []
            for item in items:
                result = self._decode_bytes(bytes(item), epoch, received_at)
                if isinstance(result, list):
                    # A list nested in a list frame is not an Upbit shape.
                    self._skip("nested list inside a list frame")
                    continue
                if isinstance(result, MarketEvent):
                    events.append(result)
                elif result is not None:
                    # A control message inside a list frame: not expected from Upbit; skip it.
                    self.unknown += 1
                    self.last_problem = (
                        f"control message inside a list frame: {type(result).__name__}"
                    )
            return events
        return self._decode_object(data, epoch, received_at)

    def _decode_object(self, data: bytes, epoch: int, received_at: float) -> Decoded:
        try:
            head = _HEAD_DECODER.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._skip(exc)
            return None
        if head.type is not None:
            cls = _EVENT_CLASS.get(head.type)
            if cls is None:
                self.unknown += 1
                self.last_problem = f"unknown type {head.type[:40]!r}"
                return None
            try:
                event = _DECODERS[cls].decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                # DEFAULT type key, but the body may still be a legacy shape (e.g. `market`).
                return self._decode_dict(data, epoch, received_at, exc)
            return self._stamp(event, epoch, received_at)
        if head.status is not None:
            self.status += 1
            return StatusMessage(status=head.status)
        if head.error is not None:
            self.errors += 1
            # A server may quote our Authorization header back: no token goes further.
            return ErrorMessage(
                name=redact(str(head.error.name)), message=redact(head.error.message)
            )
        return self._decode_dict(data, epoch, received_at, None)

    def _decode_dict(
        self,
        data: bytes,
        epoch: int,
        received_at: float,
        first_error: Exception | None,
    ) -> Decoded:
        """SIMPLE keys, LIST_SUBSCRIPTIONS answers and the legacy guide shapes."""
        try:
            obj = _ANY_DECODER.decode(data)
        except msgspec.DecodeError as exc:
            self._skip(exc)
            return None
        if not isinstance(obj, dict):
            self._skip(f"expected a JSON object, got {type(obj).__name__}")
            return None
        method = obj.get("method", obj.get("mthd"))
        if method == "LIST_SUBSCRIPTIONS":
            return self._subscription_list(obj)
        kind = obj.get("type", obj.get("ty"))
        if kind is None:
            kind = _infer_legacy_type(obj)
        if kind is None:
            self.unknown += 1
            self.last_problem = "object without type, status or error"
            return None
        cls = _EVENT_CLASS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            self.unknown += 1
            self.last_problem = f"unknown type {str(kind)[:40]!r}"
            return None
        renamed = to_default_keys(obj, _SIMPLE_TABLE[cls])
        renamed.setdefault("type", kind)
        if cls is OrderbookEvent and isinstance(renamed.get("orderbook_units"), list):
            renamed["orderbook_units"] = [
                to_default_keys(u, ORDERBOOK_UNIT_SIMPLE) if isinstance(u, dict) else u
                for u in renamed["orderbook_units"]
            ]
        elif cls is BalanceEvent and isinstance(renamed.get("assets"), list):
            renamed["assets"] = [
                to_default_keys(a, ASSET_ITEM_SIMPLE) if isinstance(a, dict) else a
                for a in renamed["assets"]
            ]
        try:
            event = msgspec.convert(renamed, cls)
        except msgspec.ValidationError as exc:
            self._skip(first_error or exc)
            return None
        return self._stamp(event, epoch, received_at)

    def _subscription_list(self, obj: dict[str, Any]) -> Decoded:
        renamed = to_default_keys(obj, LIST_SUBSCRIPTIONS_SIMPLE)
        result = renamed.get("result")
        if isinstance(result, list):
            renamed["result"] = [
                to_default_keys(r, LISTED_SIMPLE) if isinstance(r, dict) else r for r in result
            ]
        try:
            return msgspec.convert(renamed, SubscriptionList)
        except msgspec.ValidationError as exc:
            self._skip(exc)
            return None

    def _stamp(self, event: MarketEvent, epoch: int, received_at: float) -> MarketEvent:
        event.epoch = epoch
        event.received_at = received_at
        return event

    def _skip(self, problem: Exception | str) -> None:
        self.malformed += 1
        self.last_problem = str(problem)[:200]
        log.debug("skipped a malformed frame: %s", self.last_problem)


def _first_significant_byte(data: bytes) -> int:
    for byte in data[:64]:
        if byte not in b" \t\r\n":
            return byte
    return -1


def _infer_legacy_type(obj: Mapping[str, Any]) -> str | None:
    """The 2018 guide examples have no `type`: recognise them by their distinctive keys."""
    keys = obj.keys()
    if "sequential_id" in keys or "sid" in keys:
        return "trade"
    if "orderbook_units" in keys or "obu" in keys:
        return "orderbook"
    if "signed_change_rate" in keys or "scr" in keys or "acc_trade_price_24h" in keys:
        return "ticker"
    return None


# --------------------------------------------------------------------------- timeframes

_TIMEFRAME_ALIASES: Final[dict[str, DataType]] = {}
for _dt in DataType:
    if not _dt.is_candle:
        continue
    _unit = _dt.value.removeprefix("candle.")  # "1s", "1m", "240m"
    _n = _unit[:-1]
    _TIMEFRAME_ALIASES[_unit] = _dt
    _TIMEFRAME_ALIASES[_dt.value] = _dt
    _TIMEFRAME_ALIASES[("second" if _unit.endswith("s") else "minute") + _n] = _dt

VALID_TIMEFRAMES: Final = tuple(dt.value.removeprefix("candle.") for dt in DataType if dt.is_candle)


def parse_timeframe(timeframe: str | DataType) -> DataType:
    """Map a candle timeframe to its DataType.

    Accepts Upbit's units ("1s", "1m", "3m", ..., "240m"), the spec's names ("second1",
    "minute1", "minute60", ...) and the wire type ("candle.1m"); case and surrounding spaces are
    ignored. Anything else raises ValueError naming the valid values.
    """
    if isinstance(timeframe, DataType) and timeframe.is_candle:
        return timeframe
    if isinstance(timeframe, str):
        key = timeframe.strip()
        found = _TIMEFRAME_ALIASES.get(key) or _TIMEFRAME_ALIASES.get(key.lower())
        if found is not None:
            return found
    raise ValueError(
        f"unknown candle timeframe {timeframe!r} (expected one of "
        f"{', '.join(VALID_TIMEFRAMES)}, or minute1..minute240 / second1)"
    )


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class OrderbookOptions:
    """What one orderbook code is subscribed with: `depth` units (1, 5, 15, 30) and `level`
    (price aggregation unit, 0 = native tick; KRW markets only)."""

    depth: int = DEFAULT_ORDERBOOK_DEPTH
    level: float = 0.0


@dataclass(frozen=True)
class DesiredSubscription:
    """The whole subscription one connection should carry: Upbit replaces, never merges.

    `codes` maps each type to its market codes (for myOrder an empty set means every market;
    myAsset takes no codes). `orderbook` gives per-code options; codes missing from it use
    depth 30, level 0. The snapshot flags apply to the public types only.
    """

    codes: Mapping[DataType, frozenset[str] | set[str]] = field(default_factory=dict)
    orderbook: Mapping[str, OrderbookOptions] = field(default_factory=dict)
    is_only_realtime: bool = False
    is_only_snapshot: bool = False

    @property
    def is_empty(self) -> bool:
        return not any(codes or data_type.is_private for data_type, codes in self.codes.items())


def build_request(
    ticket: str,
    desired: DesiredSubscription | Mapping[DataType, Iterable[str]],
    format: str = "DEFAULT",
) -> bytes:
    """One Upbit request message carrying the whole desired subscription, as UTF-8 JSON bytes.

    Types come in a stable order (DataType order) and codes sorted, so the same desired state
    always gives the same bytes (after the ticket). Orderbook codes carry their depth as `.N`
    (omitted for 30, Upbit's default) and are grouped into one type object per distinct `level`
    (Upbit's documented way to give codes different levels). Raises ValueError for an unknown
    format, a bad depth, public types without codes only, or nothing to subscribe (Upbit answers
    a request without type objects with NO_TYPE: close the connection instead).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r} (expected one of {', '.join(FORMATS)})")
    if not isinstance(desired, DesiredSubscription):
        desired = DesiredSubscription(
            codes={DataType(t): frozenset(codes) for t, codes in desired.items()}
        )
    message: list[dict[str, Any]] = [{"ticket": ticket}]
    flags: dict[str, bool] = {}
    if desired.is_only_realtime:
        flags["is_only_realtime"] = True
    if desired.is_only_snapshot:
        flags["is_only_snapshot"] = True
    for data_type in DataType:
        codes = desired.codes.get(data_type)
        if codes is None:
            continue
        if data_type is DataType.BALANCE:
            message.append({"type": data_type.value})
        elif data_type is DataType.ORDER:
            item: dict[str, Any] = {"type": data_type.value}
            if codes:
                item["codes"] = sorted(codes)
            message.append(item)
        elif not codes:
            continue
        elif data_type is DataType.ORDERBOOK:
            message.extend(_orderbook_objects(codes, desired.orderbook, flags))
        else:
            message.append({"type": data_type.value, "codes": sorted(codes), **flags})
    if len(message) == 1:
        raise ValueError("nothing to subscribe: a request needs at least one type with codes")
    message.append({"format": format})
    return msgspec.json.encode(message)


def _orderbook_objects(
    codes: Iterable[str], options: Mapping[str, OrderbookOptions], flags: Mapping[str, bool]
) -> list[dict[str, Any]]:
    by_level: dict[float, list[str]] = {}
    for code in sorted(codes):
        opts = options.get(code, OrderbookOptions())
        if opts.depth not in ORDERBOOK_DEPTHS:
            raise ValueError(
                f"orderbook depth {opts.depth} for {code} is not one of "
                f"{', '.join(map(str, ORDERBOOK_DEPTHS))}"
            )
        wire = code if opts.depth == DEFAULT_ORDERBOOK_DEPTH else f"{code}.{opts.depth}"
        by_level.setdefault(float(opts.level), []).append(wire)
    objects: list[dict[str, Any]] = []
    for level in sorted(by_level):
        item: dict[str, Any] = {"type": DataType.ORDERBOOK.value, "codes": by_level[level]}
        if level:
            item["level"] = int(level) if level.is_integer() else level
        item.update(flags)
        objects.append(item)
    return objects


def list_subscriptions_request(ticket: str | None = None) -> bytes:
    """`[{"ticket":...},{"method":"LIST_SUBSCRIPTIONS"}]`: ask what this connection carries.

    `ticket` defaults to a fresh UUID.

    Counts toward Upbit's 5/s, 100/min message limit like any request. Note: a format object in
    any request changes the whole connection's format, so this message carries none.
    """
    if ticket is None:
        ticket = str(uuid.uuid4())
    return msgspec.json.encode([{"ticket": ticket}, {"method": "LIST_SUBSCRIPTIONS"}])


def listing_matches(request: bytes | str, listing: SubscriptionList) -> bool:
    """Whether a LIST_SUBSCRIPTIONS answer shows the subscription `request` asked for.

    Compared per type on codes only, leniently: an orderbook code's `.N` depth suffix is ignored
    (whether Upbit echoes it is unconfirmed), as are levels, flags and the order of codes or type
    objects. A request that is not a subscription (no type objects) never matches.
    """
    try:
        items = msgspec.json.decode(request)
    except msgspec.DecodeError:
        return False
    wanted: dict[str, set[str]] = {}
    for item in items if isinstance(items, list) else ():
        kind = item.get("type") if isinstance(item, dict) else None
        if isinstance(kind, str):
            wanted.setdefault(kind, set()).update(_bare_codes(kind, item.get("codes") or ()))
    listed: dict[str, set[str]] = {}
    for entry in listing.result:
        listed.setdefault(entry.type, set()).update(_bare_codes(entry.type, entry.codes))
    return bool(wanted) and wanted == listed


def _bare_codes(kind: str, codes: Iterable[object]) -> set[str]:
    bare = {str(c) for c in codes}
    if kind == DataType.ORDERBOOK.value:
        bare = {c.rsplit(".", 1)[0] if c.rpartition(".")[2].isdigit() else c for c in bare}
    return bare
