from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from app.core.presence import should_hibernate
from app.core.slots import cooldown_left, is_stale, needs_catch_up, next_slot, retry_delay

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def test_next_slot_skips_missed_slots_once() -> None:
    interval = timedelta(minutes=15)
    assert next_slot(T0, interval, T0) == T0 + interval
    assert next_slot(T0, interval, T0 + timedelta(minutes=67)) == T0 + timedelta(minutes=75)
    assert next_slot(T0 + interval, interval, T0) == T0 + interval


@given(
    st.integers(min_value=1, max_value=10_000),
    st.integers(min_value=0, max_value=10_000_000),
)
def test_next_slot_is_the_first_slot_after_now(interval_s: int, late_s: int) -> None:
    interval = timedelta(seconds=interval_s)
    now = T0 + timedelta(seconds=late_s)
    slot = next_slot(T0, interval, now)
    assert now < slot <= now + interval
    assert (slot - T0) % interval == timedelta(0)


def test_staleness_and_backoff_and_cooldown() -> None:
    assert is_stale(None, T0, timedelta(minutes=15))
    assert not is_stale(T0 - timedelta(minutes=14), T0, timedelta(minutes=15))
    assert is_stale(T0 - timedelta(minutes=15), T0, timedelta(minutes=15))
    assert [retry_delay(30, n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(30, 20) == timedelta(hours=1)
    assert cooldown_left(None, T0, timedelta(seconds=60)) == timedelta(0)
    assert cooldown_left(T0 - timedelta(seconds=20), T0, timedelta(seconds=60)) == timedelta(seconds=40)


def test_a_process_never_visited_does_not_hibernate() -> None:
    assert not should_hibernate(None, T0, timedelta(minutes=5))
    assert not should_hibernate(T0 - timedelta(minutes=4), T0, timedelta(minutes=5))
    assert should_hibernate(T0 - timedelta(minutes=5), T0, timedelta(minutes=5))


def test_catch_up_only_when_a_slot_was_missed() -> None:
    interval = timedelta(minutes=15)
    healthy_last = T0 - timedelta(minutes=14)
    assert not needs_catch_up(healthy_last, T0 + timedelta(minutes=1), T0, interval)
    assert needs_catch_up(T0 - timedelta(minutes=40), T0 + timedelta(minutes=1), T0, interval)
    assert needs_catch_up(None, T0 + timedelta(minutes=1), T0, interval)
    assert not needs_catch_up(None, T0 - timedelta(minutes=1), T0, interval)  # already due: the claim runs it
