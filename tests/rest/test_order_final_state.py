"""The client against the simulator's GET /v1/order and its 429 bodies: an order that leaves
the open list gets its real final state (done / cancel, with its fills), and a 429 is read
whether Upbit answers it as plain text or as JSON."""

from __future__ import annotations

from typing import Any

import pytest

from upbit_tui.client.private import RestFallbackPoller
from upbit_tui.exchange import ExchangeServer
from upbit_tui.net.ratelimit import GlobalRateLimiter
from upbit_tui.net.rest import UpbitRateLimitedError, UpbitRestClient
from upbit_tui.wire.events import OrderEvent


async def _place(client: UpbitRestClient, body: dict[str, str]) -> str:
    placed: dict[str, Any] = await client.request(
        "POST", "/orders", group="order", auth=True, json_body=body
    )
    assert placed["state"] == "wait" and placed["trades_count"] == 0  # as Upbit answers
    return str(placed["uuid"])


def _resting_bid(sim: ExchangeServer) -> dict[str, str]:
    price = sim.model.ticker("KRW-BTC").trade_price // 2 // 1000 * 1000
    return {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": str(int(price)),
            "volume": "0.001"}  # fmt: skip


def _orders(events: list[Any]) -> list[OrderEvent]:
    return [e for e in events if isinstance(e, OrderEvent)]


async def test_a_cancelled_order_ends_cancel_not_closed(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    poller = RestFallbackPoller(client, lambda e: None, balances=False)
    uuid = await _place(client, _resting_bid(sim))
    assert [o.state for o in _orders(await poller.poll_once())] == ["wait"]
    await client.request("DELETE", "/order", {"uuid": uuid}, group="default", auth=True)
    (gone,) = _orders(await poller.poll_once())
    assert (gone.uuid, gone.state, gone.executed_volume) == (uuid, "cancel", 0.0)
    assert gone.locked is not None and gone.locked > 0  # what the cancel returned, as Upbit shows


async def test_a_filled_order_ends_done_with_its_average_price(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    poller = RestFallbackPoller(client, lambda e: None, balances=False)
    book = sim.model.orderbook("KRW-BTC", depth=1)
    assert book is not None
    price = book.orderbook_units[0].bid_price  # rests at the best bid until trades reach it
    body = {**_resting_bid(sim), "price": str(int(price))}
    uuid = await _place(client, body)
    await poller.poll_once()
    for _ in range(20_000):
        if sim.model.get_order("test-access", uuid).state != "wait":
            break
        sim.generate_trades(1, "KRW-BTC")
    (done,) = _orders(await poller.poll_once())
    assert (done.uuid, done.state, done.executed_volume) == (uuid, "done", 0.001)
    assert done.avg_price == pytest.approx(price)  # from the fills: GET /v1/order has no funds


async def test_get_order_of_a_market_buy_reports_cancel_and_its_fill(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    uuid = await _place(
        client, {"market": "KRW-ETH", "side": "bid", "ord_type": "price", "price": "10000"}
    )
    order = await client.get_order(uuid)
    assert order.state == "cancel" and order.volume is None
    assert order.executed_volume and order.avg_price
    assert order.executed_volume * order.avg_price == pytest.approx(10_000 / 1.0005, rel=1e-3)


@pytest.mark.parametrize(
    ("body", "message"),
    [("text", "Too many API requests."), ("json", "Too Many Requests")],
)
async def test_quotation_429_is_read_as_text_or_json(body: Any, message: str) -> None:
    async with (
        ExchangeServer(seed=1, markets=5, rate=0.0, quotation_429_body=body) as sim,
        UpbitRestClient(sim.rest_url, GlobalRateLimiter(), max_retries=0) as client,
    ):
        sim.faults.fail_rest(1, status=429)
        with pytest.raises(UpbitRateLimitedError) as info:
            await client.get_tickers("KRW-BTC")
    assert info.value.status == 429 and info.value.message == message
