"""N concurrent browser sessions against one real streamlit server with a 1-minute sync interval.

One `streamlit run streamlit_app.py` (demo source, SYNC_INTERVAL_MINUTES=1, SCHEDULER_POLL_SECONDS=5) and one
headless chromium (Debian, via python playwright's async API) with N browser contexts. Each session reloads
the dashboard every 15-30 s (randomized) and times page.goto to "fully rendered" (the KPI "Orders", the orders
table and the sidebar badge visible, the script not running: the same test as bench/ui_render.py).
Afterwards the runs table must hold exactly one scheduled run per 1-minute slot (distinct scheduled_for,
consecutive slots 60 s apart). The server's RSS is sampled from /proc every few seconds (max reported).
Baseline in the same run: page latency p95 of a single session, measured before the N sessions start.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from _common import ROOT, load, percentile, progress
from ui_render import CHROMIUM, CHROMIUM_ARGS, DASHBOARD_READY, VIEWPORT, Server, streamlit_server

FMT_IN = "%Y-%m-%d %H:%M:%S.%f"
LOAD_TIMEOUT_S = 60.0


def parse_time(value: str) -> datetime:
    return datetime.strptime(value if "." in value else value + ".000000", FMT_IN)


class RssSampler(threading.Thread):
    def __init__(self, server: Server, every: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            rss = self.server.rss_kb()
            if rss:
                self.samples.append(rss)


async def timed_load(page, url: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    await page.goto(url, wait_until="commit", timeout=LOAD_TIMEOUT_S * 1000)
    await page.wait_for_function(DASHBOARD_READY, timeout=LOAD_TIMEOUT_S * 1000, polling=50)
    return (time.perf_counter() - started) * 1000


async def drive(url: str, sessions: int, duration: float, baseline_loads: int) -> dict[str, object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # warm-up: the first page waits for the catch-up sync that fills the empty store
            context = await browser.new_context(viewport=VIEWPORT)
            page = await context.new_page()
            started = time.perf_counter()
            await timed_load(page, url)
            progress(f"first data rendered after {time.perf_counter() - started:.1f} s")
            baseline: list[float] = []
            for _ in range(baseline_loads):
                baseline.append(await timed_load(page, url))
                await asyncio.sleep(1.0)
            await context.close()
            progress(f"single session: p50 {percentile(baseline, 50):.0f} ms p95 {percentile(baseline, 95):.0f} ms")

            latencies: list[float] = []
            failures: list[str] = []
            deadline = time.monotonic() + duration
            rng = random.Random(42)

            async def session(index: int) -> None:
                ctx = await browser.new_context(viewport=VIEWPORT)
                pg = await ctx.new_page()
                try:
                    await asyncio.sleep(rng.uniform(0, 15))  # stagger the first loads
                    while time.monotonic() < deadline:
                        try:
                            latencies.append(await timed_load(pg, url))
                            if await pg.locator('[data-testid="stException"]').count():
                                failures.append(f"session {index}: exception shown")
                        except Exception as exc:  # noqa: BLE001 - a timeout is a result, not a crash
                            failures.append(f"session {index}: {type(exc).__name__}: {str(exc)[:120]}")
                        pause = rng.uniform(15, 30)
                        await asyncio.sleep(max(0.0, min(pause, deadline - time.monotonic())))
                finally:
                    await ctx.close()

            async def report() -> None:
                while time.monotonic() < deadline:
                    await asyncio.sleep(min(30.0, max(0.1, deadline - time.monotonic())))
                    if latencies:
                        progress(
                            f"{len(latencies)} loads, p50 {percentile(latencies, 50):.0f} ms, "
                            f"p95 {percentile(latencies, 95):.0f} ms, {len(failures)} failures"
                        )

            load_started = time.monotonic()
            await asyncio.wait_for(
                asyncio.gather(report(), *(session(i) for i in range(sessions))), timeout=duration + 180
            )
            return {
                "baseline": baseline,
                "latencies": latencies,
                "failures": failures,
                "elapsed": time.monotonic() - load_started,
            }
        finally:
            await browser.close()


def check_runs(db: Path, since: datetime) -> dict[str, object]:
    conn = sqlite3.connect(db, timeout=30)
    rows = conn.execute(
        'SELECT scheduled_for, "trigger", status FROM runs WHERE job_name=? ORDER BY scheduled_for',
        ("incremental_sync",),
    ).fetchall()
    conn.close()
    slots = [parse_time(r[0]) for r in rows]
    scheduled = [parse_time(r[0]) for r in rows if r[1] == "schedule"]
    gaps = [(b - a).total_seconds() for a, b in zip(scheduled, scheduled[1:], strict=False)]
    return {
        "runs": len(rows),
        "triggers": sorted({r[1] for r in rows}),
        "statuses": {s: sum(1 for r in rows if r[2] == s) for s in sorted({r[2] for r in rows})},
        "scheduled": len(scheduled),
        "duplicates": len(slots) - len(set(slots)),
        "bad_gaps": [g for g in gaps if abs(g - 60.0) > 0.001],
        "first": rows[0][0] if rows else None,
        "last": rows[-1][0] if rows else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 sessions for 60 s")
    parser.add_argument("--sessions", type=int, default=None, help="concurrent browser sessions (50)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load (600)")
    args = parser.parse_args()
    sessions = args.sessions or (10 if args.quick else 50)
    duration = args.duration or (60.0 if args.quick else 600.0)
    baseline_loads = 5 if args.quick else 10

    load_before = load()
    with tempfile.TemporaryDirectory(prefix="fd-bench-load-") as tmp:
        folder = Path(tmp)
        db = folder / "store.db"
        env = {
            "DATABASE_URL": f"sqlite:///{db}",
            "DEMO_SOURCE_PATH": str(folder / "demo.db"),
            "SYNC_INTERVAL_MINUTES": "1",
            "SCHEDULER_POLL_SECONDS": "5",
        }
        with streamlit_server(ROOT / "streamlit_app.py", folder / "server.log", env) as server:
            started_at = datetime.utcnow()
            sampler = RssSampler(server)
            sampler.start()
            try:
                result = asyncio.run(drive(server.url, sessions, duration, baseline_loads))
            finally:
                sampler.stop.set()
                sampler.join(timeout=10)
            server_alive = server.process.poll() is None
            errors_in_log = server.log.read_text(errors="replace").count("Traceback")
        runs = check_runs(db, started_at)

    latencies: list[float] = result["latencies"]  # type: ignore[assignment]
    baseline: list[float] = result["baseline"]  # type: ignore[assignment]
    failures: list[str] = result["failures"]  # type: ignore[assignment]
    for failure in failures[:10]:
        progress(failure)
    progress(f"runs: {runs}")
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    base95 = percentile(baseline, 95)
    one_per_slot = runs["duplicates"] == 0 and not runs["bad_gaps"] and runs["scheduled"] > 0
    print(
        f"bench_sessions_load: {sessions} sessions x {duration:g} s, reload every 15-30 s, 1-min interval; "
        f"page latency p50={p50:.0f} p95={p95:.0f} max={max(latencies, default=float('nan')):.0f} ms "
        f"(n={len(latencies)}, failures={len(failures)}); single session p50={percentile(baseline, 50):.0f} "
        f"p95={base95:.0f} ms (n={len(baseline)}); ratio p95={p95 / base95:.2f}x; runs={runs['runs']} "
        f"(scheduled={runs['scheduled']}, statuses={runs['statuses']}, duplicate slots={runs['duplicates']}, "
        f"gaps!=60s={len(runs['bad_gaps'])}) one-run-per-slot {'PASS' if one_per_slot else 'FAIL'}; "
        f"server RSS max={max(sampler.samples, default=0) / 1024:.0f} MiB "
        f"(first {sampler.samples[0] / 1024 if sampler.samples else 0:.0f} MiB, {len(sampler.samples)} samples); "
        f"server alive={server_alive}, tracebacks in log={errors_in_log} [load {load_before}->{load()}]"
    )


if __name__ == "__main__":
    main()
