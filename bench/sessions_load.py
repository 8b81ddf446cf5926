"""N concurrent Streamlit sessions for a while against one real server with a 1-minute sync interval.

Sessions are websocket clients speaking Streamlit's own protocol (bench/_st_client.py), not browsers: 50
Chromium pages saturate 2 cores by themselves and would measure the browser, not the server. Each client
opens a session (the first render), then reruns the whole page every 15-30 s (randomized: a user clicking
around) and reruns each fragment on its `run_every` period (the live badge, 10 s), as the frontend does.
Page latency = request -> `script_finished`.

Server: `streamlit run streamlit_app.py` (demo source, SYNC_INTERVAL_MINUTES=1, SCHEDULER_POLL_SECONDS=5) on a
fresh SQLite file. Afterwards the runs table must hold exactly one scheduled run per 1-minute slot (distinct
`scheduled_for`, consecutive slots 60 s apart). Server peak RSS = VmHWM from /proc (plus VmRSS samples).
Baselines in the same run: the same N clients (same cadence) against a bare `st.title("hello")` page served
the same way, and a single session's full reruns of the dashboard before the N start.
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
from typing import Any

from _common import ROOT, load, percentile, progress
from _st_client import FRAGMENT, FULL, SELF, Stats, StreamlitClient
from ui_render import Server, streamlit_server

FMT_IN = "%Y-%m-%d %H:%M:%S.%f"
HELLO = 'import streamlit as st\n\nst.title("hello")\nst.write("hello")\n'
PAUSE_S = (15.0, 30.0)
STAGGER_S = 15.0


def parse_time(value: str) -> datetime:
    return datetime.strptime(value if "." in value else value + ".000000", FMT_IN)


def proc_status_kb(server: Server, key: str) -> int:
    try:
        for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    def __init__(self, server: Server, every: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            rss = proc_status_kb(self.server, "VmRSS")
            if rss:
                self.samples.append(rss)


async def drive(url: str, sessions: int, duration: float, seed: int) -> tuple[Stats, float]:
    """`sessions` clients for `duration` s; returns their stats and this process's CPU share (of one core)."""
    stats = Stats()
    rng = random.Random(seed)
    deadline = time.monotonic() + duration

    async def session(index: int) -> None:
        await asyncio.sleep(rng.uniform(0, STAGGER_S))  # stagger the first renders like arriving users
        client = StreamlitClient(url, stats)
        try:
            await client.open()
            timers = asyncio.create_task(client.run_fragment_timers(deadline))
            while True:
                pause = rng.uniform(*PAUSE_S)
                if time.monotonic() + pause >= deadline:
                    break
                await asyncio.sleep(pause)
                await client.rerun()
            await timers
        except Exception as exc:  # noqa: BLE001 - a failed session is a result, not a crash
            stats.failures.append(f"session {index}: {type(exc).__name__}: {str(exc)[:120]}")
        finally:
            await client.close()

    async def report() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(min(60.0, max(0.1, deadline - time.monotonic())))
            full, frag = stats.latencies[FULL], stats.latencies[FRAGMENT]
            progress(
                f"  {len(full)} page runs p50 {percentile(full, 50):.0f} p95 {percentile(full, 95):.0f} ms; "
                f"{len(frag)} fragment runs p95 {percentile(frag, 95):.0f} ms; {len(stats.failures)} failures "
                f"[load {load()}]"
            )

    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.gather(report(), *(session(i) for i in range(sessions)))
    return stats, (time.process_time() - cpu0) / (time.monotonic() - wall0)


async def single_session(url: str, reruns: int) -> list[float]:
    """One client alone: its first render (discarded: cold caches) then `reruns` full reruns, 1 s apart."""
    stats = Stats()
    client = StreamlitClient(url, stats)
    try:
        await client.open()
        for _ in range(reruns):
            await asyncio.sleep(1.0)
            await client.rerun()
    finally:
        await client.close()
    if stats.failures:
        raise SystemExit(f"single session failed: {stats.failures[:3]}")
    return stats.latencies[FULL][1:]


async def wait_for_data(url: str, timeout: float) -> float:
    """Seconds until the dashboard shows orders (the catch-up sync that fills the empty store is done)."""
    started = time.monotonic()
    client = StreamlitClient(url, Stats())
    try:
        await client.open()
        while time.monotonic() - started < timeout:
            # the "no data yet" page polls with a 2 s fragment; once the orders are there it is gone
            if client.fragments and all(interval > 5 for interval, _ in client.fragments.values()):
                return time.monotonic() - started
            await asyncio.sleep(1.0)
            await client.rerun()
    finally:
        await client.close()
    raise SystemExit(f"no data on the dashboard after {timeout:g} s")


def check_runs(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db, timeout=30)
    rows = conn.execute(
        "SELECT scheduled_for, reason, status FROM runs WHERE job_name=? ORDER BY scheduled_for",
        ("incremental_sync",),
    ).fetchall()
    conn.close()
    slots = [parse_time(r[0]) for r in rows]
    scheduled = [parse_time(r[0]) for r in rows if r[1] == "schedule"]
    gaps = [(b - a).total_seconds() for a, b in zip(scheduled, scheduled[1:], strict=False)]
    return {
        "runs": len(rows),
        "reasons": {t: sum(1 for r in rows if r[1] == t) for t in sorted({r[1] for r in rows})},
        "statuses": {s: sum(1 for r in rows if r[2] == s) for s in sorted({r[2] for r in rows})},
        "scheduled": len(scheduled),
        "duplicates": len(slots) - len(set(slots)),
        "bad_gaps": [g for g in gaps if abs(g - 60.0) > 0.001],
        "gap_range": (min(gaps), max(gaps)) if gaps else (float("nan"), float("nan")),
    }


def summary(stats: Stats) -> str:
    full, frag, own = stats.latencies[FULL], stats.latencies[FRAGMENT], stats.latencies[SELF]
    line = (
        f"page p50={percentile(full, 50):.0f} p95={percentile(full, 95):.0f} max={max(full, default=float('nan')):.0f}"
        f" ms (n={len(full)}), failures={len(stats.failures)}"
    )
    if frag:
        line += f", fragment p50={percentile(frag, 50):.0f} p95={percentile(frag, 95):.0f} ms (n={len(frag)})"
    if own:
        line += (
            f", fragment->page after a sync p50={percentile(own, 50):.0f} p95={percentile(own, 95):.0f} ms "
            f"(n={len(own)})"
        )
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 sessions, 70 s (hello baseline 30 s)")
    parser.add_argument("--sessions", type=int, default=None, help="concurrent sessions (50)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load on the dashboard (600)")
    parser.add_argument("--baseline-duration", type=float, default=None, help="seconds on the hello page (120)")
    args = parser.parse_args()
    sessions = args.sessions or (10 if args.quick else 50)
    duration = args.duration or (70.0 if args.quick else 600.0)
    hello_duration = args.baseline_duration or (30.0 if args.quick else 120.0)

    load_before = load()
    with tempfile.TemporaryDirectory(prefix="fd-bench-load-") as tmp:
        folder = Path(tmp)
        hello = folder / "hello.py"
        hello.write_text(HELLO)
        with streamlit_server(hello, folder / "hello.log", {"SCHEDULER_ENABLED": "false"}) as base:
            progress(f"baseline: {sessions} sessions x {hello_duration:g} s on a hello page [load {load()}]")
            hello_stats, _ = asyncio.run(drive(base.url, sessions, hello_duration, seed=7))
            hello_hwm = proc_status_kb(base, "VmHWM")
        progress(f"hello: {summary(hello_stats)}")

        db = folder / "store.db"
        env = {
            "DATABASE_URL": f"sqlite:///{db}",
            "DEMO_SOURCE_PATH": str(folder / "demo.db"),
            "SYNC_INTERVAL_MINUTES": "1",
            "SCHEDULER_POLL_SECONDS": "5",
        }
        with streamlit_server(ROOT / "streamlit_app.py", folder / "server.log", env) as server:
            progress(f"first data after {asyncio.run(wait_for_data(server.url, 90)):.1f} s")
            single = asyncio.run(single_session(server.url, 5 if args.quick else 10))
            progress(f"single session: p50 {percentile(single, 50):.0f} ms p95 {percentile(single, 95):.0f} ms")
            sampler = RssSampler(server)
            sampler.start()
            load_start = load()
            progress(f"{sessions} sessions x {duration:g} s on the dashboard [load {load_start}]")
            try:
                stats, client_cpu = asyncio.run(drive(server.url, sessions, duration, seed=42))
            finally:
                sampler.stop.set()
                sampler.join(timeout=10)
            peak_kb = proc_status_kb(server, "VmHWM")
            server_alive = server.process.poll() is None
        tracebacks = server.log.read_text(errors="replace").count("Traceback")
        runs = check_runs(db)

    for failure in stats.failures[:10]:
        progress(failure)
    progress(f"runs: {runs}")
    p95, hello95 = percentile(stats.latencies[FULL], 95), percentile(hello_stats.latencies[FULL], 95)
    one_per_slot = runs["duplicates"] == 0 and not runs["bad_gaps"] and runs["scheduled"] >= int(duration // 60) - 1
    low, high = runs["gap_range"]
    print(
        f"bench_sessions_load: {sessions} websocket sessions x {duration:g} s on the dashboard (page rerun every "
        f"{PAUSE_S[0]:g}-{PAUSE_S[1]:g} s + fragment timers), 1-min sync interval; {summary(stats)}, "
        f"exceptions shown={stats.exceptions_shown}; "
        f"baseline {sessions} sessions x {hello_duration:g} s on a hello page: {summary(hello_stats)}; "
        f"ratio page p95={p95 / hello95:.1f}x hello; single session page p50={percentile(single, 50):.0f} "
        f"p95={percentile(single, 95):.0f} ms (n={len(single)}); runs={runs['runs']} {runs['reasons']} "
        f"{runs['statuses']}, duplicate slots={runs['duplicates']}, gaps {low:g}-{high:g} s, "
        f"gaps!=60s={len(runs['bad_gaps'])} -> one-run-per-slot {'PASS' if one_per_slot else 'FAIL'}; "
        f"server peak RSS={peak_kb / 1024:.0f} MiB (VmHWM; samples max {max(sampler.samples, default=0) / 1024:.0f}"
        f" MiB, first {sampler.samples[0] / 1024 if sampler.samples else 0:.0f} MiB; hello {hello_hwm / 1024:.0f}"
        f" MiB); server alive={server_alive}, tracebacks in log={tracebacks}; clients used "
        f"{client_cpu * 100:.0f}% of a core [load {load_before}->{load_start}->{load()}]"
    )


if __name__ == "__main__":
    main()
