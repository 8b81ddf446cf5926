"""What a running job sees: `RunContext` (progress, run log lines, the lease guard, cancellation) and the
job function's type. The same API in a thread of the app process and in a child process (app.core.child)."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from app.clock import Clock
from app.core.store import Claim, JobStore
from app.errors import AppError, RunCancelledError


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
        self.record_progress(rows, message)
        if self.cancelled.is_set():
            raise RunCancelledError(f"run {self.run_id} was cancelled (timeout or lease lost)")

    def guard(self, conn: Connection) -> None:
        """Call inside the transaction that commits the job's data: a zombie run rolls back here."""
        self._store.guard(conn, self.claim)

    def log(self, level: str, message: str) -> None:
        self._store.log(self.run_id, level, message, self.clock.now())

    def record_progress(self, rows: int, message: str | None) -> None:
        """Keep the latest progress (the runner's copy of what a job in a child process reported)."""
        with self._lock:
            self.rows = rows
            self.progress_text = message

    def snapshot(self) -> tuple[int, str | None]:
        with self._lock:
            return self.rows, self.progress_text


JobFunc = Callable[[RunContext], Any]


@dataclass(frozen=True)
class Failure:
    """How a run's job failed, as plain values (an exception object may not cross a process boundary)."""

    type_name: str  # "" when the run's process died without a word
    message: str
    traceback: str = ""
    app_error: bool = False  # our own errors say everything in their message: no traceback in the log
    exc: BaseException | None = None  # in a thread, the exception itself (its traceback for the log)

    @property
    def text(self) -> str:
        return f"{self.type_name}: {self.message}" if self.type_name else self.message

    @classmethod
    def of(cls, exc: BaseException, keep: bool = False) -> Failure:
        """The failure an exception describes (`keep` the exception object itself: same process only)."""
        tb = "".join(traceback.format_exception(exc))
        return cls(type(exc).__name__, str(exc), tb, isinstance(exc, AppError), exc if keep else None)


def as_result(value: Any) -> dict[str, Any] | None:
    """What a job returned, as the run record's result: a dict, an object's `as_dict()`, or its text."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    to_dict = getattr(value, "as_dict", None)
    if callable(to_dict):
        result = to_dict()
        return dict(result) if isinstance(result, dict) else {"value": str(result)}
    return {"value": str(value)}
