"""RecoveryEngine and EpochManager: the pure timing and generation rules."""

from __future__ import annotations

import math
import random
import time

import pytest

from upbit_tui.config import ConnectionConfig
from upbit_tui.net.recovery import (
    CRITICAL_SERVER_WAIT,
    MAX_SERVER_WAIT,
    REFUSAL_MAX_WAIT,
    EpochManager,
    RecoveryEngine,
    parse_retry_after,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _engine(clock: FakeClock | None = None, **overrides: float) -> RecoveryEngine:
    config = ConnectionConfig(
        **{
            "reconnect_initial_delay": 1.0,
            "reconnect_max_delay": 60.0,
            "reconnect_multiplier": 2.0,
            "reconnect_jitter": 0.0,
            "reconnect_reset_after": 30.0,
            **overrides,
        }
    )
    return RecoveryEngine(config, rng=random.Random(7), clock=clock or FakeClock())


def test_delay_doubles_from_initial_up_to_the_cap() -> None:
    engine = _engine()
    delays = [engine.next_delay() for _ in range(9)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_jitter_only_shortens_and_stays_within_its_fraction() -> None:
    engine = _engine(reconnect_jitter=0.25)
    for attempt in range(40):
        base = engine.base_delay(attempt)
        delay = engine.next_delay()
        assert base * 0.75 <= delay <= base
    # Jitter actually varies the delays (a fleet must not reconnect in lock-step).
    firsts = set()
    for _ in range(20):
        engine.reset()
        firsts.add(engine.next_delay())
    assert len(firsts) > 10


def test_never_gives_up_and_turns_critical_after_the_configured_attempts() -> None:
    engine = _engine(reconnect_critical_after=10)
    for _ in range(9):
        engine.next_delay()
    assert not engine.is_critical
    engine.next_delay()
    assert engine.is_critical
    # It keeps producing delays at the cap forever, even after a thousand failures.
    for _ in range(1000):
        assert engine.next_delay() == 60.0


def test_backoff_resets_only_after_a_healthy_period() -> None:
    clock = FakeClock()
    engine = _engine(clock)
    for _ in range(5):
        engine.next_delay()
    engine.connected()
    clock.now += 5.0  # dropped quickly: a flapping server keeps the backoff
    engine.disconnected()
    assert engine.attempts == 5
    assert engine.next_delay() == 32.0
    engine.connected()
    clock.now += 31.0  # healthy for longer than reconnect_reset_after
    engine.disconnected()
    assert engine.attempts == 0
    assert engine.next_delay() == 1.0
    assert engine.total_reconnects == 2


def test_server_requested_wait_is_a_floor_for_the_next_delay_only() -> None:
    engine = _engine()
    engine.request_wait(7.5)
    assert engine.next_delay() == 7.5
    assert engine.next_delay() == 2.0
    engine.request_wait(None)  # no usable Retry-After: 1 s, doubling per refusal in a row
    assert engine.next_delay() == 4.0  # the backoff (attempt 2) is longer than the 1 s floor


def test_closes_we_chose_are_not_counted_as_reconnects() -> None:
    engine = _engine()
    engine.connected()
    engine.disconnected(count=False)
    assert engine.total_reconnects == 0


def test_epochs_are_per_connection_kind() -> None:
    epochs = EpochManager()
    assert epochs.current("public") == 0
    assert epochs.increment_epoch("public") == 1
    assert epochs.increment_epoch("public") == 2
    assert epochs.increment_epoch("private") == 1
    assert epochs.is_current_epoch("public", 2)
    assert not epochs.is_current_epoch("public", 1)
    assert epochs.is_current_epoch("private", 1)
    assert epochs.snapshot() == {"public": 2, "private": 1}


def test_a_connection_that_delivered_data_resets_the_backoff_however_short() -> None:
    clock = FakeClock()
    engine = _engine(clock)
    for _ in range(6):
        engine.next_delay()
    engine.connected()
    clock.now += 2.0  # a fault every few seconds: each one is a new incident
    engine.disconnected(delivered=True)
    assert engine.attempts == 0
    assert engine.next_delay() == 1.0


def test_a_server_that_accepts_and_drops_at_once_keeps_the_backoff_growing() -> None:
    clock = FakeClock()
    engine = _engine(clock)
    delays = []
    for _ in range(7):
        delays.append(engine.next_delay())
        engine.connected()
        clock.now += 0.01
        engine.disconnected(delivered=False)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]


def test_refusals_without_retry_after_wait_one_second_doubling_not_a_minute() -> None:
    # A tiny configured backoff (as in tests) still waits Upbit's per-second connect window.
    engine = _engine(reconnect_initial_delay=0.01, reconnect_max_delay=0.1)
    waits = []
    for _ in range(8):
        engine.request_wait(None)
        waits.append(engine.next_delay())
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, REFUSAL_MAX_WAIT, REFUSAL_MAX_WAIT, REFUSAL_MAX_WAIT]
    assert not engine.is_critical or engine.attempts >= 10
    engine.connected()  # an accepted handshake ends the run of refusals
    engine.request_wait(None)
    assert engine.next_delay() == 1.0


def test_refusal_waits_are_jittered_within_their_fraction() -> None:
    engine = _engine(reconnect_jitter=0.25, reconnect_initial_delay=0.01, reconnect_max_delay=0.1)
    firsts = set()
    for _ in range(20):
        engine.connected()
        wait = engine.request_wait(None)
        assert 0.75 <= wait <= 1.0
        firsts.add(wait)
    assert len(firsts) > 10


def test_retry_after_zero_means_now_the_normal_backoff_applies() -> None:
    engine = _engine(reconnect_initial_delay=0.01, reconnect_max_delay=0.1)
    engine.request_wait(0.0)
    assert engine.next_delay() == 0.01


@pytest.mark.parametrize("asked", [86400.0, 1e9, math.inf])
def test_huge_retry_after_is_capped_and_critical_with_the_reason(asked: float) -> None:
    clock = FakeClock()
    engine = _engine(clock)
    assert engine.request_wait(asked) == MAX_SERVER_WAIT
    assert engine.is_critical
    reason = engine.server_wait_reason()
    assert reason is not None
    assert f"obeyed for {MAX_SERVER_WAIT:g} s" in reason
    assert "until " in reason and reason.endswith("UTC")
    assert engine.next_delay() == MAX_SERVER_WAIT
    clock.now += MAX_SERVER_WAIT  # the wait is over: no longer critical on its account
    assert not engine.is_critical
    assert engine.server_wait_reason() is None


def test_a_short_server_wait_is_obeyed_but_not_critical() -> None:
    engine = _engine()
    assert engine.request_wait(CRITICAL_SERVER_WAIT - 1) == CRITICAL_SERVER_WAIT - 1
    assert not engine.is_critical


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("5", 5.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),
        ("86400", 86400.0),
        ("inf", math.inf),
        ("-3", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        # HTTP-dates in the three RFC 9110 forms, 90 s after "now"; a past date means now.
        ("Sun, 06 Nov 1994 08:51:07 GMT", 90.0),
        ("Sunday, 06-Nov-94 08:51:07 GMT", 90.0),
        ("Sun Nov  6 08:51:07 1994", 90.0),
        ("Sun, 06 Nov 1994 08:00:00 GMT", 0.0),
    ],
)
def test_retry_after_in_every_rfc_9110_form(value: str | None, seconds: float | None) -> None:
    now = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT
    assert parse_retry_after(value, now=now) == seconds


def test_retry_after_date_defaults_to_the_wall_clock() -> None:
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 100))
    parsed = parse_retry_after(soon)
    assert parsed is not None and 95 <= parsed <= 100
