"""A process-wide list of live schedulers that survives Streamlit's hot reload of our modules.

Streamlit drops edited modules from ``sys.modules``; a module-level singleton would then be forgotten while
its thread runs on. The list lives in a synthetic module without a file, which no watcher reloads. The live
schedulers are shut down when the process exits, before Python closes its thread pools.
"""

from __future__ import annotations

import atexit
import sys
import threading
import types
from collections.abc import Callable
from typing import Any, Protocol

_KEY = "_freshdash_process_registry"


class Stoppable(Protocol):
    def shutdown(self, wait: bool = False) -> None: ...


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.live: list[Any] = []
        self.exit_hook = False  # shutdown_live() is registered to run at exit


def _state() -> _Registry:
    module = sys.modules.get(_KEY)
    if module is None:
        module = types.ModuleType(_KEY)
        module.registry = _Registry()  # type: ignore[attr-defined]
        sys.modules[_KEY] = module
    registry: _Registry = module.registry
    return registry


def register(scheduler: Stoppable) -> None:
    """Make `scheduler` the live one of this process: any older one is shut down (not waited for)."""
    state = _state()
    with state.lock:
        older = [s for s in state.live if s is not scheduler]
        state.live[:] = [scheduler]
        hook, state.exit_hook = not getattr(state, "exit_hook", False), True
    if hook:
        _before_thread_pools_close(shutdown_live)
    for other in older:
        other.shutdown(wait=False)


def shutdown_live() -> None:
    """Shut every live scheduler down (not waiting for runs): their timers stop, each beats "stopped"."""
    for scheduler in live():
        scheduler.shutdown(wait=False)


def _before_thread_pools_close(hook: Callable[[], None]) -> None:
    """Run `hook` when the main thread ends, before Python marks every thread pool shut down.

    Without it, a process that ends with its scheduler running (Streamlit's "Stopping...") leaves
    APScheduler's daemon thread submitting the housekeeping to a closed pool, each time with a traceback
    ("cannot schedule new futures after shutdown"). `threading._register_atexit` is where
    concurrent.futures registers its own exit hook; hooks run newest first, so ours runs before it. A plain
    atexit hook runs after the pools closed: the fallback, should that private function go away.
    """
    # concurrent.futures registers its hook when its thread module is first imported, which APScheduler does
    # only when a timer starts: import it now, so that ours is the newer hook and runs first (else the
    # pools close first and the race above is lost now and then: seen in CI).
    import concurrent.futures.thread  # noqa: F401

    register_hook = getattr(threading, "_register_atexit", None)
    try:
        if register_hook is not None:
            register_hook(hook)
            return
    except RuntimeError:  # "can't register atexit after shutdown": the process is exiting already
        return
    atexit.register(hook)


def unregister(scheduler: Any) -> None:
    state = _state()
    with state.lock:
        state.live[:] = [s for s in state.live if s is not scheduler]


def live() -> list[Any]:
    state = _state()
    with state.lock:
        return list(state.live)


def current() -> Any | None:
    schedulers = live()
    return schedulers[-1] if schedulers else None
