"""Full validation of a fresh install (the seed's `python test_scheduler.py`); also collected by pytest.

Each check prints what it verified. It uses a temporary database and demo source, never your data.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.clock import FrozenClock
from app.config import load_settings
from app.core import scheduler as core
from app.core.scheduler import DEFAULT_JOB, SyncScheduler

SEED_STATUS_KEYS = {"running", "interval_minutes", "last_run", "last_result", "next_run"}


def report(message: str) -> None:
    print(f"  ok  {message}")


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'freshdash.db'}")
    monkeypatch.setenv("DEMO_SOURCE_PATH", str(tmp_path / "demo_source.db"))
    yield tmp_path
    for scheduler in core.process_registry.live():
        scheduler.shutdown(wait=False)


def test_configuration_loads_with_the_seed_defaults() -> None:
    settings = load_settings(env={}, secrets={})
    assert (settings.sync_interval_minutes, settings.scheduler_timezone) == (15, "America/Sao_Paulo")
    assert (settings.autorefresh_interval_minutes, settings.enable_autorefresh_fallback) == (30, True)
    report("defaults: every 15 min, America/Sao_Paulo, auto-refresh fallback every 30 min")
    project = load_settings()
    for issue in project.issues:
        print(f"  !!  your configuration: {issue}")
    report(f"your configuration loads ({len(project.issues)} problem(s) reported above)")


def test_scheduler_starts_syncs_and_reports_status(fresh: Path) -> None:
    scheduler = core.initialize_scheduler()
    assert scheduler is not None and scheduler.timer_running
    assert core.get_scheduler() is scheduler
    report("initialize_scheduler() started the one scheduler of this process (APScheduler timer running)")
    handle = scheduler.run_now(DEFAULT_JOB, requested_by="test_scheduler.py")
    run = handle.wait(60)
    assert run is not None and run.status == "success" and run.rows > 0
    report(f"run_now(): the demo source synced {run.rows:,} rows in {run.duration_seconds:.2f} s")
    status = core.get_scheduler_status()
    assert SEED_STATUS_KEYS <= status.keys() and status["running"] is True
    assert status["last_result"] == "success" and status["data_version"] > 0
    datetime.fromisoformat(status["next_run"])
    report(f"get_scheduler_status(): running, last {status['last_result']}, next run {status['next_run']}")


def test_stop_start_restart_are_persisted(fresh: Path) -> None:
    scheduler = core.initialize_scheduler()
    assert scheduler is not None
    scheduler.stop()
    assert core.get_scheduler_status()["state"] == "paused"
    again = SyncScheduler(settings=scheduler.settings)
    assert again.get_status().paused is True
    report("stop() pauses the job in the database: a new process sees it paused")
    scheduler.start()
    assert core.get_scheduler_status()["running"] is True
    scheduler.restart()
    assert scheduler.timer_running and core.get_scheduler_status()["running"] is True
    report("start() resumes and restart() brings the timer back")


def test_hibernation_and_wake_with_an_injected_clock(fresh: Path) -> None:
    clock = FrozenClock()
    scheduler = SyncScheduler(clock=clock)
    scheduler.tick()
    scheduler.touch("browser-session")
    clock.advance(timedelta(minutes=scheduler.settings.scheduler_idle_minutes))
    assert scheduler.check_idle() is True
    report(f"no session for {scheduler.settings.scheduler_idle_minutes:g} min: the scheduler hibernates")
    clock.advance(timedelta(hours=2))
    scheduler.touch("browser-session")
    outcomes = scheduler.tick()
    assert scheduler.hibernating is False and [o.status.value for o in outcomes] == ["success"]
    report("the next page view wakes it and the stale data is caught up once")


def test_hot_reload_leaves_no_second_scheduler_thread(fresh: Path) -> None:
    first = core.initialize_scheduler()
    assert first is not None
    reloaded = importlib.reload(core)
    changed = load_settings(env={"DATABASE_URL": first.database_url, "SYNC_INTERVAL_MINUTES": "5"}, secrets={})
    second = reloaded.initialize_scheduler(changed)
    assert second is not None and second is not first
    assert not first.timer_running and second.timer_running
    timers = [t for t in threading.enumerate() if t.name.startswith("APScheduler")]
    assert len(timers) <= 1
    report("a reloaded module's new scheduler stopped the old one: one timer thread")


def test_ui_components_import() -> None:
    from app.ui.components.autorefresh import render_smart_refresh
    from app.ui.components.scheduler_status import render_scheduler_badge, render_scheduler_status

    assert callable(render_scheduler_status) and callable(render_scheduler_badge) and callable(render_smart_refresh)
    report("UI components: render_scheduler_status, render_scheduler_badge, render_smart_refresh")


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-q", "-s", "-p", "no:cacheprovider"]))
