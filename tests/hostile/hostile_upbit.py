"""A small hostile Upbit of the tests' own (HostileUpbit): it says exactly what a test tells it to.

The simulator plays a well-behaved exchange; this one speaks just enough of Upbit's protocol to
be connected to (the public WebSocket, /v1/market/all, /v1/trades/ticks) and then sends whatever
a test scripts: trades with odd or out-of-order `sequential_id`s, codes nobody subscribed, error
frames. Real sockets on 127.0.0.1, port 0.

    async with HostileUpbit(markets=["KRW-BTC"]) as upbit:
        config = upbit.config()
        await upbit.wait_for_request()            # the client subscribed
        await upbit.send_trade("KRW-BTC", sid=12)
        upbit.rest_trades["KRW-BTC"].append(...)  # what /v1/trades/ticks answers (oldest first)
        await upbit.drop()                        # close the socket: the client reconnects
        upbit.refuse_handshakes = 401             # refuse the next handshakes with this status
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any

from aiohttp import WSMsgType, web

from upbit_tui.config import Config, ConnectionConfig, ExchangeConfig

BASE_MS = 1_787_700_000_000


def trade_message(code: str, sid: int, at: int, **extra: Any) -> dict[str, Any]:
    """An Upbit trade message (the docs' shape) with the given id, traded at `at` (ms)."""
    return {
        "type": "trade",
        "code": code,
        "timestamp": at,
        "trade_date": "2026-08-26",
        "trade_time": "07:15:54",
        "trade_timestamp": at,
        "trade_price": 100.0,
        "trade_volume": 1.0,
        "ask_bid": "BID",
        "prev_closing_price": 100.0,
        "change": "EVEN",
        "change_price": 0.0,
        "sequential_id": sid,
        "stream_type": "REALTIME",
        **extra,
    }


def rest_trade(message: dict[str, Any]) -> dict[str, Any]:
    """The same trade as /v1/trades/ticks answers it."""
    return {
        "market": message["code"],
        "trade_date_utc": message["trade_date"],
        "trade_time_utc": message["trade_time"],
        "timestamp": message["trade_timestamp"],
        "trade_price": message["trade_price"],
        "trade_volume": message["trade_volume"],
        "prev_closing_price": message["prev_closing_price"],
        "change_price": message["change_price"],
        "ask_bid": message["ask_bid"],
        "sequential_id": message["sequential_id"],
    }


class HostileUpbit:
    """See the module docstring."""

    def __init__(self, markets: list[str]) -> None:
        self.markets = markets
        self.rest_trades: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.requests: list[Any] = []
        self._request_seen = asyncio.Condition()
        self.refuse_handshakes: int | None = None  # an HTTP status to refuse handshakes with
        self.handshakes_refused = 0
        self._ws: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.clock = 0  # the last trade's time (ms): now, and never the same twice

    def next_time(self) -> int:
        self.clock = max(self.clock + 1, int(time.time() * 1000))
        return self.clock

    async def __aenter__(self) -> HostileUpbit:
        app = web.Application()
        app.router.add_get("/websocket/v1", self._websocket)
        app.router.add_get("/v1/market/all", self._markets)
        app.router.add_get("/v1/trades/ticks", self._trades)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def config(self, **connection: Any) -> Config:
        base = f"127.0.0.1:{self.port}"
        timings: dict[str, Any] = {
            "reconnect_initial_delay": 0.01,
            "reconnect_max_delay": 0.1,
            "batch_window": 0.01,
            "unsubscribe_grace": 0.0,
            **connection,
        }
        return Config(
            exchange=ExchangeConfig(
                websocket_url=f"ws://{base}/websocket/v1",
                private_websocket_url=f"ws://{base}/websocket/v1/private",
                rest_url=f"http://{base}",
            ),
            connection=ConnectionConfig(**timings),
        )

    # ------------------------------------------------------------------ what a test does

    async def wait_for_request(self, count: int = 1, within: float = 5.0) -> Any:
        """Wait until `count` subscription requests arrived in all; return the last."""
        async with asyncio.timeout(within), self._request_seen:
            await self._request_seen.wait_for(lambda: len(self.requests) >= count)
        return self.requests[-1]

    async def wait_for_refusals(self, count: int, within: float = 5.0) -> None:
        """Wait until `count` handshakes were refused (the client handled all but the last)."""
        async with asyncio.timeout(within), self._request_seen:
            await self._request_seen.wait_for(lambda: self.handshakes_refused >= count)

    async def send(self, message: dict[str, Any] | list[Any]) -> None:
        assert self._ws is not None, "no client connected"
        await self._ws.send_bytes(json.dumps(message).encode())

    async def send_trade(self, code: str, sid: int) -> dict[str, Any]:
        """A live trade now (the next millisecond), with whatever id the test gives."""
        message = trade_message(code, sid, self.next_time())
        self.rest_trades[code].append(rest_trade(message))  # REST knows every trade
        await self.send(message)
        return message

    def trade_while_away(self, code: str, sid: int) -> dict[str, Any]:
        """A trade only REST will tell of (the client was disconnected)."""
        message = trade_message(code, sid, self.next_time())
        self.rest_trades[code].append(rest_trade(message))
        return message

    async def drop(self) -> None:
        """Close the client's socket (it reconnects and subscribes again)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    # ------------------------------------------------------------------ handlers

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_handshakes is not None:
            async with self._request_seen:
                self.handshakes_refused += 1
                self._request_seen.notify_all()
            return web.Response(status=self.refuse_handshakes)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            parsed = json.loads(message.data)
            if any("method" in item for item in parsed if isinstance(item, dict)):
                continue  # LIST_SUBSCRIPTIONS: left unanswered
            self._ws = ws
            async with self._request_seen:
                self.requests.append(parsed)
                self._request_seen.notify_all()
        return ws

    async def _markets(self, request: web.Request) -> web.Response:
        listed = [{"market": m, "korean_name": m, "english_name": m} for m in self.markets]
        return web.json_response(listed)

    async def _trades(self, request: web.Request) -> web.Response:
        market = request.query["market"]
        count = int(request.query.get("count", "100"))
        newest_first = list(reversed(self.rest_trades.get(market, [])))
        cursor = request.query.get("cursor")
        if cursor is not None:
            ids = [t["sequential_id"] for t in newest_first]
            start = ids.index(int(cursor)) + 1 if int(cursor) in ids else len(ids)
            newest_first = newest_first[start:]
        return web.json_response(newest_first[:count])
