"""A process-wide list of live schedulers that survives Streamlit's hot reload of our modules.

Streamlit drops edited modules from ``sys.modules``; a module-level singleton would then be forgotten while
its thread runs on. The list lives in a synthetic module without a file, which no watcher reloads.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import Any, Protocol

_KEY = "_freshdash_process_registry"


class Stoppable(Protocol):
    def shutdown(self, wait: bool = False) -> None: ...


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.live: list[Any] = []


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
    for other in older:
        other.shutdown(wait=False)


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
