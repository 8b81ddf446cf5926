"""Baseline: the schema as the release before Alembic created it (models + the columns added in place).

Frozen here on purpose: later model changes go into new revisions, never into this one.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from app.core.models import UTCDateTime

revision = "0001_baseline"
down_revision: str | None = None
branch_labels = None
depends_on = None

metadata = MetaData()
_ID = BigInteger().with_variant(Integer, "sqlite")

Table(
    "jobs",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("description", Text, nullable=False),
    Column("interval_seconds", Float, nullable=False),
    Column("trigger", String(200), nullable=False, server_default=""),
    Column("depends_on", Text, nullable=False, server_default=""),
    Column("tags", String(200), nullable=False, server_default=""),
    Column("timeout_seconds", Float, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("retry_backoff_seconds", Float, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("job_paused", Boolean, nullable=False, server_default="0"),
    Column("next_run_at", UTCDateTime, nullable=True),
    Column("extra_at", UTCDateTime, nullable=True),
    Column("extra_trigger", String(20), nullable=False, server_default="retry"),
    Column("extra_attempt", Integer, nullable=False, server_default="1"),
    Column("requested_at", UTCDateTime, nullable=True),
    Column("requested_by", String(200), nullable=True),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("fence", BigInteger, nullable=False),
    Column("current_run_id", BigInteger, nullable=True),
    Column("last_run_id", BigInteger, nullable=True),
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_jobs_due", "paused", "next_run_at"),
)
Table(
    "runs",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("job_name", String(100), ForeignKey("jobs.name", ondelete="CASCADE"), nullable=False),
    Column("scheduled_for", UTCDateTime, nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("fence", BigInteger, nullable=False),
    Column("requested_by", String(200), nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("lease_expires_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("duration_seconds", Float, nullable=True),
    Column("rows", BigInteger, nullable=False),
    Column("progress", Text, nullable=True),
    Column("result", JSON(none_as_null=True), nullable=True),
    Column("error", Text, nullable=True),
    UniqueConstraint("job_name", "scheduled_for", name="uq_runs_job_slot"),
    Index("ix_runs_job_started", "job_name", "started_at"),
    Index("ix_runs_started", "started_at"),
    Index("ix_runs_status", "status", "lease_expires_at"),
    Index("ix_runs_status_started", "status", "started_at"),
)
Table(
    "run_logs",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("run_id", BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("level", String(10), nullable=False),
    Column("message", Text, nullable=False),
)
Table(
    "scheduler_instances",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False, index=True),
    Column("state", String(20), nullable=False),
    Column("sessions", Integer, nullable=False),
)
Table(
    "scheduler_state",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("paused", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Table(
    "planned_runs",
    metadata,
    Column("job_name", String(100), ForeignKey("jobs.name", ondelete="CASCADE"), primary_key=True),
    Column("planned_for", UTCDateTime, primary_key=True),
    Column("day", String(10), nullable=False, index=True),
    Column("priority", Integer, nullable=False),
)
Table(
    "sync_cursors",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", JSON, nullable=True),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Table(
    "run_tallies",
    metadata,
    Column("job_name", String(100), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("reason", String(100), primary_key=True),
    Column("runs", BigInteger, nullable=False),
    Column("duration_count", BigInteger, nullable=False),
    Column("duration_sum_seconds", Float, nullable=False),
)
Table(
    "tally_marks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("settled_through_id", BigInteger, nullable=False),
    Column("settled_at", UTCDateTime, nullable=True),
)
Table(
    "alerts",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("open_key", String(130), nullable=True, unique=True),
    Column("job_name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("detail", Text, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False, index=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("recipients", Text, nullable=False),
    Column("notify_attempted_at", UTCDateTime, nullable=True),
    Column("notified_at", UTCDateTime, nullable=True),
    Column("notify_error", Text, nullable=True),
    Column("message_id", String(300), nullable=True),
)


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
