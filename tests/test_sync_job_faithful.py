"""Through the real sync job (`python -m app run --wait`, SYNC_SOURCE=sql): kill -9 mid-run with a PostgreSQL
source of every common column type leaves data and cursor exactly together, and the next run completes a copy
equal to the source in every column of every row (issue 9); a zombie's job run writes nothing (issue 13 item 1).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text, update

from app.clock import FrozenClock
from app.core.database import create_schema, get_engine
from app.core.models import Job
from app.core.runner import RunContext
from app.core.store import JobSpec, JobStore
from app.errors import LeaseLostError
from app.jobs.datasets import make_sync_job, make_syncer
from app.sync.engine import Syncer
from tests.test_types_matrix import T0, Col, mariadb_case, pg_case

ROOT = Path(__file__).resolve().parents[1]
JOB = "incremental_sync"
BATCH = 200
ROWS = 20_000


def fill(url: str, rows: int) -> list[Col]:
    """The type matrix's table of the source's dialect with `rows` rows cycling through its three value rows
    (edge values, JSON null, all NULL); cursor ties of 4 rows."""
    case = pg_case(url) if url.startswith("postgresql") else mariadb_case(url)
    engine = case.create()
    quote = engine.dialect.identifier_preparer.quote
    names = ", ".join(["id", "updated_at", *(quote(c.name) for c in case.columns)])
    markers = ", ".join(["%s"] * (2 + len(case.columns)))
    values = [(n, T0 + timedelta(seconds=n // 4), *(c.values[n % 3] for c in case.columns)) for n in range(4, rows + 1)]
    raw = engine.raw_connection()
    try:
        raw.cursor().executemany(f"INSERT INTO {case.table} ({names}) VALUES ({markers})", values)
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    return case.columns


def canonical(engine: Engine, table: str, columns: list[Col], where: str = "") -> dict[int, tuple[Any, ...]]:
    """id -> canonical value of every column (JSON and intervals read as PostgreSQL's text)."""
    quote = engine.dialect.identifier_preparer.quote
    pg = engine.dialect.name == "postgresql"
    exprs = [f"CAST({quote(c.name)} AS TEXT)" if pg and c.as_text_in_pg_store else quote(c.name) for c in columns]
    with engine.connect() as conn:
        found = conn.exec_driver_sql(f"SELECT id, {', '.join(exprs)} FROM {table} {where} ORDER BY id").all()
    return {r[0]: tuple(None if v is None else c.canon(v) for c, v in zip(columns, r[1:], strict=True)) for r in found}


def assert_same(stored: dict[int, tuple[Any, ...]], source: dict[int, tuple[Any, ...]], columns: list[Col]) -> None:
    assert stored.keys() == source.keys()
    problems = [
        f"id {key} column {c.name} ({c.ddl}): stored {s!r}, source {v!r}"
        for key, row in source.items()
        for c, s, v in zip(columns, stored[key], row, strict=True)
        if s != v
    ]
    assert not problems, "\n".join(problems[:20])


def environment(store_url: str, source_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": store_url,
        "SYNC_SOURCE": "sql",
        "SOURCE_URL": source_url,
        "SOURCE_TABLE": "src_typed",
        "SOURCE_KEY": "id",
        "SOURCE_CURSOR_FIELD": "updated_at",
        "SYNC_BATCH_SIZE": str(BATCH),
    }


def settings_of(store_url: str, source_url: str) -> dict[str, str]:
    return {k.lower(): v for k, v in environment(store_url, source_url).items() if k != "DATABASE_URL"}


def cursor_version(store: Engine) -> int:
    try:
        with store.connect() as conn:
            found = conn.execute(text("SELECT version FROM sync_cursors WHERE name = :n"), {"n": JOB}).scalar()
    except Exception:  # noqa: BLE001 - the schema may not exist yet
        return 0
    return int(found or 0)


@pytest.mark.slow
@pytest.mark.parametrize("source_kind", ["postgresql", "mariadb"])
def test_kill_9_mid_run_of_the_sync_job_keeps_every_column_of_every_row(
    request: pytest.FixtureRequest, source_kind: str, db_url: str, make_settings: Any
) -> None:
    # its own database: the seed's keys name the destination after SOURCE_TABLE, the source's own name
    source_url = request.getfixturevalue("pg_source_url" if source_kind == "postgresql" else "mariadb_url")
    columns = fill(source_url, ROWS)
    store = create_engine(db_url)
    env = {**os.environ, **environment(db_url, source_url), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "run", JOB, "--wait"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stop = threading.Event()
    try:
        while cursor_version(store) < 8:
            assert proc.poll() is None, "the sync ended before it could be killed"
            assert not stop.wait(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    version = cursor_version(store)
    source = create_engine(source_url)
    stored = canonical(store, "src_typed", columns)  # the seed's keys: the destination is SOURCE_TABLE
    assert 8 <= version < ROWS // BATCH and len(stored) == version * BATCH  # every batch came with its cursor
    with store.connect() as conn:
        cursor = conn.execute(text("SELECT value FROM sync_cursors WHERE name = :n"), {"n": JOB}).scalar()
    cursor = cursor if isinstance(cursor, dict) else json.loads(cursor)
    # exactly the source's rows up to the cursor, each equal in every column
    stamp = "timestamp" if source_kind == "postgresql" else "DATETIME(6)"
    up_to = f"WHERE (updated_at, id) <= (CAST('{cursor['value']}' AS {stamp}), {int(cursor['key'])})"
    assert_same(stored, canonical(source, "src_typed", columns, up_to), columns)
    settings = make_settings(db_url, **settings_of(db_url, source_url))
    result = make_syncer(settings, settings.datasets[0], FrozenClock()).run(500)  # the job's own engine catches up
    assert result.rows == ROWS - version * BATCH
    assert_same(canonical(store, "src_typed", columns), canonical(source, "src_typed", columns), columns)
    source.dispose()
    store.dispose()


def test_the_sync_job_of_a_zombie_run_writes_nothing(tmp_path: Path, sqlite_url: str, make_settings: Any) -> None:
    """The job must hand the run's guard to the engine: with `guard=None` this run would write its rows."""
    source_url = f"sqlite:///{tmp_path / 'src.db'}"
    source = create_engine(source_url)
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE src_typed (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL, v TEXT)")
        conn.exec_driver_sql(
            "INSERT INTO src_typed VALUES (1, '2026-02-01 09:00:00', 'a'), (2, '2026-02-01 09:00:01', 'b')"
        )
    settings = make_settings(sqlite_url, **settings_of(sqlite_url, source_url))
    store_engine = get_engine(sqlite_url)
    create_schema(store_engine)
    clock = FrozenClock()
    jobs = JobStore(store_engine, "test-owner")
    jobs.ensure_job(JobSpec(JOB, 60.0, 60.0), clock.now())
    claim = jobs.claim(JOB, clock.now() + timedelta(minutes=5))
    assert claim is not None
    with store_engine.begin() as conn:  # another process took the lease over: the fence moved on
        conn.execute(update(Job.__table__).where(Job.__table__.c.name == JOB).values(fence=claim.fence + 1))
    with pytest.raises(LeaseLostError):
        make_sync_job(settings, settings.datasets[0])(RunContext(jobs, claim, clock))
    assert Syncer(store_engine, _source(source_url), "src_typed", clock, JOB).read_cursor() == (None, 0)
    with store_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM src_typed").scalar() == 0
    fresh = replace(claim, fence=claim.fence + 1)  # as the process that took the lease over holds it
    job = make_sync_job(settings, settings.datasets[0])
    assert job(RunContext(jobs, fresh, clock))["rows"] == 2  # the lease holder writes


def _source(url: str) -> Any:
    from app.sync.source import SqlTableSource

    return SqlTableSource(create_engine(url), "src_typed")
