"""One Prometheus scrape (`render_metrics`, every number read from the database) with a million runs on SQLite.

Same history as status_latency.py (one run a minute, some failures and timeouts). The first scrape folds the
runs older than an hour into run_tallies (once per database, in chunks); later scrapes read the tallies plus
the last hour's runs by primary key. Baseline in the same run: a bare `SELECT count(*) FROM runs` (one index
scan). Goal: median < 50 ms.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import load, percentile, progress, settings_for
from sqlalchemy import text
from status_latency import JOB, fill

from app.core.database import dispose_engines
from app.core.metrics import render_metrics
from app.core.scheduler import JobDefinition, SyncScheduler
from app.core.store import JobSpec

GOAL_MEDIAN_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 runs and 5 scrapes")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    count = args.runs or (20_000 if args.quick else 1_000_000)
    calls = 5 if args.quick else 15

    load_before = load()
    with tempfile.TemporaryDirectory(prefix="fd-bench-") as tmp:
        db_path = Path(tmp) / "freshdash.db"
        definition = JobDefinition(JobSpec(JOB, interval_seconds=900.0, timeout_seconds=600.0), lambda ctx: None)
        scheduler = SyncScheduler(settings=settings_for(db_path), jobs=[definition], instance_id="bench")
        scheduler.prepare()
        fill(db_path, count, scheduler.clock.now())
        engine, clock = scheduler.engine, scheduler.clock
        started = time.perf_counter()
        body = render_metrics(engine, clock).decode()
        first_ms = (time.perf_counter() - started) * 1000
        assert f'freshdash_runs_total{{job="{JOB}",status="success"}}' in body, body
        scrape_ms: list[float] = []
        count_ms: list[float] = []
        for _ in range(calls):  # interleaved, so noise hits both alike
            started = time.perf_counter()
            render_metrics(engine, clock)
            scrape_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            with engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM runs")).scalar()
            count_ms.append((time.perf_counter() - started) * 1000)
        progress(body.splitlines()[0])
        dispose_engines()

    median, base = percentile(scrape_ms, 50), percentile(count_ms, 50)
    verdict = "PASS" if median < GOAL_MEDIAN_MS else "FAIL"
    print(
        f"bench_metrics_scrape: render_metrics() with {count:,} runs median={median:.1f} "
        f"p95={percentile(scrape_ms, 95):.1f} ms (n={calls}); SELECT count(*) median={base:.1f} ms; "
        f"ratio median={median / base:.1f}x; first scrape (settles the history) {first_ms:.0f} ms "
        f"(goal median<{GOAL_MEDIAN_MS:g}ms) {verdict} [load {load_before}->{load()}]"
    )


if __name__ == "__main__":
    main()
