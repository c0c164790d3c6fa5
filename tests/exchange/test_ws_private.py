"""The private endpoint: JWT on the handshake, and myOrder / myAsset driven by real orders."""

from __future__ import annotations

import pytest
from sim_harness import ACCESS, API_KEYS, bearer, fixture, recv, send, subscription, sync, token
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from upbit_tui.exchange import ExchangeServer


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
async def test_valid_token_is_accepted(sim: ExchangeServer, algorithm: str) -> None:
    async with connect(
        sim.private_websocket_url, additional_headers=bearer(algorithm=algorithm)
    ) as ws:
        await send(ws, subscription({"type": "myAsset"}))
        assert await sync(ws) == []  # no snapshot for private types
    assert sim.stats()["connections"]["items"][-1]["access_key"] == ACCESS


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": f"Bearer {token(secret='wrong-secret')}"},
        {"Authorization": f"Bearer {token(access='unknown-key')}"},
        {"Authorization": f"Basic {token()}"},
    ],
    ids=["missing", "garbage", "wrong-secret", "unknown-key", "not-bearer"],
)
async def test_bad_token_is_refused_at_the_handshake(
    sim: ExchangeServer, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.private_websocket_url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 401
    assert sim.stats()["connections"]["refused"] == {"401": 1}


async def test_a_handshake_token_may_be_used_again(sim: ExchangeServer) -> None:
    """ccxt reuses its cached token on every reconnect, against the real exchange."""
    headers = bearer()
    for _ in range(3):
        async with connect(sim.private_websocket_url, additional_headers=headers) as ws:
            await send(ws, subscription({"type": "myAsset"}))
            await sync(ws)
    assert sim.stats()["connections"]["refused"] == {}


async def test_token_reuse_can_be_refused() -> None:
    async with ExchangeServer(
        rate=0.0, markets=2, api_keys=API_KEYS, private_token_reuse="refuse"
    ) as sim:
        headers = bearer()
        async with connect(sim.private_websocket_url, additional_headers=headers):
            pass
        with pytest.raises(InvalidStatus) as refused:
            async with connect(sim.private_websocket_url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
        assert b"nonce_used" in refused.value.response.body


async def test_refusal_mode_error_accepts_then_answers_invalid_auth() -> None:
    async with (
        ExchangeServer(rate=0.0, markets=2, api_keys=API_KEYS, private_auth_failure="error") as sim,
        connect(sim.private_websocket_url) as ws,
    ):
        await send(ws, subscription({"type": "myOrder"}))
        error = await recv(ws)
        assert error == {
            "error": {"name": "INVALID_AUTH", "message": "인증 정보가 올바르지 않습니다."}
        }


async def test_quotation_types_are_refused_on_the_private_endpoint(sim: ExchangeServer) -> None:
    async with connect(sim.private_websocket_url, additional_headers=bearer()) as ws:
        await send(ws, subscription({"type": "ticker", "codes": ["KRW-BTC"]}))
        assert (await recv(ws))["error"]["name"] == "INVALID_PARAM"
        await send(ws, subscription({"type": "myAsset", "codes": ["KRW-BTC"]}))
        assert (await recv(ws))["error"]["name"] == "WRONG_FORMAT"


async def test_limit_order_streams_wait_trade_done_and_assets(sim: ExchangeServer) -> None:
    async with connect(sim.private_websocket_url, additional_headers=bearer()) as ws:
        await send(ws, subscription({"type": "myOrder", "codes": ["KRW-BTC"]}, {"type": "myAsset"}))
        await sync(ws)
        price = sim.model.ticker("KRW-BTC").trade_price
        order = sim.model.place_order(ACCESS, "KRW-BTC", "bid", "limit", price=price, volume=0.001)
        sim.model.place_order(ACCESS, "KRW-ETH", "bid", "price", price=10_000.0)  # filtered out
        for _ in range(5_000):
            if sim.model.get_order(ACCESS, order.uuid).state == "done":
                break
            sim.generate_trades(1, "KRW-BTC")
        messages = await sync(ws)
    orders = [m for m in messages if m["type"] == "myOrder"]
    assets = [m for m in messages if m["type"] == "myAsset"]
    assert {m["code"] for m in orders} == {"KRW-BTC"}
    states = [m["state"] for m in orders]
    assert states[0] == "wait" and states[-1] == "done" and "trade" in states
    fills = [m for m in orders if m["state"] == "trade"]
    assert sum(m["volume"] for m in fills) == pytest.approx(0.001)
    assert all(m["trade_uuid"] and m["trade_fee"] is not None for m in fills)
    assert assets and all(m["stream_type"] == "REALTIME" for m in assets)
    btc = next(a for a in assets[-1]["assets"] if a["currency"] == "BTC")
    assert btc["balance"] == pytest.approx(0.501)


async def test_list_subscriptions_on_the_private_endpoint(sim: ExchangeServer) -> None:
    async with connect(sim.private_websocket_url, additional_headers=bearer()) as ws:
        await send(ws, subscription({"type": "myAsset"}, {"type": "myOrder", "codes": ["KRW-BTC"]}))
        await send(ws, [{"ticket": "unique uuid"}, {"method": "LIST_SUBSCRIPTIONS"}])
        listed = await recv(ws)
    assert listed == {
        "method": "LIST_SUBSCRIPTIONS",
        "result": [{"type": "myAsset"}, {"type": "myOrder", "codes": ["KRW-BTC"]}],
        "ticket": "unique uuid",
    }
    # The docs' example has the same shape (with two codes).
    example = fixture("ws/list_subscriptions.json")[1]
    assert [list(item) for item in example["result"]] == [list(i) for i in listed["result"]]
