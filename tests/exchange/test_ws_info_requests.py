"""`/websocket/v1/info`: the JWT handshake, request validation and Upbit's error frames,
LIST_SUBSCRIPTIONS, PING and the idle timeout, over real sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sim_harness import ACCESS, API_KEYS, bearer, recv, recv_raw, send, sync, token
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from upbit_tui.exchange import ExchangeServer

RSI = {"type": "rsi", "params": {"period": 14}}
GOOD = {"type": "indicator", "codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [RSI]}
CROSS = {
    "type": "ma_crossover",
    "trigger": "golden_cross",
    "params": {"short_period": 5, "long_period": 20, "type": "SMA"},
}
SIGNAL = {"type": "indicator_signal", "codes": ["KRW-BTC"], "timeframe": "5m"}


def with_indicator(indicator: dict[str, Any]) -> dict[str, Any]:
    return {**GOOD, "indicators": [indicator]}


def with_signal(indicator: dict[str, Any]) -> dict[str, Any]:
    return {**SIGNAL, "indicators": [indicator]}


async def list_subscriptions(ws: Any) -> Any:
    await send(ws, [{"ticket": "list"}, {"method": "LIST_SUBSCRIPTIONS"}])
    return await recv(ws)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {token(secret='wrong-secret')}"},
        {"Authorization": f"Bearer {token(access='unknown-key')}"},
    ],
    ids=["missing", "wrong-secret", "unknown-key"],
)
async def test_the_handshake_needs_a_valid_token(
    sim: ExchangeServer, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.info_websocket_url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 401
    assert "error" in json.loads(refused.value.response.body)
    assert sim.stats()["connections"]["refused"] == {"401": 1}


async def test_a_valid_token_is_accepted_and_nothing_is_sent_before_a_close(
    sim: ExchangeServer,
) -> None:
    async with connect(sim.info_websocket_url, additional_headers=bearer()) as ws:
        await send(ws, [{"ticket": "t"}, GOOD, with_signal(CROSS)])
        assert await sync(ws) == []  # no snapshot, and no candle has closed
    connection = sim.stats()["connections"]["items"][-1]
    assert connection["endpoint"] == "info" and connection["access_key"] == ACCESS


async def test_refusal_mode_error_answers_invalid_auth() -> None:
    async with (
        ExchangeServer(rate=0.0, markets=2, api_keys=API_KEYS, private_auth_failure="error") as sim,
        connect(sim.info_websocket_url) as ws,
    ):
        await send(ws, [{"ticket": "t"}, GOOD])
        assert await recv(ws) == {
            "error": {"name": "INVALID_AUTH", "message": "인증 정보가 올바르지 않습니다."}
        }


def ind(kind: str, **params: Any) -> dict[str, Any]:
    """An `indicator` type object with one indicator."""
    return with_indicator({"type": kind, "params": params})


def rsi_signal(trigger: str, period: int = 14, **event_params: Any) -> dict[str, Any]:
    return with_signal(
        {"type": "rsi", "trigger": trigger, "params": {"period": period}}
        | ({"event_params": event_params} if event_params else {})
    )


WITHOUT_CODES = {k: v for k, v in GOOD.items() if k != "codes"}
WITHOUT_TIMEFRAME = {k: v for k, v in GOOD.items() if k != "timeframe"}
WITHOUT_TRIGGER = {k: v for k, v in CROSS.items() if k != "trigger"}
T = {"ticket": "t"}


@pytest.mark.parametrize(
    ("request_", "name"),
    [
        ([{"type": "indicator"}], "NO_TICKET"),
        ([T, {**GOOD, "type": "ticker"}], "INVALID_PARAM"),
        ([T, {**GOOD, "type": "myOrder"}], "INVALID_PARAM"),
        ([T, {**GOOD, "type": 5}], "WRONG_FORMAT"),
        ([T, WITHOUT_CODES], "NO_CODES"),
        ([T, {**GOOD, "codes": []}], "NO_CODES"),
        ([T, {**GOOD, "codes": "KRW-BTC"}], "WRONG_FORMAT"),
        ([T, {**GOOD, "codes": ["BTC-ETH"]}], "INVALID_PARAM"),
        ([T, {**GOOD, "codes": ["KRW-NOPE"]}], "INVALID_PARAM"),
        ([T, {**GOOD, "codes": ["krw-btc"]}], "INVALID_PARAM"),
        ([T, WITHOUT_TIMEFRAME], "INVALID_PARAM"),
        ([T, {**GOOD, "timeframe": "1m"}], "INVALID_PARAM"),
        ([T, {**GOOD, "timeframe": 5}], "WRONG_FORMAT"),
        ([T, {**GOOD, "indicators": []}], "INVALID_PARAM"),
        ([T, {**GOOD, "indicators": RSI}], "WRONG_FORMAT"),
        ([T, ind("stochastic")], "INVALID_PARAM"),
        ([T, with_indicator({"type": "rsi"})], "INVALID_PARAM"),
        ([T, ind("rsi", period=15)], "INVALID_PARAM"),
        ([T, ind("rsi", period="14")], "WRONG_FORMAT"),
        ([T, ind("rsi", period=14.5)], "INVALID_PARAM"),
        ([T, ind("rsi", period=14, k=1)], "INVALID_PARAM"),
        ([T, ind("moving_average", period=20, type="WMA")], "INVALID_PARAM"),
        ([T, ind("ma_crossover", short_period=5, long_period=60, type="SMA")], "INVALID_PARAM"),
        ([T, ind("bollinger_bands", period=20, multiplier=0)], "INVALID_PARAM"),
        ([T, ind("macd", fast=12, slow=26, signal_period=5)], "INVALID_PARAM"),
        ([T, with_indicator(CROSS)], "INVALID_PARAM"),  # a trigger on `indicator`
        ([T, with_signal({**CROSS, "trigger": "cross"})], "INVALID_PARAM"),
        ([T, with_signal(WITHOUT_TRIGGER)], "INVALID_PARAM"),
        ([T, rsi_signal("overbought")], "INVALID_PARAM"),
        ([T, rsi_signal("overbought", threshold=75)], "INVALID_PARAM"),
        ([T, rsi_signal("oversold", period=2, threshold=30)], "INVALID_PARAM"),
        ([T, with_signal({**CROSS, "event_params": {"threshold": 70}})], "INVALID_PARAM"),
        ([T, with_signal({**CROSS, "event_params": []})], "WRONG_FORMAT"),
        ([T, GOOD, {"format": "XML"}], "INVALID_PARAM"),
    ],
    ids=lambda value: None if isinstance(value, list) else value,
)
async def test_bad_requests_answer_upbit_error_frames_and_change_nothing(
    request_: list[Any], name: str
) -> None:
    async with (
        ExchangeServer(
            rate=0.0, markets=3, btc_markets=2, api_keys=API_KEYS, candle_interval=3600.0
        ) as sim,
        connect(sim.info_websocket_url, additional_headers=bearer()) as ws,
    ):
        await send(ws, [{"ticket": "before"}, {**GOOD, "timeframe": "15m"}])
        await send(ws, request_)
        error = await recv(ws)
        assert list(error) == ["error"] and error["error"]["name"] == name
        assert isinstance(error["error"]["message"], str) and error["error"]["message"]
        listed = await list_subscriptions(ws)
        assert listed["result"] == [{"type": "indicator", "codes": ["KRW-BTC"], "timeframe": "15m"}]


async def test_a_btc_market_is_refused_as_not_krw() -> None:
    async with (
        ExchangeServer(rate=0.0, markets=2, btc_markets=2, api_keys=API_KEYS) as sim,
        connect(sim.info_websocket_url, additional_headers=bearer()) as ws,
    ):
        assert "BTC-ETH" in sim.model.known_codes
        await send(ws, [{"ticket": "t"}, {**GOOD, "codes": ["BTC-ETH"]}])
        error = (await recv(ws))["error"]
        assert error["name"] == "INVALID_PARAM" and "KRW" in error["message"]


@pytest.mark.parametrize("path", ["websocket_url", "private_websocket_url"])
async def test_indicator_types_belong_to_the_info_endpoint(sim: ExchangeServer, path: str) -> None:
    async with connect(getattr(sim, path), additional_headers=bearer()) as ws:
        await send(ws, [{"ticket": "t"}, GOOD])
        assert (await recv(ws))["error"]["name"] == "INVALID_PARAM"


async def test_list_subscriptions_echoes_each_type_object(sim: ExchangeServer) -> None:
    async with connect(sim.info_websocket_url, additional_headers=bearer()) as ws:
        assert await list_subscriptions(ws) == {
            "method": "LIST_SUBSCRIPTIONS",
            "result": [],
            "ticket": "list",
        }
        await send(
            ws,
            [
                {"ticket": "t"},
                {**GOOD, "codes": ["KRW-ETH", "KRW-BTC", "KRW-ETH"]},
                {**with_signal(CROSS), "timeframe": "1d"},
                {"format": "SIMPLE"},
            ],
        )
        assert await list_subscriptions(ws) == {
            "mthd": "LIST_SUBSCRIPTIONS",
            "rslt": [
                {"ty": "indicator", "cds": ["KRW-ETH", "KRW-BTC"], "tf": "5m"},
                {"ty": "indicator_signal", "cds": ["KRW-BTC"], "tf": "1d"},
            ],
            "tckt": "list",
        }


async def test_ping_gets_status_up(sim: ExchangeServer) -> None:
    async with connect(sim.info_websocket_url, additional_headers=bearer()) as ws:
        await ws.send("PING")
        assert await recv_raw(ws) == b'{"status":"UP"}'


async def test_an_idle_info_connection_is_closed() -> None:
    async with (
        ExchangeServer(rate=0.0, markets=2, api_keys=API_KEYS, idle_timeout=0.2) as sim,
        connect(sim.info_websocket_url, additional_headers=bearer(), ping_interval=None) as ws,
    ):
        await send(ws, [{"ticket": "t"}, GOOD])  # candles close rarely: the socket goes quiet
        with pytest.raises(ConnectionClosed):
            await recv_raw(ws)
        assert ws.close_code == 1001 and ws.close_reason == "idle timeout"
