"""One word per concept (issue 13 item 4): a run's *reason*, a job's *period*, its *follow-up* slot, the *agenda*.

runs.trigger -> runs.reason; jobs.interval_seconds -> jobs.period_seconds; jobs.extra_at / extra_trigger /
extra_attempt -> follow_up_at / follow_up_reason / follow_up_attempt; table planned_runs -> agenda_slots.

Renamed in place (ALTER TABLE ... RENAME, SQLite 3.25+), never by batch mode's copy-and-drop: with
`PRAGMA foreign_keys=ON`, dropping the old `jobs` table would cascade-delete every run.

Revision ID: 0002_one_word_per_concept
Revises: 0001_baseline
"""

from __future__ import annotations

from alembic import op

revision = "0002_one_word_per_concept"
down_revision: str | None = "0001_baseline"
branch_labels = None
depends_on = None

# (table, old column, new column)
COLUMNS = (
    ("runs", "trigger", "reason"),
    ("jobs", "interval_seconds", "period_seconds"),
    ("jobs", "extra_at", "follow_up_at"),
    ("jobs", "extra_trigger", "follow_up_reason"),
    ("jobs", "extra_attempt", "follow_up_attempt"),
)


def upgrade() -> None:
    for table, old, new in COLUMNS:
        op.alter_column(table, old, new_column_name=new)
    op.drop_index("ix_planned_runs_day", table_name="planned_runs")
    op.rename_table("planned_runs", "agenda_slots")
    op.create_index("ix_agenda_slots_day", "agenda_slots", ["day"])


def downgrade() -> None:
    op.drop_index("ix_agenda_slots_day", table_name="agenda_slots")
    op.rename_table("agenda_slots", "planned_runs")
    op.create_index("ix_planned_runs_day", "planned_runs", ["day"])
    for table, old, new in reversed(COLUMNS):
        op.alter_column(table, new, new_column_name=old)
