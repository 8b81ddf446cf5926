"""Scheduler status panel with guarded controls, and the live sidebar badge (the session's heartbeat)."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta, timezone
from typing import Any

import streamlit as st

from app.config import Settings
from app.core.scheduler import SyncScheduler
from app.core.slots import cooldown_left
from app.errors import AppError, ConfigError
from app.ui import resources
from app.ui.components import datasets as datasets_ui
from app.ui.text import human_age, local_time, number, t

BADGE_REFRESH_SECONDS = 10
PROGRESS_REFRESH_SECONDS = 1.0
HANDLE_KEY = "fd_sync_request"
ADMIN_KEY = "fd_admin_ok"
FINISHED_KEY = "fd_sync_finished"
VERSION_KEY = "fd_shown_data_version"
SHOWN_RUNNING_KEY = "fd_shown_running"


# -- badge ------------------------------------------------------------------------------------------------


def badge_state(status: dict[str, Any], language: str) -> tuple[str, str]:
    """(text, kind) for a status; kind is success/warning/error/info (the badge's colour)."""
    age_seconds = status.get("data_age_seconds")
    # "no data yet" rather than "data — old" before the first successful sync
    data = t(language, "data.none") if age_seconds is None else t(language, "data.age", age=human_age(age_seconds))
    interval = status["interval_minutes"] * 60.0
    state = status["state"]
    current = status.get("current_run")
    if current:
        return t(language, "badge.syncing", rows=number(current.get("rows") or 0, language)), "info"
    if state == "hibernating":
        return t(language, "badge.asleep"), "info"
    if state == "silent":
        return t(language, "badge.silent", since=local_time(status["silent_since"], status["timezone"])), "error"
    if state == "paused":
        return t(language, "badge.paused", data=data), "warning"
    if state == "stopped":
        return t(language, "badge.stopped", data=data), "warning"
    if status.get("last_result") in {"failed", "timeout", "abandoned"}:
        return t(language, "badge.failed", data=data), "error"
    if age_seconds is None:
        return t(language, "badge.on", data=data), "info"
    kind = "success" if age_seconds < interval * 1.5 else "warning" if age_seconds < interval * 3 else "error"
    return t(language, "badge.on", data=data), kind


def render_scheduler_badge() -> None:
    """Compact, live sidebar badge: the scheduler's state, one line per dataset (worst first) and Sync now
    for the page's datasets; each of its runs is this session's presence heartbeat."""
    with st.sidebar:
        _badge()
        datasets_ui.show_notices()
        if datasets_ui.pending_requests():
            st.fragment(_sidebar_progress, run_every=PROGRESS_REFRESH_SECONDS)()


@st.fragment(run_every=BADGE_REFRESH_SECONDS)
def _badge() -> None:
    settings = resources.get_settings()
    lang = settings.ui_language
    try:
        scheduler = resources.get_scheduler()
        status = scheduler.get_status(resources.primary_job())
        pairs = datasets_ui.statuses(scheduler, settings.datasets)
    except AppError as exc:
        # the page's main area shows the whole message; a cut-off copy here only adds noise
        key = "badge.config" if isinstance(exc, ConfigError) else "badge.error"
        st.error(t(lang, key), icon=":material/error:")
        return
    shown: dict[str, int] = st.session_state.get(VERSION_KEY) or {}
    current = {ds.job: int(s["data_version"]) for ds, s in pairs}
    running = {ds.job for ds, s in pairs if s.get("current_run")}
    syncing = bool(running)
    shown_running: set[str] = st.session_state.get(SHOWN_RUNNING_KEY) or set()
    if shown_running - running:
        # The page shows a run as in progress that has ended: redraw it (its outcome, its last success).
        st.session_state[SHOWN_RUNNING_KEY] = shown_running & running
        st.rerun()
    if any(current.get(job, version) != version for job, version in shown.items()) and not syncing:
        # A sync committed new data since this page rendered: show it without a manual reload. Remember the
        # versions first: pages draw the badge before their data, so a full run would otherwise rerun forever.
        st.session_state[VERSION_KEY] = {**shown, **{j: v for j, v in current.items() if j in shown}}
        st.rerun()
    text, kind = badge_state(status, lang)
    if status["state"] != "running" or len(pairs) <= 1:
        icons = {
            "success": ":material/check_circle:",
            "warning": ":material/schedule:",
            "error": ":material/error:",
            "info": ":material/sync:",
        }
        getattr(st, kind)(text, icon=icons[kind])
    if len(pairs) > 1 or status["state"] != "running":
        pressed = datasets_ui.render_sidebar_datasets(scheduler, lang)
    elif pressed := st.button(t(lang, "sync_now"), icon=":material/sync:", key="fd_sidebar_sync", width="stretch"):
        datasets_ui.request_syncs(scheduler, datasets_ui.page_requests(tuple(ds for ds, _ in pairs)), lang)
    if pressed:
        st.rerun()  # the progress area and the notices live outside this fragment


def _sidebar_progress() -> None:
    """Progress of this session's Sync now; when every run ended, the whole page reruns with the new data."""
    lang = resources.get_settings().ui_language
    handles = datasets_ui.pending_requests()
    runs = [(h.job_name, h.poll()) for h in handles]
    for job, run in runs:
        if run is None:
            st.status(t(lang, "ds.waiting", name=job), state="running")
        elif run["status"] == "running":
            st.status(t(lang, "progress", rows=number(run.get("rows") or 0, lang)) + f" · {job}", state="running")
    if runs and all(run is not None and run["status"] != "running" for _, run in runs):
        st.session_state[datasets_ui.SIDEBAR_REQUESTS_KEY] = []
        failed = [run for _, run in runs if run is not None and run["status"] != "success"]
        st.session_state[FINISHED_KEY] = failed[0] if failed else runs[0][1]
        st.rerun()


def remember_versions(versions: dict[str, int], running: set[str] | None = None) -> None:
    """The data versions this page run shows (by job), and the jobs it shows as running: the badge reruns
    the page when a version moves on or a shown run ends."""
    st.session_state[VERSION_KEY] = {**(st.session_state.get(VERSION_KEY) or {}), **versions}
    if running is not None:
        st.session_state[SHOWN_RUNNING_KEY] = (st.session_state.get(SHOWN_RUNNING_KEY) or set()) | running


def render_data_as_of(status: dict[str, Any], language: str) -> None:
    """'Data as of 10:42 (3 min ago)' for the top of a page; remembers the version the page shows."""
    remember_versions(
        {status["job"]: int(status["data_version"])}, {status["job"]} if status.get("current_run") else set()
    )
    if status.get("last_success_at") is None:
        st.caption(t(language, "asof.none"))
        return
    at = local_time(status["last_success_at"], status["timezone"], with_date=True)
    st.caption(t(language, "asof", at=at, age=human_age(status["data_age_seconds"])))


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
        rate = scheduler.status_reader.success_rate(resources.primary_job(), scheduler.clock.now())
    except AppError as exc:
        render_app_error(exc, lang)
        return False
    _finished_notice(lang)
    st.subheader(f"{t(lang, 'panel.title')}: {t(lang, 'state.' + status['state'])}")
    if status.get("scheduler_paused"):  # two persisted states: Start lifts the first only
        st.caption(t(lang, "paused.scheduler"))
    if status.get("job_paused"):
        st.caption(t(lang, "paused.job"))
    cols = st.columns(4)
    last = f"{local_time(status['last_run'], status['timezone'])} · {status['last_result'] or '—'}"
    cols[0].metric(t(lang, "last_run"), last, help=_last_help(status))
    cols[1].metric(t(lang, "next_run"), local_time(status["next_run"], status["timezone"]))
    cols[2].metric(t(lang, "interval"), f"{status['interval_minutes']:g} min")
    shown_rate = "—" if rate["rate"] is None else f"{rate['rate']:.0%} of {rate['runs']}"
    cols[3].metric(t(lang, "success_24h"), shown_rate)
    if status["last_result"] in {"failed", "timeout", "abandoned"} and status["last_error"]:
        st.error(t(lang, "failed", error=status["last_error"]), icon=":material/error:")
    if show_controls:
        _controls(scheduler, settings, status)
    _progress_area(scheduler, lang, status)
    return True


def _last_help(status: dict[str, Any]) -> str:
    duration = status.get("last_duration_seconds")
    rows = status.get("last_rows")
    return f"duration {duration or 0:.1f} s, {rows or 0} rows" if status.get("last_run") else "no run yet"


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


def _controls(scheduler: SyncScheduler, settings: Settings, status: dict[str, Any]) -> None:
    lang = settings.ui_language
    admin = is_admin(settings)
    cols = st.columns(5)
    if cols[0].button(t(lang, "sync_now"), type="primary", icon=":material/sync:", key="fd_sync_now"):
        _sync_now(scheduler, settings, admin)
    actions = [
        ("start", ":material/play_arrow:"),
        ("stop", ":material/pause:"),
        ("restart", ":material/restart_alt:"),
        ("reset", ":material/healing:"),
    ]
    pointless = _pointless_actions(status)
    for col, (action, icon) in zip(cols[1:], actions, strict=True):
        if col.button(t(lang, action), icon=icon, disabled=not admin or action in pointless, key=f"fd_{action}"):
            _admin_action(scheduler, action)
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


def _pointless_actions(status: dict[str, Any]) -> set[str]:
    """Buttons that would do nothing now are disabled, so the enabled ones tell the state at a glance."""
    pointless = set()
    if status.get("scheduler_paused"):
        pointless.add("stop")
    elif status["state"] in {"running", "paused"}:
        pointless.add("start")  # nothing for Start to lift: a job paused by itself stays paused
    if not status.get("current_run"):
        pointless.add("reset")
    return pointless


def _admin_action(scheduler: SyncScheduler, action: str) -> None:
    if action == "start":
        scheduler.start(resume_jobs=True)
    elif action == "stop":
        scheduler.stop()
    elif action == "restart":
        scheduler.restart()
    elif action == "reset":
        scheduler.store.reset_stuck(resources.primary_job(), scheduler.clock.now())
    st.rerun()


def _sync_now(scheduler: SyncScheduler, settings: Settings, admin: bool) -> None:
    lang = settings.ui_language
    status = scheduler.get_status(resources.primary_job())
    if not admin and not status.get("current_run"):
        finished = status.get("last_finished_at")
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


def _progress_area(scheduler: SyncScheduler, lang: str, status: dict[str, Any]) -> None:
    """While this session's request or any run is active, a fragment polls it every second."""
    if st.session_state.get(HANDLE_KEY) is None and not status.get("current_run"):
        return
    st.fragment(_progress_body, run_every=PROGRESS_REFRESH_SECONDS)(lang)


def _progress_body(lang: str) -> None:
    scheduler = resources.get_scheduler()
    handle = st.session_state.get(HANDLE_KEY)
    run = handle.poll() if handle is not None else None
    if run is None:
        current = scheduler.get_status(resources.primary_job()).get("current_run")
        run = scheduler.status_reader.run(current["id"]) if current else None
    if run is None:
        if handle is None:
            st.rerun()  # the run ended between two polls: refresh the page's data
        st.status(t(lang, "requested"), state="running")
        return
    rows = number(run.get("rows") or 0, lang)
    if run["status"] == "running":
        with st.status(t(lang, "progress", rows=rows), state="running"):
            st.write(run.get("progress") or "")
        return
    st.session_state[HANDLE_KEY] = None
    st.session_state[FINISHED_KEY] = run
    st.rerun()  # finished: rerun the whole page so cached data keyed on the data version refreshes


def _finished_notice(lang: str) -> None:
    """The outcome of this session's last sync, shown once after the page refreshed."""
    run = st.session_state.pop(FINISHED_KEY, None)
    if run is None:
        return
    if run["status"] == "success":
        st.toast(t(lang, "done", rows=number(run.get("rows") or 0, lang)), icon=":material/check_circle:")
    else:
        st.toast(t(lang, "failed", error=run.get("error") or run["status"]), icon=":material/error:")


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
