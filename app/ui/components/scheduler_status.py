"""Scheduler status panel with guarded controls, and the live sidebar badge (the session's heartbeat)."""

from __future__ import annotations

import dataclasses
import hmac
from datetime import datetime, timedelta, timezone

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.config import Settings
from app.core.handle import RunHandle
from app.core.records import JobStatus, RunRecord
from app.core.scheduler import SyncScheduler
from app.core.slots import cooldown_left
from app.errors import AppError, ConfigError
from app.ui import data, resources
from app.ui.components import datasets as datasets_ui
from app.ui.components import freshness
from app.ui.text import human_age, local_time, number, percent, reason_word, status_word, t, zone_label

BADGE_REFRESH_SECONDS = 10
PROGRESS_REFRESH_SECONDS = 1.0
HANDLE_KEY = "fd_sync_request"
ADMIN_KEY = "fd_admin_ok"
FINISHED_KEY = "fd_sync_finished"
VERSION_KEY = "fd_shown_data_version"
SYNCING_KEY = "fd_shown_syncing"  # whether the page was drawn while a run was in progress


# -- badge ------------------------------------------------------------------------------------------------


def badge_state(status: JobStatus, language: str) -> tuple[str, str]:
    """(text, kind) for a status; kind is success/warning/error/info (the badge's colour)."""
    shown = freshness.view(status, language)
    return shown.badge, shown.kind


def render_scheduler_badge() -> None:
    """Compact, live sidebar badge: the scheduler's state, one line per dataset (worst first), Sync now for the
    page's datasets and the progress of this session's requests; each of its runs is this session's presence
    heartbeat. It beats every second while a run is in progress, else every BADGE_REFRESH_SECONDS."""
    with st.sidebar:
        _admin_mark()
        datasets_ui.show_notices()
        _finished_notice(resources.get_settings().ui_language)  # "Sync finished: N rows." on every page
        busy = bool(datasets_ui.pending_requests()) or bool(st.session_state.get(SYNCING_KEY))
        st.fragment(_badge, run_every=PROGRESS_REFRESH_SECONDS if busy else BADGE_REFRESH_SECONDS)()


def _badge() -> None:
    settings = resources.get_settings()
    lang = settings.ui_language
    try:
        scheduler = resources.get_scheduler()
        status = data.status_this_run(resources.primary_job())
        pairs = datasets_ui.statuses(settings.datasets)
    except AppError as exc:
        # the page's main area shows the whole message; a cut-off copy here only adds noise
        key = "badge.config" if isinstance(exc, ConfigError) else "badge.error"
        st.error(t(lang, key), icon=":material/error:")
        return
    handles = datasets_ui.pending_requests()
    runs = [h.poll() for h in handles]
    waiting = any(run is None or run.status == "running" for run in runs)
    if handles and not waiting:  # every request of this session ended: redraw the page with its data
        st.session_state[datasets_ui.SIDEBAR_REQUESTS_KEY] = []
        failed = [run for run in runs if run is not None and run.status != "success"]
        st.session_state[FINISHED_KEY] = failed[0] if failed else runs[0]
        if _fragment_rerun():
            st.rerun()
        _finished_notice(lang)  # a full run draws the new data below anyway
    syncing = waiting or any(s.current_run for _, s in pairs)
    shown: dict[str, int] = st.session_state.get(VERSION_KEY) or {}
    current = {ds.job: int(s.data_version) for ds, s in pairs}
    moved = any(current.get(job, version) != version for job, version in shown.items())
    changed = (moved and not syncing) or syncing != bool(st.session_state.get(SYNCING_KEY))
    st.session_state[SYNCING_KEY] = syncing
    if changed and _fragment_rerun():
        # A sync started, ended or committed new data since this page rendered: redraw the whole page (caption,
        # badge, progress and data from one read) without a manual reload. Only from the badge's own beat: in a
        # full run the page draws its data next anyway, and a rerun there would swallow a button's click.
        st.session_state[VERSION_KEY] = {**shown, **{j: v for j, v in current.items() if j in shown}}
        st.rerun()
    shown_view = freshness.view(status, lang, requested=waiting)
    if shown_view.progress:  # the spinner box alone: the badge would say the same words right above it
        running_box(shown_view.progress, _run_detail(status.current_run, lang, status.timezone))  # never a ✓
    elif status.state != "running" or len(pairs) <= 1:
        getattr(st, shown_view.kind)(shown_view.badge, icon=BADGE_ICONS[shown_view.phase])
    if len(pairs) > 1 or status.state != "running":
        pressed = datasets_ui.render_sidebar_datasets(scheduler, lang, pairs)
    elif pressed := st.button(t(lang, "sync_now"), icon=":material/sync:", key="fd_sidebar_sync", width="stretch"):
        datasets_ui.request_syncs(scheduler, datasets_ui.page_requests(tuple(ds for ds, _ in pairs)), lang)
    if pressed:
        st.session_state[SYNCING_KEY] = True
        st.rerun()  # the badge beats every second while the run goes on


def running_box(label: str, detail: str = "") -> DeltaGenerator:
    """A collapsed box with a spinner for a run in progress: what `st.status(state="running")` draws, without
    the 50 ms `st.status` sleeps on every call (so that an `update()` right after it reaches the browser;
    these boxes are never updated, they are drawn anew on the next beat). That sleep was most of what the badge
    and every page cost while a run went on (bench/pages_during_sync.py)."""
    box = st.expander(label, icon="spinner")
    if detail:  # it opens: never onto nothing
        box.caption(detail)
    return box


def _run_detail(run: RunRecord | None, lang: str, zone: str) -> str:
    """What the spinner box holds: which run, why, since when ('Run 12 of sync_orders (manual), started 10:42
    BRT.'); before a scheduler started this session's request, that it waits for one."""
    if run is None:
        return t(lang, "progress.waiting")
    at = local_time(run.started_at, zone, False, lang)
    return t(lang, "progress.detail", id=run.id, job=run.job_name, reason=reason_word(lang, run.reason), at=at)


def _request_detail(handle: RunHandle | None, lang: str, zone: str) -> str:
    """What the waiting box holds: which job was requested and when ('incremental_sync: requested at 10:42
    BRT; ...'), never nothing."""
    if handle is None or handle.request.requested_at is None:
        return ""
    at = local_time(handle.request.requested_at, zone, False, lang)
    return t(lang, "progress.requested_at", job=handle.job_name, at=at)


def _fragment_rerun() -> bool:
    """Whether this run is a fragment's own rerun (its timer), not the page's full run."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        return bool(ctx is not None and ctx.fragment_ids_this_run)
    except Exception:  # noqa: BLE001 - runtime internals; without them behave as a full run (no rerun)
        return False


BADGE_ICONS = {
    "syncing": ":material/sync:",
    "failed": ":material/error:",
    "asleep": ":material/bedtime:",
    "silent": ":material/error:",
    "scheduler_stopped": ":material/stop_circle:",
    "job_paused": ":material/pause_circle:",
    "stopped": ":material/power_off:",
    "none": ":material/hourglass_empty:",
    "fresh": ":material/check_circle:",
}


def _admin_mark() -> None:
    """'Admin' and Sign out in the sidebar once the password was given (or for an allowed signed-in user)."""
    settings = resources.get_settings()
    lang = settings.ui_language
    if settings.locked_reason or not (settings.admin_password or settings.admin_users) or not is_admin(settings):
        return
    left, right = st.columns([1, 1], vertical_alignment="center")
    left.markdown(f":violet-badge[:material/shield_person: {t(lang, 'admin.mark')}]")
    if right.button(t(lang, "admin.signout"), key="fd_admin_signout", icon=":material/logout:"):
        st.session_state.pop(ADMIN_KEY, None)
        st.session_state.pop("fd_admin_password", None)
        datasets_ui.notify(t(lang, "admin.signed_out"))
        if _user_email() is not None and hasattr(st, "logout"):
            st.logout()
        st.rerun()


def remember_versions(versions: dict[str, int]) -> None:
    """The data versions this page run shows (by job): the badge reruns the page when one moves on."""
    st.session_state[VERSION_KEY] = {**(st.session_state.get(VERSION_KEY) or {}), **versions}


def render_data_as_of(status: JobStatus, language: str) -> None:
    """'Data as of Dec 1 10:42 BRT (3 min ago)' for the top of a page, live (its age counts on between reruns);
    remembers the version the page shows."""
    remember_versions({status.job: int(status.data_version)})
    st.session_state[SYNCING_KEY] = bool(status.current_run) or bool(datasets_ui.pending_requests())
    busy = bool(st.session_state[SYNCING_KEY])
    st.fragment(_as_of, run_every=PROGRESS_REFRESH_SECONDS if busy else BADGE_REFRESH_SECONDS)(status.job, language)


def _as_of(job: str, language: str) -> None:
    try:
        status = data.status_this_run(job)
    except AppError:
        return  # the page says what is wrong
    polled = [h.poll() for h in datasets_ui.pending_requests()]
    requested = any(run is None or run.status == "running" for run in polled)
    st.caption(freshness.view(status, language, requested=requested).caption)


# -- panel ------------------------------------------------------------------------------------------------


def render_scheduler_status(show_controls: bool = True) -> bool:
    """Full panel: state, last and next run, success rate, current progress, and the controls.

    Returns False (after showing what is wrong) when the database is not usable, so a page can stop there.
    """
    settings = resources.get_settings()
    lang = settings.ui_language
    try:
        scheduler = resources.get_scheduler()
        status = scheduler.get_status(resources.primary_job())
        rate = scheduler.success_rate(resources.primary_job())
    except AppError as exc:
        render_app_error(exc, lang)
        return False
    _finished_notice(lang)
    shown = freshness.view(status, lang, requested=st.session_state.get(HANDLE_KEY) is not None)
    st.subheader(f"{t(lang, 'panel.title')}: {shown.state_label}")
    if status.scheduler_paused:  # two persisted states: Start lifts the first only
        st.caption(t(lang, "paused.scheduler"))
    if status.job_paused:
        st.caption(t(lang, "paused.job"))
    now = scheduler.clock.now()
    if not scheduler.executes_runs:  # SCHEDULER_ROLE=web: say where runs happen, and how many workers beat
        st.caption(t(lang, "role.web", count=scheduler.running_workers()))
    cols = st.columns(4)
    last = local_time(status.last_run, status.timezone, True, lang, now, show_zone=False)
    cols[0].metric(
        f"{t(lang, 'last_run')} ({zone_label(status.timezone, now, lang)})", last, help=_last_help(status, lang)
    )
    if status.last_result:  # beside, not inside: a metric must not be cut; no lone "—" under a "—"
        cols[0].caption(status_word(lang, status.last_result))
    cols[1].metric(
        f"{t(lang, 'next_run')} ({zone_label(status.timezone, now, lang)})",
        local_time(status.next_run, status.timezone, True, lang, now, show_zone=False),
    )
    cols[2].metric(t(lang, "interval"), t(lang, "interval.value", minutes=number(status.interval_minutes, lang, 0)))
    shown_rate = "—" if rate.rate is None else t(lang, "rate", rate=percent(rate.rate, lang), runs=rate.runs)
    cols[3].metric(t(lang, "success_24h"), shown_rate)
    if status.last_result in {"failed", "timeout", "abandoned"} and status.last_error:
        st.error(t(lang, "failed", error=status.last_error), icon=":material/error:")
    if show_controls:
        _controls(scheduler, settings, status)
    _progress_area(scheduler, lang, status)
    return True


def _last_help(status: JobStatus, lang: str) -> str:
    if not status.last_run:
        return t(lang, "last_help.none")
    duration = number(status.last_duration_seconds or 0, lang, 1)
    return t(lang, "last_help", duration=duration, rows=number(status.last_rows or 0, lang))


def is_admin(settings: Settings) -> bool:
    """Open when no guard is configured; otherwise an allowed st.user or the admin password.

    Fail closed: when the secrets cannot be read or a guard key is invalid, nobody gets in.
    """
    if settings.locked_reason:
        return False
    if not settings.admin_password and not settings.admin_users:
        return True
    if settings.admin_users and _user_email() in settings.admin_users:
        return True
    return bool(st.session_state.get(ADMIN_KEY))


def requester() -> str:
    """Who asked for a run, as the history shows it: the signed-in user, or this session."""
    return _user_email() or f"session {resources.session_id()[:8]}"


def _user_email() -> str | None:
    try:
        user = st.user
        return str(user.get("email")) if user.get("is_logged_in") else None
    except Exception:  # noqa: BLE001 - st.user needs auth configured; no identity otherwise
        return None


def _controls(scheduler: SyncScheduler, settings: Settings, status: JobStatus) -> None:
    lang = settings.ui_language
    admin = is_admin(settings)
    # a row that wraps instead of five columns: a button in a narrow column gets its label cut ("Sincronizar ag…")
    row = st.container(horizontal=True, wrap=True)
    if row.button(t(lang, "sync_now"), type="primary", icon=":material/sync:", key="fd_sync_now"):
        _sync_now(scheduler, settings, admin)
    actions = [
        ("start", ":material/play_arrow:"),
        ("stop", ":material/stop_circle:"),
        ("restart", ":material/restart_alt:"),
        ("reset", ":material/healing:"),
    ]
    pointless = _pointless_actions(status)
    for action, icon in actions:
        if row.button(t(lang, action), icon=icon, disabled=not admin or action in pointless, key=f"fd_{action}"):
            _admin_action(scheduler, action, lang)
    if settings.locked_reason:
        st.warning(t(lang, "admin.failclosed", reason=settings.locked_reason), icon=":material/lock:")
    elif not settings.admin_password and not settings.admin_users:
        st.caption(t(lang, "admin.open"))
    elif not admin:
        st.caption(t(lang, "admin.locked"))
        if settings.admin_users:
            st.caption(t(lang, "admin.users", users=", ".join(settings.admin_users)))
        if settings.admin_password:
            typed = st.text_input(t(lang, "admin.password"), type="password", key="fd_admin_password")
            if typed:
                if hmac.compare_digest(typed.encode(), settings.admin_password.encode()):
                    st.session_state[ADMIN_KEY] = True
                    st.rerun()
                st.error(t(lang, "admin.wrong"))


def _pointless_actions(status: JobStatus) -> set[str]:
    """Buttons that would do nothing now are disabled, so the enabled ones tell the state at a glance."""
    pointless = set()
    if status.scheduler_paused:
        pointless.add("stop")
    elif status.state in {"running", "paused"}:
        pointless.add("start")  # nothing for Start to lift: a job paused by itself stays paused
    if not status.current_run:
        pointless.add("reset")
    return pointless


def _admin_action(scheduler: SyncScheduler, action: str, lang: str) -> None:
    """Do it, then say what happened (the toast is queued: it must survive the rerun that redraws the panel)."""
    try:
        if action == "start":
            scheduler.start(resume_jobs=True)
            message = t(lang, "start_done")
        elif action == "stop":
            scheduler.stop()
            message = t(lang, "stop_done")
        elif action == "restart":
            scheduler.restart()
            message = t(lang, "restart_done")
        else:
            released = scheduler.reset_stuck(resources.primary_job())
            message = t(lang, "reset_done" if released else "reset_none")
    except AppError as exc:
        datasets_ui.notify(t(lang, "action_failed", action=t(lang, action), error=exc))
    else:
        datasets_ui.notify(message)
    st.rerun()


def _sync_now(scheduler: SyncScheduler, settings: Settings, admin: bool) -> None:
    lang = settings.ui_language
    status = scheduler.get_status(resources.primary_job())
    if not admin and not status.current_run:
        finished = status.last_finished_at
        last = datetime.fromisoformat(finished).astimezone(timezone.utc) if finished else None
        now = scheduler.clock.now()
        wait = cooldown_left(last, now, timedelta(seconds=settings.manual_sync_cooldown_seconds))
        if wait > timedelta(0):
            age = human_age((now - last).total_seconds()) if last else "—"
            st.info(t(lang, "cooldown", age=age, wait=human_age(wait.total_seconds())))
            return
    job = resources.primary_job()
    handle = scheduler.run_now(job, requested_by=requester())
    scheduler.drive_in_background(job)
    st.session_state[HANDLE_KEY] = handle
    st.toast(t(lang, "joined" if handle.joined else "requested"))


def _progress_area(scheduler: SyncScheduler, lang: str, status: JobStatus) -> None:
    """While this session's request or any run is active, a fragment polls it every second."""
    if st.session_state.get(HANDLE_KEY) is None and not status.current_run:
        return
    st.fragment(_progress_body, run_every=PROGRESS_REFRESH_SECONDS)(lang)


def _progress_body(lang: str) -> None:
    scheduler = resources.get_scheduler()
    handle = st.session_state.get(HANDLE_KEY)
    run = handle.poll() if handle is not None else None
    status = scheduler.get_status(resources.primary_job())
    if run is None and status.current_run:
        run = scheduler.get_run(status.current_run.id)
    if run is None:
        if handle is None:
            st.rerun()  # the run ended between two polls: refresh the page's data
        running_box(t(lang, "progress.waiting"), _request_detail(handle, lang, status.timezone))
        return
    if run.status == "running":
        # the same words as the badge
        label = freshness.view(dataclasses.replace(status, current_run=run), lang).progress or ""
        box = running_box(label, _run_detail(run, lang, status.timezone))
        if run.progress:
            box.write(str(run.progress))
        return
    st.session_state[HANDLE_KEY] = None
    st.session_state[FINISHED_KEY] = run
    st.rerun()  # finished: rerun the whole page so cached data keyed on the data version refreshes


def _finished_notice(lang: str) -> None:
    """The outcome of this session's last sync, shown once after the page refreshed."""
    run = st.session_state.pop(FINISHED_KEY, None)
    if run is None:
        return
    if run.status == "success":
        st.toast(t(lang, "done", rows=number(run.rows or 0, lang)), icon=":material/check_circle:")
    else:
        st.toast(t(lang, "failed", error=run.error or run.status), icon=":material/error:")


def render_freshness(show_errors: bool = False) -> bool:
    """'Data as of …' for pages that have no status of their own at hand; False when the database is unusable.

    Errors stay quiet unless `show_errors` (pages that show them elsewhere would repeat them).
    """
    settings = resources.get_settings()
    try:
        status = resources.get_scheduler().get_status(resources.primary_job())
    except AppError as exc:
        if show_errors:
            render_app_error(exc, settings.ui_language)
        return False
    render_data_as_of(status, settings.ui_language)
    return True


def render_app_error(exc: AppError, lang: str) -> None:
    """The main area's explanation of why nothing can be shown: settings that cannot be used, or the database.

    Never a traceback: the message names the key, the value (password masked) and the real cause.
    """
    if isinstance(exc, ConfigError):
        st.error(t(lang, "config_fatal", error=str(exc)), icon=":material/settings:")
        st.info(t(lang, "config_fix"), icon=":material/build:")
        return
    st.error(t(lang, "db_error", error=str(exc)), icon=":material/database:")
