"""The composition root: settings -> scheduler, each built once per process through st.cache_resource.

Pages call these functions and never build engines or schedulers themselves.
"""

from __future__ import annotations

import gc
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

import app.jobs.builtin  # noqa: F401  # the composition root: built-in and dataset jobs join the catalogue
from app.config import Settings, load_settings
from app.config_sources import environment_without_promoted_secrets, startup_environment
from app.core import scheduler as core
from app.core.scheduler import SyncScheduler
from app.errors import ConfigError

logger = logging.getLogger(__name__)
T = TypeVar("T")
RUN_MEMO_KEY = "fd_this_run"
# Bundled, served by this server: a Material or emoji page icon makes the browser fetch it from outside.
PAGE_ICON = str(Path(__file__).resolve().parent / "static" / "freshdash.png")


def _secrets() -> tuple[dict[str, Any] | None, str]:
    """(st.secrets as a dict, why it cannot be read); None lets the loader read secrets.toml itself."""
    try:
        return st.secrets.to_dict(), ""
    except Exception as exc:  # noqa: BLE001 - every st.secrets access raises without a secrets.toml
        if getattr(exc, "error_id", "") == "no-secrets-found":
            return None, ""
        return None, f"st.secrets cannot be read: {exc}"


def per_run(key: str, make: Callable[[], T]) -> T:
    """`make()` once per script run of this session (a full run or a fragment's), or at every call outside one.

    A page run asks for the settings, the scheduler and a job's status many times (34, 12 and 6 times for the
    dashboard); each answer holds for the run. Streamlit gives each run a new `cursors` dict when it resets
    the run's context: the memo lives as long as that dict is the run's."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return make()
    memo: tuple[object, dict[str, Any]] | None = st.session_state.get(RUN_MEMO_KEY)
    if memo is None or memo[0] is not ctx.cursors:
        memo = (ctx.cursors, {})
        st.session_state[RUN_MEMO_KEY] = memo
    if key not in memo[1]:
        memo[1][key] = make()
    found: T = memo[1][key]
    return found


def get_settings() -> Settings:
    """The same loader and precedence as the CLI: environment > st.secrets > defaults (read once a run).

    Streamlit copies top-level secrets into os.environ (overwriting the user's variables); reading
    os.environ as it is would let secrets win, so what Streamlit promoted is taken out first.
    """
    return per_run("settings", _load_settings)


def _load_settings() -> Settings:
    secrets, problem = _secrets()
    env = environment_without_promoted_secrets(secrets or {}, os.environ, startup_environment())
    return load_settings(env=env, secrets=secrets, secrets_problem=problem)


def unusable_settings(settings: Settings) -> ConfigError | None:
    """A key that decides where data lives is invalid: nothing may run (no fallback to another database)."""
    if not settings.fatal:
        return None
    return ConfigError("; ".join(str(issue) for issue in settings.fatal))


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
    started = core.initialize_scheduler(settings)
    _settle_heap()
    return started


def _settle_heap() -> None:
    """Once per process, after its first scheduler started (by then most of what pages use is imported):
    collect, then move every object alive to the permanent generation (`gc.freeze`). Python's full collections
    otherwise walk those ~200,000 import-time objects again and again, each a 50-100 ms pause of every session
    (bench/pages_during_sync.py caught them in page runs during a sync)."""
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()


_heap_settled = False


def get_scheduler() -> SyncScheduler:
    """The process scheduler (started unless SCHEDULER_ENABLED=false); counts this page run as presence.

    Raises ConfigError when a placement key is invalid, StoreError when the database is unusable.
    """
    return per_run("scheduler", _scheduler_of_this_run)


def _scheduler_of_this_run() -> SyncScheduler:
    settings = get_settings()
    fatal = unusable_settings(settings)
    if fatal is not None:
        raise fatal
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
