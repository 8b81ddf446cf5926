"""Alembic migrations: a fresh database reaches head and matches the models; a database of an earlier release
(no alembic_version) is adopted with its data; replicas migrating together all succeed with one schema."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, inspect, select, text

from app.core import migrations
from app.core.database import create_database_engine, create_schema, write_transaction
from app.core.models import Base

AT = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


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
                    "extra_trigger": "retry",
                    "extra_attempt": 1,
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
    engine.dispose()


def test_database_created_by_create_all_before_migrations_is_stamped(db_url: str) -> None:
    engine = create_database_engine(db_url)
    Base.metadata.create_all(engine)  # what the release before Alembic did on a fresh database
    insert_rows(engine, Base.metadata)
    create_schema(engine)
    assert migrations.current_revision(engine) == migrations.head()
    with engine.connect() as conn:
        assert conn.execute(select(Base.metadata.tables["sync_cursors"].c.version)).scalar_one() == 7
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
