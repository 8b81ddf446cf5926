"""Planning a day of cron slots (today's queue): cronsim-based matching against the matcher it replaced.

The old matcher (re-walking the local days on every call, one call per slot) is kept below as the baseline,
measured in the same run. Both must plan the same slots (checked on the measured day and on DST days).

    python bench/trigger_planning.py
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from _common import load, progress

from app.core.triggers import CronFields, Trigger, parse_trigger, wall_to_instant

TZ = ZoneInfo("America/New_York")
CASES = ("cron * * * * *", "cron */5 8-18 * * 1-5")
DAY = date(2026, 12, 2)  # a Wednesday
DST_DAYS = (date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 9), date(2026, 11, 2))  # New York's changes, day after
_SEARCH_DAYS = 366 * 8


# -- the old matcher (app/core/triggers.py before cronsim), verbatim but for names -----------------------
def _old_matches(fields: CronFields, day: date) -> bool:
    if day.month not in fields.months:
        return False
    dom, dow = day.day in fields.days, day.weekday() in fields.weekdays
    if fields.dom_any or fields.dow_any:
        return dom and dow
    return dom or dow


def _old_cron_fires(fields: CronFields, now: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    start_day = now.astimezone(tz).date() - timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = start_day + timedelta(days=offset)
        if not _old_matches(fields, day):
            continue
        seen: set[datetime] = set()
        for hour in fields.hours:
            for minute in fields.minutes:
                for second in fields.seconds:
                    fire = wall_to_instant(day, time(hour, minute, second), tz)
                    if fire > now and fire not in seen:
                        seen.add(fire)
                        yield fire


def old_plan(trigger: Trigger, start: datetime, end: datetime, tz: ZoneInfo, limit: int = 2000) -> list[datetime]:
    """The old fires_between for a cron trigger: next_fire (a fresh walk) once per slot."""
    assert trigger.cron is not None
    fires: list[datetime] = []
    cursor = start - timedelta(microseconds=1)
    while len(fires) < limit:
        fire = next(_old_cron_fires(trigger.cron, cursor, tz), None)
        if fire is None or fire >= end:
            break
        fires.append(fire)
        cursor = fire
    return fires


def new_plan(trigger: Trigger, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    return trigger.fires_between(start, end, tz)


def bounds(day: date, hours: int = 24) -> tuple[datetime, datetime]:
    """From local midnight of `day`, `hours` of wall clock (a whole day by default)."""
    start = datetime.combine(day, time(0), tzinfo=TZ)
    end = start + timedelta(hours=hours)  # wall-clock arithmetic in one zone
    if hours == 24:
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=TZ)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def timed(
    plan: Callable[[Trigger, datetime, datetime, ZoneInfo], list[datetime]], trigger: Trigger, repeats: int
) -> tuple[float, list[datetime]]:
    """Best of `repeats` plans of DAY in milliseconds, and the slots planned."""
    best, slots = float("inf"), []
    for _ in range(repeats):
        began = clock.perf_counter()
        slots = plan(trigger, *bounds(DAY), TZ)
        best = min(best, clock.perf_counter() - began)
    return best * 1000, slots


def main() -> None:
    before = load()
    # The old matcher is quadratic in a day's slots: DST days are compared over their first four hours.
    for text in (*CASES, "daily 02:30", "daily 01:30 on weekdays"):
        trigger = parse_trigger(text, TZ)
        for day in DST_DAYS:
            window = bounds(day, 4) if text == CASES[0] else bounds(day)
            if new_plan(trigger, *window, TZ) != old_plan(trigger, *window, TZ):
                raise SystemExit(f"{text!r} plans {day} differently from the old matcher")
    progress("both matchers plan the same slots on DST days")
    parts = []
    for text in CASES:
        trigger = parse_trigger(text, TZ)
        old, old_slots = timed(old_plan, trigger, 1)
        new, new_slots = timed(new_plan, trigger, 5)
        if new_slots != old_slots:
            raise SystemExit(f"{text!r} plans {DAY} differently from the old matcher")
        progress(f"{text}: {len(new_slots)} slots, old {old:.1f} ms, cronsim {new:.1f} ms")
        parts.append(f"'{text}' {len(new_slots)} slots cronsim={new:.1f} ms old={old:.1f} ms ratio={new / old:.4f}x")
    print(
        f"bench_trigger_planning: one day ({DAY}) in {TZ}, same slots as the old matcher (and on 4 DST days): "
        + "; ".join(parts)
        + f" [load {before}->{load()}]"
    )


if __name__ == "__main__":
    main()
