"""One freshness model for a page: caption, badge and progress box drawn from one status read.

`view(status, language)` is pure; every read-out (the main area's "Data as of …", the sidebar badge, the
progress box) renders a field of the same View, so they cannot contradict each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.records import JobStatus
from app.ui.text import human_age, local_time, number, t

FAILED = frozenset({"failed", "timeout", "abandoned"})


@dataclass(frozen=True)
class View:
    phase: str  # syncing / failed / asleep / silent / scheduler_stopped / job_paused / stopped / fresh / none
    caption: str  # "Data as of Dec 1 10:42 BRT (3 min ago)", with "· Syncing…" or "· last sync failed"
    badge: str
    kind: str  # success / warning / error / info: the badge's colour
    progress: str | None  # the progress box's text while a run is in progress, else None
    state_label: str  # the panel's "Status: …" word

    @property
    def syncing(self) -> bool:
        return self.phase == "syncing"


def view(status: JobStatus, language: str, requested: bool = False) -> View:
    """The freshness of `status` (a scheduler status dict) in `language`; `requested` is this session's Sync
    now that no scheduler has started yet (shown as syncing, so badge and progress agree)."""
    lang = language
    age_seconds = status.data_age_seconds
    data = t(lang, "data.none") if age_seconds is None else t(lang, "data.age", age=human_age(age_seconds))
    current = status.current_run
    rows = current.rows if current else 0
    progress = None
    if current or requested:
        # rows arrive with the lease renewal: none yet says "Syncing…", never "0 rows"
        progress = t(lang, "progress.rows", rows=number(rows, lang)) if rows else t(lang, "progress.zero")
    phase, badge, kind = _phase(status, lang, data, progress, age_seconds)
    caption = _caption(status, lang, age_seconds)
    if progress:
        caption = f"{caption} · {progress}"
    elif phase == "failed":
        caption = f"{caption} · {t(lang, 'result.failed')}"
    return View(phase, caption, badge, kind, progress, _state_label(status, lang))


def _phase(
    status: JobStatus, lang: str, data: str, progress: str | None, age_seconds: float | None
) -> tuple[str, str, str]:
    state = status.state
    if progress:
        return "syncing", progress, "info"
    if state == "hibernating":
        return "asleep", t(lang, "badge.asleep"), "info"
    if state == "silent" and not status.silent_since:  # nothing ever beat (a web server with no worker yet)
        return "silent", t(lang, "badge.never"), "error"
    if state == "silent":
        since = local_time(status.silent_since, status.timezone, language=lang)
        return "silent", t(lang, "badge.silent", since=since), "error"
    if status.scheduler_paused:
        return "scheduler_stopped", f"{t(lang, 'state.scheduler_stopped')} · {data}", "warning"
    if status.job_paused or state == "paused":
        return "job_paused", t(lang, "badge.job_paused", name=status.job, data=data), "warning"
    if state == "stopped":
        return "stopped", t(lang, "badge.stopped", data=data), "warning"
    if status.last_result in FAILED:
        return "failed", t(lang, "badge.failed", data=data), "error"
    if age_seconds is None:
        return "none", t(lang, "badge.on", data=data), "info"
    interval = float(status.interval_minutes) * 60.0
    kind = "success" if age_seconds < interval * 1.5 else "warning" if age_seconds < interval * 3 else "error"
    return "fresh", t(lang, "badge.on", data=data), kind


def _caption(status: JobStatus, lang: str, age_seconds: float | None) -> str:
    if not status.last_success_at:
        return t(lang, "asof.none")
    at = local_time(status.last_success_at, status.timezone, with_date=True, language=lang)
    return t(lang, "asof", at=at, age=human_age(age_seconds))


def _state_label(status: JobStatus, lang: str) -> str:
    if status.scheduler_paused:
        return t(lang, "state.scheduler_stopped")
    if status.job_paused:
        return t(lang, "state.job_paused")
    return t(lang, "state." + str(status.state))
