"""Pure decisions about time: the next slot of an interval job, staleness, retry backoff."""

from __future__ import annotations

import math
from datetime import datetime, timedelta


def next_slot(due_at: datetime, interval: timedelta, now: datetime) -> datetime:
    """The first slot of the fixed-rate series through `due_at` that lies strictly after `now`.

    Missed slots are skipped (coalesced): a job due at 10:00 every 15 min, claimed at 11:07, next runs 11:15.
    """
    if interval <= timedelta(0):
        raise ValueError("interval must be positive")
    if due_at > now:
        return due_at
    missed = math.floor((now - due_at) / interval) + 1
    return due_at + missed * interval


def is_stale(last_success_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """Data is stale when it never synced or its last success is at least `max_age` old."""
    return last_success_at is None or now - last_success_at >= max_age


def retry_delay(backoff_seconds: float, attempt: int) -> timedelta:
    """Exponential backoff after failed attempt number `attempt` (1-based): b, 2b, 4b ... capped at 1 hour."""
    return timedelta(seconds=min(backoff_seconds * (2 ** max(attempt - 1, 0)), 3600.0))


def cooldown_left(last_finished_at: datetime | None, now: datetime, cooldown: timedelta) -> timedelta:
    """How long a non-admin must wait before another manual sync (zero when allowed now)."""
    if last_finished_at is None:
        return timedelta(0)
    return max(last_finished_at + cooldown - now, timedelta(0))


def needs_catch_up(
    last_success_at: datetime | None, next_run_at: datetime | None, now: datetime, interval: timedelta
) -> bool:
    """Run now instead of waiting for the next slot: the data will be too old by the time it comes.

    In a healthy series the last success is about one interval before the next slot; more than 1.5 intervals
    means a slot failed or was skipped (or there never was a success). A slot already due needs nothing.
    """
    if next_run_at is None:
        return is_stale(last_success_at, now, interval)
    if next_run_at <= now:
        return False
    return last_success_at is None or next_run_at - last_success_at > 1.5 * interval
