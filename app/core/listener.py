"""Wakes a worker's timer when a run is requested elsewhere (a web process's Sync now, the CLI).

PostgreSQL: a dedicated connection LISTENs on the channel `JobStore.request_run` notifies, reconnecting when it
is lost. Elsewhere (SQLite): a 1-second poll of the pending requests. It only wakes the timer: the claim
(compare-and-set) still decides who runs, so a missed or doubled wake-up costs latency, never a second run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.core.store import REQUEST_CHANNEL, JobStore

logger = logging.getLogger(__name__)
POLL_SECONDS = 1.0
RECONNECT_SECONDS = 1.0
PING_SECONDS = 30.0  # a half-open TCP connection shows itself within this (keepalives help too)


class RequestListener:
    def __init__(
        self,
        engine: Engine,
        store: JobStore,
        wake: Callable[[str], None],
        poll_seconds: float = POLL_SECONDS,
        reconnect_seconds: float = RECONNECT_SECONDS,
    ) -> None:
        self.engine = engine
        self.store = store
        self.wake = wake
        self.poll_seconds = poll_seconds
        self.reconnect_seconds = reconnect_seconds
        self.listening = threading.Event()  # set while a LISTEN connection is up (tests wait on it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None
        self._woken: dict[str, datetime] = {}  # each pending request wakes the timer once

    @property
    def uses_notify(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        target = self._listen if self.uses_notify else self._poll
        self._thread = threading.Thread(target=target, name="freshdash-requests", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- polling (SQLite, and once after each PostgreSQL (re)connect) -----------------------------------

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.check_pending()
            self._stop.wait(self.poll_seconds)

    def check_pending(self) -> None:
        """Wake the timer for every request not woken for yet; a database blip is logged and retried."""
        try:
            pending = self.store.requested()
        except Exception:  # noqa: BLE001 - the poll must survive a database blip; the next one retries
            logger.warning("could not read pending run requests; retrying", exc_info=True)
            return
        self._woken = {name: at for name, at in self._woken.items() if (name, at) in pending}
        for name, at in pending:
            if self._woken.get(name) != at:
                self._woken[name] = at
                self._wake(name)

    def _wake(self, name: str) -> None:
        try:
            self.wake(name)
        except Exception:  # noqa: BLE001 - one job's wake-up must not end the listener
            logger.exception("could not wake the timer of %s", name)

    # -- LISTEN/NOTIFY (PostgreSQL) ----------------------------------------------------------------------

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    self._connection = conn
                    conn.execute(f"LISTEN {REQUEST_CHANNEL}")
                    self.listening.set()
                    logger.info("listening for run requests on %s", REQUEST_CHANNEL)
                    self.check_pending()  # requests made while this connection was down
                    self._receive(conn)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    break
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                logger.warning("run request listener lost its connection (%s); reconnecting", first)
            finally:
                self.listening.clear()
                self._connection = None
            self._stop.wait(self.reconnect_seconds)

    def _receive(self, conn: Any) -> None:
        waited = 0.0
        while not self._stop.is_set():
            for note in conn.notifies(timeout=self.poll_seconds):
                self._wake(note.payload)
            waited += self.poll_seconds
            if waited >= PING_SECONDS:
                waited = 0.0
                conn.execute("SELECT 1")  # raises on a connection that died silently

    def _connect(self) -> Any:
        """A connection of its own (not the pool's): it stays open for as long as the worker lives."""
        import psycopg

        url = self.engine.url.set(drivername="postgresql")
        return psycopg.connect(
            url.render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
            application_name="freshdash worker listener",
        )

    @property
    def backend_pid(self) -> int | None:
        """The listening connection's server process (tests terminate it to simulate a lost connection)."""
        conn = self._connection
        return None if conn is None else int(conn.info.backend_pid)
