"""Scheduler page: the job catalogue with its triggers, and the guarded per-job controls (trigger, pause,
run now, reset a stuck run, full resync)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.core.catalogue import catalogue
from app.core.scheduler import SyncScheduler
from app.errors import AppError
from app.jobs.report import report_is_configured
from app.sync.engine import reset_cursor
from app.ui import resources
from app.ui.components.scheduler_status import is_admin
from app.ui.text import t

TRIGGER_HELP = (
    "every 15m · every 5m during business hours · every 10m on mon,wed,fri between 09:00-17:00 · delay 10m · "
    "cron 0 8 * * 1-5 · daily 07:00 on weekdays · once 2026-12-24 10:00 (times in the configured zone)"
)


def render_jobs(scheduler: SyncScheduler) -> None:
    lang = scheduler.settings.ui_language
    st.subheader(t(lang, "jobs"))
    jobs = scheduler.store.list_jobs()
    tz = scheduler.settings.tz
    rows = [
        {
            "job": j["name"],
            "trigger": j["trigger"] or f"every {j['interval_seconds']:g}s",
            "priority": j["priority"],
            "state": _state(j),
            "next run": j["next_run_at"].astimezone(tz).strftime("%a %Y-%m-%d %H:%M") if j["next_run_at"] else "—",
            "after": j["depends_on"].replace(",", ", ") or "—",
            "description": j["description"],
            "tags": j["tags"].replace(",", ", "),
            "retries": j["max_retries"],
            "timeout (min)": round(j["timeout_seconds"] / 60.0, 1),
        }
        for j in jobs
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    for problem in catalogue.problems:  # a JOB_MODULES module that failed, a job with a bad dependency
        st.warning(problem, icon=":material/warning:")
    st.caption(t(lang, "jobs.priority"))
    if not report_is_configured(scheduler.settings):
        st.caption(t(lang, "jobs.report_off"))
    if not jobs:
        return
    if not is_admin(scheduler.settings):
        st.caption(t(lang, "jobs.locked"))
        return
    with st.expander(t(lang, "jobs.change")):
        names = [j["name"] for j in jobs]
        primary = resources.primary_job()
        first = names.index(primary) if primary in names else 0
        name = st.selectbox("Job", names, index=first, key="fd_job_pick")
        _job_editor(scheduler, next(j for j in jobs if j["name"] == name))


def _job_editor(scheduler: SyncScheduler, job: dict[str, Any]) -> None:
    name = job["name"]
    text = st.text_input("Trigger", value=job["trigger"], key=f"fd_job_trigger_{name}", help=TRIGGER_HELP)
    st.caption(TRIGGER_HELP)
    columns = st.columns(4)
    if columns[0].button("Save trigger", key="fd_job_save", type="primary"):
        try:
            changed = scheduler.set_trigger(name, text)
        except AppError as exc:
            st.error(f"Trigger not changed: {exc}")
        else:
            st.toast(f"{name}: {changed.text}")
            st.rerun()
    own_pause = bool(job.get("job_paused", job["paused"]))  # the operator's pause; Stop/Start leave it alone
    label = "Resume (enable)" if own_pause else "Pause (disable)"
    if columns[1].button(label, key="fd_job_pause"):
        (scheduler.resume_job if own_pause else scheduler.pause_job)(name)
        st.rerun()
    if columns[2].button("Run now", key="fd_job_run"):
        handle = scheduler.run_now(name, requested_by="scheduler page")
        scheduler.drive_in_background(name)
        st.toast(f"{name}: " + ("joined the run in progress" if handle.joined else "run requested"))
    if columns[3].button("Reset stuck run", key="fd_job_reset", disabled=job["current_run_id"] is None):
        scheduler.reset_stuck(name)
        st.rerun()
    if "sync" in job["tags"].split(","):
        if st.button("Full resync", key="fd_job_resync", help="Forget the sync cursor and re-read every source row"):
            reset_cursor(scheduler.engine, name, scheduler.clock.now())
            scheduler.run_now(name, requested_by="full resync")
            scheduler.drive_in_background(name)
            st.toast("Cursor reset: a full resync is running.")


def _state(job: dict[str, Any]) -> str:
    """running, paused (by an operator), held (the scheduler is paused by Stop) or active."""
    if job["current_run_id"] is not None:
        return "running"
    if job.get("job_paused"):
        return "paused"
    return "held (scheduler paused)" if job["paused"] else "active"
