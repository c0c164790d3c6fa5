"""The private `announcement` stream: notices published and edited through the control API
reach the connections subscribed to their category, in every format, with Upbit's field names;
bad requests get Upbit's error frames; the public endpoint gets none of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from sim_harness import (
    API_KEYS,
    FIXED_NOW,
    bearer,
    recv,
    send,
    subscription,
    sync,
)
from websockets.asyncio.client import ClientConnection, connect

from upbit_tui.exchange import ExchangeServer
from upbit_tui.exchange.announcements import BODY_LIMIT

NOW_MS = int(FIXED_NOW * 1000)
NOW_KST = "2026-08-26T16:15:54+09:00"  # FIXED_NOW (07:15:54Z) in Korea
DEFAULT_KEYS = [
    "type",
    "category",
    "event_type",
    "uuid",
    "title",
    "url",
    "first_listed_at",
    "listed_at",
    "timestamp",
    "stream_type",
]
# Upbit's SDK v1.1.0 SimpleAnnouncement
SIMPLE_KEYS = {"ty", "cat", "et", "uid", "tt", "url", "bd", "flat", "lat", "tms", "st"}
TITLE = "옴니네트워크(OMNI) 원화 마켓 디지털 자산 추가"
BODY = "안녕하세요. 업비트입니다.\n\n- 거래 지원 개시 시점: 17:00 (KST)"


@asynccontextmanager
async def private(
    sim: ExchangeServer, *types: dict[str, Any], fmt: str | None = None
) -> AsyncIterator[ClientConnection]:
    """A private connection subscribed to `types`, the subscription in place."""
    async with connect(sim.private_websocket_url, additional_headers=bearer()) as ws:
        await send(ws, subscription(*types, fmt=fmt))
        assert await sync(ws) == []  # no snapshot
        yield ws


async def control(
    sim: ExchangeServer, path: str, json: dict[str, str] | None = None, **params: str
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.rest_url}/_sim/{path}", params=params, json=json) as response,
    ):
        return response.status, await response.json()


async def test_a_new_notice_reaches_its_category_and_no_other(sim: ExchangeServer) -> None:
    async with (
        private(sim, {"type": "announcement", "categories": ["trade"]}) as trade,
        private(sim, {"type": "announcement", "categories": ["wallet", "maintenance"]}) as wallet,
        private(sim, {"type": "announcement"}) as every,
    ):
        status, answer = await control(
            sim, "announcements", category="trade", title=TITLE, body=BODY
        )
        assert status == 200
        notice = answer["announcement"]
        expected = {
            "type": "announcement",
            "category": "trade",
            "event_type": "CREATED",
            "uuid": notice["uuid"],
            "title": TITLE,
            "url": notice["url"],
            "first_listed_at": NOW_KST,
            "listed_at": NOW_KST,
            "timestamp": NOW_MS,
            "stream_type": "REALTIME",
        }
        for ws in (trade, every):
            message = await recv(ws)
            assert message == expected
            assert list(message) == DEFAULT_KEYS  # no body without include_body
        assert await sync(wallet) == []
        assert notice["url"].startswith("https://upbit.com/service_center/notice?id=")


async def test_an_edit_arrives_as_updated_with_the_first_listing_time_kept(
    sim: ExchangeServer,
) -> None:
    async with (
        private(sim, {"type": "announcement", "categories": ["wallet"]}) as wallet,
        private(sim, {"type": "announcement", "categories": ["notice"]}) as other,
    ):
        _, answer = await control(sim, "announcements", category="wallet", title="입출금 중단")
        created = await recv(wallet)
        sim.advance_clock(90)
        status, _ = await control(
            sim, "announcements/update", uuid=answer["announcement"]["uuid"], title="입출금 재개"
        )
        assert status == 200
        updated = await recv(wallet)
        assert updated["event_type"] == "UPDATED" and created["event_type"] == "CREATED"
        assert updated["uuid"] == created["uuid"] and updated["url"] == created["url"]
        assert updated["title"] == "입출금 재개"
        assert updated["first_listed_at"] == NOW_KST
        assert updated["listed_at"] == "2026-08-26T16:17:24+09:00"
        assert updated["timestamp"] == NOW_MS + 90_000
        assert await sync(other) == []


async def test_an_edit_into_another_category_goes_to_that_category(sim: ExchangeServer) -> None:
    async with (
        private(sim, {"type": "announcement", "categories": ["event"]}) as event,
        private(sim, {"type": "announcement", "categories": ["notice"]}) as notice,
    ):
        first = sim.post_announcement("event", "이벤트 안내")
        assert (await recv(event))["event_type"] == "CREATED"
        sim.update_announcement(first.uuid, category="notice")
        moved = await recv(notice)
        assert (moved["event_type"], moved["category"]) == ("UPDATED", "notice")
        assert await sync(event) == []


async def test_include_body_adds_the_body_and_a_large_one_is_null(sim: ExchangeServer) -> None:
    async with (
        private(sim, {"type": "announcement", "include_body": True}) as with_body,
        private(sim, {"type": "announcement", "include_body": False}) as without,
    ):
        sim.post_announcement("trade", TITLE, BODY)
        message = await recv(with_body)
        assert message["body"] == BODY
        assert list(message).index("body") == list(message).index("url") + 1
        assert "body" not in await recv(without)
        large = "가" * (BODY_LIMIT // 3 + 1)  # 3 UTF-8 bytes each: just over the limit
        status, _ = await control(
            sim, "announcements", json={"category": "notice", "title": "긴 공지", "body": large}
        )
        assert status == 200
        message = await recv(with_body)
        assert "body" in message and message["body"] is None
        assert "body" not in await recv(without)


@pytest.mark.parametrize("fmt", ["SIMPLE", "JSON_LIST", "SIMPLE_LIST"])
async def test_simple_and_list_formats(sim: ExchangeServer, fmt: str) -> None:
    async with private(sim, {"type": "announcement", "include_body": True}, fmt=fmt) as ws:
        sim.post_announcement("maintenance", "지갑 점검 안내", BODY)
        message = await recv(ws)
    if fmt.endswith("LIST"):
        assert isinstance(message, list) and len(message) == 1
        message = message[0]
    if fmt.startswith("SIMPLE"):
        assert set(message) == SIMPLE_KEYS
        assert (message["ty"], message["cat"], message["et"], message["st"]) == (
            "announcement",
            "maintenance",
            "CREATED",
            "REALTIME",
        )
        assert (message["tt"], message["bd"], message["tms"]) == ("지갑 점검 안내", BODY, NOW_MS)
    else:
        assert list(message) == [*DEFAULT_KEYS[:6], "body", *DEFAULT_KEYS[6:]]


async def test_announcement_objects_of_one_request_merge(sim: ExchangeServer) -> None:
    async with private(
        sim,
        {"type": "announcement", "categories": ["trade"]},
        {"type": "announcement", "categories": ["wallet"], "include_body": True},
        {"type": "myAsset"},
    ) as ws:
        sim.post_announcement("trade", TITLE, BODY)
        sim.post_announcement("wallet", "입출금 안내", BODY)
        sim.post_announcement("event", "이벤트", BODY)
        got = await sync(ws)
    assert [(m["category"], m["body"]) for m in got] == [("trade", BODY), ("wallet", BODY)]


async def test_a_new_request_replaces_the_announcement_subscription(sim: ExchangeServer) -> None:
    async with private(sim, {"type": "announcement"}) as ws:
        await send(ws, [{"ticket": "list"}, {"method": "LIST_SUBSCRIPTIONS"}])
        listed = await recv(ws)
        assert listed["result"] == [{"type": "announcement"}]
        await send(ws, subscription({"type": "myAsset"}))
        assert await sync(ws) == []
        sim.post_announcement("trade", TITLE)
        assert await sync(ws) == []
    assert sim.stats()["announcements"] == {"notices": 1, "subscribers": 0}


@pytest.mark.parametrize(
    ("type_object", "name"),
    [
        ({"categories": "trade"}, "WRONG_FORMAT"),
        ({"categories": ["trade", 7]}, "WRONG_FORMAT"),
        ({"categories": ["trade", "stocks"]}, "INVALID_PARAM"),
        ({"categories": ["TRADE"]}, "INVALID_PARAM"),
        ({"include_body": "true"}, "WRONG_FORMAT"),
        ({"include_body": None}, "WRONG_FORMAT"),
        ({"codes": ["KRW-BTC"]}, "WRONG_FORMAT"),
        ({"is_only_realtime": 1}, "WRONG_FORMAT"),
    ],
    ids=[
        "categories-string",
        "categories-number",
        "unknown-category",
        "uppercase-category",
        "include-body-string",
        "include-body-null",
        "codes",
        "flag-number",
    ],
)
async def test_bad_requests_get_upbits_error_and_keep_the_subscription(
    sim: ExchangeServer, type_object: dict[str, Any], name: str
) -> None:
    async with private(sim, {"type": "announcement", "categories": ["trade"]}) as ws:
        await send(ws, subscription({"type": "announcement", **type_object}))
        error = await recv(ws)
        assert error["error"]["name"] == name and error["error"]["message"]
        sim.post_announcement("trade", TITLE)
        assert (await recv(ws))["title"] == TITLE  # the previous subscription still holds


async def test_the_public_endpoint_refuses_announcements_and_gets_none(
    sim: ExchangeServer,
) -> None:
    async with connect(sim.websocket_url) as ws:
        await send(ws, subscription({"type": "announcement"}))
        error = await recv(ws)
        assert error["error"]["name"] == "INVALID_AUTH"
        await send(ws, subscription({"type": "ticker", "codes": ["KRW-BTC"]}))
        (snapshot,) = await sync(ws)
        assert snapshot["type"] == "ticker"
        sim.post_announcement("trade", TITLE)
        sim.post_announcement("notice", "공지")
        assert await sync(ws) == []


async def test_the_control_api_lists_and_refuses_bad_notices(sim: ExchangeServer) -> None:
    status, answer = await control(sim, "announcements", category="stocks", title="x")
    assert status == 400 and "category='stocks'" in answer["error"]
    status, answer = await control(sim, "announcements", category="trade", title=" ")
    assert status == 400 and "title" in answer["error"]
    status, answer = await control(sim, "announcements/update", uuid="nope", title="x")
    assert status == 400 and "not a published notice" in answer["error"]
    status, answer = await control(sim, "announcements", json=["not", "an", "object"])  # type: ignore[arg-type]
    assert status == 400
    status, seeded = await control(sim, "announcements", category="wallet")  # seeded title
    assert status == 200 and seeded["announcement"]["category"] == "wallet"
    assert seeded["announcement"]["title"].endswith("입출금 일시 중단 안내")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.rest_url}/_sim/announcements") as response,
    ):
        listed = await response.json()
    assert [n["uuid"] for n in listed["notices"]] == [seeded["announcement"]["uuid"]]


async def test_seeded_notices_are_the_same_for_the_same_seed() -> None:
    titles: list[list[str]] = []
    for _ in range(2):
        async with ExchangeServer(seed=7, rate=0.0, markets=5, api_keys=API_KEYS) as sim:
            titles.append([sim.post_announcement().title for _ in range(8)])
    assert titles[0] == titles[1]
    assert any("디지털 자산 추가" in title for title in titles[0])


async def test_the_seeded_cadence_publishes_on_its_own() -> None:
    async with (
        ExchangeServer(
            seed=3, rate=0.0, markets=5, api_keys=API_KEYS, announcements_every=0.02
        ) as sim,
        private(sim, {"type": "announcement", "include_body": True}) as ws,
    ):
        messages = [await recv(ws) for _ in range(6)]
    assert all(m["type"] == "announcement" and m["body"] for m in messages)
    assert {m["event_type"] for m in messages} <= {"CREATED", "UPDATED"}


async def test_seeded_notices_are_off_by_default(sim: ExchangeServer) -> None:
    assert "sim-announcements" not in {task.get_name() for task in asyncio.all_tasks()}
    assert sim.announcements.notices() == []
