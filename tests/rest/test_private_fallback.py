"""Balance seeding and the REST fallback poller against the simulator's accounts and orders."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from upbit_tui.client.private import (
    BalanceBook,
    RestFallbackPoller,
    private_unavailable_reason,
    seed_balances,
)
from upbit_tui.config import AuthConfig
from upbit_tui.exchange import ExchangeServer
from upbit_tui.net.auth import NO_KEYS_REASON, Credentials
from upbit_tui.net.rest import UpbitRestClient
from upbit_tui.wire.events import Asset, BalanceEvent, OrderEvent, StreamType

TIMEOUT = 5.0


async def _place_bid(sim: ExchangeServer, client: UpbitRestClient, volume: str = "0.01") -> str:
    """A KRW-BTC limit bid far below the market: it stays open and locks KRW."""
    price = sim.model.ticker("KRW-BTC").trade_price // 2 // 1000 * 1000
    body = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": str(int(price)),
            "volume": volume}  # fmt: skip
    placed: dict[str, Any] = await client.request(
        "POST", "/orders", group="order", auth=True, json_body=body
    )
    return str(placed["uuid"])


async def _cancel(client: UpbitRestClient, uuid: str) -> None:
    await client.request("DELETE", "/order", {"uuid": uuid}, group="default", auth=True)


def _krw(events: list[Any]) -> Asset:
    (event,) = [e for e in events if isinstance(e, BalanceEvent)]
    (krw,) = [a for a in event.assets if a.currency == "KRW"]
    return krw


async def test_seed_balances_match_the_exchange(
    sim: ExchangeServer, client: UpbitRestClient, creds: Credentials
) -> None:
    seeded = await seed_balances(client)
    truth = {b.currency: (b.balance, b.locked) for b in sim.model.accounts(creds.access_key)}
    assert {a.currency: (a.balance, a.locked) for a in seeded.assets} == pytest.approx(truth)
    assert seeded.stream_type == StreamType.REST and seeded.epoch == 0


async def test_poller_diffs_balances_and_orders(
    sim: ExchangeServer, client: UpbitRestClient, creds: Credentials
) -> None:
    emitted: list[Any] = []
    poller = RestFallbackPoller(client, emitted.append, interval=60.0)

    first = await poller.poll_once()
    assert first == emitted
    assert [type(e) for e in first] == [BalanceEvent]  # every currency, no open orders yet
    assert isinstance(first[0], BalanceEvent)
    assert len(first[0].assets) == len(sim.model.accounts(creds.access_key))

    assert await poller.poll_once() == []  # nothing changed: nothing emitted

    uuid = await _place_bid(sim, client)
    placed = await poller.poll_once()
    orders = [e for e in placed if isinstance(e, OrderEvent)]
    assert [(o.uuid, o.state, o.symbol, o.ask_bid) for o in orders] == [
        (uuid, "wait", "KRW-BTC", "BID")
    ]
    krw = _krw(placed)
    truth = {b.currency: b for b in sim.model.accounts(creds.access_key)}["KRW"]
    assert krw.locked == pytest.approx(truth.locked) and krw.locked > 0
    (balances,) = [e for e in placed if isinstance(e, BalanceEvent)]
    assert [a.currency for a in balances.assets] == ["KRW"]  # only what changed

    await _cancel(client, uuid)
    cancelled = await poller.poll_once()
    (gone,) = [e for e in cancelled if isinstance(e, OrderEvent)]
    assert gone.uuid == uuid and gone.state == "cancel"  # GET /v1/order's final state
    assert _krw(cancelled).locked == pytest.approx(0.0)


async def test_initial_snapshot_includes_open_orders(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    uuids = {await _place_bid(sim, client) for _ in range(3)}
    events = await RestFallbackPoller(client, lambda e: None).poll_once()
    assert {e.uuid for e in events if isinstance(e, OrderEvent)} == uuids


async def test_running_poller_emits_until_stopped(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    got_balances = asyncio.Event()
    got_order = asyncio.Event()

    async def emit(event: BalanceEvent | OrderEvent) -> None:  # async callbacks are awaited
        (got_order if isinstance(event, OrderEvent) else got_balances).set()

    async with RestFallbackPoller(client, emit, interval=0.05) as poller:
        assert poller.running
        await asyncio.wait_for(got_balances.wait(), TIMEOUT)
        assert not got_order.is_set()
        await _place_bid(sim, client)
        await asyncio.wait_for(got_order.wait(), TIMEOUT)
    assert not poller.running
    polls = poller.polls
    assert polls >= 2
    await poller.stop()  # twice is fine
    assert poller.polls == polls


async def test_switched_off_kinds_are_not_fetched(
    sim: ExchangeServer, client: UpbitRestClient
) -> None:
    wanted = {"balances": False}
    poller = RestFallbackPoller(client, lambda e: None, balances=lambda: wanted["balances"])
    assert await poller.poll_once() == []
    assert client.requests_sent == 1  # open orders only
    wanted["balances"] = True
    events = await poller.poll_once()
    assert [type(e) for e in events] == [BalanceEvent]  # switched on: a full snapshot first


async def test_a_failing_emit_does_not_stop_polling(
    sim: ExchangeServer, client: UpbitRestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def emit(event: Any) -> None:
        raise RuntimeError("subscriber bug")

    poller = RestFallbackPoller(client, emit)
    assert len(await poller.poll_once()) == 1
    await _place_bid(sim, client)
    assert len(await poller.poll_once()) == 2
    assert "emit callback failed" in caplog.text


async def test_bad_keys_are_reported_then_recover_when_fixed(
    sim: ExchangeServer, creds: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = Credentials(creds.access_key, "not-the-secret-000000000000000000000000")
    async with UpbitRestClient(sim.rest_url, credentials=bad) as client:
        poller = RestFallbackPoller(client, lambda e: None)
        assert await poller.poll_once() == []
        assert await poller.poll_once() == []
        assert poller.errors == 4
        assert poller.last_error is not None and "jwt_verification" in poller.last_error
        assert caplog.text.count("REST fallback could not read") == 1  # logged once, not per poll
        for text in (poller.last_error, caplog.text):
            assert bad.secret_key not in text and bad.access_key not in text

        client.set_credentials(creds)
        events = await poller.poll_once()
        assert [type(e) for e in events] == [BalanceEvent]


async def test_no_keys_give_a_clear_reason(sim: ExchangeServer) -> None:
    assert private_unavailable_reason(AuthConfig()) == NO_KEYS_REASON
    assert private_unavailable_reason(None) == NO_KEYS_REASON
    assert private_unavailable_reason(AuthConfig(access_key="a", secret_key="b")) is None
    async with UpbitRestClient(sim.rest_url) as client:
        poller = RestFallbackPoller(client, lambda e: None)
        assert await poller.poll_once() == []
        assert poller.last_error == NO_KEYS_REASON


def test_balance_book_merges_updates_and_keeps_avg_buy_price() -> None:
    book = BalanceBook()
    assert book.snapshot() is None
    book.apply(
        BalanceEvent(
            assets=[
                Asset(currency="KRW", balance=1000.0, avg_buy_price=0.0),
                Asset(currency="BTC", balance=1.0, avg_buy_price=1.4e8),
            ]
        )
    )
    book.apply(BalanceEvent(assets=[Asset(currency="BTC", balance=0.5, locked=0.5)]))
    snapshot = book.snapshot()
    assert snapshot is not None
    by = {a.currency: a for a in snapshot.assets}
    assert by["KRW"].balance == 1000.0
    assert (by["BTC"].balance, by["BTC"].locked, by["BTC"].avg_buy_price) == (0.5, 0.5, 1.4e8)


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="poll interval"):
        RestFallbackPoller(None, lambda e: None, interval=0)  # type: ignore[arg-type]
