"""Time to a fully rendered dashboard in headless chromium with 1,000,000 synced orders and 1,000,000 runs.

A real `streamlit run streamlit_app.py` (scheduler disabled, so no sync runs while measuring) is driven by
python playwright with Debian chromium. "Fully rendered" = the KPI metric "Orders", the orders table
(stDataFrame) and the sidebar badge are visible and the script is not running. Each load is a fresh browser
context (a new Streamlit session); the first dashboard load after start is reported apart (cold caches), and so
are loads right after a sync: the cursor's version is bumped (what a committed batch does), so the data caches,
keyed on that version, miss and the dashboard's queries run again on 1M orders.
Baseline in the same run: a bare `st.title("hello"); st.write("hello")` script served the same way.
Goal: dashboard warm median < 3x hello.

Also, in-process with the same 1M-runs database: one badge fragment body (`get_status()` + `badge_state`)
against a bare `SELECT 1`. Goal: median < 5 ms.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _common import ROOT, load, percentile, progress, settings_for
from status_latency import FMT, run_rows

from tests.browser_support import CHROMIUM_ARGS, VIEWPORT, clean_env, streamlit_process, tail

CHROMIUM = "/usr/bin/chromium"
GOAL_RATIO = 3.0
GOAL_BADGE_MS = 5.0
BATCH = 50_000

# Streamlit's own markers: the app element carries the script state; stale elements and skeletons mean
# a run is not over. Evaluated in the page by playwright (bounded by a timeout).
_NOT_RUNNING = """
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return false;
    const state = app.getAttribute('data-test-script-state');
    if (state !== null && state !== 'notRunning') return false;
    if (document.querySelector('[data-testid="stSkeleton"], [data-stale="true"]')) return false;
    const widget = document.querySelector('[data-testid="stStatusWidget"]');
    if (widget && /running/i.test(widget.innerText || '')) return false;
    const shown = (el) => el && el.getBoundingClientRect().height > 0;
"""
DASHBOARD_READY = (
    "() => {"
    + _NOT_RUNNING
    + """
    const orders = [...document.querySelectorAll('[data-testid="stMetric"]')].find(
        m => /Orders/.test(m.innerText) && m.querySelector('[data-testid="stMetricValue"]'));
    const table = document.querySelector('[data-testid="stDataFrame"]');
    const badge = document.querySelector('[data-testid="stSidebar"] [data-testid="stAlert"]');
    return shown(orders) && shown(table) && shown(badge);
}"""
)
HELLO_READY = (
    "() => {"
    + _NOT_RUNNING
    + """
    const h1 = document.querySelector('h1');
    const text = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')].find(
        m => m.innerText.trim() === 'hello' && !m.closest('h1'));
    return shown(h1) && /hello/.test(h1.innerText) && shown(text);
}"""
)


# -- servers -----------------------------------------------------------------------------------------------


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def rss_kb(self) -> int:
        """VmRSS of the server process (psutil is not installed here)."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def log_tail(self) -> str:
        return tail(self.log)


@contextmanager
def streamlit_server(script: Path, log: Path, env_settings: dict[str, str]) -> Iterator[Server]:
    """`streamlit run script` on 127.0.0.1 from the repo root (same config for every server); killed at exit."""
    try:
        with streamlit_process(str(script), clean_env(env_settings), log, timeout=60.0) as (process, url):
            yield Server(process, url, log)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


def order_rows(count: int, first_id: int, now: datetime, seed: int = 11) -> Iterator[tuple[object, ...]]:
    """Orders like the demo source's, spread over the 30 days before `now`, older than the synced ones."""
    from app.demo.source import CHANNELS, PRODUCTS, REGIONS

    rnd = random.Random(seed)
    products = tuple(PRODUCTS)
    start = now - timedelta(days=30)
    step = timedelta(days=30) / count
    for i in range(count):
        at = (start + i * step).strftime(FMT)
        product = products[i % len(products)]
        quantity = (1, 1, 1, 2, 3, 6)[i % 6]
        yield (
            first_id + i,
            at,
            at,
            f"customer-{rnd.randint(1, 900):04d}",
            REGIONS[i % len(REGIONS)],
            CHANNELS[i % len(CHANNELS)],
            product,
            quantity,
            round(PRODUCTS[product] * quantity * rnd.uniform(0.9, 1.05), 2),
            "delivered" if i % 10 else "shipped",
            0,
        )


def insert_batches(
    conn: sqlite3.Connection, sql: str, rows: Iterator[tuple[object, ...]], count: int, what: str
) -> None:
    inserted = 0
    while inserted < count:
        batch = [row for _, row in zip(range(BATCH), rows, strict=False)]
        if not batch:
            break
        with conn:
            conn.executemany(sql, batch)
        inserted += len(batch)
        if inserted % 250_000 == 0 or inserted == count:
            progress(f"inserted {inserted:,} {what}")


def build_store(folder: Path, orders: int, runs: int) -> dict[str, str]:
    """The store database a long-running deployment would have; returns the server's environment."""
    from app.core.database import create_schema, dispose_engines, get_engine
    from app.core.scheduler import DEFAULT_JOB, SyncScheduler

    store, demo = folder / "store.db", folder / "demo.db"
    env = {
        "DATABASE_URL": f"sqlite:///{store}",
        "DEMO_SOURCE_PATH": str(demo),
        "SCHEDULER_ENABLED": "false",
        "SYNC_INTERVAL_MINUTES": "1440",
    }
    settings = settings_for(store, demo_source_path=demo, scheduler_enabled="false", sync_interval_minutes=1440)
    create_schema(get_engine(settings.database_url))
    scheduler = SyncScheduler(settings=settings, instance_id="bench-ui")
    scheduler.prepare()
    now = scheduler.clock.now()
    handle = scheduler.run_now(DEFAULT_JOB, requested_by="bench")
    scheduler.tick()
    run = handle.wait(120)
    assert run is not None and run.status == "success", run
    progress(f"real sync: {run.rows} rows")
    scheduler.shutdown(wait=True)
    dispose_engines()

    started = time.perf_counter()
    conn = sqlite3.connect(store, timeout=30)
    conn.execute("PRAGMA synchronous=NORMAL")
    columns = [row[1] for row in conn.execute("PRAGMA table_info(orders)")]
    expected = ["id", "created_at", "updated_at", "customer", "region", "channel", "product", "quantity",
                "amount", "status", "deleted"]  # fmt: skip
    assert set(expected) <= set(columns), columns
    first_id = 10_000_000
    insert_batches(
        conn,
        f"INSERT INTO orders ({', '.join(expected)}) VALUES ({', '.join('?' * len(expected))})",
        order_rows(orders, first_id, now - timedelta(minutes=5)),
        orders,
        "orders",
    )
    insert_batches(
        conn,
        "INSERT INTO runs (job_name, scheduled_for, reason, attempt, status, owner, fence, started_at,"
        " heartbeat_at, lease_expires_at, finished_at, duration_seconds, rows, result, error)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        run_rows(runs, now - timedelta(minutes=2)),  # older than the real run, which stays the latest
        runs,
        "runs",
    )
    conn.close()
    # rows bulk-inserted outside the sync: recompute the daily summary once, as a sync would have kept it
    from app.demo import summary

    summary_started = time.perf_counter()
    summary.rebuild_for(get_engine(settings.database_url), "orders")
    dispose_engines()
    progress(f"daily summary rebuilt in {time.perf_counter() - summary_started:.1f} s")
    bump_data_version(store)
    conn = sqlite3.connect(store, timeout=30)
    counts = conn.execute("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM runs)").fetchone()
    conn.close()
    progress(f"store: {counts[0]:,} orders, {counts[1]:,} runs, built in {time.perf_counter() - started:.1f} s")
    return env


def bump_data_version(store: Path) -> None:
    """What a committed sync batch does to the cursor: the data version moves on (caches keyed on it miss)."""
    from app.core.scheduler import DEFAULT_JOB

    conn = sqlite3.connect(store, timeout=30)
    with conn:
        changed = conn.execute("UPDATE sync_cursors SET version = version + 1 WHERE name=?", (DEFAULT_JOB,))
        assert changed.rowcount == 1, "no sync cursor after the real sync"
    conn.close()


# -- the browser -------------------------------------------------------------------------------------------


def timed_load(browser: Any, url: str, ready: str, timeout_s: float = 120.0) -> float:
    """ms from page.goto to `ready` in a fresh context (a new Streamlit session)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        page.wait_for_function(ready, timeout=timeout_s * 1000, polling=25)
        elapsed = (time.perf_counter() - started) * 1000
        errors = page.locator('[data-testid="stException"]').count()
        if errors:
            raise SystemExit(
                f"the page shows an exception: {page.locator('[data-testid=stException]').first.inner_text()}"
            )
        return elapsed
    finally:
        context.close()


def badge_cost(env: dict[str, str], calls: int) -> tuple[list[float], list[float]]:
    """One badge fragment body in-process: get_status() + badge_state(), against a bare SELECT 1."""
    from sqlalchemy import text

    from app.config import load_settings
    from app.core.database import dispose_engines
    from app.core.scheduler import SyncScheduler
    from app.ui.components.scheduler_status import badge_state

    settings = load_settings(env=env, secrets={})
    scheduler = SyncScheduler(settings=settings, instance_id="bench-badge")
    engine = scheduler.engine

    def body() -> None:
        status = scheduler.get_status()
        badge_state(status, settings.ui_language)

    def select_one() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar()

    for _ in range(20):
        body()
        select_one()
    body_ms, select_ms = [], []
    for _ in range(calls):
        t0 = time.perf_counter()
        body()
        t1 = time.perf_counter()
        select_one()
        t2 = time.perf_counter()
        body_ms.append((t1 - t0) * 1000)
        select_ms.append((t2 - t1) * 1000)
    dispose_engines()
    return body_ms, select_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 orders and runs, 4 loads, 50 badge calls")
    parser.add_argument("--rows", type=int, default=None, help="orders and runs to bulk-insert (1,000,000)")
    parser.add_argument("--loads", type=int, default=None, help="warm page loads per server (15)")
    parser.add_argument("--calls", type=int, default=None, help="badge body calls (200)")
    parser.add_argument("--syncs", type=int, default=None, help="loads right after a data version bump (5)")
    args = parser.parse_args()
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    loads = args.loads or (4 if args.quick else 15)
    calls = args.calls or (50 if args.quick else 200)
    syncs = args.syncs or (2 if args.quick else 5)

    from playwright.sync_api import sync_playwright

    load_before = load()
    with tempfile.TemporaryDirectory(prefix="fd-bench-ui-") as tmp:
        folder = Path(tmp)
        env = build_store(folder, rows, rows)
        hello = folder / "hello.py"
        hello.write_text('import streamlit as st\n\nst.title("hello")\nst.write("hello")\n')
        body_ms, select_ms = badge_cost(env, calls)
        progress(f"badge body median {percentile(body_ms, 50):.3f} ms, SELECT 1 {percentile(select_ms, 50):.3f} ms")

        hello_env = {"DATABASE_URL": env["DATABASE_URL"], "SCHEDULER_ENABLED": "false"}
        with (
            streamlit_server(ROOT / "streamlit_app.py", folder / "dash.log", env) as dash,
            streamlit_server(hello, folder / "hello.log", hello_env) as base,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                hello_cold = timed_load(browser, base.url, HELLO_READY)
                dash_cold = timed_load(browser, dash.url, DASHBOARD_READY)
                progress(f"cold: hello {hello_cold:.0f} ms, dashboard {dash_cold:.0f} ms")
                hello_ms, dash_ms = [], []
                for i in range(loads):  # interleaved, so noise hits both alike
                    hello_ms.append(timed_load(browser, base.url, HELLO_READY))
                    dash_ms.append(timed_load(browser, dash.url, DASHBOARD_READY))
                    progress(f"load {i + 1}/{loads}: hello {hello_ms[-1]:.0f} ms, dashboard {dash_ms[-1]:.0f} ms")
                after_sync = []
                for i in range(syncs):
                    bump_data_version(folder / "store.db")
                    after_sync.append(timed_load(browser, dash.url, DASHBOARD_READY))
                    progress(f"after sync {i + 1}/{syncs}: dashboard {after_sync[-1]:.0f} ms")
            finally:
                browser.close()
            rss_dash, rss_hello = dash.rss_kb(), base.rss_kb()

    hello_med, dash_med = percentile(hello_ms, 50), percentile(dash_ms, 50)
    ratio = dash_med / hello_med
    sync_ratio = percentile(after_sync, 50) / hello_med
    badge_med = percentile(body_ms, 50)
    ok_ratio, ok_badge = ratio < GOAL_RATIO, badge_med < GOAL_BADGE_MS
    print(
        f"bench_ui_render: {rows:,} orders + {rows:,} runs; hello median={hello_med:.0f} ms (cold {hello_cold:.0f}); "
        f"dashboard cold={dash_cold:.0f} ms median={dash_med:.0f} p95={percentile(dash_ms, 95):.0f} ms "
        f"(n={loads} fresh contexts each); ratio median={ratio:.2f}x (goal <{GOAL_RATIO:g}x) "
        f"{'PASS' if ok_ratio else 'FAIL'}; first load after a sync median={percentile(after_sync, 50):.0f} "
        f"max={max(after_sync):.0f} ms (n={syncs}), {sync_ratio:.2f}x hello "
        f"(goal <{GOAL_RATIO:g}x) {'PASS' if sync_ratio < GOAL_RATIO else 'FAIL'}; "
        f"badge body get_status()+badge_state median={badge_med:.3f} "
        f"p95={percentile(body_ms, 95):.3f} ms (n={calls}) vs SELECT 1 median={percentile(select_ms, 50):.3f} ms "
        f"({badge_med / percentile(select_ms, 50):.1f}x) (goal <{GOAL_BADGE_MS:g} ms) "
        f"{'PASS' if ok_badge else 'FAIL'}; "
        f"server RSS dashboard={rss_dash / 1024:.0f} MiB hello={rss_hello / 1024:.0f} MiB "
        f"[load {load_before}->{load()}]"
    )


if __name__ == "__main__":
    main()
