"""Start overhead of a run: median time from the claim to the job function's first line, in a child process
(RUN_ISOLATION=process, the default) against a thread of the app process (the baseline), same run, same store.

    python bench/run_start.py [--runs 40] [--repeats 3] [--quick]

One result line on stdout. The monotonic clock is system-wide on Linux, so the child's first-line stamp
compares with the parent's claim stamp. Runs after a warm-up (the fork server started and its modules imported).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import load, machine, progress

from app.clock import FrozenClock
from app.core import child
from app.core.database import create_schema, get_engine
from app.core.runner import RunContext, Runner
from app.core.store import JobSpec, JobStore


def first_line(ctx: RunContext) -> dict[str, Any]:
    return {"first_line": time.monotonic(), "rows": 0}


def measure(runner: Runner, store: JobStore, clock: FrozenClock, func: Any, runs: int) -> list[float]:
    delays = []
    for _ in range(runs):
        clock.advance(timedelta(seconds=60))
        claim = store.claim("start", clock.now())
        assert claim is not None, "the job was not due"
        claimed = time.monotonic()
        outcome = runner.execute(claim, func)
        assert outcome.status.value == "success" and outcome.result, outcome.error
        delays.append((outcome.result["first_line"] - claimed) * 1000.0)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10 runs per repeat")
    args = parser.parse_args()
    if args.quick:
        args.runs = 10
    import run_start  # by its module name: a child process imports the job function from there

    before = load()
    with tempfile.TemporaryDirectory() as folder:
        engine = get_engine(f"sqlite:///{Path(folder) / 'start.db'}")
        create_schema(engine)
        clock = FrozenClock()
        store = JobStore(engine, "bench:1:start", 60.0)
        store.ensure_job(JobSpec("start", 60.0, 60.0), clock.now())
        child.preload(["run_start"])
        runners = {mode: Runner(store, clock, isolation=mode, kill_grace_seconds=5.0) for mode in ("thread", "process")}
        measure(runners["process"], store, clock, run_start.first_line, 3)  # warm-up: the fork server starts
        medians: dict[str, list[float]] = {"thread": [], "process": []}
        for repeat in range(args.repeats):
            for mode, runner in runners.items():
                medians[mode].append(statistics.median(measure(runner, store, clock, run_start.first_line, args.runs)))
            progress(
                f"repeat {repeat + 1}: thread {medians['thread'][-1]:.2f} ms, process {medians['process'][-1]:.2f} ms"
            )
    thread, process = statistics.median(medians["thread"]), statistics.median(medians["process"])
    repeats = ", ".join(f"{t:.2f}/{p:.2f}" for t, p in zip(medians["thread"], medians["process"], strict=True))
    print(
        f"bench_run_start: claim to the job's first line, median of {args.repeats} repeats x {args.runs} runs: "
        f"process {process:.1f} ms, thread (baseline) {thread:.2f} ms, ratio {process / thread:.0f}x, "
        f"+{process - thread:.1f} ms per run (thread/process per repeat: {repeats} ms; {machine()}) "
        f"[load {before}->{load()}]"
    )


if __name__ == "__main__":
    sys.exit(main())
