"""The composition root: settings -> scheduler, each built once per process through st.cache_resource.

Pages call these functions and never build engines or schedulers themselves.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import streamlit as st

import app.jobs.builtin  # noqa: F401  # the composition root: built-in and dataset jobs join the catalogue
from app.config import Settings, load_settings
from app.core import scheduler as core
from app.core.scheduler import SyncScheduler

logger = logging.getLogger(__name__)
# Bundled, served by this server: a Material or emoji page icon makes the browser fetch it from outside.
PAGE_ICON = str(Path(__file__).resolve().parent / "static" / "freshdash.png")


def _secrets() -> dict[str, Any] | None:
    """st.secrets as a dict; None when there is no secrets file or it is broken (config then says why)."""
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except Exception:  # noqa: BLE001 - every st.secrets access raises without a secrets.toml
        return None


def get_settings() -> Settings:
    return load_settings(secrets=_secrets())


def _release(scheduler: SyncScheduler | None) -> None:
    # Non-blocking: a cache clear or a code edit must never wait for a running sync.
    if scheduler is not None:
        scheduler.shutdown(wait=False)


def _usable(scheduler: SyncScheduler | None) -> bool:
    # A failed start (database down) is retried on the next page run instead of being cached.
    return scheduler is not None and scheduler.timer_running


# Every page run looks the scheduler up several times: hash the settings by their repr (0.1 ms) instead of
# letting Streamlit walk the dataclass (1.3 ms a lookup). The repr names every field, so equal means equal.
@st.cache_resource(show_spinner=False, on_release=_release, validate=_usable, hash_funcs={Settings: repr})
def _scheduler_for(settings: Settings) -> SyncScheduler | None:
    scheduler = core.get_scheduler(settings)
    scheduler.presence.probe = active_sessions
    return core.initialize_scheduler(settings)


def get_scheduler() -> SyncScheduler:
    """The process scheduler (started unless SCHEDULER_ENABLED=false); counts this page run as presence."""
    settings = get_settings()
    scheduler = _scheduler_for(settings) or core.get_scheduler(settings)
    try:
        scheduler.touch(session_id())
    except Exception:  # noqa: BLE001 - presence must never break a page
        logger.warning("could not record presence", exc_info=True)
    return scheduler


def primary_job() -> str:
    """The job whose status a page shows when it shows one: the first dataset's sync."""
    found = get_settings().datasets
    return found[0].job if found else core.DEFAULT_JOB


def session_id() -> str:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is not None:
            return str(ctx.session_id)
    except Exception:  # noqa: BLE001 - runtime internals; fall back to a per-session id
        pass
    return str(st.session_state.setdefault("_freshdash_session_id", uuid.uuid4().hex))


def active_sessions() -> int | None:
    """Connected sessions from Streamlit's runtime internals; None when they are not available."""
    try:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return None
        manager = getattr(Runtime.instance(), "_session_mgr", None)
        return None if manager is None else int(manager.num_active_sessions())
    except Exception:  # noqa: BLE001 - internals have changed before; no hint then
        return None
