"""When a job fires: interval (fixed rate), fixed delay, cron, daily at a time, once at a date, in day groups.

Pure functions of `now` and the configured time zone; no clock, no database. A trigger is written as one
line of text (stored in ``jobs.trigger``, typed in the UI and the CLI), for example::

    every 15m                               fixed rate, anchored at the previous slot
    every 5m on weekdays between 08:00-18:00
    every 10m during business hours         weekdays 08:00-18:00
    delay 10m                               10 minutes after the previous run ends
    cron 30 8 * * 1-5                       5 fields (minute hour day month weekday), or 6 with seconds first
    daily 07:00 on mon,wed,fri              day groups: every day, weekdays, weekends, a list or range of days
    once 2026-12-24 10:00                   local time in SCHEDULER_TIMEZONE

Cron and daily times are wall-clock times: cronsim walks the matching local times (naive, so it applies none
of its own DST rules) and each becomes an instant here (APScheduler 3's CronTrigger skips a day at a
spring-forward midnight and fires twice in a repeated hour): a time that does not exist on a DST day runs
at the first instant after the gap; a time that occurs twice runs once, at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo

from cronsim import CronSim

from app.core.slots import next_slot
from app.errors import TriggerError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
ALL_DAYS = frozenset(range(7))
DAY_GROUPS = {
    "every day": ALL_DAYS,
    "everyday": ALL_DAYS,
    "daily": ALL_DAYS,
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
BUSINESS_HOURS = (time(8, 0), time(18, 0))
_UNITS = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}
# Wider than any DST shift: a wall time this far before `now` can still be an instant after it near a change.
DST_MARGIN = timedelta(hours=3)
# A period is at least a second (a run per millisecond is a typo, not a schedule) and at most a leap year, so
# every slot computed from it stays inside the calendar (datetime ends at year 9999).
MIN_PERIOD_SECONDS = 1.0
MAX_PERIOD_SECONDS = 366 * 86400.0
LAST_YEAR = 9998  # a one-time slot is before 9999 so the arithmetic around it (freshness, today's agenda) fits
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29 February exists in leap years


class TriggerKind(str, Enum):
    INTERVAL = "interval"
    DELAY = "delay"
    CRON = "cron"
    DAILY = "daily"
    ONCE = "once"


@dataclass(frozen=True)
class CronFields:
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]  # day of month, 1..31
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Monday
    dom_any: bool
    dow_any: bool

    @property
    def expression(self) -> str:
        """The fields as a 6-field cronsim expression of plain numbers (weekday 0 = Sunday there)."""
        return _expression(self)


@dataclass(frozen=True)
class Trigger:
    """A parsed trigger; `text` is its canonical form (what is stored and shown)."""

    kind: TriggerKind
    text: str
    seconds: float = 0.0
    cron: CronFields | None = None
    at: datetime | None = None  # once: an aware instant
    days: frozenset[int] = ALL_DAYS
    window: tuple[time, time] | None = None

    def with_interval(self, seconds: float, tz: ZoneInfo) -> Trigger:
        """The same days and hours window at another interval (an interval trigger stays windowed)."""
        kept = _describe_days_window(self.days, self.window) if self.kind == TriggerKind.INTERVAL else ""
        return parse_trigger(f"every {format_seconds(seconds)}{kept}", tz)

    @property
    def is_rate(self) -> bool:
        """Interval and delay jobs keep data fresh, so they catch up by data age; calendar jobs do not."""
        return self.kind in (TriggerKind.INTERVAL, TriggerKind.DELAY)

    def check_fires(self, now: datetime, tz: ZoneInfo) -> None:
        """Refuse a trigger with no slot after `now` (a one-time date already past): its job would never run."""
        fire = self.first_fire(now, tz)
        if fire is None or (self.kind == TriggerKind.ONCE and fire <= now):
            shown = f" ({now.astimezone(tz):%Y-%m-%d %H:%M} now in {tz})" if self.kind == TriggerKind.ONCE else ""
            raise TriggerError(f"'{self.text}' has no fire time after now{shown}: the job would never run")

    def first_fire(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """The first slot of a new job: at once for rate jobs (inside their window), else the next fire."""
        if self.kind == TriggerKind.ONCE:
            return self.at
        if self.is_rate:
            return now if self._allowed(now, tz) else self._next_window_start(now, tz)
        return self.next_fire(None, now, tz)

    def next_fire(self, previous: datetime | None, now: datetime, tz: ZoneInfo) -> datetime | None:
        """The first slot strictly after `now` (missed slots coalesce); None when the trigger is done.

        `previous` anchors a fixed-rate series; a fixed-delay job has no next slot until its run ends.
        """
        if self.kind == TriggerKind.ONCE:
            return self.at if self.at is not None and self.at > now else None
        if self.kind == TriggerKind.DELAY:
            return None
        if self.kind == TriggerKind.INTERVAL:
            candidate = next_slot(previous or now, timedelta(seconds=self.seconds), now)
            return candidate if self._allowed(candidate, tz) else self._next_window_start(candidate, tz)
        assert self.cron is not None
        return next(_cron_fires(self.cron, now, tz), None)

    def after_run(self, finished_at: datetime, tz: ZoneInfo) -> datetime | None:
        """Fixed delay: the next slot once a run ended."""
        if self.kind != TriggerKind.DELAY:
            return None
        candidate = finished_at + timedelta(seconds=self.seconds)
        return candidate if self._allowed(candidate, tz) else self._next_window_start(candidate, tz)

    def fires_between(
        self, start: datetime, end: datetime, tz: ZoneInfo, anchor: datetime | None = None, limit: int = 2000
    ) -> list[datetime]:
        """Every slot in [start, end) (today's agenda); a rate series is anchored at `anchor` (its next slot)."""
        fires: list[datetime] = []
        if self.kind == TriggerKind.DELAY:
            return [anchor] if anchor is not None and start <= anchor < end else []
        if self.kind == TriggerKind.ONCE:
            return [self.at] if self.at is not None and start <= self.at < end else []
        cursor = start - timedelta(microseconds=1)
        if self.cron is not None:  # cron, daily: one walk over the day instead of a search per slot
            for slot in _cron_fires(self.cron, cursor, tz):
                if slot >= end or len(fires) >= limit:
                    break
                fires.append(slot)
            return fires
        if self.kind == TriggerKind.INTERVAL and anchor is not None:
            step = timedelta(seconds=self.seconds)
            back = max(int((anchor - start) / step) + 1, 0) if anchor > start else 0
            anchor = anchor - back * step
        while len(fires) < limit:
            fire = self.next_fire(anchor, cursor, tz)
            if fire is None or fire >= end:
                break
            fires.append(fire)
            cursor, anchor = fire, fire if self.kind == TriggerKind.INTERVAL else anchor
        return fires

    def period(self, now: datetime, tz: ZoneInfo) -> timedelta:
        """The usual gap between slots (freshness limit, catch-up labels): the median of the next few gaps."""
        if self.is_rate:
            return timedelta(seconds=self.seconds)
        fires = list(islice(_cron_fires(self.cron, now, tz), 9)) if self.cron is not None else []  # once: none
        gaps = sorted(b - a for a, b in zip(fires, fires[1:], strict=False))
        return gaps[len(gaps) // 2] if gaps else timedelta(days=1)

    def _allowed(self, instant: datetime, tz: ZoneInfo) -> bool:
        local = instant.astimezone(tz)
        if local.weekday() not in self.days:
            return False
        return self.window is None or self.window[0] <= local.time() < self.window[1]

    def _next_window_start(self, instant: datetime, tz: ZoneInfo) -> datetime | None:
        """The next allowed day/time opening after `instant` (a windowed series restarts there)."""
        opens = self.window[0] if self.window else time(0, 0)
        local_day = instant.astimezone(tz).date()
        for offset in range(15):
            day = local_day + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            candidate = wall_to_instant(day, opens, tz)
            if candidate > instant:
                return candidate
        return None


def wall_to_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as an aware UTC instant: a time in a DST gap moves past the gap; a repeated
    time (fold) takes its first occurrence."""
    local = datetime.combine(day, wall, tzinfo=tz).replace(fold=0)
    instant = local.astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        # Nonexistent wall time: the UTC round trip lands after the gap; fire at the gap's end instead.
        instant = datetime.combine(day, wall, tzinfo=tz).replace(fold=1).astimezone(timezone.utc)
        gap_end = _gap_end(instant, tz)
        instant = gap_end if gap_end is not None else instant
    return instant


def _gap_end(instant: datetime, tz: ZoneInfo) -> datetime | None:
    """The first instant after a spring-forward gap containing `instant`'s wall time (search by minutes)."""
    probe = instant - timedelta(hours=3)
    offset = probe.astimezone(tz).utcoffset()
    for minutes in range(0, 6 * 60 + 1, 1):
        t = probe + timedelta(minutes=minutes)
        if t.astimezone(tz).utcoffset() != offset:
            return t.replace(second=0, microsecond=0)
    return None


def _cron_fires(fields: CronFields, now: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    """Fire instants strictly after `now`, in order: cronsim's matching wall times, each mapped to an instant
    (a time in a gap to the gap's end, a repeated one to its first occurrence; equal instants fire once)."""
    start = now.astimezone(tz).replace(tzinfo=None)
    if (now - DST_MARGIN).astimezone(tz).utcoffset() != (now + DST_MARGIN).astimezone(tz).utcoffset():
        start -= DST_MARGIN  # near a change wall times and instants are not in step: start early, filter below
    previous: datetime | None = None
    for wall in CronSim(fields.expression, start):
        fire = wall_to_instant(wall.date(), wall.time(), tz)
        if fire > now and fire != previous:  # mapped instants never go backwards, so equal ones are adjacent
            previous = fire
            yield fire


@lru_cache(maxsize=512)
def _expression(fields: CronFields) -> str:
    def listed(values: frozenset[int] | tuple[int, ...]) -> str:
        return ",".join(str(v) for v in sorted(values))

    # cronsim (like cron) combines the day fields with AND when either starts with "*", else with OR.
    dom = "*" if fields.dom_any else listed(fields.days)
    dow = "*" if fields.dow_any else listed(frozenset((d + 1) % 7 for d in fields.weekdays))
    return " ".join(
        (listed(fields.seconds), listed(fields.minutes), listed(fields.hours), dom, listed(fields.months), dow)
    )


# -- parsing --------------------------------------------------------------------------------------------


def parse_trigger(text: str, tz: ZoneInfo | None = None) -> Trigger:
    """Parse the text form; raises TriggerError naming what is wrong and what is allowed."""
    return _parse(" ".join(text.strip().lower().split()), str(tz or ZoneInfo("UTC")))


def interval_trigger(seconds: float) -> Trigger:
    return parse_trigger(f"every {format_seconds(seconds)}")


@lru_cache(maxsize=512)
def _parse(text: str, tz_name: str) -> Trigger:
    if not text:
        raise TriggerError("a trigger is empty; examples: 'every 15m', 'daily 07:00', 'cron 0 8 * * 1-5'")
    head, _, rest = text.partition(" ")
    parsers = {
        "every": _parse_every,
        "delay": _parse_delay,
        "cron": _parse_cron,
        "daily": _parse_daily,
        "at": _parse_daily,
        "once": _parse_once,
    }
    if head not in parsers:
        raise TriggerError(
            f"unknown trigger {text!r}: start with every, delay, cron, daily or once "
            "(e.g. 'every 15m', 'delay 10m', 'cron 0 8 * * 1-5', 'daily 07:00 on weekdays', 'once 2026-12-24 10:00')"
        )
    return parsers[head](rest, ZoneInfo(tz_name))


def _parse_every(rest: str, tz: ZoneInfo) -> Trigger:
    match = re.fullmatch(r"(\S+(?: (?:seconds?|minutes?|hours?|days?|secs?|mins?))?)(.*)", rest)
    if not match:
        raise TriggerError(f"'every' needs a duration, e.g. 'every 15m': got {rest!r}")
    seconds = parse_seconds(match.group(1))
    days, window = _parse_days_window(match.group(2).strip())
    text = f"every {format_seconds(seconds)}" + _describe_days_window(days, window)
    return Trigger(TriggerKind.INTERVAL, text, seconds=seconds, days=days, window=window)


def _parse_delay(rest: str, tz: ZoneInfo) -> Trigger:
    seconds = parse_seconds(rest.strip())
    return Trigger(TriggerKind.DELAY, f"delay {format_seconds(seconds)}", seconds=seconds)


def _parse_daily(rest: str, tz: ZoneInfo) -> Trigger:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(.*)", rest.strip())
    if not match:
        raise TriggerError(f"'daily' needs a time of day HH:MM, e.g. 'daily 07:00': got {rest!r}")
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise TriggerError(f"'daily {rest}': {hour:02d}:{minute:02d} is not a time of day (00:00-23:59)")
    days, window = _parse_days_window(match.group(4).strip())
    if window is not None:
        raise TriggerError("'daily' runs at one time of day; a 'between' window belongs to 'every'")
    cron = CronFields(
        (second,),
        (minute,),
        (hour,),
        frozenset(range(1, 32)),
        frozenset(range(1, 13)),
        days,
        dom_any=True,
        dow_any=days == ALL_DAYS,
    )
    at = f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second else "")
    return Trigger(TriggerKind.DAILY, f"daily {at}" + _describe_days_window(days, None), cron=cron, days=days)


def _parse_once(rest: str, tz: ZoneInfo) -> Trigger:
    try:
        local = datetime.fromisoformat(rest.strip().replace(" ", "T", 1).upper())
    except ValueError:
        raise TriggerError(f"'once' needs a date and time, e.g. 'once 2026-12-24 10:00': got {rest!r}") from None
    if local.year > LAST_YEAR:
        raise TriggerError(f"'once {rest.strip()}' is too far ahead: the date must be before {LAST_YEAR + 1}-01-01")
    at = local.replace(tzinfo=tz) if local.tzinfo is None else local
    at = at.astimezone(timezone.utc)
    return Trigger(TriggerKind.ONCE, f"once {at.astimezone(tz):%Y-%m-%d %H:%M}", at=at)


def _parse_cron(rest: str, tz: ZoneInfo) -> Trigger:
    parts = rest.split()
    if len(parts) not in (5, 6):
        raise TriggerError(
            f"'cron {rest}' has {len(parts)} fields: use 5 (minute hour day month weekday) "
            "or 6 (second minute hour day month weekday)"
        )
    if len(parts) == 5:
        parts = ["0", *parts]
    sec, minute, hour, dom, month, dow = parts
    fields = CronFields(
        seconds=tuple(sorted(_field(sec, 0, 59, "second"))),
        minutes=tuple(sorted(_field(minute, 0, 59, "minute"))),
        hours=tuple(sorted(_field(hour, 0, 23, "hour"))),
        days=frozenset(_field(dom, 1, 31, "day of month")),
        months=frozenset(_field(month, 1, 12, "month", MONTH_NAMES, 1)),
        weekdays=frozenset((d - 1) % 7 for d in _field(dow, 0, 7, "weekday", ("sun", *DAY_NAMES[:6]), 0)),
        dom_any=dom in ("*", "?"),
        dow_any=dow in ("*", "?"),
    )
    if not _ever_matches(fields):
        raise TriggerError(
            f"'cron {rest}' never fires: no month among {month!r} has a day {dom!r} "
            "(a job with this trigger would never run)"
        )
    return Trigger(TriggerKind.CRON, "cron " + " ".join(p for p in (rest.split())), cron=fields)


def _ever_matches(fields: CronFields) -> bool:
    """Whether some calendar day matches. Restricted day-of-month and weekday combine with OR (a weekday always
    comes) and a weekday alone exists in every month; a day of month alone must exist in a chosen month."""
    if fields.dom_any or not fields.dow_any:
        return True
    return any(day <= MONTH_DAYS[month - 1] for month in fields.months for day in fields.days)


def _field(text: str, low: int, high: int, what: str, names: tuple[str, ...] = (), base: int = 0) -> set[int]:
    """One cron field: *, a, a-b, a-b/n, */n, comma lists; names (mon, jan) where the field has them."""
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text, what) if step_text else 1
        if body in ("*", "?"):
            start, stop = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            start, stop = _value(a, what, names, base), _value(b, what, names, base)
        else:
            start = _value(body, what, names, base)
            stop = high if step_text else start
        if not (low <= start <= high and low <= stop <= high) or start > stop or step < 1:
            raise TriggerError(f"cron {what} {part!r} is out of range {low}-{high}")
        values.update(range(start, stop + 1, step))
    return values


def _value(text: str, what: str, names: tuple[str, ...], base: int) -> int:
    if text[:3] in names:
        return names.index(text[:3]) + base
    return _number(text, what)


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise TriggerError(f"cron {what} {text!r} is not a number")
    return int(text)


def _parse_days_window(text: str) -> tuple[frozenset[int], tuple[time, time] | None]:
    """'on weekdays', 'on mon,wed,fri', 'between 08:00-18:00', 'during business hours' (any order)."""
    days, window = ALL_DAYS, None
    text = text.strip()
    if "business hours" in text:
        text = text.replace("during business hours", "").replace("business hours", "").strip()
        days, window = DAY_GROUPS["weekdays"], BUSINESS_HOURS
    between = re.search(r"between (\d{1,2}):(\d{2}) ?(?:-|and|to) ?(\d{1,2}):(\d{2})", text)
    if between:
        h1, m1, h2, m2 = (int(g) for g in between.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            raise TriggerError(f"{between.group(0)!r}: not a time window")
        window = (time(h1, m1), time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2))
        if window[0] >= window[1]:
            raise TriggerError(f"{between.group(0)!r}: the window must open before it closes")
        text = (text[: between.start()] + text[between.end() :]).strip()
    if text.startswith("on "):
        days = parse_days(text[3:])
    elif text:
        raise TriggerError(f"cannot read {text!r}: use 'on <days>' and/or 'between HH:MM-HH:MM'")
    return days, window


def parse_days(text: str) -> frozenset[int]:
    """A day group: every day, weekdays, weekends, or days like 'mon,wed,fri' / 'mon-fri'."""
    text = text.strip()
    if text in DAY_GROUPS:
        return DAY_GROUPS[text]
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        a, _, b = part.partition("-")
        if a[:3] not in DAY_NAMES or (b and b[:3] not in DAY_NAMES):
            raise TriggerError(
                f"unknown days {text!r}: use every day, weekdays, weekends, or names like mon,wed,fri or mon-fri"
            )
        start = DAY_NAMES.index(a[:3])
        stop = DAY_NAMES.index(b[:3]) if b else start
        days.update(range(start, stop + 1) if start <= stop else [*range(start, 7), *range(0, stop + 1)])
    return frozenset(days)


def _describe_days_window(days: frozenset[int], window: tuple[time, time] | None) -> str:
    text = ""
    if days != ALL_DAYS:
        named = {v: k for k, v in DAY_GROUPS.items() if k in ("weekdays", "weekends")}
        text += " on " + named.get(days, ",".join(DAY_NAMES[d] for d in sorted(days)))
    if window is not None:
        text += f" between {window[0]:%H:%M}-{window[1]:%H:%M}"
    return text


def parse_seconds(text: str) -> float:
    """'15m', '15 minutes', '90s', '2h', '1d', '0.5m' -> seconds (1 s to 366 days)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?) ?([a-z]+)", text.strip())
    unit = match.group(2) if match else ""
    unit = unit if unit in _UNITS else unit.rstrip("s")
    if not match or unit not in _UNITS:
        raise TriggerError(f"{text!r} is not a duration: use a number and s, m, h or d (e.g. 90s, 15m, 2h)")
    seconds = float(match.group(1)) * _UNITS[unit]
    text = text if len(text) <= 40 else text[:40] + "…"
    if seconds <= 0:
        raise TriggerError(f"{text!r}: a duration must be positive")
    if seconds < MIN_PERIOD_SECONDS:
        raise TriggerError(f"{text!r} is too short: a trigger's period must be at least {MIN_PERIOD_SECONDS:g} s")
    if seconds > MAX_PERIOD_SECONDS:
        raise TriggerError(
            f"{text!r} is too long: a trigger's period must be at most {MAX_PERIOD_SECONDS / 86400:g} days "
            "(for a rarer job use cron, e.g. 'cron 0 0 1 1 *' once a year, or 'once <date>')"
        )
    return seconds


def format_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
