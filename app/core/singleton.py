"""The process singleton (`get_scheduler`) and the seed's module-level functions that delegate to it.

`app.core.scheduler` re-exports them, their documented home; the scheduler itself is built there.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from app.config import Settings
from app.core import process_registry
from app.dataset_config import DEFAULT_JOB
from app.errors import AppError

if TYPE_CHECKING:
    from app.core.scheduler import SyncScheduler

logger = logging.getLogger("app.core.scheduler")  # the name these log lines have always shown
_singleton_lock = threading.Lock()


def get_scheduler(settings: Settings | None = None) -> SyncScheduler:
    """The one scheduler of this process, created on first use (not started)."""
    with _singleton_lock:
        current = process_registry.current()
        if current is not None and not current._stopping.is_set():
            if settings is None or current.settings == settings:
                return current  # type: ignore[no-any-return]
        # Looked up at each creation: after Streamlit reloads an edited scheduler.py, new ones are its new class.
        from app.core.scheduler import SyncScheduler

        scheduler = SyncScheduler(settings=settings)
        process_registry.register(scheduler)
        return scheduler


def initialize_scheduler(settings: Settings | None = None) -> SyncScheduler | None:
    """Create and start the process scheduler; None (with the reason logged) when it cannot run."""
    try:
        scheduler = get_scheduler(settings)
        if not scheduler.settings.scheduler_enabled:
            logger.info("scheduler disabled by SCHEDULER_ENABLED=false")
            scheduler.prepare()
            return None
        if not scheduler.executes_runs:
            logger.info("SCHEDULER_ROLE=web: no timer here; workers (python -m app worker) run the jobs")
            scheduler.prepare()
            return None
        if not scheduler.timer_running:
            scheduler.start(resume_jobs=False)
        scheduler.start_metrics()
        return scheduler
    except AppError as exc:
        logger.error("scheduler not started: %s", exc)
        return None


def get_scheduler_status(job: str = DEFAULT_JOB) -> dict[str, Any]:
    """The seed's status dict: running, interval_minutes, last_run, last_result, next_run (+ more)."""
    return get_scheduler().get_status(job).as_dict()


def shutdown_scheduler(_: Any = None) -> None:
    """Stop the process scheduler's timer without waiting (Streamlit's cache on_release hook)."""
    for scheduler in process_registry.live():
        scheduler.shutdown(wait=False)
