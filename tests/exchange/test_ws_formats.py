"""Every data type's keys, in every format, against the docs' examples (fixtures/upbit_docs/ws)."""

from __future__ import annotations

from typing import Any

import pytest
from sim_harness import FIXTURES, bearer, fixture, recv, send, subscription, sync
from websockets.asyncio.client import connect

from upbit_tui.exchange import ExchangeServer

FORMATS = ["DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST"]
QUOTATION = ["ticker", "trade", "orderbook", "candle.1s", "candle.1m", "candle.240m"]

# SIMPLE keys from the docs' field tables (upbit-protocol.md section 3) for the types whose
# docs show no complete SIMPLE example.
DOC_SIMPLE_KEYS = {
    "trade": [
        "ty",
        "cd",
        "tms",
        "td",
        "ttm",
        "ttms",
        "tp",
        "tv",
        "ab",
        "pcp",
        "c",
        "cp",
        "sid",
        "bap",
        "bas",
        "bbp",
        "bbs",
        "st",
    ],
    "myOrder": [
        "ty",
        "cd",
        "uid",
        "ab",
        "ot",
        "s",
        "tuid",
        "p",
        "ap",
        "v",
        "rv",
        "ev",
        "tc",
        "rsf",
        "rmf",
        "pf",
        "l",
        "ef",
        "tif",
        "tf",
        "im",
        "id",
        "smpt",
        "pv",
        "pl",
        "ttms",
        "otms",
        "tms",
        "st",
    ],
    "myAsset": ["ty", "astuid", "ast", "asttms", "tms", "st"],
}


def default_example(type_: str) -> dict[str, Any]:
    name = "candle" if type_.startswith("candle.") else type_
    data = fixture(f"ws/{name}.default.json")
    return data[0] if isinstance(data, list) else data


def simple_examples(type_: str) -> list[dict[str, Any]]:
    """Every SIMPLE-keyed example the docs print for this type (some are partial)."""
    name = "candle" if type_.startswith("candle.") else type_
    found: list[dict[str, Any]] = []
    for path in (f"ws/{name}.simple_list.json", f"ws/guide/{name}.simple_list.json"):
        if (FIXTURES / path).exists():
            found.extend(fixture(path))
    return found


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    iterator = iter(whole)
    return all(key in iterator for key in part)


async def first_message(sim: ExchangeServer, type_: str, fmt: str) -> Any:
    if type_ in ("myOrder", "myAsset"):
        async with connect(sim.private_websocket_url, additional_headers=bearer()) as ws:
            await send(ws, subscription({"type": type_}, fmt=fmt))
            await sync(ws)
            sim.model.place_order("test-access", "KRW-ETH", "bid", "price", price=10_000.0)
            return await recv(ws)
    async with connect(sim.websocket_url) as ws:
        await send(ws, subscription({"type": type_, "codes": ["KRW-BTC"]}, fmt=fmt))
        return await recv(ws)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("type_", [*QUOTATION, "myOrder", "myAsset"])
async def test_keys_match_the_docs_examples(sim: ExchangeServer, type_: str, fmt: str) -> None:
    message = await first_message(sim, type_, fmt)
    if fmt.endswith("_LIST"):
        assert isinstance(message, list) and len(message) == 1
        message = message[0]
    assert isinstance(message, dict)
    keys = list(message)
    default = default_example(type_)
    if fmt in ("DEFAULT", "JSON_LIST"):
        assert keys == list(default)
        assert message["type"] == type_
        if type_ == "orderbook":
            assert list(message["orderbook_units"][0]) == list(default["orderbook_units"][0])
        if type_ == "myAsset":
            assert list(message["assets"][0]) == list(default["assets"][0])
        return
    # SIMPLE keys: one abbreviation per DEFAULT key, consistent with every SIMPLE example.
    assert len(keys) == len(default) and len(set(keys)) == len(keys)
    assert message["ty"] == type_
    if type_ in DOC_SIMPLE_KEYS:
        assert keys == DOC_SIMPLE_KEYS[type_]
    examples = simple_examples(type_)
    if type_ in ("ticker", "orderbook") or type_.startswith("candle."):
        assert examples, f"expected a SIMPLE example for {type_}"
    for example in examples:
        assert is_subsequence(list(example), keys), (list(example), keys)
        if type_ == "orderbook":
            assert list(message["obu"][0]) == list(example["obu"][0])
    if type_ == "myAsset":
        assert list(message["ast"][0]) == ["cu", "b", "l"]


def test_json_list_examples_use_default_keys() -> None:
    for name in ("trade", "myOrder", "myAsset"):
        listed = fixture(f"ws/{name}.json_list.json")
        assert list(listed[0]) == list(default_example(name))


@pytest.mark.parametrize("type_", QUOTATION)
async def test_simple_is_a_pure_renaming_of_default(sim: ExchangeServer, type_: str) -> None:
    """With a fixed clock and no trades, the same snapshot in both namings has equal values."""
    default = await first_message(sim, type_, "DEFAULT")
    simple = await first_message(sim, type_, "SIMPLE")
    assert list(default.values()) == list(simple.values()) or type_ == "orderbook"
    if type_ == "orderbook":
        assert [list(u.values()) for u in default["orderbook_units"]] == [
            list(u.values()) for u in simple["obu"]
        ]
        assert default["total_ask_size"] == simple["tas"] and default["level"] == simple["lv"]


async def test_value_types_follow_the_docs(sim: ExchangeServer) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(ws, subscription({"type": "ticker", "codes": ["KRW-BTC"]}))
        ticker = await recv(ws)
        example = default_example("ticker")
        for key, value in example.items():
            if value is None:
                assert ticker[key] is None, key
            elif isinstance(value, bool):
                assert isinstance(ticker[key], bool), key
            elif isinstance(value, (int, float)):
                assert isinstance(ticker[key], (int, float)) and not isinstance(ticker[key], bool)
            else:
                assert isinstance(ticker[key], str) and len(ticker[key]) == len(value), key
        await send(ws, subscription({"type": "trade", "codes": ["KRW-BTC"]}))
        trade = await recv(ws)
        assert trade["sequential_id"] // 10_000 == trade["trade_timestamp"]
        assert len(trade["trade_date"]) == len("2026-08-26") and len(trade["trade_time"]) == 8
        await send(ws, subscription({"type": "candle.1m", "codes": ["KRW-BTC"]}))
        candle = await recv(ws)
        assert len(candle["candle_date_time_utc"]) == len("2026-08-26T08:08:00")
        assert candle["stream_type"] == "SNAPSHOT"
        assert not await sync(ws)
