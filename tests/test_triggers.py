"""Trigger fire times (pure, no clock): DST changes in New York and São Paulo, day groups, windows, cron fields."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.core.triggers import TriggerKind, parse_trigger
from app.errors import TriggerError

ROOT = Path(__file__).resolve().parents[1]
NY = ZoneInfo("America/New_York")
SP = ZoneInfo("America/Sao_Paulo")


def fires(text: str, tz: ZoneInfo, start: datetime, count: int, previous: datetime | None = None) -> list[datetime]:
    """`count` successive slots after `start`, in local time; a rate series anchored at `previous`."""
    trigger = parse_trigger(text, tz)
    out: list[datetime] = []
    now = start.astimezone(timezone.utc)
    anchor = previous
    for _ in range(count):
        fire = trigger.next_fire(anchor, now, tz)
        assert fire is not None
        assert fire > now, f"{text}: {fire} is not after {now}"
        out.append(fire.astimezone(tz))
        now = anchor = fire
    return out


def gap(a: datetime, b: datetime) -> timedelta:
    """Real elapsed time (Python subtracts aware datetimes of one zone as wall-clock times)."""
    return b.astimezone(timezone.utc) - a.astimezone(timezone.utc)


def test_daily_time_in_the_new_york_spring_forward_gap_runs_once_right_after_the_gap() -> None:
    got = fires("daily 02:30", NY, datetime(2026, 3, 7, 12, tzinfo=NY), 3)
    assert [f.date().day for f in got] == [8, 9, 10]  # one run every day, none skipped
    assert (got[0].hour, got[0].minute) == (3, 0)  # 02:30 does not exist on 8 March: first instant after
    assert [(f.hour, f.minute) for f in got[1:]] == [(2, 30), (2, 30)]


def test_daily_time_in_the_new_york_repeated_hour_runs_once() -> None:
    got = fires("cron 30 1 * * *", NY, datetime(2026, 10, 31, 12, tzinfo=NY), 3)
    assert [f.date().day for f in got] == [1, 2, 3]  # APScheduler 3's CronTrigger fires twice on 1 Nov
    assert got[0].utcoffset() == timedelta(hours=-4)  # the first 01:30 (EDT)
    assert gap(got[0], got[1]) == timedelta(hours=25)


def test_sao_paulo_midnight_spring_forward_keeps_the_day() -> None:
    # 2018-11-04 00:00 became 01:00 in São Paulo: a 00:30 job runs at 01:00 that day, not the next day.
    got = fires("daily 00:30", SP, datetime(2018, 11, 2, 12, tzinfo=SP), 3)
    assert [(f.day, f.hour, f.minute) for f in got] == [(3, 0, 30), (4, 1, 0), (5, 0, 30)]


def test_sao_paulo_fall_back_repeated_hour_runs_once() -> None:
    # 2019-02-17 00:00 went back to 2019-02-16 23:00: 23:30 on the 16th happened twice.
    got = fires("daily 23:30", SP, datetime(2019, 2, 15, 12, tzinfo=SP), 3)
    assert [f.day for f in got] == [15, 16, 17]
    assert gap(got[1], got[2]) == timedelta(hours=25)


def test_interval_is_a_fixed_rate_in_real_time_across_dst() -> None:
    start = datetime(2026, 11, 1, 0, 0, tzinfo=NY)
    got = fires("every 1h", NY, start, 4, previous=start.astimezone(timezone.utc))
    gaps = {gap(a, b) for a, b in zip(got, got[1:], strict=False)}
    assert gaps == {timedelta(hours=1)}
    assert [f.hour for f in got] == [1, 1, 2, 3]  # 01:00 twice (EDT, then EST): the rate does not care


def test_weekdays_group_skips_the_weekend() -> None:
    friday = datetime(2026, 12, 4, 8, 0, tzinfo=SP)
    got = fires("daily 07:00 on weekdays", SP, friday, 3)
    assert [f.strftime("%a %H:%M") for f in got] == ["Mon 07:00", "Tue 07:00", "Wed 07:00"]


def test_custom_days_and_ranges() -> None:
    monday = datetime(2026, 11, 30, 12, 0, tzinfo=SP)
    assert [f.strftime("%a") for f in fires("daily 06:00 on mon,wed,fri", SP, monday, 4)] == [
        "Wed",
        "Fri",
        "Mon",
        "Wed",
    ]
    assert [f.strftime("%a") for f in fires("daily 06:00 on fri-mon", SP, monday, 4)] == ["Fri", "Sat", "Sun", "Mon"]


def test_business_hours_window_restarts_the_series_at_the_next_opening() -> None:
    previous = datetime(2026, 12, 4, 17, 30, tzinfo=SP)  # a Friday
    got = fires("every 15m during business hours", SP, previous, 3, previous=previous.astimezone(timezone.utc))
    assert [f.strftime("%a %H:%M") for f in got] == ["Fri 17:45", "Mon 08:00", "Mon 08:15"]


def test_interval_window_on_custom_hours() -> None:
    previous = datetime(2026, 12, 1, 11, 50, tzinfo=SP)
    got = fires("every 20m between 09:00-12:00", SP, previous, 2, previous=previous.astimezone(timezone.utc))
    assert [f.strftime("%d %H:%M") for f in got] == ["02 09:00", "02 09:20"]


def test_cron_weekday_numbers_follow_crontab_sunday_is_zero() -> None:
    wednesday = datetime(2026, 12, 2, 12, 0, tzinfo=SP)
    assert fires("cron 0 8 * * 0", SP, wednesday, 1)[0].strftime("%a %H:%M") == "Sun 08:00"
    assert fires("cron 0 8 * * 7", SP, wednesday, 1)[0].strftime("%a") == "Sun"
    assert [f.strftime("%a") for f in fires("cron 0 8 * * 1-5", SP, wednesday, 3)] == ["Thu", "Fri", "Mon"]


def test_cron_day_of_month_and_weekday_combine_with_or() -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=SP)  # a Tuesday
    got = fires("cron 0 9 15 * fri", SP, start, 3)
    assert [f.strftime("%d %a") for f in got] == ["04 Fri", "11 Fri", "15 Tue"]


def test_six_field_cron_has_seconds_first() -> None:
    start = datetime(2026, 12, 1, 12, 0, 0, tzinfo=SP)
    got = fires("cron */20 * * * * *", SP, start, 3)
    assert [f.second for f in got] == [20, 40, 0]


def test_once_fires_once_then_is_done() -> None:
    trigger = parse_trigger("once 2026-12-24 10:00", SP)
    at = datetime(2026, 12, 24, 10, 0, tzinfo=SP)
    assert trigger.first_fire(datetime(2026, 12, 1, tzinfo=timezone.utc), SP) == at
    assert trigger.next_fire(at, at, SP) is None


def test_fixed_delay_waits_for_the_end_of_the_previous_run() -> None:
    trigger = parse_trigger("delay 10m", SP)
    ended = datetime(2026, 12, 1, 15, 7, 13, tzinfo=timezone.utc)
    assert trigger.kind == TriggerKind.DELAY
    assert trigger.next_fire(ended - timedelta(minutes=3), ended, SP) is None  # nothing until the run ends
    assert trigger.after_run(ended, SP) == ended + timedelta(minutes=10)


def test_period_is_the_usual_gap() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    assert parse_trigger("every 15m", SP).period(now, SP) == timedelta(minutes=15)
    assert parse_trigger("daily 07:00 on weekdays", SP).period(now, SP) == timedelta(days=1)
    assert parse_trigger("cron 0 */6 * * *", SP).period(now, SP) == timedelta(hours=6)


def test_fires_between_lists_a_local_day() -> None:
    day_start = datetime(2026, 12, 1, 0, 0, tzinfo=SP)
    end = day_start + timedelta(days=1)
    assert len(parse_trigger("every 1h", SP).fires_between(day_start, end, SP, anchor=day_start)) == 24
    assert [
        f.astimezone(SP).hour for f in parse_trigger("cron 0 8,12,18 * * *", SP).fires_between(day_start, end, SP)
    ] == [
        8,
        12,
        18,
    ]


def test_canonical_text_is_what_is_stored() -> None:
    assert parse_trigger("Every 15 Minutes on Weekdays").text == "every 15m on weekdays"
    assert parse_trigger("every 5m during business hours").text == "every 5m on weekdays between 08:00-18:00"
    assert parse_trigger("daily 7:05").text == "daily 07:05"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty"),
        ("weekly", "start with every"),
        ("every", "needs a duration"),
        ("every 0m", "must be positive"),
        ("every 5 parsecs", "not a duration"),
        ("every 5m on funday", "unknown days 'funday'"),
        ("every 5m between 18:00-08:00", "open before it closes"),
        ("cron 1 2 3", "has 3 fields"),
        ("cron 61 * * * *", "minute '61' is out of range 0-59"),
        ("cron 0 8 * * xyz", "not a number"),
        ("daily 25:00", "not a time of day"),
        ("once tomorrow", "needs a date and time"),
    ],
)
def test_bad_trigger_text_gets_a_message_naming_the_problem(text: str, names: str) -> None:
    with pytest.raises(TriggerError, match=names.replace("(", r"\(")):
        parse_trigger(text)


def test_a_new_interval_keeps_the_days_and_hours_window() -> None:
    windowed = parse_trigger("every 5m on weekdays between 08:00-18:00", SP)
    assert windowed.with_interval(600, SP).text == "every 10m on weekdays between 08:00-18:00"
    assert parse_trigger("daily 07:00", SP).with_interval(600, SP).text == "every 10m"


# -- bounds: a period fits the calendar, and a trigger that can never fire is refused -------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("every 0.001s", "'0.001s' is too short: a trigger's period must be at least 1 s"),
        ("delay 0.5s", "'0.5s' is too short"),
        ("every 99999999999999999999d", "too long: a trigger's period must be at most 366 days"),
        ("every 9999999d", "too long"),
        ("delay 367d", "too long"),
        pytest.param("every " + "9" * 400 + "d", "too long", id="every-400-digits-d"),
        ("once 9999-12-31 23:59", "too far ahead: the date must be before 9999-01-01"),
        ("cron 0 0 31 2 *", "'cron 0 0 31 2 \\*' never fires: no month among '2' has a day '31'"),
        ("cron 0 0 30,31 2 *", "never fires"),
        ("cron 0 0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_periods_are_bounded_and_a_cron_that_never_fires_is_refused(text: str, names: str) -> None:
    with pytest.raises(TriggerError, match=names):
        parse_trigger(text, SP)


@pytest.mark.parametrize(
    ("text", "within"),
    [
        ("every 1s", timedelta(seconds=1)),
        ("every 366d", timedelta(days=366)),
        ("cron 0 0 29 2 *", timedelta(days=366 * 4 + 1)),  # leap days only: rare but real
        ("cron 0 0 31 2 mon", timedelta(days=70)),  # a weekday OR a day of month: February Mondays still come
        ("cron 0 0 31 * *", timedelta(days=62)),
    ],
)
def test_the_bounds_themselves_and_rare_crons_still_fire(text: str, within: timedelta) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    trigger = parse_trigger(text, SP)
    fire = trigger.next_fire(now, now, SP)
    assert fire is not None and now < fire <= now + within
    trigger.check_fires(now, SP)  # no error


def test_a_one_time_trigger_in_the_past_has_no_future_fire_time() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    with pytest.raises(TriggerError, match="'once 2026-11-30 10:00' has no fire time after now"):
        parse_trigger("once 2026-11-30 10:00", SP).check_fires(now, SP)
    parse_trigger("once 2026-12-24 10:00", SP).check_fires(now, SP)


def set_trigger_from_the_cli(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fd.db'}", "DEMO_SOURCE_PATH": str(tmp_path / "d.db")}
    return subprocess.run(
        [sys.executable, "-m", "app", "trigger", "history_retention", *text.split()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("every 99999999999999999999d", "at most 366 days"),
        ("every 9999999d", "at most 366 days"),
        ("every 0.001s", "at least 1 s"),
        ("cron 0 0 31 2 *", "never fires"),
        ("once 2001-01-01 10:00", "has no fire time after now"),
    ],
)
def test_the_cli_refuses_an_unbounded_or_dead_trigger_with_a_message(tmp_path: Path, text: str, names: str) -> None:
    done = set_trigger_from_the_cli(tmp_path, text)
    assert done.returncode == 2, done.stdout + done.stderr
    assert names in done.stderr and "Traceback" not in done.stderr
