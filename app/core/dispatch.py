"""Dispatcher: claims due slots and runs them in this process, highest priority first.

It owns the order (priorities, dependency verdicts), the bounded places and the set of jobs waiting for a
dependency; the database claim, not this class, guarantees one run per slot. It never touches the timer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from app.clock import Clock
from app.core.catalogue import JobDefinition
from app.core.dependencies import Verdict, decide, window_start
from app.core.models import RunReason
from app.core.runner import Outcome, Runner
from app.core.store import JobStore


class Dispatcher:
    """`wake` re-fires a job's timer (a dependent, once its dependency ended); `executes_runs` is False in
    the web role, where nothing runs here whatever calls `dispatch`."""

    def __init__(
        self,
        store: JobStore,
        runner: Runner,
        clock: Clock,
        definitions: Mapping[str, JobDefinition],
        *,
        max_concurrent_runs: int,
        stopping: threading.Event,
        wake: Callable[[str], None],
        executes_runs: Callable[[], bool],
    ) -> None:
        self.store = store
        self.runner = runner
        self.clock = clock
        self.definitions = definitions
        self.executes_runs = executes_runs
        self._stopping = stopping
        self._wake_job = wake
        self.dependents = {
            name: [d.spec.name for d in definitions.values() if name in d.spec.depends_on] for name in definitions
        }
        # Bounded concurrency: with several jobs due, the free places go to the highest priority first.
        self._places = threading.BoundedSemaphore(max_concurrent_runs)
        self.waiting: set[str] = set()  # due jobs held back until their dependencies end
        self._in_flight = 0  # dispatches executing now (a worker's shutdown lets them end)
        self._runs_done = threading.Condition()

    def dispatch(self, first: str | None = None, lead: timedelta = timedelta(0), only: bool = False) -> list[Outcome]:
        """Claim and execute due slots in priority order until none is claimable here.

        `first` (the job whose timer fired) is considered even if the database has not made it due yet
        (the timer lead); with `only`, no other job is. Dependents whose dependencies are still running or
        due wait; those whose dependencies failed get a skipped run with the reason.
        """
        outcomes: list[Outcome] = []
        if not self.executes_runs():  # the last guard of the web role: whatever calls this, runs happen in workers
            return outcomes
        with self._runs_done:
            self._in_flight += 1
        try:
            with self._places:
                for _ in range(100):  # bounded: each claim moves a slot past now
                    if self._stopping.is_set():
                        break
                    outcome = self._run_next(first, lead, only)
                    if outcome is None:
                        break
                    outcomes.append(outcome)
        finally:
            with self._runs_done:
                self._in_flight -= 1
                self._runs_done.notify_all()
        return outcomes

    def wait_for_runs(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until no run executes in this process; True when none does."""
        with self._runs_done:
            return self._runs_done.wait_for(lambda: self._in_flight == 0, timeout)

    def _run_next(self, first: str | None, lead: timedelta, only: bool = False) -> Outcome | None:
        now = self.clock.now()
        names = [] if only else [n for n in self.store.due_job_names(now + lead) if n in self.definitions]
        if first is not None and first not in names and first in self.definitions:
            names.append(first)
        for name in names:
            verdict, reason = self._dependency_verdict(name, now + lead)
            if verdict == Verdict.WAIT:
                self.waiting.add(name)
                continue
            self.waiting.discard(name)
            claim = self.store.claim(name, now, lead)
            if claim is None:
                continue
            if verdict == Verdict.SKIP and claim.reason != RunReason.MANUAL.value:
                outcome = self.runner.skip(claim, reason)
            else:
                outcome = self.runner.execute(claim, self.definitions[name].func)
            for dependent in self.dependents.get(name, []):
                self._wake_job(dependent)
            return outcome
        return None

    def _dependency_verdict(self, name: str, now: datetime) -> tuple[Verdict, str]:
        """`now` includes the timer lead: a dependency due in the same instant counts as due."""
        deps = self.definitions[name].spec.depends_on
        if not deps:
            return Verdict.READY, ""
        job = self.store.get_job(name)
        if job.requested_at is not None:
            return Verdict.READY, ""  # "Run now" by an operator does not wait for dependencies
        slot = self.store.due_slot_of(job, now)
        since = window_start(slot or now, timedelta(seconds=job.period_seconds))
        return decide(self.store.dependency_states(deps, now), since)
