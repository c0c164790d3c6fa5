"""Parsing one WebSocket request message (upbit-protocol.md section 2) into what it asks for.

A request is one JSON array: a ticket object, data type objects, optionally a format object in
any position, or a `{"method": "LIST_SUBSCRIPTIONS"}` object instead of type objects. A bad
request raises `RequestError(name, message)` with Upbit's error name.

Decisions where Upbit is silent (documented for the README):
- Checks run in this order and the first failure answers: not JSON, not an array, an element
  that is not an object, or a `ticket` / `format` / `method` of the wrong JSON type ->
  WRONG_FORMAT; an unknown `format` or `method` value -> INVALID_PARAM; no `ticket` (missing,
  null or "") -> NO_TICKET; no type object, or an object with none of ticket/type/format/method
  -> NO_TYPE; then each type object in order: a non-string `type` -> WRONG_FORMAT, an unknown
  one -> INVALID_PARAM, a type of the other endpoint -> INVALID_AUTH / INVALID_PARAM, a flag,
  `codes` or `level` of the wrong JSON type (or `codes` on myAsset) -> WRONG_FORMAT, `codes`
  missing or `[]` on a quotation type -> NO_CODES.
- Codes that are not listed markets (including lowercase ones) answer INVALID_PARAM naming
  them (`unknown_codes="error"`, the default) or are accepted and simply never produce data
  (`unknown_codes="ignore"`).
- A request that fails changes nothing: the connection keeps its previous subscription.
- `is_only_snapshot` / `isOnlySnapshot` (and the old docs' typo `isOnlySanpshot`) and
  `is_only_realtime` / `isOnlyRealtime` are all honoured; both true means no data.
- `level` may be a JSON number or a numeric string; another type -> WRONG_FORMAT. An unsupported
  level is accepted and produces no data (Upbit's documented behaviour).
- Orderbook `KRW-BTC.N`: N in 1/5/15/30, any other integer -> 30 units.
- Private types (myOrder, myAsset, announcement) on the public endpoint -> INVALID_AUTH;
  quotation types on the private endpoint -> INVALID_PARAM.
- `announcement` (announcements.py): `codes` -> WRONG_FORMAT (as on myAsset); `categories`
  not a list of strings -> WRONG_FORMAT, a value outside ANNOUNCEMENT_CATEGORIES (they are
  case-sensitive) -> INVALID_PARAM naming it; `categories` missing, null or `[]` -> every
  category; `include_body` not a Boolean -> WRONG_FORMAT; the snapshot flags are checked and
  then ignored (there is no snapshot).
- A request with a LIST_SUBSCRIPTIONS method object is a query: type objects next to it are
  ignored and the subscription is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from typing import Any, Literal

from upbit_tui.exchange.wire import FORMATS

QUOTATION_TYPES = frozenset(
    {"ticker", "trade", "orderbook"}
    | {f"candle.{unit}" for unit in ("1s", "1m", "3m", "5m", "10m", "15m", "30m", "60m", "240m")}
)
PRIVATE_TYPES = frozenset({"myOrder", "myAsset", "announcement"})
# Upbit's SDK v1.1.0 `AnnouncementCategory` (the docs: anything else is INVALID_PARAM).
ANNOUNCEMENT_CATEGORIES = (
    "notice",
    "trade",
    "wallet",
    "maintenance",
    "digital_asset",
    "nft",
    "service",
    "event",
    "note",
    "trading",
    "airdrop",
    "feature",
    "disclosure",
)
ORDERBOOK_DEPTHS = (1, 5, 15, 30)
DEFAULT_DEPTH = 30
_SNAPSHOT_KEYS = ("is_only_snapshot", "isOnlySnapshot", "isOnlySanpshot")
_REALTIME_KEYS = ("is_only_realtime", "isOnlyRealtime")

UnknownCodes = Literal["error", "ignore"]


class RequestError(Exception):
    """A refused request: `name` is Upbit's error name (WRONG_FORMAT, NO_TICKET, ...)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True, slots=True)
class TypeRequest:
    """One data type object of a request."""

    type: str
    codes: tuple[str, ...] | None  # as sent (orderbook codes may carry ".N"); None: myAsset
    markets: tuple[str, ...]  # bare market codes, deduplicated; () for "all" (myOrder)
    depths: tuple[int, ...]  # orderbook: units per entry of `markets`; else ()
    level: float | None  # orderbook only (default 0)
    snapshot: bool
    realtime: bool
    categories: frozenset[str] | None = None  # announcement: None = every category
    include_body: bool = False  # announcement only


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    ticket: str
    types: tuple[TypeRequest, ...]
    format: str | None  # None: no format object (the subscription then uses DEFAULT)


@dataclass(frozen=True, slots=True)
class ListRequest:
    ticket: str
    format: str | None  # a format object here still changes the connection's format


@dataclass(frozen=True, slots=True)
class Envelope:
    """A request's ticket, format, method and type objects, checked up to the type objects
    (shared by the quotation/private parser below and the /info parser, info_request.py)."""

    ticket: str
    format: str | None
    method: str | None
    type_objects: tuple[dict[str, Any], ...]


def parse_envelope(text: str) -> Envelope:
    """The checks every endpoint shares, in order; raises RequestError."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise RequestError(
            "WRONG_FORMAT", "요청 형식이 올바르지 않습니다. (JSON array expected)"
        ) from None
    if not isinstance(data, list):
        raise RequestError("WRONG_FORMAT", "요청 형식이 올바르지 않습니다. (JSON array expected)")
    if not all(isinstance(item, dict) for item in data):
        raise RequestError("WRONG_FORMAT", "요청 형식이 올바르지 않습니다. (array of objects)")

    ticket: str | None = None
    fmt: str | None = None
    method: str | None = None
    type_objects: list[dict[str, Any]] = []
    for obj in data:
        recognised = False
        if "ticket" in obj:
            recognised = True
            ticket = _ticket(obj["ticket"]) or ticket
        if "format" in obj:
            recognised = True
            fmt = _format(obj["format"])
        if "method" in obj:
            recognised = True
            method = _method(obj["method"])
        if "type" in obj:
            recognised = True
            type_objects.append(obj)
        if not recognised:
            raise RequestError("NO_TYPE", "type 필드가 존재하지 않습니다.")
    if ticket is None:
        raise RequestError("NO_TICKET", "ticket 필드가 존재하지 않습니다.")
    if method is None and not type_objects:
        raise RequestError("NO_TYPE", "type 필드가 존재하지 않습니다.")
    return Envelope(ticket, fmt, method, tuple(type_objects))


def parse_request(
    text: str,
    *,
    private: bool,
    known_codes: Container[str],
    unknown_codes: UnknownCodes = "error",
) -> SubscribeRequest | ListRequest:
    """Parse one request message; raises RequestError."""
    envelope = parse_envelope(text)
    if envelope.method is not None:
        return ListRequest(envelope.ticket, envelope.format)
    types = tuple(
        _type_request(obj, private=private, known=known_codes, unknown=unknown_codes)
        for obj in envelope.type_objects
    )
    return SubscribeRequest(envelope.ticket, types, envelope.format)


def _ticket(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RequestError("WRONG_FORMAT", "ticket 은 문자열이어야 합니다.")
    return str(value)


def _format(value: object) -> str:
    if not isinstance(value, str):
        raise RequestError("WRONG_FORMAT", "format 은 문자열이어야 합니다.")
    if value.upper() not in FORMATS:
        raise RequestError("INVALID_PARAM", f"지원하지 않는 format 입니다: {value[:40]}")
    return value.upper()


def _method(value: object) -> str:
    if not isinstance(value, str):
        raise RequestError("WRONG_FORMAT", "method 는 문자열이어야 합니다.")
    if value != "LIST_SUBSCRIPTIONS":
        raise RequestError("INVALID_PARAM", f"지원하지 않는 method 입니다: {value[:40]}")
    return value


def _flag(obj: dict[str, Any], keys: tuple[str, ...]) -> bool:
    result = False
    for key in keys:
        if key in obj:
            value = obj[key]
            if not isinstance(value, bool):
                raise RequestError("WRONG_FORMAT", f"{key} 는 Boolean 이어야 합니다.")
            result = result or value
    return result


def _level(value: object) -> float:
    if isinstance(value, bool):
        raise RequestError("WRONG_FORMAT", "level 은 숫자여야 합니다.")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise RequestError("WRONG_FORMAT", "level 은 숫자여야 합니다.")


def _split_orderbook_code(code: str) -> tuple[str, int]:
    market, dot, suffix = code.rpartition(".")
    if dot and suffix.isdigit():
        depth = int(suffix)
        return market, depth if depth in ORDERBOOK_DEPTHS else DEFAULT_DEPTH
    return code, DEFAULT_DEPTH


def _type_request(
    obj: dict[str, Any], *, private: bool, known: Container[str], unknown: UnknownCodes
) -> TypeRequest:
    type_ = obj["type"]
    if not isinstance(type_, str):
        raise RequestError("WRONG_FORMAT", "type 은 문자열이어야 합니다.")
    if type_ not in QUOTATION_TYPES and type_ not in PRIVATE_TYPES:
        raise RequestError("INVALID_PARAM", f"지원하지 않는 type 입니다: {type_[:40]}")
    if type_ in PRIVATE_TYPES and not private:
        raise RequestError("INVALID_AUTH", "인증 정보가 올바르지 않습니다.")
    if type_ in QUOTATION_TYPES and private:
        raise RequestError("INVALID_PARAM", f"private 엔드포인트에서 지원하지 않는 type: {type_}")
    snapshot = not _flag(obj, _REALTIME_KEYS)
    realtime = not _flag(obj, _SNAPSHOT_KEYS)

    if type_ in ("myAsset", "announcement"):
        if "codes" in obj:
            raise RequestError("WRONG_FORMAT", f"{type_} 은 codes 를 지원하지 않습니다.")
        if type_ == "announcement":
            return _announcement_request(obj)
        return TypeRequest(type_, None, (), (), None, False, True)
    raw_codes = obj.get("codes")
    if raw_codes is None:
        if type_ in QUOTATION_TYPES:
            raise RequestError("NO_CODES", "codes 필드가 존재하지 않습니다.")
        raw_codes = []
    if not isinstance(raw_codes, list) or not all(isinstance(c, str) for c in raw_codes):
        raise RequestError("WRONG_FORMAT", "codes 는 문자열 리스트여야 합니다.")
    if not raw_codes and type_ in QUOTATION_TYPES:
        raise RequestError("NO_CODES", "codes 필드가 비어 있습니다.")
    codes = tuple(dict.fromkeys(raw_codes))

    level: float | None = None
    depths: list[int] = []
    markets: list[str] = []
    if type_ == "orderbook":
        level = _level(obj["level"]) if "level" in obj else 0.0
        for code in codes:
            market, depth = _split_orderbook_code(code)
            if market not in markets:
                markets.append(market)
                depths.append(depth)
    else:
        markets = list(codes)
    missing = [m for m in markets if m not in known]
    if missing:
        if unknown == "error":
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise RequestError("INVALID_PARAM", f"존재하지 않는 마켓 코드입니다: {shown[:200]}")
        keep = [i for i, m in enumerate(markets) if m in known]
        markets = [markets[i] for i in keep]
        depths = [depths[i] for i in keep] if depths else depths
    return TypeRequest(
        type_,
        codes,
        tuple(markets),
        tuple(depths),
        level,
        snapshot and type_ != "myOrder",
        realtime,
    )


def _announcement_request(obj: dict[str, Any]) -> TypeRequest:
    raw = obj.get("categories")
    if raw is not None and (not isinstance(raw, list) or not all(isinstance(c, str) for c in raw)):
        raise RequestError("WRONG_FORMAT", "categories 는 문자열 리스트여야 합니다.")
    unknown = [c for c in raw or () if c not in ANNOUNCEMENT_CATEGORIES]
    if unknown:
        shown = ", ".join(c[:40] for c in unknown[:5])
        raise RequestError("INVALID_PARAM", f"지원하지 않는 categories 입니다: {shown}")
    include_body = _flag(obj, ("include_body",))
    categories = frozenset(raw) if raw else None
    return TypeRequest("announcement", None, (), (), None, False, True, categories, include_body)
