"""The façade's read-only side: job status, runs, history, heartbeats, metrics and alerts for the UI and CLI.

Each method only delegates to the stores and the status reader; nothing here writes or starts a run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from app.clock import Clock
from app.config import Settings
from app.core.agenda import Agenda
from app.core.alerts import open_alerts
from app.core.instances import InstanceStore
from app.core.metrics import metrics_snapshot
from app.core.records import (
    AgendaEntry,
    InstanceBeat,
    JobState,
    JobStatus,
    RunLogLine,
    RunRecord,
    Scheduling,
    SuccessRate,
)
from app.core.status import StatusReader, silent_after
from app.core.store import JobStore
from app.dataset_config import DEFAULT_JOB


class SchedulerQueries:
    """Mixed into `SyncScheduler`, which builds the parts declared here."""

    settings: Settings
    engine: Engine
    clock: Clock
    store: JobStore
    agenda: Agenda
    instances: InstanceStore
    status_reader: StatusReader

    if TYPE_CHECKING:

        def prepare(self) -> None: ...

        @property
        def state_name(self) -> str: ...

    def running_workers(self) -> int:
        """Processes whose timer beat "running" recently (what a web process relies on for its runs)."""
        now = self.clock.now()
        return self.instances.running_since(now - silent_after(self.settings))

    def get_status(self, job: str = DEFAULT_JOB, seen_by: str | None = None) -> JobStatus:
        """The job's status; `seen_by` names a caller without a timer (the CLI's "cli"): its state is what the
        scheduler processes' heartbeats say (running, stopped, hibernating, silent), not this process's."""
        self.prepare()
        return self.status_reader.job_status(job, self.clock.now(), None if seen_by else self.state_name)

    def history(self, job: str | None = None, limit: int = 50, status: str | None = None) -> list[RunRecord]:
        """Recent runs, newest first (of one job, with one status)."""
        self.prepare()
        return self.status_reader.history(job, limit, status)

    def todays_agenda(self) -> list[AgendaEntry]:
        self.prepare()
        return self.agenda.entries(self.clock.now())

    def get_job(self, name: str) -> JobState:
        """One job's row; raises UnknownJobError."""
        self.prepare()
        return self.store.get_job(name)

    def list_jobs(self) -> list[JobState]:
        """Every job, highest priority first."""
        self.prepare()
        return self.store.list_jobs()

    def scheduler_paused(self) -> bool:
        """Whether Stop paused scheduling (every job, every replica)."""
        self.prepare()
        return self.store.scheduler_paused()

    def get_run(self, run_id: int) -> RunRecord | None:
        self.prepare()
        return self.status_reader.run(run_id)

    def run_logs(self, run_id: int | None = None, limit: int = 100) -> list[RunLogLine]:
        """The newest log lines (of one run)."""
        self.prepare()
        return self.status_reader.logs(run_id, limit)

    def success_rate(self, job: str = DEFAULT_JOB, window: timedelta = timedelta(hours=24)) -> SuccessRate:
        self.prepare()
        return self.status_reader.success_rate(job, self.clock.now(), window)

    def scheduling(self) -> Scheduling:
        """Whether any scheduler process (every replica and worker) schedules now, from their heartbeats."""
        self.prepare()
        return self.status_reader.scheduling(self.clock.now())

    def heartbeats(self, limit: int = 20) -> list[InstanceBeat]:
        """The scheduler processes (every replica) that beat most recently, newest first."""
        self.prepare()
        return self.status_reader.instances(limit)

    def metrics_summary(self) -> dict[str, Any]:
        """Every number the metrics endpoint exports (app.core.metrics.metrics_snapshot)."""
        self.prepare()
        return metrics_snapshot(self.engine, self.clock.now())

    def open_alerts(self) -> list[dict[str, Any]]:
        """The alert episodes open now, oldest first."""
        self.prepare()
        return open_alerts(self.engine)
