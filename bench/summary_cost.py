"""What the dashboard's daily summary (app/demo/summary.py, kept by every sync batch) adds to a sync.

The same SQLite source of N orders is synced into two SQLite stores in this run, once with the summary hook
(what the app's incremental_sync job does) and once without (the engine alone, as bench/sync_throughput.py
measures it), for an initial load and an incremental run (1% changed + 1% new). Prints ONE line; the ratio
is time with the summary / time without (goal: under 2x on both).

Usage: python bench/summary_cost.py [--rows N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import sync_throughput as shared  # noqa: E402 - the same order generator and source changes
from sqlalchemy import MetaData, Table  # noqa: E402

from app.clock import SystemClock  # noqa: E402
from app.core.database import create_schema, get_engine  # noqa: E402
from app.demo import summary  # noqa: E402
from app.sync.engine import Syncer  # noqa: E402
from app.sync.source import SqlTableSource  # noqa: E402

GOAL = 2.0


def sync_seconds(source: Path, store: Path, with_summary: bool) -> float:
    engine = get_engine(f"sqlite:///{store}")
    create_schema(engine)
    hook = summary.maintain if with_summary else None
    sync = Syncer(
        engine,
        SqlTableSource(get_engine(f"sqlite:///{source}"), "orders"),
        "orders",
        SystemClock(),
        "bench",
        around_batch=hook,
    )
    started = time.perf_counter()
    sync.run(5000)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fd-summary-bench-"))
    source = work / "source.db"
    last = shared.build_source(source, args.rows)
    stores = {flag: work / f"store_{flag}.db" for flag in (False, True)}
    initial = {flag: sync_seconds(source, store, flag) for flag, store in stores.items()}
    changed, last = shared.change_source(source, args.rows, last, 1)
    incremental = {flag: sync_seconds(source, store, flag) for flag, store in stores.items()}
    with get_engine(f"sqlite:///{stores[True]}").connect() as conn:
        stored = sorted(tuple(r) for r in conn.execute(summary.daily.select()))
        orders = Table("orders", MetaData(), autoload_with=conn)
        fresh = sorted((str(r.day)[:10], *tuple(r)[1:]) for r in conn.execute(summary.aggregate(orders)))
    same = [(str(r[0]), r[1], r[2], r[3], round(r[4], 6)) for r in stored] == [
        (r[0], r[1], r[2], r[3], round(r[4], 6)) for r in fresh
    ]
    ratios = initial[True] / initial[False], incremental[True] / incremental[False]
    verdict = "PASS" if max(ratios) < GOAL and same else "FAIL"
    print(
        f"bench_summary_cost: {args.rows:,} orders, batches of 5000; initial without={initial[False]:.2f} s "
        f"with summary={initial[True]:.2f} s ({ratios[0]:.2f}x); incremental {changed:,} rows without="
        f"{incremental[False]:.2f} s with={incremental[True]:.2f} s ({ratios[1]:.2f}x); summary equals a fresh "
        f"aggregate: {'yes' if same else 'NO'} (goal <{GOAL:g}x) {verdict} "
        f"[load {load_before:.2f}->{os.getloadavg()[0]:.2f}]"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
