"""One run per slot across real processes on one database, and recovery after kill -9 (invariants 2, 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from app.core.models import Run
from tests.proc_worker import executions
from tests.support import alive

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def spawn(url: str, mode: str, seconds: float, lease: float = 60.0, isolation: str = "thread") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.proc_worker", url, mode, str(seconds), str(lease), isolation],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_for_line(proc: subprocess.Popen[str], marker: str, timeout: float) -> None:
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if marker in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), f"process never printed {marker!r}"


@pytest.mark.parametrize("isolation", ["thread", "process"])
@pytest.mark.parametrize("processes", [2, 3])
def test_several_processes_run_each_slot_exactly_once(db_url: str, processes: int, isolation: str) -> None:
    workers = []
    for i in range(processes):
        workers.append(spawn(db_url, "tick", seconds=38 - 1.5 * i, isolation=isolation))
        threading.Event().wait(0.7)  # staggered starts, like replicas rolling out
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, out
    engine = create_engine(db_url)
    with engine.connect() as conn:
        slots = list(conn.execute(select(executions.c.slot).order_by(executions.c.slot)).scalars())
        pids = set(conn.execute(select(executions.c.pid).distinct()).scalars())
        statuses = {r[0] for r in conn.execute(select(Run.__table__.c.status))}
        history = conn.execute(
            select(
                Run.__table__.c.scheduled_for,
                Run.__table__.c.reason,
                Run.__table__.c.owner,
                Run.__table__.c.started_at,
                Run.__table__.c.status,
            ).order_by(Run.__table__.c.id)
        ).all()
    engine.dispose()
    diagnosis = "\n".join(" ".join(str(v) for v in row) for row in history)
    assert len(slots) >= 30
    assert len(slots) == len(set(slots)), f"a slot was executed twice:\n{diagnosis}"
    gaps = {b - a for a, b in zip(slots, slots[1:], strict=False)}
    assert gaps == {timedelta(seconds=1)}, f"missed slots: gaps {sorted(gaps)}\n{diagnosis}"
    assert statuses == {"success"}
    assert len(pids) >= 2, "the work should spread over the processes"
    if isolation == "process":
        with engine.connect() as conn:
            runners = set(conn.execute(select(executions.c.runner_pid)).scalars())
        engine.dispose()
        assert not runners & pids, "a run executed in the scheduler's own process"
        assert not any(alive(pid) for pid in runners), "a run's process outlived its scheduler"


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_kill_9_mid_run_is_abandoned_and_the_job_runs_again(db_url: str, isolation: str) -> None:
    victim = spawn(db_url, "hang-once", seconds=120, lease=2.0, isolation=isolation)
    wait_for_line(victim, "HANGING", timeout=60)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        [runner] = conn.execute(select(executions.c.runner_pid)).scalars()
    engine.dispose()
    assert (runner != victim.pid) == (isolation == "process")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    for _ in range(100):  # bounded: 10 s for the run's process to see its parent gone and end
        if not alive(runner):
            break
        threading.Event().wait(0.1)
    assert not alive(runner), "the run's process kept running after its scheduler was killed"
    survivor = spawn(db_url, "hang-once", seconds=8, lease=2.0, isolation=isolation)
    out, _ = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, out
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows: list[Any] = conn.execute(
            select(
                Run.__table__.c.status, Run.__table__.c.attempt, Run.__table__.c.reason, Run.__table__.c.error
            ).order_by(Run.__table__.c.id)
        ).all()
    engine.dispose()
    assert [(r[0], r[1], r[2]) for r in rows] == [("abandoned", 1, "schedule"), ("success", 2, "retry")], (rows, out)
    assert "expired" in rows[0][3]
    assert all(r[0] != "running" for r in rows)
