"""Session presence of one process: which browser sessions were seen lately, and when to hibernate."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta


def should_hibernate(last_seen_at: datetime | None, now: datetime, idle: timedelta) -> bool:
    """Hibernate once sessions were seen and none for `idle` (a process never visited stays awake)."""
    return last_seen_at is not None and now - last_seen_at >= idle


class Presence:
    """Heartbeats from page runs and live fragments, plus an optional probe of the server's sessions.

    The probe (Streamlit runtime internals, wired by the UI layer) may break across releases; it is only a
    hint that keeps the process awake, never a reason to hibernate.
    """

    def __init__(self, probe: Callable[[], int | None] | None = None) -> None:
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self.probe = probe

    def touch(self, session_id: str, now: datetime) -> None:
        with self._lock:
            self._seen[session_id] = now

    def last_seen_at(self, now: datetime) -> datetime | None:
        """Latest presence; a probe that reports connected sessions counts as presence now."""
        if self.probe is not None:
            try:
                connected = self.probe()
            except Exception:  # noqa: BLE001 - runtime internals: any failure means "no hint"
                connected = None
            if connected:
                self.touch("server-sessions", now)
        with self._lock:
            return max(self._seen.values(), default=None)

    def active(self, now: datetime, window: timedelta) -> int:
        with self._lock:
            return sum(1 for seen in self._seen.values() if now - seen < window)
