"""Alerts: a job that failed ALERT_AFTER_FAILURES times in a row, or whose data is older than its freshness limit.

Once per episode: an open alert lives in the `alerts` table (one per job and kind, guarded by a unique key
across replicas) until its condition clears. Opening one logs at ERROR and e-mails ALERT_RECIPIENTS when SMTP
is configured. The decisions are pure functions of `now`; `Alerter.check` only reads, decides and records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.clock import Clock
from app.config import Settings
from app.core.database import write_transaction
from app.core.models import Alert, Job, Run, RunStatus
from app.core.records import JobState
from app.core.tally import FAILURE_STATUSES
from app.errors import AppError
from app.mail import send_mail, smtp_is_configured

logger = logging.getLogger(__name__)
alerts, jobs, runs = cast(Table, Alert.__table__), cast(Table, Job.__table__), cast(Table, Run.__table__)
FAILING, STALE = "failing", "stale"
NOTIFY_RETRY = timedelta(minutes=5)  # an e-mail that could not be sent is tried again this much later
NOT_A_RESULT = (RunStatus.RUNNING.value, "skipped")  # neither breaks nor extends a streak
Send = Callable[..., str]


@dataclass(frozen=True)
class Condition:
    """An alert condition that holds now for one job."""

    job: str
    kind: str
    detail: str

    @property
    def key(self) -> str:
        return open_key(self.job, self.kind)


def open_key(job: str, kind: str) -> str:
    return f"{job}:{kind}"


# -- pure decisions ---------------------------------------------------------------------------------------


def failure_streak(statuses: Sequence[str]) -> int:
    """Failures in a row at the newest end of `statuses` (newest first; running/skipped runs ignored)."""
    streak = 0
    for status in statuses:
        if status in NOT_A_RESULT:
            continue
        if status not in FAILURE_STATUSES:
            break
        streak += 1
    return streak


def stale_limit(period_seconds: float, stale_minutes: float) -> timedelta:
    """ALERT_STALE_MINUTES when set, else three intervals of the job."""
    return timedelta(minutes=stale_minutes) if stale_minutes > 0 else timedelta(seconds=3 * period_seconds)


def is_failing(statuses: Sequence[str], after_failures: int) -> bool:
    return failure_streak(statuses) >= after_failures


def is_too_old(reference_at: datetime | None, now: datetime, limit: timedelta) -> bool:
    """Data is too old when its last success (or, before any, the first attempt) is older than `limit`.

    A job that never ran has nothing to be late with: the scheduler runs a new job at once.
    """
    return reference_at is not None and now - reference_at > limit


def plan(firing: Sequence[Condition], open_keys: set[str], unknown: set[str]) -> tuple[list[Condition], set[str]]:
    """Which conditions open a new episode, and which open episodes are resolved.

    `unknown` holds keys that could not be judged now (a paused job's age): they neither open nor resolve.
    """
    firing_keys = {c.key for c in firing}
    to_open = [c for c in firing if c.key not in open_keys]
    to_resolve = open_keys - firing_keys - unknown
    return to_open, to_resolve


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


# -- the checker ------------------------------------------------------------------------------------------


class Alerter:
    def __init__(self, engine: Engine, settings: Settings, clock: Clock, send: Send = send_mail) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.send = send
        # A dataset's max_age_minutes is its sync job's freshness limit: it wins over ALERT_STALE_MINUTES.
        self._max_age = {
            d.job: timedelta(minutes=d.max_age_minutes) for d in settings.datasets if d.max_age_minutes > 0
        }

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.settings.alert_recipients or self.settings.report_recipients

    def check(self, now: datetime | None = None) -> list[Alert]:
        """Open, notify and resolve episodes; returns the alerts raised now (opened, or e-mailed on a retry)."""
        now = self.clock.now() if now is None else now
        firing, unknown = self.conditions(now)
        with self.engine.connect() as conn:
            current = {row.open_key: row for row in conn.execute(select(alerts).where(alerts.c.open_key.is_not(None)))}
        to_open, to_resolve = plan(firing, set(current), unknown)
        for key in sorted(to_resolve):
            self._resolve(current[key], now)
        raised = [alert for alert in (self._open(c, now) for c in to_open) if alert is not None]
        raised += self._retry_notifications(now, {a.id for a in raised})
        return raised

    def conditions(self, now: datetime) -> tuple[list[Condition], set[str]]:
        """Every condition that holds now, and the keys that cannot be judged now."""
        firing: list[Condition] = []
        unknown: set[str] = set()
        with self.engine.connect() as conn:
            for job in map(JobState.from_row, conn.execute(select(jobs).order_by(jobs.c.name)).mappings()):
                failing = self._failing(conn, job.name)
                firing += [failing] if failing else []
                if job.paused or job.current_run_id is not None or job.next_run_at is None:
                    # hibernating, catching up right now, or done for good (a one-time job that ran)
                    unknown.add(open_key(job.name, STALE))
                    continue
                stale = self._stale(conn, job, now)
                firing += [stale] if stale else []
        return firing, unknown

    def _failing(self, conn: Connection, name: str) -> Condition | None:
        threshold = self.settings.alert_after_failures
        recent = conn.execute(  # the newest results, read backwards along ix_runs_job_started
            select(runs.c.status, runs.c.error)
            .where(runs.c.job_name == name, runs.c.status.not_in(NOT_A_RESULT))
            .order_by(runs.c.started_at.desc(), runs.c.id.desc())
            .limit(threshold)
        ).all()
        if not is_failing([r.status for r in recent], threshold):
            return None
        return Condition(name, FAILING, f"job {name!r} failed {threshold} times in a row; last: {recent[0].error}")

    def _stale(self, conn: Connection, job: JobState, now: datetime) -> Condition | None:
        name, last_success_at = job.name, job.last_success_at
        reference = last_success_at
        if reference is None:  # never succeeded: late counts from the first attempt
            reference = conn.execute(select(func.min(runs.c.started_at)).where(runs.c.job_name == name)).scalar()
        limit = self._max_age.get(name) or stale_limit(job.period_seconds, self.settings.alert_stale_minutes)
        if not is_too_old(reference, now, limit):
            return None
        return Condition(name, STALE, self._stale_detail(name, last_success_at, now, limit))

    def _stale_detail(self, name: str, last_success_at: datetime | None, now: datetime, limit: timedelta) -> str:
        if last_success_at is None:
            return f"job {name!r} has never succeeded (limit {_minutes(limit)})"
        shown = last_success_at.astimezone(self.settings.tz).strftime("%Y-%m-%d %H:%M")
        age = _minutes(now - last_success_at)
        return f"data of job {name!r} is {age} old (limit {_minutes(limit)}; last success {shown})"

    def _open(self, condition: Condition, now: datetime) -> Alert | None:
        recipients = ", ".join(self.recipients) if smtp_is_configured(self.settings) else ""
        values = dict(
            open_key=condition.key,
            job_name=condition.job,
            kind=condition.kind,
            detail=condition.detail,
            opened_at=now,
            recipients=recipients,
        )
        try:
            with write_transaction(self.engine) as conn:
                alert_id = conn.execute(insert(alerts).values(**values).returning(alerts.c.id)).scalar_one()
        except IntegrityError:
            return None  # another replica opened this episode a moment ago: it logs and e-mails it
        logger.error("alert: %s", condition.detail)
        alert = Alert(id=alert_id, **values)
        if recipients:
            self._notify(alert, now)
        return alert

    def _notify(self, alert: Alert, now: datetime) -> bool:
        subject = f"[Freshdash] {alert.kind}: {alert.job_name}"
        body = (
            f"{alert.detail}\n\nOpened {alert.opened_at.astimezone(self.settings.tz):%Y-%m-%d %H:%M:%S %Z}. "
            "You get one e-mail per episode; it closes by itself when the job succeeds again.\n"
        )
        changes: dict[str, Any] = {"notify_attempted_at": now, "recipients": ", ".join(self.recipients)}
        try:
            changes["message_id"] = self.send(self.settings, subject, body, list(self.recipients))
            changes.update(notified_at=now, notify_error=None)
        except AppError as exc:  # the alert stays open and logged; the e-mail is retried later
            logger.error("alert e-mail for %s %s not sent: %s", alert.job_name, alert.kind, exc)
            changes["notify_error"] = str(exc)
        with write_transaction(self.engine) as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**changes))
        for name, value in changes.items():
            setattr(alert, name, value)
        return "notified_at" in changes

    def _retry_notifications(self, now: datetime, skip: set[int]) -> list[Alert]:
        if not (smtp_is_configured(self.settings) and self.recipients):
            return []
        due = (
            alerts.c.open_key.is_not(None)
            & alerts.c.notified_at.is_(None)
            & (alerts.c.notify_attempted_at.is_(None) | (alerts.c.notify_attempted_at <= now - NOTIFY_RETRY))
        )
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(alerts).where(due)).mappings() if r["id"] not in skip]
        retried = [Alert(**row) for row in rows]
        return [alert for alert in retried if self._notify(alert, now)]

    def _resolve(self, row: Any, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(update(alerts).where(alerts.c.id == row.id).values(open_key=None, resolved_at=now))
        logger.info("alert resolved after %s: %s", _minutes(now - row.opened_at), row.detail)


def open_alerts(engine: Engine) -> list[dict[str, Any]]:
    """The alerts open now, oldest first (the UI's metrics panel)."""
    query = select(alerts).where(alerts.c.open_key.is_not(None)).order_by(alerts.c.opened_at)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
