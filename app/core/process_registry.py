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
    database_url: str

    def shutdown(self, wait: bool = False) -> None: ...


def _state() -> types.ModuleType:
    module = sys.modules.get(_KEY)
    if module is None:
        module = types.ModuleType(_KEY)
        module.lock = threading.RLock()  # type: ignore[attr-defined]
        module.live = []  # type: ignore[attr-defined]
        sys.modules[_KEY] = module
    return module


def register(scheduler: Stoppable) -> None:
    """Make `scheduler` the live one for its database: any older one in this process is shut down."""
    state = _state()
    with state.lock:  # type: ignore[attr-defined]
        older = [s for s in state.live if s is not scheduler]  # type: ignore[attr-defined]
        state.live[:] = [scheduler]  # type: ignore[attr-defined]
    for other in older:
        other.shutdown(wait=False)


def unregister(scheduler: Any) -> None:
    state = _state()
    with state.lock:  # type: ignore[attr-defined]
        state.live[:] = [s for s in state.live if s is not scheduler]  # type: ignore[attr-defined]


def live() -> list[Any]:
    state = _state()
    with state.lock:  # type: ignore[attr-defined]
        return list(state.live)  # type: ignore[attr-defined]


def current() -> Any | None:
    schedulers = live()
    return schedulers[-1] if schedulers else None
