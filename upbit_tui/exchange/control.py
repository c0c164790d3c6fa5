"""The `/_sim/` control API: stats and faults over loopback HTTP (the list is in server.py).

It has no authentication (it is a test tool), so it answers only requests that cannot come from
a web page through DNS rebinding: `Host` must be a loopback name or address (or the host the
server was told to bind), and `Origin`, when a browser sends one, must be a loopback origin.
Anything else gets 403.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from upbit_tui.exchange.announcements import AnnouncementBoard, Notice, UnknownNotice
from upbit_tui.exchange.faults import Endpoint, Faults
from upbit_tui.exchange.limits import RateLimits
from upbit_tui.exchange.market import MarketModel, OrderRejected, UnknownMarket
from upbit_tui.exchange.records import Trade

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlTarget(Protocol):
    """What the control API drives: the ExchangeServer (a protocol, so that the server can
    import this module without this module importing the server)."""

    api_keys: dict[str, str]
    host: str
    faults: Faults
    limits: RateLimits
    rate: float
    firehose: float

    @property
    def model(self) -> MarketModel: ...

    def stats(self) -> dict[str, Any]: ...

    def generate_trades(self, count: int = 1, market: str | None = None) -> list[Trade]: ...

    def set_rate(self, trades_per_second: float) -> None: ...

    def set_firehose(self, messages_per_second: float) -> None: ...

    def advance_clock(self, seconds: float) -> int: ...

    @property
    def announcements(self) -> AnnouncementBoard: ...

    def post_announcement(
        self, category: str | None = None, title: str | None = None, body: str = ""
    ) -> Notice: ...

    def update_announcement(
        self,
        notice_uuid: str,
        *,
        category: str | None = None,
        title: str | None = None,
        body: str | None = None,
    ) -> Notice: ...


class BadParameter(ValueError):
    """A /_sim/ query parameter that cannot be used."""


def _number(request: web.Request, name: str, default: float | None = None) -> float:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise BadParameter(f"missing parameter {name!r}")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadParameter(f"{name}={raw!r} is not a number") from None
    if math.isnan(value) or value < 0:
        raise BadParameter(f"{name}={raw!r} must be >= 0")
    return value


def _integer(request: web.Request, name: str, default: int | None = None) -> int:
    value = _number(request, name, None if default is None else float(default))
    if math.isinf(value) or value != int(value):
        raise BadParameter(f"{name} must be a whole number")
    return int(value)


def _endpoint(request: web.Request) -> Endpoint | None:
    raw = request.query.get("endpoint")
    if raw in (None, ""):
        return None
    if raw == "public":
        return "public"
    if raw == "private":
        return "private"
    if raw == "info":
        return "info"
    raise BadParameter(f"endpoint={raw!r}: expected public, private or info")


def _optional_number(request: web.Request, name: str) -> float | None:
    if request.query.get(name) in (None, ""):
        return None
    value = _number(request, name)
    if math.isinf(value):
        raise BadParameter(f"{name} must be finite")
    return value


async def _text_fields(request: web.Request, names: tuple[str, ...]) -> dict[str, str]:
    """`names` from the query string, or from a JSON object body (long Markdown bodies)."""
    fields = {name: request.query[name] for name in names if name in request.query}
    if request.can_read_body and request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            raise BadParameter("the body is not JSON") from None
        if not isinstance(data, dict):
            raise BadParameter("the body must be a JSON object")
        for name in names:
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise BadParameter(f"{name} must be a string")
            if value is not None:
                fields[name] = value
    return fields


def is_loopback_host(host: str) -> bool:
    """`localhost` (or a name under it) or a loopback address; brackets of IPv6 tolerated."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(authority: str) -> str:
    """The host part of a Host header (`127.0.0.1:8765`, `[::1]:80`, `localhost`)."""
    try:
        return urlsplit(f"//{authority}").hostname or ""
    except ValueError:  # "[::1" and other garbage: no host we could trust
        return ""


def control_refusal(request: web.Request, configured_host: str) -> str | None:
    """Why this request may not use the control API (DNS rebinding guard), or None."""
    host = _host_of(request.headers.get("Host", ""))
    configured = configured_host.strip("[]").lower()
    if not (is_loopback_host(host) or (configured and host == configured)):
        return f"Host {host or '(none)'!r} is not a loopback address"
    origin = request.headers.get("Origin")
    if origin is not None:
        try:
            origin_host = urlsplit(origin).hostname or ""
        except ValueError:
            origin_host = ""
        if not (is_loopback_host(origin_host) or (configured and origin_host == configured)):
            return f"Origin {origin!r} is not a loopback origin"
    return None


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"ok": True, **fields})


def add_control_routes(app: web.Application, sim: ControlTarget) -> None:
    """Register every /_sim/ route on `app`."""
    faults = sim.faults

    async def index(request: web.Request) -> web.Response:
        return web.json_response({"routes": ROUTES})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(sim.stats())

    async def drop(request: web.Request) -> web.Response:
        return _ok(connections=faults.drop_all(_endpoint(request)))

    async def close(request: web.Request) -> web.Response:
        code = _integer(request, "code", 1001)
        if not (code == 1000 or 1001 <= code <= 1014 or 3000 <= code <= 4999) or code in (
            1004,
            1005,
            1006,
        ):
            raise BadParameter(f"code={code} is not a close code a server may send")
        reason = request.query.get("reason", "closed by simulator")[:120]
        return _ok(connections=faults.close_all(code, reason, _endpoint(request)))

    async def stall(request: web.Request) -> web.Response:
        seconds = _number(request, "seconds", math.inf)
        return _ok(
            connections=faults.stall(None if math.isinf(seconds) else seconds, _endpoint(request))
        )

    async def resume(request: web.Request) -> web.Response:
        return _ok(connections=faults.resume())

    async def forget(request: web.Request) -> web.Response:
        return _ok(connections=faults.forget_subscriptions(_endpoint(request)))

    async def error(request: web.Request) -> web.Response:
        name = request.query.get("name", "INVALID_PARAM")
        message = request.query.get("message", "simulated error")
        return _ok(connections=faults.send_error(name, message, _endpoint(request)))

    async def malformed(request: web.Request) -> web.Response:
        return _ok(connections=faults.send_malformed(endpoint=_endpoint(request)))

    async def reject_handshakes(request: web.Request) -> web.Response:
        status = _integer(request, "status", 429)
        try:
            faults.reject_handshakes(
                _integer(request, "count"),
                status,
                retry_after=request.query.get("retry_after", "1") not in ("0", "false", "no"),
            )
        except ValueError as exc:
            raise BadParameter(str(exc)) from None
        return _ok(pending=faults.pending())

    async def rest_faults(request: web.Request) -> web.Response:
        status = _integer(request, "status", 500)
        try:
            faults.fail_rest(_integer(request, "count"), status)
        except ValueError as exc:
            raise BadParameter(str(exc)) from None
        return _ok(pending=faults.pending())

    async def clear(request: web.Request) -> web.Response:
        faults.clear()
        return _ok(pending=faults.pending())

    async def trades(request: web.Request) -> web.Response:
        count = _integer(request, "count", 1)
        if count > 100_000:
            raise BadParameter("count must be <= 100000")
        market = request.query.get("market") or None
        try:
            made = sim.generate_trades(count, market)
        except UnknownMarket:
            raise BadParameter(f"market={market!r} is not listed") from None
        return _ok(
            trades=[
                {"market": t.market, "sequential_id": t.sequential_id, "trade_price": t.trade_price}
                for t in made[-100:]
            ],
            generated=len(made),
        )

    async def rate(request: web.Request) -> web.Response:
        value = _number(request, "trades_per_second")
        if math.isinf(value):
            raise BadParameter("trades_per_second must be finite (use /_sim/firehose)")
        sim.set_rate(value)
        return _ok(rate=sim.rate)

    async def firehose(request: web.Request) -> web.Response:
        sim.set_firehose(_number(request, "messages_per_second"))
        return _ok(firehose="inf" if math.isinf(sim.firehose) else sim.firehose)

    def access_key(request: web.Request) -> str:
        key = request.query.get("access_key") or next(iter(sim.api_keys), "")
        if not sim.model.has_account(key):
            raise BadParameter(f"access_key={key!r} has no account")
        return key

    async def place_order(request: web.Request) -> web.Response:
        query = request.query
        try:
            order = sim.model.place_order(
                access_key(request),
                query.get("market", ""),
                query.get("side", ""),
                query.get("ord_type", "limit"),
                _optional_number(request, "price"),
                _optional_number(request, "volume"),
                identifier=query.get("identifier") or None,
            )
        except OrderRejected as rejected:
            error = {"name": rejected.name, "message": rejected.message}
            return web.json_response({"error": error}, status=rejected.status)
        return _ok(order=order.summary())

    async def cancel_order(request: web.Request) -> web.Response:
        try:
            order = sim.model.cancel_order(
                access_key(request),
                request.query.get("uuid") or None,
                request.query.get("identifier") or None,
            )
        except OrderRejected as rejected:
            error = {"name": rejected.name, "message": rejected.message}
            return web.json_response({"error": error}, status=rejected.status)
        return _ok(order=order.summary())

    async def reset_limits(request: web.Request) -> web.Response:
        sim.limits.reset()
        return _ok()

    async def advance_clock(request: web.Request) -> web.Response:
        seconds = _number(request, "seconds")
        if math.isinf(seconds):
            raise BadParameter("seconds must be finite")
        pushed = sim.advance_clock(seconds)
        return _ok(now_ms=sim.model.now_ms(), indicator_messages=pushed)

    async def announcements(request: web.Request) -> web.Response:
        return _ok(notices=[n.summary() for n in sim.announcements.notices()])

    async def post_announcement(request: web.Request) -> web.Response:
        fields = await _text_fields(request, ("category", "title", "body"))
        try:
            notice = sim.post_announcement(
                fields.get("category") or None, fields.get("title"), fields.get("body", "")
            )
        except ValueError as exc:
            raise BadParameter(str(exc)) from None
        return _ok(announcement=notice.summary())

    async def update_announcement(request: web.Request) -> web.Response:
        fields = await _text_fields(request, ("uuid", "category", "title", "body"))
        try:
            notice = sim.update_announcement(
                fields.get("uuid", ""),
                category=fields.get("category") or None,
                title=fields.get("title"),
                body=fields.get("body"),
            )
        except UnknownNotice:
            raise BadParameter(
                f"uuid={fields.get('uuid', '')!r} is not a published notice"
            ) from None
        except ValueError as exc:
            raise BadParameter(str(exc)) from None
        return _ok(announcement=notice.summary())

    def guarded(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            refusal = control_refusal(request, sim.host)
            if refusal is not None:
                return web.json_response({"error": f"forbidden: {refusal}"}, status=403)
            try:
                return await handler(request)
            except BadParameter as exc:
                return web.json_response({"error": str(exc)}, status=400)

        return run

    app.router.add_get("/_sim/", guarded(index))
    app.router.add_get("/_sim/stats", guarded(stats))
    app.router.add_get("/_sim/announcements", guarded(announcements))
    posts: dict[str, Handler] = {
        "/_sim/faults/drop": drop,
        "/_sim/faults/close": close,
        "/_sim/faults/stall": stall,
        "/_sim/faults/resume": resume,
        "/_sim/faults/forget-subscriptions": forget,
        "/_sim/faults/error": error,
        "/_sim/faults/malformed": malformed,
        "/_sim/faults/reject-handshakes": reject_handshakes,
        "/_sim/faults/rest": rest_faults,
        "/_sim/faults/clear": clear,
        "/_sim/trades": trades,
        "/_sim/rate": rate,
        "/_sim/firehose": firehose,
        "/_sim/limits/reset": reset_limits,
        "/_sim/orders": place_order,
        "/_sim/orders/cancel": cancel_order,
        "/_sim/clock/advance": advance_clock,
        "/_sim/announcements": post_announcement,
        "/_sim/announcements/update": update_announcement,
    }
    for path, handler in posts.items():
        app.router.add_post(path, guarded(handler))


ROUTES = [
    "GET  /_sim/stats",
    "POST /_sim/faults/drop [endpoint=public|private|info]",
    "POST /_sim/faults/close [code=1001] [reason=] [endpoint=]",
    "POST /_sim/faults/stall [seconds=] [endpoint=]",
    "POST /_sim/faults/resume",
    "POST /_sim/faults/forget-subscriptions [endpoint=]",
    "POST /_sim/faults/error [name=INVALID_PARAM] [message=] [endpoint=]",
    "POST /_sim/faults/malformed [endpoint=]",
    "POST /_sim/faults/reject-handshakes count=N [status=429|418] [retry_after=1|0]",
    "POST /_sim/faults/rest count=N [status=500]",
    "POST /_sim/faults/clear",
    "POST /_sim/trades [count=1] [market=]",
    "POST /_sim/rate trades_per_second=X",
    "POST /_sim/firehose messages_per_second=X|inf",
    "POST /_sim/limits/reset",
    "POST /_sim/orders market= side=bid|ask [ord_type=limit|price|market] [price=] [volume=]"
    " [identifier=] [access_key=first configured key]",
    "POST /_sim/orders/cancel uuid=|identifier= [access_key=]",
    "POST /_sim/clock/advance seconds=X",
    "GET  /_sim/announcements",
    "POST /_sim/announcements [category=] [title=] [body=] (or a JSON object body)",
    "POST /_sim/announcements/update uuid= [category=] [title=] [body=] (or a JSON object body)",
]
