"""Upbit's REST API as the simulator serves it: the routes, and what every answer shares.

``add_rest_routes(app, sim)`` registers under ``/v1/`` the quotation endpoints
(rest_quotation.py) and the exchange endpoints (rest_exchange.py), and a middleware that
answers any unknown path, wrong method or simulator fault with a JSON error body (never
aiohttp's plain text):

=====================================  ================  ======================================
endpoint                               limit group       parameters
=====================================  ================  ======================================
GET /v1/market/all                     market            is_details | isDetails
GET /v1/ticker                         ticker            markets (required; comma or repeated)
GET /v1/ticker/all                     ticker            quote_currencies (required)
GET /v1/orderbook                      orderbook         markets (required), level, count
GET /v1/orderbook/instruments          orderbook         markets (required)
GET /v1/candles/seconds                candles           market (required), to, count
GET /v1/candles/minutes/{unit}         candles           market (required), to, count
GET /v1/candles/days                   candles           market, to, count, converting_price_unit
GET /v1/candles/{weeks,months,years}   candles           market (required), to, count
GET /v1/trades/ticks                   crix-trades       market (required), to, count, cursor,
                                                         days_ago
GET /v1/accounts                       default           (JWT)
GET /v1/order                          default           (JWT) uuid | identifier
GET /v1/orders/open                    default           (JWT) market, state | states[], page,
                                                         limit, order_by
GET /v1/orders/closed                  default           (JWT) market, state | states[],
                                                         start_time, end_time, limit, order_by
GET /v1/orders/uuids                   default           (JWT) uuids[] | identifiers[], market,
                                                         order_by
GET /v1/orders/chance                  default           (JWT) market
POST /v1/orders                        order             (JWT) JSON: market, side, ord_type,
                                                         price, volume, identifier,
                                                         time_in_force, smp_type
POST /v1/orders/test                   order-test        (JWT) as POST /v1/orders
POST /v1/orders/cancel_and_new         order             (JWT) JSON: prev_order_uuid |
                                                         prev_order_identifier, new_ord_type,
                                                         new_price, new_volume, ...
DELETE /v1/order                       default           (JWT) uuid | identifier
DELETE /v1/orders/uuids                default           (JWT) uuids[] | identifiers[]
DELETE /v1/orders/open                 order-cancel-all  (JWT) quote_currencies | pairs,
                                                         exclude_pairs, cancel_side, count,
                                                         order_by
GET /v1/status/wallet                  default           (JWT)
GET /v1/api_keys                       default           (JWT)
GET /v1/deposits                       default           (JWT) currency, state, uuids[],
                                                         txids[], limit, page, order_by
GET /v1/deposit                        default           (JWT) uuid | txid | currency
GET /v1/deposits/coin_addresses        default           (JWT)
GET /v1/deposits/coin_address          default           (JWT) currency, net_type
GET /v1/deposits/chance/coin           default           (JWT) currency, net_type
=====================================  ================  ======================================

A POST's ``query_hash`` covers its JSON body rendered ``k=v&k2=v2`` (values as sent, lists as
``k[]=a&k[]=b``), as Upbit specifies.

``sim`` provides ``model`` (a :class:`~upbit_tui.exchange.market.MarketModel`), ``limits``
(:class:`~upbit_tui.exchange.limits.RateLimits`), ``keys``
(:class:`~upbit_tui.exchange.auth.KeyStore`) and optionally ``seed``, ``build_markets``,
``quotation_429_body`` ("text" or "json") and ``faults`` with ``take_rest_fault() -> int |
None`` (an HTTP status to answer instead of serving the request).

What a response looks like, as recorded from the real server (shared/upbit-protocol.md §5, §7):
key order of the real responses; quotation numbers as JSON numbers and exchange amounts as
strings; ``Content-Type: application/json;charset=UTF-8``; ``Remaining-Req`` on every answer;
quotation answers add ``Limit-By-Ip: Yes``, no-cache headers and a weak ``ETag`` (an
``If-None-Match`` hit answers 304) and are gzip-compressed when the client accepts it.
Errors: quotation ``{"error": {"name": 400, "message": "Invalid parameter. Check the given
value!"}}`` (integer name; 404 ``Code not found``), exchange ``{"error": {"name":
"invalid_parameter", ...}}``.

Where Upbit is silent, the simulator decides (SIMULATOR.md, "REST", has the order choices):

- Market codes are exact and uppercase; an unknown one in ``markets`` answers 404 for the whole
  request; duplicates are answered once, in request order.
- ``/v1/orderbook``: ``count`` above 30 is served as 30 (as the WebSocket's ``.N``); an
  unsupported ``level`` leaves that market out (Upbit: "empty list").
- ``/v1/trades/ticks``: with ``to`` or ``days_ago`` only that UTC day's trades are returned
  (``to`` = exclusive time of day); without either, the latest trades whatever their day.
- Candle ``to`` without a zone is UTC; an unescaped ``+09:00`` that arrived as `` 09:00`` is read
  as ``+09:00``. Candles come newest first.
- A quotation 429 is plain text ``Too many API requests.`` (``quotation_429_body="json"``:
  ``{"error": {"name": 429, "message": "Too Many Requests"}}``); an exchange 429 names
  ``"too_many_requests"``; a 418 body names 418 (exchange: ``"blocked"``) and says how long the
  block lasts; both carry ``Retry-After`` (whole seconds) and ``Remaining-Req`` with ``sec=0``.
- Faulted calls (``take_rest_fault``) answer that status with the same bodies (5xx: name = the
  status, message = its reason) and consume no rate-limit budget.
- Exchange calls are limited per access key once the token verifies, otherwise per IP; an
  authentication failure still answers ``Remaining-Req``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import Literal, Protocol

from aiohttp import web
from multidict import MultiDict, MultiMapping

from upbit_tui.exchange.auth import AuthError, KeyStore
from upbit_tui.exchange.limits import RateLimits
from upbit_tui.exchange.market import MarketModel
from upbit_tui.exchange.order_rules import OrderRejected
from upbit_tui.exchange.rest_answers import (
    CONTENT_TYPE,
    Answer,
    RequestError,
    dumps,
    error_answer,
    exchange_error,
)
from upbit_tui.exchange.rest_exchange import ExchangeApi
from upbit_tui.exchange.rest_quotation import QuotationApi

__all__ = ["QUOTATION_429_TEXT", "RestSimulator", "add_rest_routes", "json_errors"]

log = logging.getLogger(__name__)
_Query = MultiMapping[str]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Quotation429Body = Literal["text", "json"]
# pyupbit (errors.py, tested against the real server): a quotation 429 is plain text.
QUOTATION_429_TEXT = "Too many API requests."

_QUOTATION_HEADERS = {
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
    "Limit-By-Ip": "Yes",
    "Vary": "origin,access-control-request-method,access-control-request-headers,accept-encoding",
}
_EXCHANGE_HEADERS = {
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
}


class RestSimulator(Protocol):
    """What the REST routes need from the simulator object."""

    @property
    def model(self) -> MarketModel: ...

    @property
    def limits(self) -> RateLimits: ...

    @property
    def keys(self) -> KeyStore: ...


class _RestPlumbing:
    """Rate limits, faults, authentication and headers around the endpoint handlers."""

    def __init__(self, sim: RestSimulator) -> None:
        self._sim = sim

    @property
    def model(self) -> MarketModel:
        return self._sim.model

    @property
    def _text_429(self) -> bool:
        return getattr(self._sim, "quotation_429_body", "text") == "text"

    def _fault(self) -> int | None:
        faults = getattr(self._sim, "faults", None)
        take = getattr(faults, "take_rest_fault", None)
        return take() if callable(take) else None

    def quotation(self, group: str, serve: Callable[[web.Request], Answer]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            limits = self._sim.limits
            fault = self._fault()
            if fault is not None:
                remaining = limits.group(group)
                header = f"group={remaining.name}; min={remaining.min_value}; sec=0"
                return _refusal(fault, header, 1.0, exchange=False, text_429=self._text_429)
            decision = limits.rest(
                group, request.remote or "unknown", origin="Origin" in request.headers
            )
            if not decision.allowed:
                return _refusal(
                    decision.status,
                    decision.remaining_req,
                    decision.retry_after,
                    exchange=False,
                    text_429=self._text_429,
                )
            await self._build_named_markets(request)
            try:
                answer = serve(request)
            except RequestError as error:
                answer = Answer(
                    {"error": {"name": error.name, "message": error.message}}, error.status
                )
            return _quotation_response(request, answer, decision.remaining_req)

        return handler

    def exchange(self, group: str, serve: Callable[[_Query, str], Answer]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            limits = self._sim.limits
            fault = self._fault()
            if fault is not None:
                remaining = limits.group(group)
                header = f"group={remaining.name}; min={remaining.min_value}; sec=0"
                return _refusal(fault, header, 1.0, exchange=True)
            params: _Query
            body_error: RequestError | None = None
            if request.method == "POST":
                try:
                    params, signed = _json_body_params(await request.read())
                except RequestError as error:
                    params, signed, body_error = MultiDict(), "", error
            else:
                params, signed = request.query, request.rel_url.raw_query_string
            auth = self._sim.keys.verify(request.headers.get("Authorization"), query=signed)
            who = auth.access_key if not isinstance(auth, AuthError) else request.remote
            decision = limits.rest(group, who or "unknown")
            if not decision.allowed:
                return _refusal(
                    decision.status, decision.remaining_req, decision.retry_after, exchange=True
                )
            if body_error is not None:
                answer = error_answer(body_error.status, body_error.name, body_error.message)
            elif isinstance(auth, AuthError):
                answer = Answer(auth.body(), auth.status)
            else:
                try:
                    answer = serve(params, auth.access_key)
                except (RequestError, OrderRejected) as error:
                    answer = error_answer(error.status, error.name, error.message)
            return _exchange_response(answer, decision.remaining_req)

        return handler

    async def _build_named_markets(self, request: web.Request) -> None:
        """Right after start-up some markets' seeded past may not exist yet (market.py builds
        it on first use): build the ones this request reads with the server's yielding
        build_markets, so a request for many markets does not stall every connection."""
        build = getattr(self._sim, "build_markets", None)
        if build is None or not self.model.unbuilt_markets():
            return
        if request.path.rstrip("/").endswith("/ticker/all"):
            codes = self.model.market_codes()
        else:
            named = ",".join(
                request.query.getall("markets", []) + request.query.getall("market", [])
            )
            codes = [code.strip() for code in named.split(",") if code.strip()]
        await build(codes)


def _json_body_params(raw: bytes) -> tuple[MultiDict[str], str]:
    """A POST body's parameters and the ``k=v&...`` text its ``query_hash`` covers.

    Values keep the text they were sent with (``"0.01"`` or ``0.01`` both render ``0.01``);
    a list renders as ``k[]=a&k[]=b``.
    """
    if not raw.strip():
        return MultiDict(), ""
    try:
        body = json.loads(raw, parse_float=str, parse_int=str)
    except (ValueError, UnicodeDecodeError):
        raise exchange_error(400, "validation_error", "잘못된 API 요청입니다.") from None
    if not isinstance(body, dict):
        raise exchange_error(400, "validation_error", "잘못된 API 요청입니다.")
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        values = value if isinstance(value, list) else [value]
        name = f"{key}[]" if isinstance(value, list) and not key.endswith("[]") else key
        for item in values:
            if item is None:
                continue
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((name, text))
    return MultiDict(pairs), "&".join(f"{k}={v}" for k, v in pairs)


def _etag(body: bytes) -> str:
    return f'W/"0{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def _quotation_response(request: web.Request, answer: Answer, remaining_req: str) -> web.Response:
    body = dumps(answer.body)
    headers = {"Content-Type": CONTENT_TYPE, **_QUOTATION_HEADERS, "Remaining-Req": remaining_req}
    if answer.status == 200:
        etag = _etag(body)
        headers["ETag"] = etag
        if request.headers.get("If-None-Match") == etag:
            del headers["Content-Type"]
            return web.Response(status=304, headers=headers)
    response = web.Response(body=body, status=answer.status, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        response.enable_compression(web.ContentCoding.gzip)  # Upbit serves gzip, not deflate
    return response


def _exchange_response(answer: Answer, remaining_req: str) -> web.Response:
    headers = {"Content-Type": CONTENT_TYPE, **_EXCHANGE_HEADERS, "Remaining-Req": remaining_req}
    return web.Response(body=dumps(answer.body), status=answer.status, headers=headers)


def _refusal(
    status: int,
    remaining_req: str,
    retry_after: float,
    *,
    exchange: bool,
    text_429: bool = False,
) -> web.Response:
    """429 / 418 / 5xx with Upbit-style bodies (SIMULATOR.md: which are unconfirmed)."""
    wait = max(1, math.ceil(retry_after))
    headers = {
        "Content-Type": CONTENT_TYPE,
        **(_EXCHANGE_HEADERS if exchange else _QUOTATION_HEADERS),
        "Remaining-Req": remaining_req,
    }
    if status in (429, 418):
        headers["Retry-After"] = str(wait)
    if status == 429 and text_429:
        headers["Content-Type"] = "text/plain;charset=UTF-8"
        return web.Response(body=QUOTATION_429_TEXT.encode(), status=429, headers=headers)
    if status == 429:
        name: int | str = "too_many_requests" if exchange else 429
        message = "Too Many Requests"
    elif status == 418:
        name = "blocked" if exchange else 418
        message = f"I'm a teapot: too many requests after 429, blocked for {wait} seconds"
    else:
        name = status
        message = _reason(status)
    return web.Response(
        body=dumps({"error": {"name": name, "message": message}}), status=status, headers=headers
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown paths, wrong methods and simulator bugs answer a JSON error body, as Upbit's
    API does, never aiohttp's plain-text pages (SIMULATOR.md: the bodies are a choice)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        body = dumps({"error": {"name": exc.status, "message": _reason(exc.status)}})
        headers = {"Content-Type": CONTENT_TYPE}
        if exc.status == 405 and "Allow" in exc.headers:
            headers["Allow"] = exc.headers["Allow"]
        return web.Response(body=body, status=exc.status, headers=headers)
    except Exception:
        log.exception("REST request %s %s failed", request.method, request.path)
        body = dumps({"error": {"name": 500, "message": _reason(500)}})
        return web.Response(body=body, status=500, headers={"Content-Type": CONTENT_TYPE})


def add_rest_routes(app: web.Application, sim: RestSimulator) -> None:
    """Register Upbit's REST endpoints under /v1/ on ``app`` (see the module docstring).

    The JSON-error middleware is added by the server when it builds the app
    (``web.Application(middlewares=[json_errors])``): middlewares cannot change afterwards.
    """
    plumbing = _RestPlumbing(sim)
    quote = QuotationApi(sim.model)
    trade = ExchangeApi(sim.model, int(getattr(sim, "seed", 0)))
    quotation: Iterable[tuple[str, str, Callable[[web.Request], Answer]]] = (
        ("/v1/market/all", "market", quote.market_all),
        ("/v1/ticker", "ticker", quote.ticker),
        ("/v1/ticker/all", "ticker", quote.ticker_all),
        ("/v1/orderbook", "orderbook", quote.orderbook),
        ("/v1/orderbook/instruments", "orderbook", quote.orderbook_instruments),
        ("/v1/candles/seconds", "candles", quote.candles_seconds),
        ("/v1/candles/minutes/{unit}", "candles", quote.candles_minutes),
        ("/v1/candles/days", "candles", quote.candles_days),
        ("/v1/candles/weeks", "candles", quote.candles_of_period("weeks")),
        ("/v1/candles/months", "candles", quote.candles_of_period("months")),
        ("/v1/candles/years", "candles", quote.candles_of_period("years")),
        ("/v1/trades/ticks", "crix-trades", quote.trades_ticks),
    )
    for path, group, serve in quotation:
        app.router.add_get(path, plumbing.quotation(group, serve))
    exchange: Iterable[tuple[str, str, str, Callable[[_Query, str], Answer]]] = (
        ("GET", "/v1/accounts", "default", trade.accounts),
        ("GET", "/v1/order", "default", trade.order),
        ("DELETE", "/v1/order", "default", trade.cancel_order),
        ("GET", "/v1/orders/open", "default", trade.orders_open),
        ("DELETE", "/v1/orders/open", "order-cancel-all", trade.cancel_open),
        ("GET", "/v1/orders/closed", "default", trade.orders_closed),
        ("GET", "/v1/orders/uuids", "default", trade.orders_by_ids),
        ("DELETE", "/v1/orders/uuids", "default", trade.cancel_by_ids),
        ("GET", "/v1/orders/chance", "default", trade.chance),
        ("POST", "/v1/orders", "order", trade.place_order),
        ("POST", "/v1/orders/test", "order-test", trade.test_order),
        ("POST", "/v1/orders/cancel_and_new", "order", trade.cancel_and_new),
        ("GET", "/v1/status/wallet", "default", trade.wallet_status),
        ("GET", "/v1/api_keys", "default", trade.api_keys),
        ("GET", "/v1/deposits", "default", trade.deposits),
        ("GET", "/v1/deposit", "default", trade.deposit),
        ("GET", "/v1/deposits/coin_addresses", "default", trade.deposit_addresses),
        ("GET", "/v1/deposits/coin_address", "default", trade.deposit_address),
        ("GET", "/v1/deposits/chance/coin", "default", trade.deposit_chance),
    )
    for method, path, group, handle in exchange:
        app.router.add_route(method, path, plumbing.exchange(group, handle))
