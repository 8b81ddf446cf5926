"""Executes one claimed run: a worker thread, lease renewal while it works, a timeout, the outcome recorded.

This is the one place that catches every exception of a job (it records the run and logs it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from app.clock import Clock
from app.core.models import RunStatus
from app.core.store import Claim, JobStore
from app.errors import AppError, RunCancelledError
from app.redaction import scrub

logger = logging.getLogger(__name__)


class RunContext:
    """What a running job may use: progress reports, run log lines, the lease guard, cancellation."""

    def __init__(self, store: JobStore, claim: Claim, clock: Clock) -> None:
        self._store = store
        self.claim = claim
        self.clock = clock
        self.cancelled = threading.Event()
        self.rows = 0
        self.progress_text: str | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> JobStore:
        """The scheduler's state store (its engine is the app database), for built-in jobs."""
        return self._store

    @property
    def run_id(self) -> int:
        return self.claim.run_id

    @property
    def job_name(self) -> str:
        return self.claim.job_name

    def now(self) -> datetime:
        return self.clock.now()

    def progress(self, rows: int, message: str | None = None) -> None:
        """Report rows done so far; the runner persists it with the next lease renewal."""
        with self._lock:
            self.rows = rows
            self.progress_text = message
        if self.cancelled.is_set():
            raise RunCancelledError(f"run {self.run_id} was cancelled (timeout or lease lost)")

    def guard(self, conn: Connection) -> None:
        """Call inside the transaction that commits the job's data: a zombie run rolls back here."""
        self._store.guard(conn, self.claim)

    def log(self, level: str, message: str) -> None:
        self._store.log(self.run_id, level, message, self.clock.now())

    def snapshot(self) -> tuple[int, str | None]:
        with self._lock:
            return self.rows, self.progress_text


JobFunc = Callable[[RunContext], Any]


@dataclass(frozen=True)
class Outcome:
    status: RunStatus
    rows: int
    result: dict[str, Any] | None
    error: str | None
    recorded: bool


class Runner:
    def __init__(self, store: JobStore, clock: Clock, secrets: Iterable[str] = ()) -> None:
        self.store = store
        self.clock = clock
        self.secrets = tuple(s for s in secrets if s)

    def execute(self, claim: Claim, func: JobFunc, stopping: threading.Event | None = None) -> Outcome:
        """Run `func` for `claim` until it returns, raises, times out or loses its lease."""
        ctx = RunContext(self.store, claim, self.clock)
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                box["result"] = func(ctx)
            except BaseException as exc:  # noqa: BLE001 - the one broad catch: recorded below
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=work, name=f"run-{claim.job_name}-{claim.run_id}", daemon=True)
        early = (claim.scheduled_for - self.clock.now()).total_seconds()
        if early > 0:  # claimed ahead of the slot (timer lead): start on the slot, not before
            threading.Event().wait(min(early, 1.0))
        worker.start()
        status = self._supervise(claim, ctx, done)
        rows, _ = ctx.snapshot()
        result, error = None, None
        if status == RunStatus.TIMEOUT:
            error = f"timed out after {claim.timeout_seconds:g} s; the run was cancelled and its writes fenced"
        elif status == RunStatus.ABANDONED:
            error = "lease lost while running (another process took the job over)"
        elif "error" in box:
            status = RunStatus.FAILED
            exc = box["error"]
            error = self._scrub(f"{type(exc).__name__}: {exc}")
            logger.error(
                "run %s of job %s failed: %s",
                claim.run_id,
                claim.job_name,
                error,
                exc_info=self._exc_info(exc),
            )
        else:
            result = _as_result(box.get("result"))
            rows = int(result.get("rows", rows)) if result else rows
        recorded = status != RunStatus.ABANDONED and self.store.finish(
            claim, self.clock.now(), status, rows=rows, result=result, error=error
        )
        if status == RunStatus.ABANDONED:
            ctx.cancelled.set()
        self._log_line(claim, status, rows, error)
        logger.info(
            "run %s of job %s (%s, attempt %s) ended %s, %s rows",
            claim.run_id,
            claim.job_name,
            claim.trigger,
            claim.attempt,
            status.value,
            rows,
        )
        return Outcome(status, rows, result, error, recorded)

    def skip(self, claim: Claim, reason: str) -> Outcome:
        """Record the claimed slot as skipped (a dependency did not succeed) without running the job."""
        recorded = self.store.finish(claim, self.clock.now(), RunStatus.SKIPPED, error=reason)
        self._log_line(claim, RunStatus.SKIPPED, 0, reason)
        logger.warning("run %s of job %s skipped: %s", claim.run_id, claim.job_name, reason)
        return Outcome(RunStatus.SKIPPED, 0, None, reason, recorded)

    def _supervise(self, claim: Claim, ctx: RunContext, done: threading.Event) -> RunStatus:
        renew_every = max(min(self.store.lease.total_seconds() / 3.0, 5.0), 0.05)
        # The timeout is about real elapsed time of a real thread, so it uses the monotonic clock.
        deadline = time.monotonic() + claim.timeout_seconds
        while not done.wait(max(min(renew_every, deadline - time.monotonic()), 0.0)):
            if time.monotonic() >= deadline:
                ctx.cancelled.set()
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
                ctx.cancelled.set()
                return RunStatus.ABANDONED
        return RunStatus.SUCCESS

    def _log_line(self, claim: Claim, status: RunStatus, rows: int, error: str | None) -> None:
        """One structured line per run in run_logs (the Scheduler page shows them); never fails the run."""
        level = {RunStatus.SUCCESS: "INFO", RunStatus.SKIPPED: "WARNING"}.get(status, "ERROR")
        text = f"{claim.trigger} run, attempt {claim.attempt}: {status.value}, {rows} rows"
        try:
            self.store.log(claim.run_id, level, text + (f" ({error})" if error else ""), self.clock.now())
        except Exception:  # noqa: BLE001 - a log line is not worth a failed run
            logger.warning("could not store the log line of run %s", claim.run_id, exc_info=True)

    def _scrub(self, message: str) -> str:
        return scrub(message, self.secrets)[:4000]

    def _exc_info(self, exc: BaseException) -> BaseException | bool:
        # A traceback may quote a secret (a URL in an argument); only log it when no secret is configured.
        # Our own errors (a source that refused, a bad value) say everything in their message: no traceback.
        return exc if not self.secrets and not isinstance(exc, AppError) else False


def _as_result(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    to_dict = getattr(value, "as_dict", None)
    if callable(to_dict):
        result = to_dict()
        return dict(result) if isinstance(result, dict) else {"value": str(result)}
    return {"value": str(value)}
