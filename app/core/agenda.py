"""Today's agenda (seed 000's "daily renewal"): the slots every job is planned to run on a local day, stored in
``agenda_slots`` and read beside the runs that served them. Renewed at start, after a trigger change and by
the built-in ``daily_renewal`` job just after midnight.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, delete, select

from app.core.database import dialect_insert, write_transaction
from app.core.models import AgendaSlot, Run, RunStatus
from app.core.records import AgendaEntry
from app.core.store import JobStore
from app.core.triggers import wall_to_instant

planned = cast(Table, AgendaSlot.__table__)
runs = cast(Table, Run.__table__)
PER_JOB_LIMIT = 500  # a 1-minute job plans 1,440 slots a day; the agenda shows the first 500


class Agenda:
    def __init__(self, engine: Engine, store: JobStore) -> None:
        self.engine = engine
        self.store = store
        self.tz = store.tz

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        return wall_to_instant(day, time(0), self.tz), wall_to_instant(day + timedelta(days=1), time(0), self.tz)

    def local_day(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def renew(self, now: datetime, day: date | None = None) -> int:
        """Plan the day's remaining slots of every job (idempotent); past entries stay as they were."""
        day = day or self.local_day(now)
        start, end = self.day_bounds(day)
        rows: list[dict[str, Any]] = []
        for job in self.store.list_jobs():
            anchor = job.next_run_at
            if job.paused or anchor is None:
                continue
            trigger = self.store.trigger_of(job)
            fires = trigger.fires_between(max(start, anchor, now), end, self.tz, anchor=anchor, limit=PER_JOB_LIMIT)
            if anchor >= start and anchor < end and anchor not in fires and len(fires) < PER_JOB_LIMIT:
                fires.insert(0, anchor)  # an overdue slot (catching up) is part of today's agenda too
            rows.extend(
                {"job_name": job.name, "planned_for": f, "day": day.isoformat(), "priority": job.priority}
                for f in fires
            )
        with write_transaction(self.engine) as conn:
            # Future entries are re-planned (a trigger may have changed); what is past is history.
            conn.execute(delete(planned).where(planned.c.day == day.isoformat(), planned.c.planned_for >= now))
            if rows:
                conn.execute(dialect_insert(conn, planned).on_conflict_do_nothing(), rows)
        return len(rows)

    def entries(self, now: datetime, day: date | None = None) -> list[AgendaEntry]:
        """The day's planned slots with what happened: planned, running, success, failed, skipped or missed."""
        day = day or self.local_day(now)
        join = planned.outerjoin(
            runs, and_(runs.c.job_name == planned.c.job_name, runs.c.scheduled_for == planned.c.planned_for)
        )
        query = (
            select(planned.c.job_name, planned.c.planned_for, planned.c.priority, runs.c.status, runs.c.id)
            .select_from(join)
            .where(planned.c.day == day.isoformat())
            .order_by(planned.c.planned_for, planned.c.priority.desc(), planned.c.job_name)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AgendaEntry(
                job=r.job_name,
                planned_for=r.planned_for,
                priority=r.priority,
                state=r.status or ("missed" if r.planned_for < now - timedelta(minutes=1) else "planned"),
                run_id=r.id,
            )
            for r in rows
        ]

    def purge(self, older_than: datetime) -> int:
        with write_transaction(self.engine) as conn:
            return int(conn.execute(delete(planned).where(planned.c.planned_for < older_than)).rowcount)


def agenda_counts(entries: list[AgendaEntry]) -> dict[str, int]:
    """Totals for the agenda's header: planned, running, done, failed, skipped, missed."""
    counts = {"planned": 0, "running": 0, "done": 0, "failed": 0, "skipped": 0, "missed": 0}
    for entry in entries:
        state = entry.state
        if state == RunStatus.SUCCESS.value:
            counts["done"] += 1
        elif state in (RunStatus.FAILED.value, RunStatus.TIMEOUT.value, RunStatus.ABANDONED.value):
            counts["failed"] += 1
        else:
            counts[state if state in counts else "planned"] += 1
    return counts
