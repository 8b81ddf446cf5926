"""The web/worker split: SCHEDULER_ROLE=web processes only record requests; `python -m app worker` runs them.

In-process tests pin the roles' rules (a web process never executes a run, never beats, judges the workers'
heartbeats; a worker never hibernates; request_run notifies on PostgreSQL). Slow tests start real worker
processes (and, in the browser test, two real `streamlit run` web servers) on one database.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from app.clock import FrozenClock
from app.config import Settings, load_settings
from app.core.listener import RequestListener
from app.core.models import Instance, Run
from app.core.records import RunRecord
from app.core.runner import RunContext
from app.core.scheduler import JobDefinition, SyncScheduler, initialize_scheduler
from app.core.store import REQUEST_CHANNEL, JobSpec
from tests.browser_support import CHROMIUM_ARGS, VIEWPORT, clean_env, streamlit_process, tail
from tests.support import wait_until
from tests.test_ui import configure, render, rendered_text, toasts  # noqa: F401  # configure: a fixture

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 12, 1, 13, 0, tzinfo=timezone.utc)
# A worker hears of a request at once on PostgreSQL (NOTIFY) and within a 1-second poll elsewhere; the bounds
# leave room for a loaded 2-core machine. Housekeeping (SCHEDULER_POLL_SECONDS) is set far above them, so
# only the wake-up path can meet them.
SERVED_WITHIN = {"postgresql": 2.0, "sqlite": 3.0}
BASE_ENV = {
    "SYNC_INTERVAL_MINUTES": "60",
    "SCHEDULER_POLL_SECONDS": "30",
    "MANUAL_SYNC_COOLDOWN_SECONDS": "0",
    "SCHEDULER_TIMEZONE": "UTC",
    "JOB_MODULES": "tests.web_worker_jobs",
}


# -- in-process: the rules of each role ---------------------------------------------------------------------


def counting_job(calls: list[str]) -> JobDefinition:
    def work(ctx: RunContext) -> dict[str, Any]:
        calls.append(ctx.claim.owner)
        return {"rows": 1}

    return JobDefinition(JobSpec("counted", 3600.0, timeout_seconds=60), work)


def role_settings(make_settings: Callable[..., Settings], db_url: str, role: str) -> Settings:
    return make_settings(db_url, scheduler_role=role, scheduler_poll_seconds=5)


def test_a_web_process_records_a_request_and_never_runs_it_itself(
    db_url: str, make_settings: Callable[..., Settings]
) -> None:
    calls: list[str] = []
    clock = FrozenClock(START)
    settings = role_settings(make_settings, db_url, "web")
    web = SyncScheduler(settings=settings, clock=clock, jobs=[counting_job(calls)])
    web.prepare()
    web.tick()  # the catch-up of a new job is the workers' too
    handle = web.run_now("counted", requested_by="analyst")
    web.serve("counted", here=True)
    web.drive_in_background("counted")
    web.tick()
    web.start(resume_jobs=True)  # Start in the web role lifts the pause only: no timer here
    web.request_if_stale("counted")  # the fallback refresh's request: joins, and runs nothing here either
    assert not web.timer_running and web.state_name == "web"
    assert calls == [] and handle.run_id is None
    assert web.get_job("counted").requested_at == START
    assert web.instances.recent() == []  # a web process is no scheduler: it never beats

    worker = SyncScheduler(settings=settings, clock=clock, jobs=[counting_job(calls)], worker=True)
    assert worker.tick() and calls and set(calls) == {worker.instance_id}
    run = web.get_run(handle.run_id or -1)
    assert run is not None and run.owner == worker.instance_id and run.status == "success"


def test_initialize_scheduler_in_the_web_role_starts_no_timer(
    db_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = role_settings(make_settings, db_url, "web")
    assert initialize_scheduler(settings) is None
    from app.core.scheduler import get_scheduler

    web = get_scheduler(settings)
    assert not web.timer_running
    web.restart()  # the Restart button: still no timer, and still the process scheduler
    assert not web.timer_running and get_scheduler(settings) is web


def test_the_web_status_follows_the_workers_heartbeats(db_url: str, make_settings: Callable[..., Settings]) -> None:
    clock = FrozenClock(START)
    settings = role_settings(make_settings, db_url, "web")
    web = SyncScheduler(settings=settings, clock=clock, jobs=[counting_job([])])
    web.prepare()
    assert web.get_status("counted").state == "silent"  # no worker has ever beaten
    web.instances.beat("worker-1", START, "running", 0)
    status = web.get_status("counted")
    assert status.state == "running" and status.running and web.running_workers() == 1
    clock.advance(timedelta(seconds=31))  # three missed 5 s ticks, at least 30 s
    assert web.get_status("counted").state == "silent"
    web.instances.beat("worker-1", clock.now(), "stopped", 0)  # stopped cleanly, and none other beats
    status = web.get_status("counted")
    assert status.state == "silent" and status.silent_since is not None and web.running_workers() == 0
    web.instances.beat("worker-2", clock.now() - timedelta(seconds=1), "running", 0)  # another one runs
    assert web.get_status("counted").state == "running"  # worker-1's later stop does not hide it


def test_the_cli_status_follows_the_workers_heartbeats(db_url: str, make_settings: Callable[..., Settings]) -> None:
    clock = FrozenClock(START)
    cli = SyncScheduler(settings=make_settings(db_url, scheduler_poll_seconds=5), clock=clock, jobs=[counting_job([])])
    cli.prepare()  # like `python -m app status`: a process with no timer
    status = cli.get_status("counted", seen_by="cli")
    assert (status.state, status.running, status.silent_since) == ("silent", False, None)  # none ever beat
    cli.instances.beat("worker-1", START, "running", 0)
    status = cli.get_status("counted", seen_by="cli")
    assert (status.state, status.running, status.silent_since) == ("running", True, None)
    clock.advance(timedelta(seconds=31))  # three missed 5 s ticks, at least 30 s
    status = cli.get_status("counted", seen_by="cli")
    assert (status.state, status.silent_since) == ("silent", cli.status_reader.iso(START))
    cli.instances.beat("worker-1", clock.now(), "stopped", 0)  # a clean exit
    status = cli.get_status("counted", seen_by="cli")
    assert (status.state, status.running, status.silent_since) == ("stopped", False, cli.status_reader.iso(clock.now()))
    cli.instances.beat("worker-2", clock.now(), "running", 0)
    assert cli.get_status("counted", seen_by="cli").state == "running"


def test_a_worker_never_hibernates(sqlite_url: str, make_settings: Callable[..., Settings]) -> None:
    clock = FrozenClock(START)
    settings = make_settings(sqlite_url, scheduler_idle_minutes=1)
    worker = SyncScheduler(settings=settings, clock=clock, jobs=[counting_job([])], worker=True)
    plain = SyncScheduler(settings=settings, clock=clock, jobs=[counting_job([])])
    worker.prepare()
    for scheduler in (worker, plain):
        scheduler.touch("tab")  # a session seen once, then none for two hours
    clock.advance(timedelta(hours=2))
    assert not worker.check_idle()
    assert plain.check_idle()  # the same settings hibernate a scheduler that serves pages


def test_request_run_notifies_workers_on_postgresql_once_per_new_request(
    pg_url: str, make_settings: Callable[..., Settings]
) -> None:
    import psycopg

    web = SyncScheduler(settings=role_settings(make_settings, pg_url, "web"), jobs=[counting_job([])])
    web.prepare()
    listener = RequestListener(web.engine, web.store, lambda _: None)
    with listener._connect() as conn:
        conn.execute(f"LISTEN {REQUEST_CHANNEL}")
        web.run_now("counted")
        web.run_now("counted")  # joins the pending request: nothing new to hear
        heard = [n.payload for n in conn.notifies(timeout=1.0)]
    assert heard == ["counted"]
    assert isinstance(conn, psycopg.Connection)


def test_the_poll_wakes_each_pending_request_once(sqlite_url: str, make_settings: Callable[..., Settings]) -> None:
    clock = FrozenClock(START)
    web = SyncScheduler(settings=role_settings(make_settings, sqlite_url, "web"), clock=clock, jobs=[counting_job([])])
    web.prepare()
    woken: list[str] = []
    listener = RequestListener(web.engine, web.store, woken.append)
    assert not listener.uses_notify
    listener.check_pending()
    web.run_now("counted")
    listener.check_pending()
    listener.check_pending()  # the same request: no second wake-up (a busy timer would log skipped fires)
    assert woken == ["counted"]


def test_the_scheduler_page_in_the_web_role_says_where_runs_happen_and_only_records_sync_now(
    configure: Callable[..., None],  # noqa: F811  # the fixture of tests/test_ui.py
) -> None:
    from app.core.scheduler import get_scheduler

    configure(SCHEDULER_ROLE="web", MANUAL_SYNC_COOLDOWN_SECONDS=0)
    at = render("scheduler")
    # no worker has beaten yet: said, not hidden; the fallback refresh records a request for the stale data
    assert "No scheduler has run yet: start one" in rendered_text(at)  # not "silent since —"
    web = get_scheduler()
    web.instances.beat("worker-1", web.clock.now(), "running", 0)  # a worker beats
    at.run()
    shown = rendered_text(at)
    assert "Syncs run in worker processes" in shown and "Workers running: 1" in shown
    assert "Scheduler silent" not in shown and "Off in this process" not in shown
    assert "refreshes itself" not in shown  # workers beat: no fallback refresh here
    at.button(key="fd_sync_now").click().run()
    assert not at.exception and toasts(at) == ["A sync is already running or requested: following it."]
    at.run()
    requested = [j.name for j in web.list_jobs() if j.requested_at is not None]
    assert requested and web.status_reader.history(limit=10) == []  # recorded, and nothing ran here
    assert not web.timer_running


# -- real processes --------------------------------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.text():
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}:\n{tail(self.log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"worker never logged {marker!r} in {timeout:g} s:\n{tail(self.log)}")
            time.sleep(0.1)


def ready_marker(url: str) -> str:
    return "listening for run requests" if url.startswith("postgresql") else "SIGTERM or SIGINT stops it"


@contextmanager
def worker_processes(count: int, env: dict[str, str], folder: Path, grace: float = 15) -> Iterator[list[Worker]]:
    """`python -m app worker` processes, ready (listening), every one stopped at the end whatever happens."""
    started: list[Worker] = []
    try:
        for i in range(count):
            log = folder / f"worker{i}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "app", "worker", "--grace", str(grace)],
                    cwd=ROOT,
                    env=clean_env({**env, "PYTHONPATH": str(ROOT)}),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append(Worker(process, log))
        for worker in started:
            worker.wait_for(ready_marker(env["DATABASE_URL"]), 60)
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in started:
            try:
                worker.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(timeout=10)


def owner_pid(owner: str) -> int:
    return int(owner.split(":")[-2])  # host:pid:nonce


def runs_of(url: str, job: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    query = select(Run.id, Run.status, Run.reason, Run.owner, Run.started_at, Run.finished_at).where(
        Run.job_name == job
    )
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query.order_by(Run.id)).mappings()]
    finally:
        engine.dispose()


def succeeded(url: str) -> list[dict[str, Any]]:
    return [r for r in runs_of(url, "incremental_sync") if r["status"] == "success"]


def process_env(url: str, folder: Path, **extra: str) -> dict[str, str]:
    return {**BASE_ENV, "DATABASE_URL": url, "DEMO_SOURCE_PATH": str(folder / "demo.db"), **extra}


def web_scheduler(env: dict[str, str]) -> SyncScheduler:
    web = SyncScheduler(settings=load_settings(env={**env, "SCHEDULER_ROLE": "web"}, secrets={}))
    web.prepare()
    return web


def served(web: SyncScheduler, job: str, workers: list[Worker]) -> tuple[RunRecord, float]:
    """Ask as a web process does; wait for the run to end; (its record, seconds from request to start)."""
    handle = web.run_now(job, requested_by="web test")
    web.drive_in_background(job)  # what the web's Sync now calls: must leave the run to a worker
    assert not handle.joined
    logs = lambda: "\n".join(tail(w.log) for w in workers)  # noqa: E731
    run = wait_until(lambda: (r := handle.poll()) and r.status != "running" and r, f"a run of {job}", 60, logs)
    assert handle.request.requested_at is not None
    return run, (run.started_at - handle.request.requested_at).total_seconds()


@pytest.mark.slow
def test_two_workers_serve_each_web_request_once_within_a_second(db_url: str, tmp_path: Path) -> None:
    env = process_env(db_url, tmp_path)
    with worker_processes(2, env, tmp_path) as workers:
        pids = {w.process.pid for w in workers}
        logs = lambda: "\n".join(tail(w.log) for w in workers)  # noqa: E731
        wait_until(
            lambda: [r for r in runs_of(db_url, "incremental_sync") if r["status"] == "success"], "catch-up", 60, logs
        )
        web = web_scheduler(env)
        bound = SERVED_WITHIN[web.engine.dialect.name]
        latencies = []
        for _ in range(3):
            run, latency = served(web, "incremental_sync", workers)
            latencies.append(latency)
            assert run.status == "success" and owner_pid(run.owner) in pids, run
        assert max(latencies) <= bound, f"served {latencies} s after the request; bound {bound} s\n{logs()}"
        manual = [r for r in runs_of(db_url, "incremental_sync") if r["reason"] == "manual"]
        assert len(manual) == 3, manual  # one run per request, never two


@pytest.mark.slow
def test_a_worker_that_loses_its_listen_connection_still_serves_the_next_request(pg_url: str, tmp_path: Path) -> None:
    env = process_env(pg_url, tmp_path)
    with worker_processes(1, env, tmp_path) as workers:
        logs = lambda: tail(workers[0].log)  # noqa: E731
        # ended, not only started: a request made while it runs would join it instead of asking the listener
        wait_until(
            lambda: [r for r in runs_of(pg_url, "incremental_sync") if r["status"] != "running"],
            "the catch-up run to end",
            60,
            logs,
        )
        engine = create_engine(pg_url)
        try:
            with engine.begin() as conn:
                killed = conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'freshdash worker listener' AND datname = current_database()"
                    )
                ).all()
            assert killed == [(True,)], killed
            web = web_scheduler(env)
            # asked at once, while the listener is still down: heard on reconnect (it reads what it missed)
            run, latency = served(web, "incremental_sync", workers)
            assert run.status == "success" and latency <= 5.0, (latency, logs())
            workers[0].wait_for("listening for run requests", 10)
            run, latency = served(web, "incremental_sync", workers)  # and the new connection hears the next one
            assert run.status == "success" and latency <= SERVED_WITHIN["postgresql"], (latency, logs())
            assert "lost its connection" in workers[0].text()
        finally:
            engine.dispose()


@pytest.mark.slow
def test_sigterm_lets_the_run_in_progress_end_and_the_worker_exits_0(sqlite_url: str, tmp_path: Path) -> None:
    env = process_env(sqlite_url, tmp_path, SLOW_JOB_SECONDS="3")
    with worker_processes(1, env, tmp_path) as workers:
        worker = workers[0]
        web = web_scheduler(env)
        web.run_now("slow_job", requested_by="web test")
        wait_until(lambda: runs_of(sqlite_url, "slow_job"), "the slow run to start", 30, lambda: tail(worker.log))
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=30) == 0, tail(worker.log)
    [run] = runs_of(sqlite_url, "slow_job")
    assert run["status"] == "success", run
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        states = {r[0]: r[1] for r in conn.execute(select(Instance.id, Instance.state))}
    engine.dispose()
    assert list(states.values()) == ["stopped"], states
    assert "stopped" in worker.text() and "Traceback" not in worker.text()


@pytest.mark.slow
def test_sigterm_leaves_a_run_longer_than_the_grace_to_its_lease_and_exits_0(sqlite_url: str, tmp_path: Path) -> None:
    env = process_env(sqlite_url, tmp_path, SLOW_JOB_SECONDS="60")
    with worker_processes(1, env, tmp_path, grace=1) as workers:
        worker = workers[0]
        web_scheduler(env).run_now("slow_job", requested_by="web test")
        wait_until(lambda: runs_of(sqlite_url, "slow_job"), "the slow run to start", 30, lambda: tail(worker.log))
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=15) == 0, tail(worker.log)  # not the 60 s of the run
    assert "leaving it to its lease" in worker.text()
    assert [r["status"] for r in runs_of(sqlite_url, "slow_job")] == ["running"]  # until its lease expires


@pytest.mark.slow
def test_health_turns_unhealthy_as_soon_as_the_only_worker_exits_cleanly(sqlite_url: str, tmp_path: Path) -> None:
    env = process_env(sqlite_url, tmp_path)

    def health() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "app", "--json", "health"]
        return subprocess.run(command, cwd=ROOT, env=clean_env(env), capture_output=True, text=True, timeout=60)

    with worker_processes(1, env, tmp_path) as workers:
        worker = workers[0]
        wait_until(lambda: succeeded(sqlite_url), "the catch-up run", 60, lambda: tail(worker.log))
        healthy = health()
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=30) == 0, tail(worker.log)
    unhealthy = health()  # at once, not after the 30 s a silent scheduler gets
    assert unhealthy.returncode == 1, unhealthy.stdout
    [problem] = json.loads(unhealthy.stdout)["problems"]
    assert problem.startswith("no scheduler is running: the last one (") and " stopped at " in problem


def test_a_worker_refuses_to_start_with_scheduler_enabled_false(sqlite_url: str) -> None:
    from click.testing import CliRunner

    from app.cli import main

    result = CliRunner().invoke(main, ["worker"], env={"DATABASE_URL": sqlite_url, "SCHEDULER_ENABLED": "false"})
    assert result.exit_code == 3 and "SCHEDULER_ENABLED=false" in result.output


# -- two web servers, two workers, Sync now pressed on both -----------------------------------------------------


CLICK_SYNC_NOW_AT = """(at) => setTimeout(() => {
    const main = document.querySelector('[data-testid="stMain"]');  // the panel's button, not the sidebar's
    const button = [...main.querySelectorAll('button')].find(b => b.innerText.includes('Sync now'));
    window.__clickedAt = Date.now();
    button.click();
}, Math.max(0, at - Date.now()))"""


@pytest.mark.slow
@pytest.mark.browser
def test_sync_now_on_two_web_servers_gives_one_run_in_a_worker_within_a_second(pg_url: str, tmp_path: Path) -> None:
    from tests.conftest import chromium_path

    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    # many new orders a minute: a manual sync takes long enough for the two clicks to meet in it
    env = process_env(pg_url, tmp_path, DEMO_ORDERS_PER_MINUTE="60000")
    web_env = clean_env({**env, "SCHEDULER_ROLE": "web"})
    with (
        worker_processes(2, env, tmp_path) as workers,
        streamlit_process("streamlit_app.py", web_env, tmp_path / "web0.log", timeout=60) as (_, url0),
        streamlit_process("streamlit_app.py", web_env, tmp_path / "web1.log", timeout=60) as (_, url1),
        sync_playwright() as playwright,
    ):
        pids = {w.process.pid for w in workers}
        logs = lambda: "\n".join([*(tail(w.log) for w in workers), tail(tmp_path / "web0.log")])  # noqa: E731
        wait_until(
            lambda: [r for r in runs_of(pg_url, "incremental_sync") if r["status"] == "success"], "catch-up", 90, logs
        )
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            pages = []
            for url in (url0, url1):
                page = browser.new_context(viewport=VIEWPORT).new_page()
                page.set_default_timeout(30_000)
                page.goto(f"{url}/Scheduler")
                page.get_by_text("Syncs run in worker processes").wait_for()
                page.locator('[data-testid="stMain"]').get_by_role("button", name="Sync now").wait_for()
                page.wait_for_timeout(1000)  # let the first render settle (fragments start)
                pages.append(page)
            before = {r["id"] for r in runs_of(pg_url, "incremental_sync")}
            fire_at = pages[0].evaluate("() => Date.now()") + 800  # the same wall-clock instant in both tabs
            for page in pages:
                page.evaluate(CLICK_SYNC_NOW_AT, fire_at)

            def new_runs() -> list[dict[str, Any]]:
                return [r for r in runs_of(pg_url, "incremental_sync") if r["id"] not in before]

            wait_until(lambda: new_runs() and all(r["status"] != "running" for r in new_runs()), "the run", 60, logs)
            clicked = [p.evaluate("() => window.__clickedAt") for p in pages]
            texts = [p.locator("body").inner_text() for p in pages]
        finally:
            browser.close()
    runs = new_runs()
    assert len(runs) == 1 and runs[0]["reason"] == "manual", (runs, clicked)
    assert owner_pid(runs[0]["owner"]) in pids, runs  # a worker ran it, neither web server
    first_click = datetime.fromtimestamp(min(clicked) / 1000, timezone.utc)
    latency = (runs[0]["started_at"] - first_click).total_seconds()
    assert latency <= SERVED_WITHIN["postgresql"] + 1.0, f"run started {latency:.2f} s after the click"  # + a rerun
    assert all("Scheduler silent" not in t and "Off in this process" not in t for t in texts), texts


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, *sys.argv[1:]]))
