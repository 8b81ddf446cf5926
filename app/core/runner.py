"""Executes one claimed run: in a child process (or a thread), lease renewal while it works, a timeout that
stops it, the outcome recorded.

This is the one place that catches every exception of a job (it records the run and logs it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from app.clock import Clock, SystemClock
from app.core.child import ChildRun, ChildSpec, unpicklable
from app.core.context import Failure, JobFunc, RunContext, as_result
from app.core.models import RunStatus
from app.core.store import Claim, JobStore
from app.errors import AppError
from app.redaction import scrub

__all__ = ["JobFunc", "Outcome", "RunContext", "Runner"]
_as_result = as_result  # the name this module had for it

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: RunStatus
    rows: int
    result: dict[str, Any] | None
    error: str | None
    recorded: bool


class Work(Protocol):
    """One run under way (`ChildRun` in a child process, `ThreadRun` in a thread of this process)."""

    result: Any
    failure: Failure | None

    @property
    def where(self) -> str:
        """Where the run executes, for its log line: "in process 4242" or "in a thread"."""
        ...

    def wait(self, timeout: float) -> bool: ...

    def stop(self, grace: float) -> None: ...

    def close(self, grace: float) -> None: ...


class ThreadRun:
    """A run in a daemon thread of this process: cannot be killed; a stopped one is cancelled and fenced."""

    def __init__(self, claim: Claim, func: JobFunc, ctx: RunContext) -> None:
        self._ctx = ctx
        self._done = threading.Event()
        self.result: Any = None
        self.failure: Failure | None = None
        name = f"run-{claim.job_name}-{claim.run_id}"
        threading.Thread(target=self._work, args=(func,), name=name, daemon=True).start()

    def _work(self, func: JobFunc) -> None:
        try:
            self.result = func(self._ctx)
        except BaseException as exc:  # noqa: BLE001 - the one broad catch: recorded by the runner
            self.failure = Failure.of(exc, keep=True)
        finally:
            self._done.set()

    @property
    def where(self) -> str:
        return "in a thread"

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def stop(self, grace: float) -> None:
        self._ctx.cancelled.set()  # its next progress() raises; its writes are fenced by the guard

    def close(self, grace: float) -> None:
        return None


class Runner:
    def __init__(
        self,
        store: JobStore,
        clock: Clock,
        secrets: Iterable[str] = (),
        isolation: str = "process",
        kill_grace_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.secrets = tuple(s for s in secrets if s)
        self.isolation = isolation  # "process" (RUN_ISOLATION) or "thread"
        self.kill_grace_seconds = kill_grace_seconds
        self._told: set[str] = set()  # jobs whose runs stay in a thread, already warned about
        self._child_clock: Clock | None = None

    def execute(self, claim: Claim, func: JobFunc) -> Outcome:
        """Run `func` for `claim` until it returns, raises, times out or loses its lease.

        A shutdown of the scheduler does not stop it: the dispatcher claims nothing more, and a worker gives
        the run its --grace seconds, then leaves it to its lease."""
        ctx = RunContext(self.store, claim, self.clock)
        early = (claim.scheduled_for - self.clock.now()).total_seconds()
        if early > 0:  # claimed ahead of the slot (timer lead): start on the slot, not before
            threading.Event().wait(min(early, 1.0))
        work = self._start(claim, func, ctx)
        status = self._supervise(claim, ctx, work)
        if status in (RunStatus.TIMEOUT, RunStatus.ABANDONED):
            work.stop(self.kill_grace_seconds)  # a child process is gone when this returns
        else:
            work.close(self.kill_grace_seconds)
        rows, _ = ctx.snapshot()
        result, error = None, None
        if status == RunStatus.TIMEOUT:
            error = f"timed out after {claim.timeout_seconds:g} s; the run was cancelled and its writes fenced"
        elif status == RunStatus.ABANDONED:
            error = "lease lost while running (another process took the job over)"
        elif work.failure is not None:
            status = RunStatus.FAILED
            error = self._scrub(work.failure.text)
            self._log_failure(claim, error, work.failure)
        else:
            result = as_result(work.result)
            rows = int(result.get("rows", rows)) if result else rows
        recorded = status != RunStatus.ABANDONED and self.store.finish(
            claim, self.clock.now(), status, rows=rows, result=result, error=error
        )
        self._log_line(claim, status, rows, error, work.where)
        logger.info(
            "run %s of job %s (%s, attempt %s) ended %s, %s rows",
            claim.run_id,
            claim.job_name,
            claim.reason,
            claim.attempt,
            status.value,
            rows,
        )
        return Outcome(status, rows, result, error, recorded)

    def _start(self, claim: Claim, func: JobFunc, ctx: RunContext) -> Work:
        spec = self._child_spec(claim, func)
        if spec is not None:
            try:
                return ChildRun(spec, ctx)
            except OSError as exc:  # out of processes or file descriptors: a thread still runs the job
                logger.warning(
                    "run %s of job %s runs in a thread: no child process (%s)", claim.run_id, claim.job_name, exc
                )
        return ThreadRun(claim, func, ctx)

    def _child_spec(self, claim: Claim, func: JobFunc) -> ChildSpec | None:
        """What a child process needs to run `func`, or None when the run stays in a thread."""
        url = self.store.engine.url
        if self.isolation != "process" or _in_memory(url.get_backend_name(), url.database, str(url)):
            return None  # an in-memory SQLite database exists in this process only
        why = unpicklable(func)
        if why is not None:
            if claim.job_name not in self._told:
                self._told.add(claim.job_name)
                logger.warning(
                    "job %s runs in a thread, not a child process (RUN_ISOLATION=process): its function cannot be "
                    "pickled (%s). Make it a module-level function, or functools.partial of one with picklable "
                    "arguments, so that a run past its timeout can be stopped",
                    claim.job_name,
                    self._scrub(why),
                )
            return None
        return ChildSpec(
            url=url.render_as_string(hide_password=False),
            owner=self.store.owner,
            lease_seconds=self.store.lease.total_seconds(),
            tz=self.store.tz,
            claim=claim,
            func=func,
            clock=self._clock_for_child(),
            log_level=logging.getLogger().getEffectiveLevel(),
        )

    def _clock_for_child(self) -> Clock:
        """The injected clock when it pickles (a copy), else the system clock."""
        if self._child_clock is None:
            why = unpicklable(self.clock)  # e.g. a test clock holding a lock
            if why is not None:
                logger.debug(
                    "the clock %r cannot go to a child process (%s): runs there use the system clock", self.clock, why
                )
            self._child_clock = SystemClock() if why is not None else self.clock
        return self._child_clock

    def _log_failure(self, claim: Claim, error: str, failure: Failure) -> None:
        # A traceback may quote a secret (a URL in an argument); only log it when no secret is configured.
        # Our own errors (a source that refused, a bad value) say everything in their message: no traceback.
        detailed = not self.secrets and not failure.app_error
        exc_info: BaseException | bool = failure.exc if detailed and failure.exc is not None else False
        trace = f"\n{failure.traceback.rstrip()}" if detailed and failure.exc is None and failure.traceback else ""
        logger.error("run %s of job %s failed: %s%s", claim.run_id, claim.job_name, error, trace, exc_info=exc_info)

    def skip(self, claim: Claim, reason: str) -> Outcome:
        """Record the claimed slot as skipped (a dependency did not succeed) without running the job."""
        recorded = self.store.finish(claim, self.clock.now(), RunStatus.SKIPPED, error=reason)
        self._log_line(claim, RunStatus.SKIPPED, 0, reason)
        logger.warning("run %s of job %s skipped: %s", claim.run_id, claim.job_name, reason)
        return Outcome(RunStatus.SKIPPED, 0, None, reason, recorded)

    def _supervise(self, claim: Claim, ctx: RunContext, work: Work) -> RunStatus:
        renew_every = max(min(self.store.lease.total_seconds() / 3.0, 5.0), 0.05)
        # The timeout is about real elapsed time of a real thread, so it uses the monotonic clock.
        deadline = time.monotonic() + claim.timeout_seconds
        while not work.wait(max(min(renew_every, deadline - time.monotonic()), 0.0)):
            if time.monotonic() >= deadline:
                return RunStatus.TIMEOUT
            rows, text = ctx.snapshot()
            try:
                held = self.store.renew(claim, self.clock.now(), rows=rows, progress=text)
            except AppError as exc:
                # A database blip, or a lock wait past its limit behind the job's own long write: keep going and
                # renew at the next beat. Should the lease run out meanwhile, a takeover fences this run.
                logger.warning("run %s of job %s: lease not renewed (%s); retrying", claim.run_id, claim.job_name, exc)
                continue
            if not held:
                return RunStatus.ABANDONED
        return RunStatus.SUCCESS

    def _log_line(self, claim: Claim, status: RunStatus, rows: int, error: str | None, where: str = "") -> None:
        """One structured line per run in run_logs (the Scheduler page shows them); never fails the run.

        `where` ("in process 4242", "in a thread") lets an operator see RUN_ISOLATION at work."""
        level = {RunStatus.SUCCESS: "INFO", RunStatus.SKIPPED: "WARNING"}.get(status, "ERROR")
        ran = f"{claim.reason} run {where}" if where else f"{claim.reason} run"
        text = f"{ran}, attempt {claim.attempt}: {status.value}, {rows} rows"
        try:
            self.store.log(claim.run_id, level, text + (f" ({error})" if error else ""), self.clock.now())
        except Exception:  # noqa: BLE001 - a log line is not worth a failed run
            logger.warning("could not store the log line of run %s", claim.run_id, exc_info=True)

    def _scrub(self, message: str) -> str:
        return scrub(message, self.secrets)[:4000]


def _in_memory(backend: str, database: str | None, url: str) -> bool:
    return backend == "sqlite" and (not database or database == ":memory:" or "mode=memory" in url)
