"""SQLAlchemy 2.0 tables of the scheduler state: jobs, runs, run log lines, instances, sync cursors."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.clock import utc


class StrEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"
    SKIPPED = "skipped"  # a dependency did not succeed in the run's window; the reason is the run's error


class RunReason(StrEnum):
    """Why a run started (``runs.reason``); a job's schedule is its *trigger*."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    CATCH_UP = "catch-up"
    RETRY = "retry"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python; naive UTC on SQLite, timestamptz on PostgreSQL (exact equality for CAS)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # The usual gap between slots: the interval of a rate trigger, the typical gap of a calendar one.
    period_seconds: Mapped[float] = mapped_column(Float)
    # Text form of the trigger (app.core.triggers); "" means "every period_seconds".
    trigger: Mapped[str] = mapped_column(String(200), default="", server_default="")
    depends_on: Mapped[str] = mapped_column(Text, default="", server_default="")  # comma-separated job names
    tags: Mapped[str] = mapped_column(String(200), default="", server_default="")
    timeout_seconds: Mapped[float] = mapped_column(Float)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_backoff_seconds: Mapped[float] = mapped_column(Float, default=30.0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # Effective pause, what every due query reads: the operator paused this job OR the scheduler is paused.
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # The operator's own pause of this job; Stop/Start of the scheduler never change it.
    job_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A follow-up slot beside the series (a retry or a catch-up): it never shifts the series.
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    follow_up_reason: Mapped[str] = mapped_column(String(20), default="retry", server_default="retry")
    follow_up_attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    current_run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_jobs_due", "paused", "next_run_at"),)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_name: Mapped[str] = mapped_column(String(100), ForeignKey("jobs.name", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(20))  # a RunReason
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(200))
    fence: Mapped[int] = mapped_column(BigInteger)
    requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    progress: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        # The last line of defence of "one run per slot" (Airflow's dag_id+logical_date).
        UniqueConstraint("job_name", "scheduled_for", name="uq_runs_job_slot"),
        Index("ix_runs_job_started", "job_name", "started_at"),
        Index("ix_runs_started", "started_at"),
        Index("ix_runs_status", "status", "lease_expires_at"),
        Index("ix_runs_status_started", "status", "started_at"),
    )


class RunLog(Base):
    __tablename__ = "run_logs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    level: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)


class Instance(Base):
    """One scheduler per process: its heartbeat makes a silent scheduler visible."""

    __tablename__ = "scheduler_instances"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(20))
    sessions: Mapped[int] = mapped_column(Integer, default=0)


class SchedulerState(Base):
    """Scheduler-wide persisted switches (one row per name): "paused" is the Stop button, for every replica."""

    __tablename__ = "scheduler_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgendaSlot(Base):
    """Today's agenda (seed 000's daily renewal): the slots each job is planned to run on a local day."""

    __tablename__ = "agenda_slots"

    job_name: Mapped[str] = mapped_column(String(100), ForeignKey("jobs.name", ondelete="CASCADE"), primary_key=True)
    planned_for: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # local date, ISO
    priority: Mapped[int] = mapped_column(Integer, default=0)


class SyncCursor(Base):
    __tablename__ = "sync_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RunTally(Base):
    """Finished runs folded into totals per job, status and failure reason (see app/core/tally.py): the
    metrics' counters read these few rows plus the runs after the mark, and never drop when runs are purged."""

    __tablename__ = "run_tallies"

    job_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_count: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_sum_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class TallyMark(Base):
    """One row: every run with id <= settled_through_id is counted in run_tallies (deleted or not)."""

    __tablename__ = "tally_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settled_through_id: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Alert(Base):
    """One alert episode of a job: opened once (and e-mailed once), resolved when the condition clears.

    `open_key` is "job:kind" while open and NULL once resolved: its unique index lets only one replica
    open an episode (NULLs never collide, on SQLite and PostgreSQL alike).
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    open_key: Mapped[str | None] = mapped_column(String(130), nullable=True, unique=True)
    job_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recipients: Mapped[str] = mapped_column(Text, default="")
    notify_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notify_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
