"""Runs in a child process, so a run past its timeout really stops (SIGTERM, then SIGKILL after a grace).

The parent (`app.core.runner.Runner`) keeps what decides the run: the deadline, the lease renewal and the run
record. The child builds its own engine and `JobStore` from the store's URL and runs the job function with a
`RunContext` whose `progress()` travels to the parent over a pipe; the guard and the run log lines use the
child's own connection. Only plain picklable values cross the pipe, and the job function travels by pickle
too: a module-level function, or `functools.partial` of one with picklable arguments.

A watcher thread in the child reads the pipe: "cancel" sets `ctx.cancelled`; the parent's end closing (the
app process died) ends the child at once, so no orphan keeps writing.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.spawn as spawn
import os
import pickle
import signal
import threading
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from app.clock import Clock
from app.core.context import Failure, JobFunc, RunContext, as_result
from app.core.store import Claim, JobStore

logger = logging.getLogger(__name__)
ORPHANED_EXIT = 70  # the child's exit code when the app process died under it
# A run is background work: its process yields the CPU to the app's page renders (and to the database).
RUN_NICENESS = 10
# Never plain fork: the app process has threads (Streamlit's server, APScheduler, other runs).
_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
# (typed as the fork server's context: the spawn one has the same Process and Pipe)
PREFIX = "freshdash-run-"  # the name of every process this module starts
PROCESSES = cast(ForkServerContext, multiprocessing.get_context(_METHOD))


def preload(modules: Iterable[str]) -> None:
    """Have the fork server import these modules once (the job functions' own), so a run starts in milliseconds.

    Takes effect only before the first run of the process starts the fork server.
    """
    if _METHOD == "forkserver":
        names = {__name__, "app.core.database", *modules} - {"__main__", "__mp_main__"}
        PROCESSES.set_forkserver_preload(sorted(names))


def module_of(value: Any) -> str:
    """The module a function (or the function a `functools.partial` wraps) or an object's class is defined in."""
    return str(getattr(getattr(value, "func", value), "__module__", "") or "")


def driver_modules(engine: Engine) -> list[str]:
    """The database driver and its SQLAlchemy dialect (a run's process connects at once: import them once)."""
    dbapi = getattr(engine.dialect, "dbapi", None)
    return [type(engine.dialect).__module__, *([dbapi.__name__] if dbapi is not None else [])]


def unpicklable(value: Any) -> str | None:
    """Why `value` cannot be sent to a child process, or None when it can."""
    if module_of(value) in ("__main__", "__mp_main__"):  # a run's process never re-runs the app's main script
        return "it is defined in the main script, not in an importable module"
    try:
        pickle.dumps(value)
    except Exception as exc:  # noqa: BLE001 - pickle raises many types; the reason is the message
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True)
class ChildSpec:
    """What the child needs: the database (its URL with the password: never logged), the run and its job."""

    url: str = field(repr=False)
    owner: str
    lease_seconds: float
    tz: ZoneInfo
    claim: Claim
    func: JobFunc
    clock: Clock
    log_level: int


class ChildRun:
    """The parent's handle on one run in a child process: its messages, its end, stopping it."""

    def __init__(self, spec: ChildSpec, ctx: RunContext) -> None:
        self._ctx = ctx
        self._pipe, self._child_end = PROCESSES.Pipe()
        name = f"{PREFIX}{spec.claim.job_name}-{spec.claim.run_id}"
        _without_main_script()
        self.process = PROCESSES.Process(target=child_main, args=(self._child_end, spec), name=name, daemon=True)
        self.ended = False
        self.result: dict[str, Any] | None = None
        self.failure: Failure | None = None
        # Started aside: the first start waits for the fork server to import its modules, and meanwhile the
        # runner keeps renewing the lease.
        self._started = threading.Event()
        threading.Thread(target=self._start, name=f"{name}-start", daemon=True).start()

    def _start(self) -> None:
        try:
            self.process.start()
        except Exception as exc:  # noqa: BLE001 - out of processes, file descriptors: the run fails saying so
            self.failure = Failure("", f"could not start the run's process: {type(exc).__name__}: {exc}")
            self.ended = True
        finally:
            self._child_end.close()  # the child holds its own copy: when the child dies, our end sees EOF
            self._started.set()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def where(self) -> str:
        return f"in process {self.pid}" if self.pid is not None else "in a child process that never started"

    def wait(self, timeout: float) -> bool:
        """Take the child's messages for up to `timeout` s; True once the run ended (returned, raised, died)."""
        deadline = time.monotonic() + timeout
        if not self._started.wait(timeout):
            return False
        while not self.ended:
            ready = wait([self._pipe, self.process.sentinel], max(deadline - time.monotonic(), 0.0))
            if not ready:
                return False
            if self._pipe in ready or self._pipe.poll():
                self._take()
            else:
                self._died()
        return True

    def _take(self) -> None:
        try:
            message = self._pipe.recv()
        except (EOFError, OSError):
            self._died()
            return
        if message[0] == "progress":
            self._ctx.record_progress(message[1], message[2])
        elif message[0] == "result":
            self.result, self.ended = message[1], True
        elif message[0] == "error":
            self.failure, self.ended = Failure(*message[1:]), True

    def _died(self) -> None:
        self.process.join(5.0)
        self.failure = Failure(
            "", f"the run's process ended with exit code {_exit(self.process.exitcode)} before it finished"
        )
        self.ended = True

    def stop(self, grace: float) -> None:
        """Cancel the run: SIGTERM, up to `grace` s to end, then SIGKILL; returns once the process is gone."""
        self._started.wait(60.0)  # a start under way finishes first (bounded: the fork server answers)
        if self.process.pid is None:
            self._pipe.close()
            return
        if self.process.exitcode is None:
            with suppress(OSError):
                self._pipe.send("cancel")
            self.process.terminate()
            self.process.join(grace)
        if self.process.exitcode is None:
            logger.warning(
                "%s (pid %s) still ran %g s after SIGTERM: killed (SIGKILL)", self.process.name, self.pid, grace
            )
            self.process.kill()
            self.process.join(30.0)  # SIGKILL cannot be ignored; bounded all the same
        self._pipe.close()

    def close(self, grace: float) -> None:
        """After the run ended: let the process exit (a thread the job left behind gets `grace` s), reap it."""
        self._started.wait(60.0)
        if self.process.pid is not None:
            self.process.join(grace)
        self.stop(grace)


def warm_up(wait: float = 0.0) -> bool:
    """Start the fork server now (it imports the preloaded modules once), so the first run does not wait for it.

    In the background; with `wait`, for up to that many seconds. True when it is ready.
    """
    ready = threading.Event()

    def start() -> None:
        try:
            _without_main_script()
            process = PROCESSES.Process(target=_nothing, name=f"{PREFIX}warm-up", daemon=True)
            process.start()
            process.join(60.0)
            ready.set()
        except Exception:  # noqa: BLE001 - the first run will start it, or say why it cannot
            logger.debug("could not warm the run processes up", exc_info=True)

    threading.Thread(target=start, name="run-warm-up", daemon=True).start()
    return ready.wait(wait) if wait > 0 else False


def _nothing() -> None:
    return None


def _without_main_script() -> None:
    """Keep multiprocessing from re-running the main script in our processes.

    It prepares each child by importing the parent's `__main__` again (as `__mp_main__`); under Streamlit
    that is the page script being run, which must never execute in a run's process. Our job functions come
    from importable modules (`unpicklable` refuses `__main__`), so our processes skip that step; others
    keep it.
    """
    original = spawn.get_preparation_data
    if getattr(original, "keeps_main_out", False):
        return

    def preparation_data(name: str) -> dict[str, Any]:
        data = original(name)
        if name.startswith(PREFIX):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    preparation_data.keeps_main_out = True  # type: ignore[attr-defined]
    spawn.get_preparation_data = preparation_data


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        with suppress(ValueError):
            return f"{code} ({signal.Signals(-code).name})"
    return str(code)


class ChildContext(RunContext):
    """The job's `RunContext` in the child: progress goes to the parent; guard and log lines use our store."""

    def __init__(self, store: JobStore, claim: Claim, clock: Clock, pipe: Connection) -> None:
        super().__init__(store, claim, clock)
        self._pipe = pipe
        self._send_lock = threading.Lock()

    def progress(self, rows: int, message: str | None = None) -> None:
        self.send(("progress", rows, message))
        super().progress(rows, message)  # raises once the parent said cancel

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            with self._send_lock:
                self._pipe.send(message)
        except OSError:  # the parent is gone: nobody records this run any more
            os._exit(ORPHANED_EXIT)


def child_main(pipe: Connection, spec: ChildSpec) -> None:
    """The child process: run the job, send its result or its failure, end."""
    logging.basicConfig(
        level=spec.log_level,
        format="%(asctime)s %(levelname)s %(name)s [run %(process)d]: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",  # as the worker's own lines (app/__main__.py)
    )
    from app.core.database import get_engine

    _lower_priority()
    engine = get_engine(spec.url)
    ctx = ChildContext(JobStore(engine, spec.owner, spec.lease_seconds, spec.tz), spec.claim, spec.clock, pipe)
    threading.Thread(target=_watch, args=(pipe, ctx), name="run-watcher", daemon=True).start()
    try:
        message: tuple[Any, ...] = ("result", _plain(as_result(spec.func(ctx))))
    except BaseException as exc:  # noqa: BLE001 - the parent records it
        failure = Failure.of(exc)
        message = ("error", failure.type_name, failure.message, failure.traceback, failure.app_error)
    ctx.send(message)
    engine.dispose()


def _lower_priority() -> None:
    try:
        os.nice(RUN_NICENESS)
    except (AttributeError, OSError):  # no nice() on Windows; a sandbox may refuse: the run goes on as it is
        logging.getLogger(__name__).debug("could not lower the run's CPU priority", exc_info=True)


def _watch(pipe: Connection, ctx: RunContext) -> None:
    """Cancel on the parent's word; end this process when the parent is gone (its end of the pipe closed)."""
    while True:
        try:
            message = pipe.recv()
        except (EOFError, OSError):
            os._exit(ORPHANED_EXIT)
        if message == "cancel":
            ctx.cancelled.set()


def _plain(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The result as values that cross the pipe (a value that does not pickle becomes its text)."""
    if result is None or unpicklable(result) is None:
        return result
    return {k: v if unpicklable(v) is None else str(v) for k, v in result.items()}
