"""Page latency while a 1,000,000-row sync runs in the same server (issue 14 item 2's measurement).

A real `streamlit run streamlit_app.py` on a PostgreSQL store (a scratch database, dropped afterwards) whose
demo source (the orders dashboard's dataset: a SQLite file) holds 1,000,000 orders. One websocket session
(bench/_st_client.py) alternates a full dashboard rerun and a rerun of the live badge fragment, 0.25 s apart.
Phases: during the first (initial) sync, which the server starts on its first page view (the store is empty);
idle (the data synced, no run); during a full resync (`python -m app resync`, then `python -m app run`: the
server's scheduler picks the request up). Reported per phase: dashboard and badge p50/p95, and the ratio of the
dashboard's p95 to idle (goal <= 1.5x). Also the `orders` table's sequential scans (pg_stat_user_tables) per
phase, and the plan of the dashboard's "latest 500 updated orders" query in the middle of the first load.

`--isolation thread|process` is passed to the server as RUN_ISOLATION (child-process runs; a build without that
setting ignores it and runs threads).

Usage: python bench/pages_during_sync.py [--orders N] [--idle-seconds S] [--isolation thread|process]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import ROOT, load, percentile, progress
from _st_client import FRAGMENT, FULL, SELF, Stats, StreamlitClient
from ui_render import insert_batches, order_rows, streamlit_server

from tests.browser_support import clean_env

ADMIN = os.environ.get("FRESHDASH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
GOAL = 1.5
PAUSE_S = 0.25
PLAN_EVERY_S = 2.0
JOB = "incremental_sync"


def pg(database: str, sql: str, params: tuple[Any, ...] = (), autocommit: bool = True) -> list[tuple[Any, ...]]:
    import psycopg

    url = ADMIN.rsplit("/", 1)[0] + "/" + database
    with psycopg.connect(url, autocommit=autocommit, connect_timeout=10) as conn:
        cursor = conn.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def build_source(path: Path, orders: int) -> None:
    """The demo source seeded as the app seeds it, plus `orders` orders over the last 30 days."""
    from app.clock import SystemClock
    from app.demo.source import DemoSource

    demo = DemoSource(str(path), SystemClock())
    demo.ensure()
    demo.engine.dispose()
    conn = sqlite3.connect(path, timeout=30)
    columns = "id, created_at, updated_at, customer, region, channel, product, quantity, amount, status, deleted"
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    insert_batches(
        conn,
        f"INSERT INTO orders ({columns}) VALUES ({', '.join('?' * 11)})",
        order_rows(orders, 10_000_000, now - timedelta(minutes=5)),
        orders,
        "source orders",
    )
    conn.close()


def last_run(store: str) -> tuple[Any, ...] | None:
    rows = pg(store, "SELECT id, status, rows FROM runs WHERE job_name = %s ORDER BY id DESC LIMIT 1", (JOB,))
    return rows[0] if rows else None


def inserted(store: str) -> int:
    """Rows inserted into `orders` so far (the statistics counter: counting them would scan the table)."""
    rows = pg(store, "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'orders'")
    return int(rows[0][0]) if rows else 0


def seq_scans(store: str) -> int:
    rows = pg(store, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'orders'")
    return int(rows[0][0]) if rows else 0


def plans_of_dashboard(store: str) -> list[str]:
    """Each query the dashboard runs (app/demo/orders.py, unfiltered), EXPLAINed as it would run now with its
    own parameters: 'name: Limit > Index Scan Backward ...', and whether the plan scans `orders` sequentially."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ProgrammingError

    from app.demo import orders as queries

    engine = create_engine(ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + store)
    found: list[str] = []
    name = [""]

    @event.listens_for(engine, "before_cursor_execute")
    def explain(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and "orders" in statement:
            cursor.execute("EXPLAIN " + statement, params)
            plan = [r[0] for r in cursor.fetchall()]
            nodes = [line.strip().removeprefix("->").strip().split("  (")[0] for line in plan]
            kept = [n for n in nodes if n and not n.startswith(KEYS)]
            scan = "SEQ SCAN of orders" if any(SEQ_ORDERS.search(line) for line in plan) else "no seq scan"
            found.append(f"{name[0]}: {scan} ({' > '.join(kept)})")

    now = datetime.now(timezone.utc)
    try:
        for name[0], call in (
            ("choices", lambda: queries.choices(engine)),
            ("kpis", lambda: queries.kpis(engine, now)),
            ("daily_revenue", lambda: queries.daily_revenue(engine)),
            ("recent", lambda: queries.recent(engine)),
        ):
            try:
                call()
            except ProgrammingError as exc:  # the run's process has not created the table yet
                found.append(f"{name[0]}: not run ({type(exc.orig).__name__})")
                break
    finally:
        engine.dispose()
    return found


SEQ_ORDERS = re.compile(r"Seq Scan on orders(\s|$)")  # not orders_daily, the summary
KEYS = ("Sort Key", "Presorted Key", "Filter", "Index Cond", "Group Key", "Hash Cond", "Join Filter", "Recheck")


async def measure(client: StreamlitClient, until: Callable[[], bool], stats: Stats, at_most: float) -> None:
    """Alternate a full rerun and a badge fragment rerun into `stats` until `until()` or `at_most` seconds."""
    client.stats = stats
    deadline = time.monotonic() + at_most
    while time.monotonic() < deadline and not until():
        await client.rerun()
        await asyncio.sleep(PAUSE_S)
        badge = min(client.fragments.items(), key=lambda kv: kv[1][0], default=None)
        if badge is not None:
            await client.rerun(badge[0])
        await asyncio.sleep(PAUSE_S)


def describe(stats: Stats) -> dict[str, float]:
    full, frag = stats.latencies[FULL], stats.latencies[FRAGMENT]
    return {
        "p50": percentile(full, 50),
        "p95": percentile(full, 95),
        "n": len(full),
        "b50": percentile(frag, 50),
        "b95": percentile(frag, 95),
        "bn": len(frag),
        "self": len(stats.latencies[SELF]),
        "failures": len(stats.failures),
    }


async def session(url: str, store: str, idle_seconds: float, env: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    client = StreamlitClient(url, Stats(), timeout=120.0)
    await client.open()  # the first page view starts the scheduler, which starts the first sync (empty store)
    try:
        started = time.monotonic()
        while last_run(store) is None and time.monotonic() - started < 60:
            await asyncio.sleep(0.2)
        progress(f"first sync started [load {load()}]")
        scans = seq_scans(store)
        plans: list[str] = []
        sampled = [0, 0.0]  # samples, monotonic time of the last one

        def first_done() -> bool:
            run = last_run(store)
            if run is not None and run[1] == "running" and time.monotonic() - sampled[1] > PLAN_EVERY_S:
                # the dashboard's plans as the load goes on (statistics change as the table grows)
                sampled[0] += 1
                sampled[1] = time.monotonic()
                at = inserted(store)
                found_plans = plans_of_dashboard(store)
                plans.extend(f"at {at:,} rows: {p}" for p in found_plans if "SEQ SCAN" in p)
                if sampled[0] == 2:
                    found["plans_mid_load"] = f"at {at:,} rows: " + "; ".join(found_plans)
            return run is not None and run[1] != "running"

        initial = Stats()
        t0 = time.monotonic()
        await measure(client, first_done, initial, 1800)
        found["initial"] = describe(initial) | {"seconds": time.monotonic() - t0, "seq_scans": seq_scans(store) - scans}
        found["run_initial"] = last_run(store)
        found["plan_samples"] = f"{sampled[0]} samples, plans scanning orders: {'; '.join(plans) or 'none'}"
        progress(f"first sync: {found['run_initial']} {found['initial']} [load {load()}]")

        idle = Stats()
        await measure(client, lambda: False, Stats(), 5)  # warm the caches on the final data version first
        scans = seq_scans(store)
        await measure(client, lambda: False, idle, idle_seconds)
        found["idle"] = describe(idle) | {"seconds": idle_seconds, "seq_scans": seq_scans(store) - scans}
        progress(f"idle: {found['idle']} [load {load()}]")

        before = last_run(store)
        for command in (["resync"], ["run"]):
            subprocess.run([sys.executable, "-m", "app", *command], cwd=ROOT, env=env, check=True, capture_output=True)
        while (run := last_run(store)) == before or (run is not None and run[1] == "pending"):
            await asyncio.sleep(0.1)
        scans = seq_scans(store)
        resync = Stats()
        t0 = time.monotonic()
        await measure(client, lambda: (r := last_run(store)) is not None and r[1] != "running", resync, 1800)
        found["resync"] = describe(resync) | {"seconds": time.monotonic() - t0, "seq_scans": seq_scans(store) - scans}
        found["run_resync"] = last_run(store)
        progress(f"resync: {found['run_resync']} {found['resync']} [load {load()}]")
    finally:
        await client.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--isolation", choices=("thread", "process"), default="thread")
    args = parser.parse_args()
    store = f"fd_bench_pages_{uuid.uuid4().hex[:8]}"
    pg("test", f"CREATE DATABASE {store}")
    load_before = load()
    try:
        with tempfile.TemporaryDirectory(prefix="fd-bench-pages-") as tmp:
            folder = Path(tmp)
            build_source(folder / "demo.db", args.orders)
            env = {
                "DATABASE_URL": ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + store,
                "DEMO_SOURCE_PATH": str(folder / "demo.db"),
                "DEMO_ORDERS_PER_MINUTE": "20",
                "SYNC_INTERVAL_MINUTES": "1440",
                "SCHEDULER_POLL_SECONDS": "1",
                "RUN_ISOLATION": args.isolation,
            }
            with streamlit_server(ROOT / "streamlit_app.py", folder / "server.log", env) as server:
                found = asyncio.run(session(server.url, store, args.idle_seconds, clean_env(env)))
                alive = server.process.poll() is None
            log = server.log.read_text(errors="replace")
            tracebacks = log.count("Traceback")
            if tracebacks:
                at = log.index("Traceback")
                progress("first traceback in the server log:\n" + log[max(0, at - 300) : at + 2500])
    finally:
        pg("test", f"DROP DATABASE IF EXISTS {store} WITH (FORCE)")
    idle = found["idle"]

    def phase(name: str) -> str:
        p = found[name]
        ratio = p["p95"] / idle["p95"]
        return (
            f"{name}: dashboard p50={p['p50']:.0f} p95={p['p95']:.0f} ms (n={p['n']}, {ratio:.1f}x idle p95), "
            f"badge p50={p['b50']:.0f} p95={p['b95']:.0f} ms (n={p['bn']}), {p['seconds']:.0f} s, "
            f"orders seq scans={p['seq_scans']}, failures={p['failures']}"
        )

    worst = max(found[n]["p95"] / idle["p95"] for n in ("initial", "resync"))
    print(
        f"bench_pages_during_sync: orders={args.orders:,} store=PostgreSQL isolation={args.isolation} | "
        f"{phase('idle')} | {phase('initial')} (run {found['run_initial']}) | {phase('resync')} "
        f"(run {found['run_resync']}) | dashboard query plans during the first load: {found['plan_samples']}; e.g. "
        f"{found.get('plans_mid_load', 'n/a')} | worst "
        f"{worst:.1f}x idle (goal <= {GOAL}x: {'met' if worst <= GOAL else 'NOT met'}) | server alive={alive}, "
        f"tracebacks={tracebacks} [load {load_before}->{load()}]"
    )


if __name__ == "__main__":
    main()
