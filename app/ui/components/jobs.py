"""Scheduler page: the job catalogue with its triggers, and the guarded per-job controls (trigger, pause,
run now, reset a stuck run, full resync)."""

from __future__ import annotations

import re

import streamlit as st

from app.core.catalogue import catalogue
from app.core.records import JobState
from app.core.scheduler import SyncScheduler
from app.errors import AppError
from app.jobs.report import report_is_configured
from app.ui import resources
from app.ui.components.scheduler_status import is_admin
from app.ui.text import DASH, local_time, number, t


def render_catalogue_problems(lang: str) -> None:
    """What the catalogue left out (a JOB_MODULES module that failed, a dataset or job it could not use): a
    headline in the UI's language over each problem as the core wrote it (English, naming key and value)."""
    problems = catalogue.problems
    if problems:
        details = "\n".join(f"- {problem}" for problem in problems)
        st.warning(f"{t(lang, 'catalogue.problems', count=len(problems))}\n\n{details}", icon=":material/warning:")


def render_jobs(scheduler: SyncScheduler) -> None:
    lang = scheduler.settings.ui_language
    st.subheader(t(lang, "jobs"))
    jobs = scheduler.list_jobs()
    now = scheduler.clock.now()
    zone = scheduler.settings.scheduler_timezone
    rows = [
        {
            t(lang, "col.job"): j.name,
            t(lang, "col.trigger"): j.trigger or f"every {j.period_seconds:g}s",
            t(lang, "col.priority"): j.priority,
            t(lang, "col.state"): t(lang, "jobstate." + _state(j)),
            t(lang, "col.next_run"): local_time(j.next_run_at, zone, with_date=True, language=lang, now=now),
            t(lang, "col.after"): ", ".join(j.depends_on) or DASH,
            t(lang, "col.description"): describe(j.name, j.description, lang, scheduler),
            t(lang, "col.tags"): ", ".join(j.tags) or DASH,
            t(lang, "col.retries"): j.max_retries,
            t(lang, "col.timeout"): number(j.timeout_seconds / 60.0, lang, 1),
        }
        for j in jobs
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    render_catalogue_problems(lang)
    st.caption(t(lang, "jobs.priority"))
    if not report_is_configured(scheduler.settings):
        st.caption(t(lang, "jobs.report_off"))
    if not jobs:
        return
    if not is_admin(scheduler.settings):
        st.caption(t(lang, "jobs.locked"))
        return
    with st.expander(t(lang, "jobs.change")):
        names = [j.name for j in jobs]
        primary = resources.primary_job()
        first = names.index(primary) if primary in names else 0
        name = st.selectbox(t(lang, "jobs.pick"), names, index=first, key="fd_job_pick")
        _job_editor(scheduler, next(j for j in jobs if j.name == name), lang)


def _job_editor(scheduler: SyncScheduler, job: JobState, lang: str) -> None:
    from app.ui.components import datasets as datasets_ui

    name = job.name
    text = st.text_input(
        t(lang, "jobs.trigger"), value=job.trigger, key=f"fd_job_trigger_{name}", help=t(lang, "jobs.trigger_help")
    )
    st.caption(t(lang, "jobs.trigger_help"))
    row = st.container(horizontal=True, wrap=True)  # wraps rather than cutting a label
    if row.button(t(lang, "jobs.save"), key="fd_job_save", type="primary"):
        try:
            changed = scheduler.set_trigger(name, text)
        except AppError as exc:
            st.error(t(lang, "jobs.not_changed", error=exc))
        else:
            datasets_ui.notify(t(lang, "jobs.saved", name=name, trigger=changed.text))
            st.rerun()
    own_pause = job.job_paused  # the operator's pause; Stop/Start leave it alone
    label = t(lang, "jobs.resume" if own_pause else "jobs.pause")
    icon = ":material/play_circle:" if own_pause else ":material/pause_circle:"
    if row.button(label, key="fd_job_pause", icon=icon):
        (scheduler.resume_job if own_pause else scheduler.pause_job)(name)
        datasets_ui.notify(t(lang, "jobs.resumed_toast" if own_pause else "jobs.paused_toast", name=name))
        st.rerun()
    if row.button(t(lang, "jobs.run"), key="fd_job_run"):
        handle = scheduler.run_now(name, requested_by="scheduler page")
        scheduler.drive_in_background(name)
        datasets_ui.follow(handle)
        datasets_ui.notify(t(lang, "jobs.joined" if handle.joined else "jobs.requested", name=name))
        st.rerun()
    disabled = job.current_run_id is None
    if row.button(t(lang, "jobs.reset"), key="fd_job_reset", disabled=disabled):
        released = scheduler.reset_stuck(name)
        datasets_ui.notify(t(lang, "jobs.reset_done" if released else "jobs.reset_none", name=name))
        st.rerun()
    if "sync" in job.tags:
        if row.button(t(lang, "jobs.resync"), key="fd_job_resync", help=t(lang, "jobs.resync_help")):
            scheduler.reset_cursor(name)
            handle = scheduler.run_now(name, requested_by="full resync")
            scheduler.drive_in_background(name)
            datasets_ui.follow(handle)  # the sidebar shows its progress, then the page redraws with the data
            datasets_ui.notify(t(lang, "jobs.resync_started", name=name))
            st.rerun()


DESCRIPTIONS = (
    (re.compile(r"^Plans today's queue of runs just after midnight$"), "jobdesc.plan"),
    (re.compile(r"^Deletes runs, log lines and planned slots older than (?P<days>\d+) days$"), "jobdesc.purge"),
    (re.compile(r"^E-mails the previous (?P<days>\d+) day\(s\) of orders as CSV and Excel$"), "jobdesc.report_days"),
    (re.compile(r"^Keeps dataset (?P<name>\S+) fresh \((?P<origin>.*)\)$"), "jobdesc.sync"),
    (
        re.compile(r"^Removes from (?P<table>\S+) the rows deleted in the source of dataset (?P<name>\S+)$"),
        "jobdesc.reconcile",
    ),
)


def describe(name: str, description: str, lang: str, scheduler: SyncScheduler | None = None) -> str:
    """A built-in job's description in the UI's language (they are written in English by the catalogue);
    a description of the user's own stays as written."""
    for pattern, key in DESCRIPTIONS:
        found = pattern.match(description or "")
        if found:
            if key == "jobdesc.report_days":
                return t(lang, "jobdesc.report", what=t(lang, key, **found.groupdict()))
            values = found.groupdict()
            if "origin" in values:
                values["origin"] = _origin(values["origin"], lang)
            return t(lang, key, **values)
    return description or DASH


ORIGINS = (  # app/jobs/datasets.py's words for where a dataset's rows come from
    (re.compile(r"^the built-in demo source$"), "jobdesc.origin.demo"),
    (re.compile(r"^table (?P<table>\S+) of (?P<where>.*)$"), "jobdesc.origin.sql"),
    (re.compile(r"^the JSON API (?P<where>.*)$"), "jobdesc.origin.http"),
)


def _origin(origin: str, lang: str) -> str:
    for pattern, key in ORIGINS:
        found = pattern.match(origin)
        if found:
            return t(lang, key, **found.groupdict())
    return origin


def _state(job: JobState) -> str:
    """running, paused (by an operator), held (the scheduler is paused by Stop) or active."""
    if job.current_run_id is not None:
        return "running"
    if job.job_paused:
        return "paused"
    return "held" if job.paused else "active"
