"""Who receives what: the subscription index, snapshots, and realtime pushes.

Each market event is rendered once per distinct (format, depth, level) among its subscribers,
then queued to every subscribed connection. Realtime rules:
- ticker, trade and orderbook: one message per trade of the code (the book changes with every
  trade in the model); orderbook also on every order placed or cancelled in the book without a
  trade (the model's BookChange events, several per trade, as on Upbit);
- candle.*: once per `candle_interval` (1 s), only for (code, interval) pairs that traded since
  the previous push (Upbit's "1초 간격, 변경 시에만");
- myOrder / myAsset: on every order or balance change of the connection's access key;
- announcement: on every notice published or edited (announcements.py, `self.announcements`).
Snapshots (unless is_only_realtime): ticker = current ticker; trade = the latest trade; orderbook
= the current book at the requested depth and level; candle = the most recent existing candle
(Upbit's snapshot rule: it may be older than the current bucket). In the list formats the
snapshots of one type object travel in one array; realtime arrays carry one message.
A new request re-sends snapshots for every code it names (a request is a fresh subscription).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from upbit_tui.exchange.announcements import AnnouncementBoard
from upbit_tui.exchange.book import BookChange
from upbit_tui.exchange.market import MarketModel, ModelEvent
from upbit_tui.exchange.records import AssetUpdate, Candle, OrderUpdate, Trade
from upbit_tui.exchange.session import Session
from upbit_tui.exchange.wire import (
    Message,
    candle_message,
    frame,
    is_list,
    is_simple,
    list_subscriptions_message,
    my_asset_message,
    my_order_message,
    orderbook_message,
    ticker_message,
    trade_message,
)
from upbit_tui.exchange.wire import (
    encode_realtime as encode,
)
from upbit_tui.exchange.ws_request import SubscribeRequest, TypeRequest

QuoteKey = tuple[str, str]  # (type, market)
BookView = tuple[int, float]  # (depth, level)


class Fanout:
    """The subscription index of every open connection, and the renderer of market events."""

    def __init__(self, model: MarketModel, seed: int = 1) -> None:
        self.model = model
        self.announcements = AnnouncementBoard(model.now_ms, self.send, seed)
        self._quote: dict[QuoteKey, dict[Session, list[BookView]]] = {}
        self._my_order: dict[str, dict[Session, frozenset[str]]] = {}
        self._my_asset: dict[str, set[Session]] = {}
        self._keys_of: dict[Session, list[QuoteKey]] = {}
        self.frames_enqueued = 0
        self.version = 0  # bumped on every subscription change

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(self, session: Session, request: SubscribeRequest) -> None:
        """Replace the session's whole subscription with `request`, then send its snapshots."""
        self.unsubscribe(session)
        session.subscription = request
        session.format = request.format or "DEFAULT"
        keys: list[QuoteKey] = []
        notices = [t for t in request.types if t.type == "announcement"]
        if notices:  # several announcement objects merge into one subscription
            categories = [t.categories for t in notices]
            self.announcements.subscribe(
                session,
                None if None in categories else frozenset().union(*(c or () for c in categories)),
                any(t.include_body for t in notices),
            )
        for t in request.types:
            if not t.realtime:
                continue
            if t.type == "myOrder" and session.access_key is not None:
                self._my_order.setdefault(session.access_key, {})[session] = frozenset(t.markets)
            elif t.type == "myAsset" and session.access_key is not None:
                self._my_asset.setdefault(session.access_key, set()).add(session)
            elif t.type == "orderbook":
                for market, depth in zip(t.markets, t.depths, strict=True):
                    key = ("orderbook", market)
                    level = t.level or 0.0
                    self._quote.setdefault(key, {}).setdefault(session, []).append((depth, level))
                    keys.append(key)
            elif t.type != "announcement":
                for market in t.markets:
                    key = (t.type, market)
                    self._quote.setdefault(key, {})[session] = []
                    keys.append(key)
        self._keys_of[session] = keys
        self.version += 1
        for t in request.types:
            if t.snapshot:
                self._send_snapshot(session, t)

    def unsubscribe(self, session: Session) -> None:
        """Take the session out of the index (its `subscription` stays, for the stats)."""
        for key in self._keys_of.pop(session, []):
            subscribers = self._quote.get(key)
            if subscribers is not None:
                subscribers.pop(session, None)
                if not subscribers:
                    del self._quote[key]
        self.announcements.unsubscribe(session)
        if session.access_key is not None:
            orders = self._my_order.get(session.access_key)
            if orders is not None:
                orders.pop(session, None)
            assets = self._my_asset.get(session.access_key)
            if assets is not None:
                assets.discard(session)
        self.version += 1

    def list_result(self, session: Session) -> list[tuple[str, list[str] | None, float | None]]:
        """LIST_SUBSCRIPTIONS items: codes as the client sent them, level for orderbook."""
        if session.subscription is None:
            return []
        return [
            (
                t.type,
                list(t.codes) if t.codes is not None else None,
                t.level if t.type == "orderbook" else None,
            )
            for t in session.subscription.types
        ]

    def send_list(self, session: Session, ticket: str) -> None:
        simple = is_simple(session.format)
        message = list_subscriptions_message(self.list_result(session), ticket, simple)
        self._send(session, frame([message], session.format))

    def subscribed_markets(self) -> list[str]:
        """Markets with at least one realtime ticker/trade/orderbook/candle subscriber."""
        return sorted({market for (_, market) in self._quote})

    # -- sending -------------------------------------------------------------------------------

    def send(self, session: Session, data: bytes) -> None:
        """Queue one frame to one connection (counted like every other frame)."""
        self._send(session, data)

    def _send(self, session: Session, data: bytes) -> None:
        self.frames_enqueued += 1
        session.enqueue(data)

    def _send_snapshot(self, session: Session, t: TypeRequest) -> None:
        model = self.model
        fmt = session.format
        simple = is_simple(fmt)
        now = model.now_ms()
        messages: list[Message] = []
        if t.type == "ticker":
            messages = [ticker_message(model.ticker(m), "SNAPSHOT", simple) for m in t.markets]
        elif t.type == "trade":
            for market in t.markets:
                latest = model.trades(market, 1)
                if latest:
                    messages.append(trade_message(latest[0], "SNAPSHOT", simple, now))
        elif t.type == "orderbook":
            for market, depth in zip(t.markets, t.depths, strict=True):
                book = model.orderbook(market, depth, t.level or 0.0)
                if book is not None:
                    messages.append(orderbook_message(book, "SNAPSHOT", simple))
        elif t.type.startswith("candle."):
            interval = t.type.removeprefix("candle.")
            for market in t.markets:
                latest_candle = model.latest_candle(market, interval)
                messages.append(candle_message(latest_candle, "SNAPSHOT", simple, now))
        if not messages:
            return
        if is_list(fmt):
            self._send(session, frame(messages, fmt))
        else:
            for message in messages:
                self._send(session, frame([message], fmt))

    def on_event(self, event: ModelEvent) -> None:
        """Model listener: push one trade (ticker/trade/orderbook) or a private update."""
        if isinstance(event, Trade):
            self._on_trade(event)
        elif isinstance(event, BookChange):
            self._push_book(event.market)
        elif isinstance(event, OrderUpdate):
            subscribers = self._my_order.get(event.access_key)
            if subscribers:
                cache: dict[str, bytes] = {}
                for session, markets in list(subscribers.items()):
                    if markets and event.code not in markets:
                        continue
                    data = cache.get(session.format)
                    if data is None:
                        message = my_order_message(event, is_simple(session.format))
                        data = cache[session.format] = frame([message], session.format)
                    self._send(session, data)
        elif isinstance(event, AssetUpdate):
            asset_subscribers = self._my_asset.get(event.access_key)
            if asset_subscribers:
                cache = {}
                for session in list(asset_subscribers):
                    data = cache.get(session.format)
                    if data is None:
                        message = my_asset_message(event, is_simple(session.format))
                        data = cache[session.format] = frame([message], session.format)
                    self._send(session, data)

    def _on_trade(self, trade: Trade) -> None:
        code = trade.market
        model = self.model
        quote = self._quote
        subscribers = quote.get(("trade", code))
        if subscribers:
            now = model.now_ms()
            cache: dict[str, bytes] = {}
            for session in list(subscribers):
                fmt = session.format
                data = cache.get(fmt)
                if data is None:
                    data = cache[fmt] = encode(
                        trade_message(trade, "REALTIME", is_simple(fmt), now), is_list(fmt)
                    )
                self.frames_enqueued += 1
                session.enqueue(data)
        subscribers = quote.get(("ticker", code))
        if subscribers:
            ticker = model.ticker(code)
            cache = {}
            for session in list(subscribers):
                fmt = session.format
                data = cache.get(fmt)
                if data is None:
                    data = cache[fmt] = encode(
                        ticker_message(ticker, "REALTIME", is_simple(fmt)), is_list(fmt)
                    )
                self.frames_enqueued += 1
                session.enqueue(data)
        self._push_book(code)

    def _push_book(self, code: str) -> None:
        """The market's current book to its orderbook subscribers, at each one's view."""
        model = self.model
        book_subscribers = self._quote.get(("orderbook", code))
        if book_subscribers:
            books: dict[BookView, Any] = {}
            frames: dict[tuple[int, float, str], bytes] = {}
            for session, views in list(book_subscribers.items()):
                for depth, level in views:
                    key = (depth, level, session.format)
                    data = frames.get(key)
                    if data is None:
                        if (depth, level) not in books:
                            books[(depth, level)] = model.orderbook(code, depth, level)
                        book = books[(depth, level)]
                        if book is None:
                            continue  # unsupported level: no data, as on Upbit
                        message = orderbook_message(book, "REALTIME", is_simple(session.format))
                        data = frames[key] = encode(message, is_list(session.format))
                    self.frames_enqueued += 1
                    session.enqueue(data)

    def push_candles(self, candles: Iterable[Candle]) -> None:
        """The once-a-second candle push: every changed candle to its subscribers."""
        now = self.model.now_ms()
        for candle in candles:
            subscribers = self._quote.get(("candle." + candle.interval, candle.market))
            if not subscribers:
                continue
            cache: dict[str, bytes] = {}
            for session in list(subscribers):
                data = cache.get(session.format)
                if data is None:
                    message = candle_message(candle, "REALTIME", is_simple(session.format), now)
                    data = cache[session.format] = frame([message], session.format)
                self._send(session, data)

    def broadcast_raw(self, sessions: Iterable[Session], data: bytes) -> int:
        count = 0
        for session in sessions:
            self._send(session, data)
            count += 1
        return count
