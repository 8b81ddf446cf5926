"""Prometheus metrics read from the database at scrape time, so every replica exports the same truth.

A custom Collector on its own CollectorRegistry (never the global one); the HTTP servers started in this
process are kept in a synthetic module that Streamlit's hot reload does not re-import.
"""

from __future__ import annotations

import logging
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.exc import SQLAlchemyError

from app.clock import Clock
from app.core.models import Job, Run
from app.core.tally import run_totals, settle
from app.errors import AppError, ConfigError

logger = logging.getLogger(__name__)
jobs, runs = cast(Table, Job.__table__), cast(Table, Run.__table__)
_SERVERS_KEY = "_freshdash_metrics_servers"


def metrics_snapshot(engine: Engine, now: datetime) -> dict[str, Any]:
    """Every number the metrics export, as plain data (the UI's metrics panel reads this too)."""
    from app.core.store import JobStore  # the one definition of "due"

    settle(engine, now)  # usually a no-op read; folds runs older than an hour into the tallies
    totals = run_totals(engine)
    with engine.connect() as conn:
        job_rows = list(conn.execute(select(jobs.c.name, jobs.c.paused, jobs.c.last_success_at, jobs.c.last_run_id)))
        last_ids = [row.last_run_id for row in job_rows if row.last_run_id is not None]
        last = dict(conn.execute(select(runs.c.job_name, runs.c.duration_seconds).where(runs.c.id.in_(last_ids))).all())
        running: dict[str, int] = dict(
            conn.execute(
                select(runs.c.job_name, func.count()).where(runs.c.status == "running").group_by(runs.c.job_name)
            ).all()
        )
    due = JobStore(engine, owner="metrics").due_job_names(now)
    return {
        "runs": [{"job": j, "status": s, "runs": n} for (j, s), n in sorted(totals.runs.items())],
        "failures": [{"job": j, "reason": r, "runs": n} for (j, r), n in sorted(totals.failures.items())],
        "durations": [
            {
                "job": job,
                "count": totals.duration_count[job],
                "sum_seconds": totals.duration_sum_seconds[job],
                "last_seconds": last.get(job),
            }
            for job in sorted(set(totals.duration_count) | set(last))
        ],
        "running": {str(j): int(n) for j, n in running.items()},
        "queue_size": len(due),
        "jobs": len(job_rows),
        "jobs_active": sum(1 for row in job_rows if not row.paused),
        "data_age_seconds": {
            row.name: None if row.last_success_at is None else (now - row.last_success_at).total_seconds()
            for row in job_rows
        },
    }


class RunMetricsCollector(Collector):
    """Builds every family from one `metrics_snapshot` per scrape; a database that is down gives up=0."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # no query when the collector is registered; families are built per scrape

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("freshdash_database_up", "1 when the last scrape could read the database")
        try:
            snapshot = metrics_snapshot(self.engine, self.clock.now())
        except (AppError, SQLAlchemyError) as exc:
            logger.warning("metrics scrape could not read the database: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families(snapshot)


def families(snapshot: dict[str, Any]) -> Iterator[Metric]:
    total = CounterMetricFamily("freshdash_runs", "Finished runs by job and status", labels=["job", "status"])
    for item in snapshot["runs"]:
        total.add_metric([item["job"], item["status"]], item["runs"])
    failures = CounterMetricFamily(
        "freshdash_run_failures",
        "Failed runs by job and reason (timeout, abandoned, exception type)",
        labels=["job", "reason"],
    )
    for item in snapshot["failures"]:
        failures.add_metric([item["job"], item["reason"]], item["runs"])
    duration = SummaryMetricFamily("freshdash_run_duration_seconds", "Duration of finished runs", labels=["job"])
    last = GaugeMetricFamily("freshdash_run_last_duration_seconds", "Duration of the last run", labels=["job"])
    for item in snapshot["durations"]:
        duration.add_metric([item["job"]], item["count"], item["sum_seconds"])
        if item["last_seconds"] is not None:
            last.add_metric([item["job"]], item["last_seconds"])
    running = GaugeMetricFamily("freshdash_runs_running", "Runs in progress", labels=["job"])
    for job, count in snapshot["running"].items():
        running.add_metric([job], count)
    queue = GaugeMetricFamily("freshdash_queue_size", "Jobs due now and not yet running")
    queue.add_metric([], snapshot["queue_size"])
    active = GaugeMetricFamily("freshdash_jobs_active", "Jobs that are not paused")
    active.add_metric([], snapshot["jobs_active"])
    age = GaugeMetricFamily("freshdash_data_age_seconds", "Seconds since the job's last success", labels=["job"])
    for job, seconds in snapshot["data_age_seconds"].items():
        if seconds is not None:  # never succeeded: no sample (alert on absent() instead)
            age.add_metric([job], seconds)
    yield from (total, failures, duration, last, running, queue, active, age)


def build_registry(engine: Engine, clock: Clock) -> tuple[CollectorRegistry, RunMetricsCollector]:
    registry = CollectorRegistry(auto_describe=False)
    collector = RunMetricsCollector(engine, clock)
    registry.register(collector)
    return registry, collector


def render_metrics(engine: Engine, clock: Clock) -> bytes:
    """The text a scrape of /metrics returns (for the CLI and tests)."""
    registry, _ = build_registry(engine, clock)
    return bytes(generate_latest(registry))


# -- the HTTP endpoint, at most one per port and process --------------------------------------------------


@dataclass
class MetricsServer:
    port: int
    address: str
    collector: RunMetricsCollector
    server: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.address in {"", "0.0.0.0"} else self.address
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        stop_metrics_server(self.port)


def _servers() -> tuple[threading.Lock, dict[int, MetricsServer]]:
    module = sys.modules.get(_SERVERS_KEY)
    if module is None:
        module = types.ModuleType(_SERVERS_KEY)
        module.lock = threading.Lock()  # type: ignore[attr-defined]
        module.servers = {}  # type: ignore[attr-defined]
        sys.modules[_SERVERS_KEY] = module
    return module.lock, module.servers


def start_metrics_server(port: int, engine: Engine, clock: Clock, address: str = "0.0.0.0") -> MetricsServer | None:
    """Serve /metrics on `port` (0 = off, returns None). A second call with the same port returns the running
    server, now reading `engine` and `clock` (after a hot reload or a settings change)."""
    if port == 0:
        return None
    lock, servers = _servers()
    with lock:
        running = servers.get(port)
        if running is not None:
            running.collector.engine, running.collector.clock = engine, clock
            return running
        registry, collector = build_registry(engine, clock)
        try:
            httpd, thread = start_http_server(port, addr=address, registry=registry)
        except OSError as exc:
            raise ConfigError(
                f"METRICS_PORT={port}: cannot listen on {address}:{port} ({exc.strerror or exc})"
            ) from None
        servers[port] = started = MetricsServer(port, address, collector, httpd, thread)
    logger.info("metrics served on %s", started.url)
    return started


def stop_metrics_server(port: int) -> None:
    lock, servers = _servers()
    with lock:
        running = servers.pop(port, None)
    if running is not None:
        running.server.shutdown()
        running.server.server_close()
