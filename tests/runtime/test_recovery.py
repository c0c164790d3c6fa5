"""RecoveryEngine and EpochManager: the pure timing and generation rules."""

from __future__ import annotations

import random

from upbit_tui.config import ConnectionConfig
from upbit_tui.net.recovery import EpochManager, RecoveryEngine


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
    engine.request_wait(None, blocked=True)  # 418 without a duration: a long default wait
    assert engine.next_delay() >= 30.0


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
