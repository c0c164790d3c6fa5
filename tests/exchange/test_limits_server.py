"""The simulator's rate limits (shared/upbit-protocol.md §5), driven by a fake clock."""

from __future__ import annotations

import pytest

from upbit_tui.exchange.limits import RateLimits


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limits(clock: FakeClock) -> RateLimits:
    return RateLimits(clock=clock)


@pytest.mark.parametrize(
    ("group", "header", "per_second", "minute"),
    [
        ("market", "market", 10, 600),
        ("candle", "candles", 10, 600),
        ("candles", "candles", 10, 600),
        ("trade", "crix-trades", 10, 600),
        ("crix-trades", "crix-trades", 10, 600),
        ("ticker", "ticker", 10, 600),
        ("orderbook", "orderbook", 10, 600),
        ("default", "default", 30, 1800),
        ("order", "order", 8, 480),
        ("order-test", "order-test", 8, 480),
    ],
)
def test_rest_groups_count_down_per_second(
    limits: RateLimits, group: str, header: str, per_second: int, minute: int
) -> None:
    decisions = [limits.rest(group, "10.0.0.1") for _ in range(per_second + 1)]
    assert [d.allowed for d in decisions] == [True] * per_second + [False]
    assert [d.remaining for d in decisions[:-1]] == list(range(per_second - 1, -1, -1))
    assert decisions[0].remaining_req == f"group={header}; min={minute}; sec={per_second - 1}"
    refused = decisions[-1]
    assert refused.status == 429 and refused.remaining == 0
    assert refused.remaining_req == f"group={header}; min={minute}; sec=0"


def test_window_is_the_clock_second(limits: RateLimits, clock: FakeClock) -> None:
    clock.now = 1_700_000_000.9
    for _ in range(10):
        assert limits.rest("ticker", "ip").allowed
    refused = limits.rest("ticker", "ip")
    assert refused.status == 429
    assert refused.retry_after == pytest.approx(0.1)
    clock.now = 1_700_000_001.0
    assert limits.rest("ticker", "ip").remaining == 9


def test_groups_and_callers_are_counted_apart(limits: RateLimits) -> None:
    for _ in range(10):
        assert limits.rest("ticker", "ip-a").allowed
    assert not limits.rest("ticker", "ip-a").allowed
    assert limits.rest("ticker", "ip-b").allowed
    assert limits.rest("orderbook", "ip-a").allowed
    # The two ticker endpoints share one group: docs "same group shares a budget".
    assert limits.rest("ticker", "ip-b").remaining == 8


def test_order_cancel_all_is_one_per_two_seconds(limits: RateLimits, clock: FakeClock) -> None:
    clock.now = 1_700_000_000.0
    first = limits.rest("order-cancel-all", "key")
    assert first.allowed and first.remaining_req == "group=order-cancel-all; min=30; sec=0"
    clock.now += 1.0
    assert limits.rest("order-cancel-all", "key").status == 429
    clock.now += 1.0
    assert limits.rest("order-cancel-all", "key").allowed


def test_unknown_group_is_an_error(limits: RateLimits) -> None:
    with pytest.raises(KeyError):
        limits.rest("nonsense", "ip")


def test_refused_requests_consume_nothing(limits: RateLimits, clock: FakeClock) -> None:
    for _ in range(12):
        limits.rest("market", "ip")
    clock.now += 1.0
    assert limits.rest("market", "ip").remaining == 9


def test_continued_abuse_gets_418_with_growing_blocks(clock: FakeClock) -> None:
    limits = RateLimits(clock=clock, abuse_threshold=3, block_base=5.0, block_max=12.0)
    for _ in range(10):
        assert limits.rest("market", "ip").allowed
    statuses = [limits.rest("market", "ip").status for _ in range(4)]
    assert statuses == [429, 429, 429, 418]

    blocked = limits.rest("market", "ip")
    assert blocked.status == 418 and blocked.retry_after == pytest.approx(5.0)
    clock.now += 4.9  # still blocked, even in a new second
    assert limits.rest("market", "ip").status == 418
    clock.now += 0.2
    assert limits.rest("market", "ip").allowed

    def abuse() -> float:
        for _ in range(10):
            limits.rest("market", "ip")
        while (decision := limits.rest("market", "ip")).status == 429:
            pass
        assert decision.status == 418
        return decision.retry_after

    clock.now = float(int(clock.now) + 1)
    assert abuse() == pytest.approx(10.0)  # doubled
    clock.now += 11.0
    assert abuse() == pytest.approx(12.0)  # capped at block_max


def test_block_growth_is_forgiven_after_a_quiet_period(clock: FakeClock) -> None:
    limits = RateLimits(clock=clock, abuse_threshold=0, block_base=2.0, forgive_after=60.0)
    for _ in range(10):
        limits.rest("ticker", "ip")
    assert limits.rest("ticker", "ip").retry_after == pytest.approx(2.0)
    clock.now += 3.0
    for _ in range(10):
        limits.rest("ticker", "ip")
    assert limits.rest("ticker", "ip").retry_after == pytest.approx(4.0)
    clock.now += 120.0
    for _ in range(10):
        limits.rest("ticker", "ip")
    assert limits.rest("ticker", "ip").retry_after == pytest.approx(2.0)


def test_websocket_connects_five_per_second(limits: RateLimits, clock: FakeClock) -> None:
    decisions = [limits.websocket_connect("127.0.0.1") for _ in range(6)]
    assert [d.status for d in decisions] == [200] * 5 + [429]
    assert decisions[0].group == "websocket-connect"
    assert limits.websocket_connect("127.0.0.2").allowed
    clock.now += 1.0
    assert limits.websocket_connect("127.0.0.1").allowed


def test_websocket_connect_abuse_is_blocked(clock: FakeClock) -> None:
    limits = RateLimits(clock=clock, abuse_threshold=2, block_base=30.0)
    statuses = [limits.websocket_connect("ip").status for _ in range(9)]
    assert statuses == [200] * 5 + [429, 429, 418, 418]
    clock.now += 29.0
    assert limits.websocket_connect("ip").status == 418
    clock.now += 2.0
    assert limits.websocket_connect("ip").allowed


def test_message_budget_five_per_second(limits: RateLimits, clock: FakeClock) -> None:
    budget = limits.new_message_budget()
    assert [budget.allow() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 1.0
    assert budget.allow()
    # Budgets are per connection.
    assert limits.new_message_budget().allow()


def test_message_budget_hundred_per_minute(clock: FakeClock) -> None:
    clock.now = 1_700_000_040.0  # start of a clock minute (1_700_000_040 = 28_333_334 * 60)
    limits = RateLimits(clock=clock)
    budget = limits.new_message_budget()
    sent = 0
    for _second in range(20):
        sent += sum(budget.allow() for _ in range(5))
        clock.now += 1.0
    assert sent == 100
    refused = budget.check()
    assert refused.status == 429 and refused.retry_after == pytest.approx(40.0)
    clock.now += 40.0
    assert budget.allow()


def test_message_budget_abuse_blocks_the_connection(clock: FakeClock) -> None:
    limits = RateLimits(clock=clock, abuse_threshold=2)
    budget = limits.new_message_budget()
    statuses = [budget.check().status for _ in range(9)]
    assert statuses == [200] * 5 + [429, 429, 418, 418]
    assert budget.check().blocked


def test_message_violation_policy_is_configurable() -> None:
    assert RateLimits().message_violation == "error"
    assert RateLimits(message_violation="close").message_violation == "close"


def test_disabled_limits_allow_everything(clock: FakeClock) -> None:
    limits = RateLimits(clock=clock, enabled=False)
    assert all(limits.rest("ticker", "ip").allowed for _ in range(100))
    assert all(limits.websocket_connect("ip").allowed for _ in range(100))
    budget = limits.new_message_budget()
    assert all(budget.allow() for _ in range(500))
    assert limits.rest("ticker", "ip").remaining_req == "group=ticker; min=600; sec=10"


def test_reset_forgets_blocks(clock: FakeClock) -> None:
    limits = RateLimits(clock=clock, abuse_threshold=0)
    for _ in range(11):
        limits.rest("market", "ip")
    assert limits.rest("market", "ip").status == 418
    limits.reset()
    assert limits.rest("market", "ip").allowed


def test_idle_counters_are_forgotten(clock: FakeClock) -> None:
    limits = RateLimits(clock=clock)
    for i in range(3000):
        limits.rest("ticker", f"ip-{i}")
    clock.now += 3600.0
    for _ in range(1024):
        limits.rest("ticker", "last")
    assert limits.tracked < 10


def test_origin_requests_are_one_per_ten_seconds_over_all_quotation(
    limits: RateLimits, clock: FakeClock
) -> None:
    clock.now = 1_700_000_000.0
    first = limits.rest("ticker", "ip", origin=True)
    assert first.allowed and first.remaining_req == "group=ticker; min=6; sec=0"
    refused = limits.rest("orderbook", "ip", origin=True)
    assert refused.status == 429 and refused.retry_after == pytest.approx(10.0)
    # Without Origin the ordinary budget applies; exchange groups are unaffected.
    assert limits.rest("orderbook", "ip").allowed
    assert limits.rest("default", "key", origin=True).remaining == 29
    clock.now += 10.0
    assert limits.rest("candles", "ip", origin=True).allowed
    assert RateLimits(clock=clock, origin_limit=False).rest("ticker", "ip", origin=True).allowed
