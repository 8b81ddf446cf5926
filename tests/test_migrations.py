"""Alembic migrations: a fresh database reaches head and matches the models; a database of an earlier release
(no alembic_version) is adopted with its data; a database at the baseline revision upgrades with its data through
each later revision; replicas migrating together all succeed with one schema."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, inspect, select, text

from app.core import migrations
from app.core.database import create_database_engine, create_schema, write_transaction
from app.core.models import Base

AT = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
LATER = datetime(2026, 11, 30, 12, 5, tzinfo=timezone.utc)


def schema_drift(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def previous_release_metadata() -> MetaData:
    """The tables as release 14047ed created them: the baseline without jobs.job_paused and scheduler_state."""
    old = MetaData()
    for table in migrations._baseline_metadata().sorted_tables:
        if table.name == "scheduler_state":
            continue
        copy = table.to_metadata(old)
        if table.name == "jobs":
            copy._columns.remove(copy.c.job_paused)
    return old


def insert_rows(engine: Engine, metadata: MetaData) -> None:
    """A job, a run, a cursor and a planned slot, with the column names of the baseline (the release before 0002)."""
    jobs, runs, cursors = (metadata.tables[n] for n in ("jobs", "runs", "sync_cursors"))
    with write_transaction(engine) as conn:
        conn.execute(
            jobs.insert(),
            [
                {
                    "name": "sync",
                    "description": "kept",
                    "interval_seconds": 300.0,
                    "trigger": "every 5 minutes",
                    "depends_on": "",
                    "tags": "",
                    "timeout_seconds": 60.0,
                    "max_retries": 2,
                    "retry_backoff_seconds": 30.0,
                    "priority": 3,
                    "paused": True,
                    "next_run_at": AT,
                    "extra_at": LATER,
                    "extra_trigger": "catch-up",
                    "extra_attempt": 3,
                    "fence": 41,
                    "updated_at": AT,
                }
            ],
        )
        conn.execute(
            runs.insert(),
            [
                {
                    "job_name": "sync",
                    "scheduled_for": AT,
                    "trigger": "schedule",
                    "attempt": 1,
                    "status": "success",
                    "owner": "old-replica",
                    "fence": 41,
                    "started_at": AT,
                    "heartbeat_at": AT,
                    "lease_expires_at": AT,
                    "rows": 1234,
                    "result": {"rows": 1234},
                }
            ],
        )
        conn.execute(cursors.insert(), [{"name": "sync", "value": {"id": 99}, "version": 7, "updated_at": AT}])
        planned = metadata.tables["planned_runs"]
        conn.execute(planned.insert(), [{"job_name": "sync", "planned_for": LATER, "day": "2026-11-30", "priority": 3}])


def assert_rows_kept(engine: Engine) -> None:
    """What insert_rows wrote, read through the models' (renamed) columns."""
    jobs, runs, agenda = (Base.metadata.tables[n] for n in ("jobs", "runs", "agenda_slots"))
    with engine.connect() as conn:
        job = conn.execute(select(jobs)).mappings().one()
        run = conn.execute(select(runs)).mappings().one()
        slot = conn.execute(select(agenda)).mappings().one()
    assert (job["period_seconds"], job["trigger"]) == (300.0, "every 5 minutes")
    assert (job["follow_up_at"], job["follow_up_reason"], job["follow_up_attempt"]) == (LATER, "catch-up", 3)
    assert (run["reason"], run["owner"], run["rows"], run["scheduled_for"]) == ("schedule", "old-replica", 1234, AT)
    assert (slot["job_name"], slot["planned_for"], slot["day"], slot["priority"]) == ("sync", LATER, "2026-11-30", 3)


def test_fresh_database_reaches_head_and_matches_the_models(db_url: str) -> None:
    engine = create_database_engine(db_url)
    create_schema(engine)
    assert migrations.current_revision(engine) == migrations.head()
    assert schema_drift(engine) == []
    create_schema(engine)  # a second start changes nothing
    assert migrations.current_revision(engine) == migrations.head()
    engine.dispose()


def test_database_of_the_previous_release_is_adopted_with_its_data(db_url: str) -> None:
    engine = create_database_engine(db_url)
    old = previous_release_metadata()
    old.create_all(engine)
    insert_rows(engine, old)
    with engine.begin() as conn:  # an index the previous release's later versions added never reached it
        conn.execute(text("DROP INDEX ix_runs_status_started"))
    assert not inspect(engine).has_table("alembic_version")

    create_schema(engine)

    assert migrations.current_revision(engine) == migrations.head()
    assert schema_drift(engine) == []
    assert "ix_runs_status_started" in {i["name"] for i in inspect(engine).get_indexes("runs")}
    jobs, runs, cursors = (Base.metadata.tables[n] for n in ("jobs", "runs", "sync_cursors"))
    with engine.connect() as conn:
        job = conn.execute(select(jobs)).mappings().one()
        run = conn.execute(select(runs)).mappings().one()
        cursor = conn.execute(select(cursors)).mappings().one()
    assert (job["description"], job["fence"], job["paused"], job["job_paused"], job["next_run_at"]) == (
        "kept",
        41,
        True,
        False,  # the added column's server default
        AT,
    )
    assert (run["owner"], run["rows"], run["result"], run["scheduled_for"]) == ("old-replica", 1234, {"rows": 1234}, AT)
    assert (cursor["value"], cursor["version"]) == ({"id": 99}, 7)
    assert_rows_kept(engine)
    engine.dispose()


def test_database_at_the_baseline_revision_upgrades_and_keeps_its_data(db_url: str) -> None:
    engine = create_database_engine(db_url)
    migrations.upgrade(engine, migrations.BASELINE)  # what the release before 0002 left behind
    assert migrations.current_revision(engine) == migrations.BASELINE
    insert_rows(engine, migrations._baseline_metadata())

    create_schema(engine)

    assert migrations.current_revision(engine) == migrations.head()
    assert schema_drift(engine) == []
    assert_rows_kept(engine)
    with engine.connect() as conn:  # a cascade from a copied-and-dropped jobs table would have emptied runs
        assert conn.execute(select(Base.metadata.tables["sync_cursors"].c.version)).scalar_one() == 7
    engine.dispose()


def test_the_renames_downgrade_to_the_baseline_with_their_data(db_url: str) -> None:
    engine = create_database_engine(db_url)
    migrations.upgrade(engine, migrations.BASELINE)
    insert_rows(engine, migrations._baseline_metadata())
    create_schema(engine)
    with engine.begin() as conn:
        command = MigrationContext.configure(conn)
        with Operations.context(command):
            migrations.script_directory().get_revision(migrations.head()).module.downgrade()
    baseline = migrations._baseline_metadata()
    with engine.connect() as conn:
        job = conn.execute(select(baseline.tables["jobs"])).mappings().one()
        run = conn.execute(select(baseline.tables["runs"])).mappings().one()
        slots = conn.execute(select(baseline.tables["planned_runs"])).mappings().all()
    assert (job["interval_seconds"], job["extra_at"], job["extra_trigger"], job["extra_attempt"]) == (
        300.0,
        LATER,
        "catch-up",
        3,
    )
    assert run["trigger"] == "schedule" and len(slots) == 1
    engine.dispose()


def test_database_created_by_create_all_before_migrations_is_stamped(db_url: str) -> None:
    engine = create_database_engine(db_url)
    baseline = migrations._baseline_metadata()
    baseline.create_all(engine)  # what the release before Alembic did on a fresh database (its models)
    insert_rows(engine, baseline)
    create_schema(engine)
    assert migrations.current_revision(engine) == migrations.head()
    with engine.connect() as conn:
        assert conn.execute(select(Base.metadata.tables["sync_cursors"].c.version)).scalar_one() == 7
    assert_rows_kept(engine)
    engine.dispose()


@pytest.mark.parametrize("legacy", [False, True], ids=["empty", "previous-release"])
def test_replicas_migrating_together_all_succeed_with_one_schema(db_url: str, legacy: bool) -> None:
    if legacy:
        setup = create_database_engine(db_url)
        previous_release_metadata().create_all(setup)
        setup.dispose()
    replicas = 4
    engines = [create_database_engine(db_url) for _ in range(replicas)]
    barrier = threading.Barrier(replicas)
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        barrier.wait(timeout=30)
        try:
            create_schema(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert not any(t.is_alive() for t in threads)
    version = Table("alembic_version", MetaData(), autoload_with=engines[0])
    with engines[0].connect() as conn:
        assert conn.execute(select(version.c.version_num)).scalars().all() == [migrations.head()]
    assert schema_drift(engines[0]) == []
    for engine in engines:
        engine.dispose()


def test_a_fresh_sqlite_file_locked_by_another_replica_waits_for_its_switch_to_wal(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by CI: replicas creating one fresh SQLite file together. Switching a file to WAL while another
    connection holds its write lock fails at once ("database is locked"), without the busy timeout: the switch
    is tried again until the lock is gone, instead of failing the replica's start."""
    import sqlite3

    from app.core import database

    path = tmp_path / "fresh.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another replica, mid-write, before the file is in WAL
    other.execute("CREATE TABLE started (x INTEGER)")
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # the other replica commits while this one waits
        pauses.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(database, "_pause", pause)
    engine = create_database_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert len(pauses) == 1, "the first switch should have met the lock and waited once"
    engine.dispose()
    other.close()
