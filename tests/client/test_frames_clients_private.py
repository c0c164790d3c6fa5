"""FrameDispatch, ClientRegistry and PrivateChannel alone, fed Upbit's documented messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from client_harness import Spawner

from upbit_tui.client.clients import ClientRegistry
from upbit_tui.client.frames import FrameDispatch
from upbit_tui.client.private_channel import PrivateChannel
from upbit_tui.config import AuthConfig, HealthConfig, RoutingConfig
from upbit_tui.net.auth import NO_KEYS_REASON
from upbit_tui.net.metrics import MetricsCollector
from upbit_tui.net.rest import UpbitRestClient
from upbit_tui.net.routing import Router
from upbit_tui.wire.codec import SubscriptionList
from upbit_tui.wire.events import DataType, MarketEvent, TradeEvent
from upbit_tui.wire.subscriptions import SubscriptionDiff, SubscriptionStateManager

DOCS = Path(__file__).resolve().parent.parent / "fixtures" / "upbit_docs" / "ws"


def doc_frames(name: str) -> list[bytes]:
    """The messages of one documented example (a file holds one message or a list)."""
    data = json.loads((DOCS / name).read_text("utf-8"))
    return [json.dumps(m).encode() for m in (data if isinstance(data, list) else [data])]


class Seen:
    def __init__(self) -> None:
        self.published: list[MarketEvent] = []
        self.trades: list[TradeEvent] = []
        self.listings: list[tuple[str, SubscriptionList, int]] = []
        self.errors: list[tuple[str, str, str]] = []
        self.metrics = MetricsCollector(HealthConfig())

    def dispatch(self, wanted: set[str] | None = None) -> FrameDispatch:
        return FrameDispatch(
            self.published.append,
            self.trades.append,
            self.metrics,
            lambda *a: self.listings.append(a),
            lambda *a: self.errors.append(a),
            {"KRW-BTC"} if wanted is None else wanted,
        )


def test_trades_go_through_continuity_and_the_rest_to_the_router() -> None:
    seen = Seen()
    dispatch = seen.dispatch()
    assert dispatch.public(doc_frames("trade.default.json")[0], 1, 0.0)
    assert dispatch.public(doc_frames("ticker.default.json")[0], 1, 0.0)
    assert [t.symbol for t in seen.trades] == ["KRW-BTC"]
    assert [type(e).__name__ for e in seen.published] == ["TickerEvent"]
    assert dispatch.unsolicited == 0


def test_events_for_codes_nobody_subscribed_are_dropped_and_counted() -> None:
    seen = Seen()
    wanted: set[str] = set()
    dispatch = seen.dispatch(wanted)
    frames = [*doc_frames("trade.default.json"), *doc_frames("ticker.default.json")]
    for frame in frames:
        assert dispatch.public(frame, 1, 0.0)  # data: the stream is alive
    assert (seen.trades, seen.published, dispatch.unsolicited) == ([], [], len(frames))
    wanted.add("KRW-BTC")  # the union changed in place: now they are wanted
    for frame in frames:
        dispatch.public(frame, 1, 0.0)
    assert seen.trades and seen.published
    delivered = len(seen.trades) + len(seen.published)
    assert delivered + dispatch.unsolicited == 2 * len(frames)


def test_control_frames_reach_the_manager_and_errors_are_counted() -> None:
    seen = Seen()
    dispatch = seen.dispatch()
    listing = doc_frames("list_subscriptions.json")[0]
    assert not dispatch.public(listing, 3, 0.0)
    assert seen.listings[0][0] == "public" and seen.listings[0][2] == 3
    auth_error = doc_frames("errors.json")[1]
    assert not dispatch.private(auth_error, 1, 0.0)
    assert seen.errors[0][:2] == ("private", "INVALID_AUTH")
    assert dispatch.last_error_frame["private"].startswith("INVALID_AUTH")
    assert not dispatch.public(b"{not json", 1, 0.0)
    assert seen.metrics.snapshot().malformed_message_count == 2


class Owner:
    """Something a proxy-like record can point at weakly."""


async def test_a_second_live_client_with_the_same_id_is_refused() -> None:
    router = Router()
    applied: list[SubscriptionDiff] = []
    registry = ClientRegistry(
        lambda: router, RoutingConfig(), SubscriptionStateManager(), applied.append
    )
    owner = Owner()
    token = registry.register("pane", owner)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already used"):
        registry.register("pane", owner)  # type: ignore[arg-type]
    registry.add(registry.records["pane"], DataType.TRADE, ["KRW-BTC", "KRW-ETH"], print)
    assert registry.subscriptions("pane") == {"trade": ["KRW-BTC", "KRW-ETH"]}
    registry.unsubscribe("pane", DataType.TRADE, ["KRW-ETH"])
    assert registry.subscriptions("pane") == {"trade": ["KRW-BTC"]}
    registry.remove("pane", token + 1)  # a stale finalizer's token: nothing happens
    assert "pane" in registry.records
    registry.remove("pane", token)
    assert registry.records == {} and registry.subscriptions("pane") == {}
    assert [d.is_empty for d in applied] == [False, False, False]
    await router.aclose()


async def test_without_keys_private_data_is_unavailable_and_says_why() -> None:
    async with UpbitRestClient("http://127.0.0.1:1") as rest:
        published: list[Any] = []
        channel = PrivateChannel(
            AuthConfig(),
            lambda: rest,
            published.append,
            Spawner(),
            subscribed=lambda t: False,
            poll_interval=1.0,
        )
        assert channel.unavailable_reason == NO_KEYS_REASON
        assert channel.report() == {
            "available": False,
            "reason": NO_KEYS_REASON,
            "mode": "websocket",
            "degraded_reason": None,
        }
        channel.set_credentials("access", "secret")
        assert channel.unavailable_reason is None
        assert channel.auth_headers()["Authorization"].startswith("Bearer ")
