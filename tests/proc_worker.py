"""A scheduler process for multi-process tests: `python -m tests.proc_worker URL MODE SECONDS [LEASE]`.

Modes: "tick" records every execution of a 1-second job in `executions` (no unique key, so a double
execution would show); "hang-once" hangs in the first execution ever (to be killed) and succeeds after.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, insert, select

from app.config import load_settings
from app.core.database import get_engine, write_transaction
from app.core.runner import RunContext
from app.core.scheduler import JobDefinition, SyncScheduler
from app.core.store import JobSpec

metadata = MetaData()
executions = Table(
    "executions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slot", DateTime(timezone=True)),
    Column("pid", Integer),
    Column("mode", String(20)),
)


def main(url: str, mode: str, seconds: float, lease: float) -> None:
    engine = get_engine(url)
    metadata.create_all(engine)

    def record(ctx: RunContext) -> int:
        with write_transaction(engine) as conn:
            done = conn.execute(select(func.count()).select_from(executions)).scalar_one()
            conn.execute(insert(executions).values(slot=ctx.claim.scheduled_for, pid=os.getpid(), mode=mode))
        return int(done)

    def tick(ctx: RunContext) -> dict[str, Any]:
        record(ctx)
        return {"rows": 1}

    def hang_once(ctx: RunContext) -> dict[str, Any]:
        if record(ctx) == 0:
            print("HANGING", flush=True)
            threading.Event().wait(120)
        return {"rows": 1}

    interval = 1.0 if mode == "tick" else 3600.0
    func_ = tick if mode == "tick" else hang_once
    settings = load_settings(
        env={"DATABASE_URL": url, "LEASE_SECONDS": str(lease), "SCHEDULER_POLL_SECONDS": "0.5"}, secrets={}
    )
    spec = JobSpec(mode, interval, timeout_seconds=300, max_retries=2, retry_backoff_seconds=0)
    scheduler = SyncScheduler(settings=settings, jobs=[JobDefinition(spec, func_)])
    scheduler.start(resume_jobs=False)
    print("STARTED", flush=True)
    threading.Event().wait(seconds)
    scheduler.shutdown(wait=True)
    print("STOPPED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 60.0)
