"""Schema migrations (Alembic), applied at start under a database lock so replicas starting together are safe.

`upgrade(engine)` is the only entry point: it takes the lock (PostgreSQL: a transaction advisory lock;
SQLite: BEGIN IMMEDIATE), adopts a database created before migrations existed (the tables are there but no
alembic_version: brought to the baseline, then stamped), and runs the revisions in versions/ up to head, all
in one transaction. No alembic.ini is read at run time.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.schema import CreateColumn, CreateIndex

logger = logging.getLogger(__name__)
BASELINE = "0001_baseline"
# Any constant key shared by every process of this app (pg_advisory_xact_lock takes a bigint).
PG_LOCK_KEY = 0x46524553_48444153  # "FRESHDAS"
_HERE = Path(__file__).parent


@functools.cache
def script_directory() -> ScriptDirectory:
    return ScriptDirectory(str(_HERE))


def head() -> str:
    revision = script_directory().get_current_head()
    assert revision is not None
    return revision


def upgrade(engine: Engine, target: str = "head") -> None:
    """Bring the database to `target` (head by default), one process at a time."""
    with engine.connect() as conn:
        conn = conn.execution_options(immediate=True)  # SQLite: BEGIN IMMEDIATE takes the write lock now
        with conn.begin():
            _lock(conn)
            _upgrade_locked(conn, target)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _lock(conn: Connection) -> None:
    # Held until this transaction ends: a second replica waits here, then finds the database at head.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})


def _upgrade_locked(conn: Connection, target: str) -> None:
    script = script_directory()

    def steps(revision: Any, _context: MigrationContext) -> Any:
        return script._upgrade_revs(target, revision)

    context = MigrationContext.configure(conn, opts={"script": script, "fn": steps})
    before = context.get_current_revision()
    if before is None and inspect(conn).has_table("jobs"):
        _adopt(conn)
        context.stamp(script, BASELINE)
        logger.info("database created before migrations: brought to the baseline and stamped %s", BASELINE)
        before = BASELINE
    with Operations.context(context):
        context.run_migrations()
    after = context.get_current_revision()
    if after != before:
        logger.info("database migrated from %s to %s", before or "an empty database", after)


def _adopt(conn: Connection) -> None:
    """A database of an earlier release: add what the baseline has and it lacks (tables, columns, indexes),
    as the release before migrations did at every start. Its columns carry server defaults or are nullable,
    so adding them to a non-empty table works."""
    baseline = _baseline_metadata()
    baseline.create_all(conn, checkfirst=True)
    existing = inspect(conn)
    for table in baseline.sorted_tables:
        present = {c["name"] for c in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                ddl = CreateColumn(column).compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))
                logger.info("database adopted: added %s.%s", table.name, column.name)
        indexes = {i["name"] for i in existing.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                conn.execute(CreateIndex(index))
                logger.info("database adopted: added index %s", index.name)


def _baseline_metadata() -> MetaData:
    module = script_directory().get_revision(BASELINE)
    assert module is not None
    metadata: MetaData = module.module.metadata
    return metadata
