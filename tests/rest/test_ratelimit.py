"""GlobalRateLimiter: Upbit's groups, kept under their limits on a virtual clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from upbit_tui.net.ratelimit import (
    DEFAULT_LIMITS,
    GROUPS,
    GlobalRateLimiter,
    GroupLimit,
    RateLimitBlockedError,
    parse_block_seconds,
    parse_remaining_req,
)

Runner = Callable[[Callable[[], Any]], Any]


def _max_in_window(stamps: list[float], window: float) -> int:
    """The most timestamps inside any half-open window of `window` seconds."""
    best = 0
    start = 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= window - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _stamps(acquire: Callable[[], Any], n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(n):
        await acquire()
        out.append(loop.time())
    return out


@pytest.mark.parametrize(
    ("group", "upbit_limit"),
    [
        ("market", 10),
        ("candle", 10),
        ("trade", 10),
        ("ticker", 10),
        ("orderbook", 10),
        ("default", 30),
        ("order", 8),
        ("websocket-connect", 5),
    ],
)
def test_every_group_stays_under_upbits_per_second_limit(
    run_virtual: Runner, group: str, upbit_limit: int
) -> None:
    async def scenario() -> list[float]:
        limiter = GlobalRateLimiter()
        return await _stamps(lambda: limiter.acquire(group), upbit_limit * 6)

    stamps = run_virtual(scenario)
    assert _max_in_window(stamps, 1.0) < upbit_limit
    # ... and not uselessly slow: a sustained rate close to the limit.
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert rate >= upbit_limit * 0.5


def test_concurrent_callers_share_one_group_budget(run_virtual: Runner) -> None:
    async def scenario() -> list[float]:
        limiter = GlobalRateLimiter()
        loop = asyncio.get_running_loop()
        stamps: list[float] = []

        async def one() -> None:
            await limiter.acquire("ticker")
            stamps.append(loop.time())

        await asyncio.gather(*(one() for _ in range(40)))
        return sorted(stamps)

    stamps = run_virtual(scenario)
    assert len(stamps) == 40
    assert _max_in_window(stamps, 1.0) < 10


def test_groups_are_independent(run_virtual: Runner) -> None:
    async def scenario() -> tuple[float, float]:
        limiter = GlobalRateLimiter()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(20):
            await limiter.acquire("ticker")
        after_ticker = loop.time()
        await limiter.acquire("candle")
        return after_ticker - start, loop.time() - after_ticker

    ticker_time, candle_wait = run_virtual(scenario)
    assert ticker_time > 1.0
    assert candle_wait < 1e-3


def test_message_budget_holds_5_per_second_and_100_per_minute(run_virtual: Runner) -> None:
    async def scenario() -> list[float]:
        limiter = GlobalRateLimiter()
        budget = limiter.connection_budget("public")
        return await _stamps(budget.acquire, 250)

    stamps = run_virtual(scenario)
    assert _max_in_window(stamps, 1.0) < 5
    assert _max_in_window(stamps, 60.0) < 100
    assert _max_in_window(stamps, 60.0) >= 80  # uses most of the minute budget


def test_each_connection_has_its_own_message_budget(run_virtual: Runner) -> None:
    async def scenario() -> float:
        limiter = GlobalRateLimiter()
        first = limiter.connection_budget("public")
        second = limiter.connection_budget("private")
        for _ in range(12):
            await first.acquire()
        loop = asyncio.get_running_loop()
        before = loop.time()
        await second.acquire()
        return loop.time() - before

    assert run_virtual(scenario) < 1e-3


def test_remaining_req_sec_zero_pauses_the_group_for_a_second(run_virtual: Runner) -> None:
    async def scenario() -> tuple[int | None, float, dict[str, float]]:
        limiter = GlobalRateLimiter()
        loop = asyncio.get_running_loop()
        await limiter.acquire("candle")
        sec = limiter.observe_remaining_req("candle", "group=candles; min=600; sec=0")
        tokens = limiter.get_remaining_tokens()
        before = loop.time()
        await limiter.acquire("candle")
        return sec, loop.time() - before, tokens

    sec, waited, tokens = run_virtual(scenario)
    assert sec == 0
    assert waited == pytest.approx(1.0)
    assert tokens["candle"] == 0.0
    assert tokens["ticker"] > 0


def test_remaining_req_with_budget_left_does_not_pause(run_virtual: Runner) -> None:
    async def scenario() -> float:
        limiter = GlobalRateLimiter()
        loop = asyncio.get_running_loop()
        limiter.observe_remaining_req("default", "group=default; min=1800; sec=29")
        before = loop.time()
        await limiter.acquire("default")
        return loop.time() - before

    assert run_virtual(scenario) < 1e-3


def test_429_pauses_with_retry_after_or_doubling(run_virtual: Runner) -> None:
    async def scenario() -> tuple[float, float, float, float]:
        limiter = GlobalRateLimiter()
        loop = asyncio.get_running_loop()
        first = limiter.note_too_many_requests("trade")
        second = limiter.note_too_many_requests("trade")
        explicit = limiter.note_too_many_requests("ticker", retry_after=3.0)
        before = loop.time()
        await limiter.acquire("trade")
        return first, second, explicit, loop.time() - before

    first, second, explicit, waited = run_virtual(scenario)
    assert (first, second, explicit) == (1.0, 2.0, 3.0)
    assert waited == pytest.approx(2.0)


def test_418_block_is_waited_out_and_reported(run_virtual: Runner) -> None:
    reported: list[tuple[str, float]] = []

    async def scenario() -> tuple[dict[str, float], float]:
        limiter = GlobalRateLimiter(on_block=lambda g, s: reported.append((g, s)))
        loop = asyncio.get_running_loop()
        limiter.note_blocked("orderbook", 30.0)
        blocks = limiter.blocks()
        before = loop.time()
        await limiter.acquire("orderbook")
        return blocks, loop.time() - before

    blocks, waited = run_virtual(scenario)
    assert reported == [("orderbook", 30.0)]
    assert blocks == {"orderbook": pytest.approx(30.0)}
    assert waited == pytest.approx(30.0)


def test_418_block_longer_than_the_caller_accepts_raises_at_once(run_virtual: Runner) -> None:
    async def scenario() -> RateLimitBlockedError:
        limiter = GlobalRateLimiter()
        limiter.note_blocked("default", 600.0)
        with pytest.raises(RateLimitBlockedError) as info:
            await limiter.acquire("default", max_block_wait=5.0)
        return info.value

    error = run_virtual(scenario)
    assert error.group == "default"
    assert "418" in str(error) and "600 s" in str(error)


def test_remaining_tokens_cover_every_group_and_live_budgets(run_virtual: Runner) -> None:
    async def scenario() -> tuple[dict[str, float], dict[str, float]]:
        limiter = GlobalRateLimiter()
        budget = limiter.connection_budget("public")
        fresh = limiter.get_remaining_tokens()
        for _ in range(3):
            await limiter.acquire("ticker")
        await budget.acquire()
        return fresh, limiter.get_remaining_tokens()

    fresh, used = run_virtual(scenario)
    assert set(GROUPS) <= set(fresh)
    assert fresh["ticker"] == DEFAULT_LIMITS["ticker"].burst
    assert fresh["websocket-message:public"] == 1.0
    assert used["ticker"] < fresh["ticker"]
    assert used["websocket-message:public"] < 1.0


def test_limiter_works_on_a_second_event_loop(run_virtual: Runner) -> None:
    limiter = GlobalRateLimiter()

    async def scenario() -> None:
        for _ in range(5):
            await limiter.acquire("ticker")

    run_virtual(scenario)
    run_virtual(scenario)  # aiolimiter is loop-bound: the buckets must be recreated


def test_unknown_group_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown rate-limit group 'tickers'"):
        GlobalRateLimiter(limits={"tickers": GroupLimit(10, 3, 6.0)})


def test_parse_remaining_req() -> None:
    assert parse_remaining_req("group=default; min=1800; sec=29") == 29
    assert parse_remaining_req("group=order-cancel-all; min=30; sec=0") == 0
    assert parse_remaining_req(None) is None
    assert parse_remaining_req("garbage") is None


def test_parse_block_seconds_reads_header_body_or_default() -> None:
    assert parse_block_seconds({"Retry-After": "12"}, "") == 12.0
    assert parse_block_seconds({}, '{"error":{"message":"blocked for 45 seconds"}}') == 45.0
    assert parse_block_seconds({}, "차단 시간: 5분") == 300.0
    assert parse_block_seconds({}, "I'm a teapot") == 60.0
    assert parse_block_seconds({}, "", default=7.0) == 7.0


def test_a_rest_retry_after_is_read_in_every_form_and_capped() -> None:
    from email.utils import formatdate

    from upbit_tui.net.ratelimit import parse_retry_after
    from upbit_tui.net.recovery import MAX_SERVER_WAIT

    assert parse_retry_after({"Retry-After": "0"}) == 0.0
    assert parse_retry_after({"Retry-After": "2.5"}) == 2.5
    for huge in ("86400", "1e9", "inf"):
        assert parse_retry_after({"Retry-After": huge}) == MAX_SERVER_WAIT
    in_a_minute = formatdate(time.time() + 60, usegmt=True)
    seconds = parse_retry_after({"Retry-After": in_a_minute})
    assert seconds is not None and 55 <= seconds <= 61
    for unusable in ("-5", "soon", "nan"):
        assert parse_retry_after({"Retry-After": unusable}) is None
    assert parse_retry_after({}) is None
