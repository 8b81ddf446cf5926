"""How soon a run requested in another process (a web server's Sync now) starts: a worker vs a plain replica.

A worker (`SyncScheduler(worker=True)`, what `python -m app worker` runs) hears of a request through
PostgreSQL's LISTEN/NOTIFY, or a 1-second poll on SQLite. The baseline, measured in the same run, is a plain
scheduler replica (the layout before workers): it serves a request made elsewhere at its next housekeeping
tick (SCHEDULER_POLL_SECONDS, 5 s). Each repeat: a fresh job, REQUESTS requests one after the other, latency =
the run's start - the request's time. Usage: python bench/request_latency.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _common import load, progress
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import load_settings
from app.core.runner import RunContext
from app.core.scheduler import JobDefinition, SyncScheduler
from app.core.store import JobSpec

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPEATS = 3


def trivial(_: RunContext) -> dict[str, Any]:
    return {"rows": 0}


def latencies(url: str, worker: bool, requests: int) -> list[float]:
    """Seconds from each request (made by a web-role scheduler) to the start of the run that served it."""
    name = f"bench_{'worker' if worker else 'replica'}_{uuid.uuid4().hex[:6]}"
    jobs = [JobDefinition(JobSpec(name, 3600.0, timeout_seconds=60), trivial)]
    env = {"DATABASE_URL": url, "SCHEDULER_POLL_SECONDS": "5"}
    runner = SyncScheduler(settings=load_settings(env=env, secrets={}), jobs=jobs, worker=worker)
    web = SyncScheduler(settings=load_settings(env={**env, "SCHEDULER_ROLE": "web"}, secrets={}), jobs=jobs)
    runner.start(resume_jobs=False)
    if runner.listener is not None and runner.listener.uses_notify:
        runner.listener.listening.wait(10)
    try:
        wait = threading.Event()
        while runner.store.get_job(name)["last_success_at"] is None:  # the new job's first (catch-up) run
            wait.wait(0.05)
        found = []
        for _ in range(requests):
            handle = web.run_now(name, requested_by="bench")
            run = handle.wait(30, poll_every=0.005)
            assert run is not None and run["status"] == "success", run
            assert handle.request.requested_at is not None
            found.append((run["started_at"] - handle.request.requested_at).total_seconds())
            wait.wait(0.2)  # requests a little apart, as people click
        return found
    finally:
        runner.shutdown(wait=True)


def pg_database() -> tuple[str, Any]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"fd_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from app.core.database import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    requests = 3 if "--quick" in sys.argv else 6
    load_before = load()
    parts = []
    pg_url, drop = pg_database()
    folder = Path(tempfile.mkdtemp())
    try:
        for label, url in (("postgresql", pg_url), ("sqlite", f"sqlite:///{folder / 'fd.db'}")):
            ratios, worker_medians, replica_medians = [], [], []
            for repeat in range(REPEATS):
                started = time.monotonic()
                worker = statistics.median(latencies(url, True, requests))
                replica = statistics.median(latencies(url, False, requests))
                worker_medians.append(worker)
                replica_medians.append(replica)
                ratios.append(worker / replica)
                progress(f"{label} repeat {repeat + 1}: worker {worker * 1000:.0f} ms, replica {replica * 1000:.0f} ms "
                         f"({time.monotonic() - started:.0f} s, load {load()})")  # fmt: skip
            parts.append(
                f"{label}: worker median {' / '.join(f'{m * 1000:.0f}' for m in worker_medians)} ms, "
                f"replica (housekeeping 5 s) {' / '.join(f'{m * 1000:.0f}' for m in replica_medians)} ms, "
                f"ratio {' / '.join(f'{r:.3f}' for r in ratios)}x"
            )
    finally:
        drop()
    print(
        f"bench_request_latency: request in another process -> run start, {requests} requests x {REPEATS} repeats; "
        + "; ".join(parts)
        + f" (goal: worker <= 1 s on both) [load {load_before}->{load()}]"
    )


if __name__ == "__main__":
    main()
