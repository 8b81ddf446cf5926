"""A scheduler process for multi-process tests:
`python -m tests.proc_worker URL MODE SECONDS [LEASE [ISOLATION]]`.

Modes: "tick" records every execution of a 1-second job in `executions` (no unique key, so a double
execution would show); "hang-once" hangs in the first execution ever (to be killed) and succeeds after.
ISOLATION is RUN_ISOLATION (thread by default): with "process" each run executes in a child process, so the
job functions are module-level (`functools.partial` of them). `pid` is the scheduler's process (from the
lease owner), `runner_pid` the process that executed the run.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, insert, select

from app.config import load_settings
from app.core import child
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
    Column("runner_pid", Integer),
)


def record(ctx: RunContext, url: str, mode: str) -> int:
    scheduler_pid = int(ctx.claim.owner.split(":")[1])  # the instance id is host:pid:suffix
    with write_transaction(get_engine(url)) as conn:
        done = conn.execute(select(func.count()).select_from(executions)).scalar_one()
        values = {"slot": ctx.claim.scheduled_for, "pid": scheduler_pid, "mode": mode, "runner_pid": os.getpid()}
        conn.execute(insert(executions).values(**values))
    return int(done)


def tick(ctx: RunContext, url: str, mode: str) -> dict[str, Any]:
    record(ctx, url, mode)
    return {"rows": 1}


def hang_once(ctx: RunContext, url: str, mode: str) -> dict[str, Any]:
    if record(ctx, url, mode) == 0:
        print("HANGING", flush=True)
        threading.Event().wait(120)
    return {"rows": 1}


def main(url: str, mode: str, seconds: float, lease: float, isolation: str) -> None:
    metadata.create_all(get_engine(url))
    interval = 1.0 if mode == "tick" else 3600.0
    from tests import proc_worker  # by its name, not __main__: a child process imports the job from there

    job = proc_worker.tick if mode == "tick" else proc_worker.hang_once
    func_ = functools.partial(job, url=url, mode=mode)
    env = {"DATABASE_URL": url, "LEASE_SECONDS": str(lease), "SCHEDULER_POLL_SECONDS": "0.5"}
    settings = load_settings(env={**env, "RUN_ISOLATION": isolation}, secrets={})
    spec = JobSpec(mode, interval, timeout_seconds=300, max_retries=2, retry_backoff_seconds=0)
    scheduler = SyncScheduler(settings=settings, jobs=[JobDefinition(spec, func_)])
    if isolation == "process":  # the fork server imports its modules before the first run, not during it
        child.warm_up(wait=60.0)
    scheduler.start(resume_jobs=False)
    print("STARTED", flush=True)
    threading.Event().wait(seconds)
    scheduler.shutdown(wait=True)
    print("STOPPED", flush=True)


if __name__ == "__main__":
    lease = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), lease, sys.argv[5] if len(sys.argv) > 5 else "thread")
