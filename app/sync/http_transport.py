"""The HTTP transport under the JSON source: httpx log scrubbing, the client-side rate limit, one request's
total deadline and how a failed response reads (Retry-After, a hint for its status). It knows nothing of
items, cursors or columns; the source keeps the retry loop, its messages and its secrets."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from app.clock import Clock
from app.redaction import redact_http_url

Wait = Callable[[float], object]
OWN_PARAMS = ("since", "since_key", "limit")


class _HttpxLogScrubber(logging.Filter):
    """httpx logs every request URL at INFO: keep endpoint credentials and query values out of those lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                redact_http_url(str(a), keep=OWN_PARAMS) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(type(f).__name__ == _HttpxLogScrubber.__name__ for f in _httpx_logger.filters):  # once, even on reload
    _httpx_logger.addFilter(_HttpxLogScrubber())


class MinInterval:
    """Client-side rate limit: request starts are at least 1/rate seconds apart (0 = no limit)."""

    def __init__(self, per_second: float, clock: Clock, wait: Wait) -> None:
        self.interval = timedelta(seconds=1.0 / per_second) if per_second > 0 else timedelta(0)
        self.clock = clock
        self.wait = wait
        self._last_at: datetime | None = None

    def acquire(self) -> None:
        now = self.clock.now()
        if self._last_at is not None and self.interval:
            due = self._last_at + self.interval
            if now < due:
                self.wait((due - now).total_seconds())
                now = max(self.clock.now(), due)
        self._last_at = now


class RequestDeadline:
    """One request's total deadline: when it passes, a timer shuts the request's sockets down, which ends a
    read blocked on a server that trickles its body (httpx's timeouts bound each read, not the request).

    New connections are seen through httpx's `trace` extension; the source turns keep-alive off so every
    request has one (a reused connection would be invisible until its headers arrived).
    """

    def __init__(self, seconds: float) -> None:
        self.expired = threading.Event()
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> RequestDeadline:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def get(self, client: httpx.Client, url: str) -> httpx.Response:
        """GET with this total deadline: connect, headers and the whole body within SOURCE_TIMEOUT_SECONDS."""
        with self, client.stream("GET", url, extensions={"trace": self.trace}) as response:
            self.watch(response.extensions.get("network_stream"))
            response.read()
        return response

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """The `trace` extension: keep each new network stream (TCP, then TLS) to cut it at the deadline."""
        if event.endswith(("connect_tcp.complete", "start_tls.complete")):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        if stream is None:
            return
        with self._lock:
            self._streams.append(stream)
            late = self.expired.is_set()
        if late:
            _shut(stream)

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            streams = list(self._streams)
        for stream in streams:
            _shut(stream)


def _shut(stream: Any) -> None:
    """Shut a stream's socket down: a recv blocked in another thread returns at once (close() would not)."""
    sock = stream.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed, or detached when TLS wrapped it
        pass


def retry_after_seconds(response: httpx.Response, clock: Clock) -> float | None:
    """The response's Retry-After in seconds (a number or an HTTP date), or None when it has none we can read."""
    header = response.headers.get("retry-after", "").strip()
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - clock.now()).total_seconds())


def hint(status: int) -> str:
    """What to check for a status that fails at once."""
    if status in {401, 403}:
        return "; check SOURCE_TOKEN"
    if status in {404, 405}:
        return "; check SOURCE_ENDPOINT"
    return ""
