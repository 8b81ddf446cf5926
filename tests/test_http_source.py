"""The HTTP JSON API source against a real local HTTP server: the store equals the API after any sequence of
changes, ties across pages, retries, Retry-After, timeouts, refused connections, malformed pages refused whole,
the rate limit, the bearer token kept secret, and the configuration keys.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Engine, Float, Text

from app.clock import FrozenClock
from app.config import Settings, load_settings
from app.core.database import create_schema, get_engine
from app.errors import SourceError
from app.jobs.datasets import build_source, make_syncer
from app.sync.engine import Syncer, SyncResult
from app.sync.http_source import HttpJsonSource
from app.sync.http_transport import MinInterval
from app.sync.source import Cursor

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=timezone.utc)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


# -- a real JSON API on 127.0.0.1 ------------------------------------------------------------------------


@dataclass
class Canned:
    """One scripted answer, used instead of the normal page (status None: answer normally, after `delay`)."""

    status: int | None = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0  # answer normally, but send the body `trickle_bytes` at a time, `trickle` s apart
    trickle_bytes: int = 4


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    authorization: str | None
    at: datetime | None


class Api:
    """In-memory rows ordered by (updated_at, id), served with since/since_key/limit and `next` (or bare lists).

    `entries` maps id -> (cursor instant, item); the item is sent as is, so a test can make it malformed.
    """

    def __init__(self, clock: FrozenClock | None = None) -> None:
        self.entries: dict[int, tuple[datetime, Any]] = {}
        self.script: deque[Canned] = deque()
        self.seen: list[Seen] = []
        self.paging = "next"  # or "list": a bare JSON list, the client pages by keyset itself
        self.ignore_since = False
        self.token = ""
        self.clock = clock
        self.now = T0
        self.next_id = 1
        self.url = ""
        self.lock = threading.Lock()

    def tick(self, seconds: int = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def item(self, id_: int, at: datetime, **values: Any) -> dict[str, Any]:
        row = {
            "id": id_,
            "updated_at": iso(at),
            "customer": f"c{id_ % 7}",
            "quantity": id_ % 5 + 1,
            "amount": id_ * 1.5,
            "deleted": False,
            "tags": ["web", f"r{id_ % 3}"],
        }
        row.update(values)
        return row

    def add(self, count: int, at: datetime | None = None) -> list[int]:
        """`count` new rows sharing one cursor instant (the next tick unless given)."""
        at = at or self.tick()
        ids = list(range(self.next_id, self.next_id + count))
        with self.lock:
            for id_ in ids:
                self.entries[id_] = (at, self.item(id_, at))
        self.next_id += count
        return ids

    def touch(self, ids: list[int], **values: Any) -> None:
        at = self.tick()
        with self.lock:
            for id_ in ids:
                _, item = self.entries[id_]
                self.entries[id_] = (at, {**item, **values, "updated_at": iso(at)})

    def put(self, id_: int, item: Any) -> None:
        """Replace what is served for `id_` at its current position (e.g. a malformed item, then a fix)."""
        with self.lock:
            at, _ = self.entries[id_]
            self.entries[id_] = (at, item)

    def page(self, query: dict[str, str]) -> tuple[list[Any], str | None]:
        limit = int(query.get("limit", "1000"))
        with self.lock:
            ordered = sorted(self.entries.items(), key=lambda e: (e[1][0], e[0]))
        if "since" in query and not self.ignore_since:
            since = (datetime.fromisoformat(query["since"]), int(query["since_key"]))
            ordered = [e for e in ordered if (e[1][0], e[0]) > since]
        chosen = ordered[:limit]
        next_url = None
        if len(chosen) == limit:
            last_id, (last_at, _) = chosen[-1]
            params = {"since": iso(last_at), "since_key": str(last_id), "limit": str(limit)}
            next_url = f"{self.url}?{urlencode(params)}"
        return [item for _, (_, item) in chosen], next_url

    def expected(self) -> tuple[int, str]:
        with self.lock:
            return digest(item for _, (_, item) in sorted(self.entries.items()))


class Handler(BaseHTTPRequestHandler):
    server: ApiServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        api = self.server.api
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        api.seen.append(Seen(parts.path, query, self.headers.get("Authorization"), api.clock and api.clock.now()))
        canned = api.script.popleft() if api.script else None
        if canned is not None and canned.delay:
            threading.Event().wait(canned.delay)
        if api.token and self.headers.get("Authorization") != f"Bearer {api.token}":
            self.answer(401, b'{"error": "unauthorized"}')
        elif canned is not None and canned.status is not None:
            self.answer(canned.status, canned.body, canned.headers)
        else:
            items, next_url = api.page(query)
            body = items if api.paging == "list" else {"items": items, "next": next_url}
            self.answer(200, json.dumps(body).encode(), trickle=canned)

    def answer(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, trickle: Canned | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if trickle is None or not trickle.trickle:
            self.wfile.write(body)
            return
        self.wfile.flush()
        pause = threading.Event()
        for start in range(0, len(body), trickle.trickle_bytes):
            try:
                self.wfile.write(body[start : start + trickle.trickle_bytes])
                self.wfile.flush()
            except OSError:  # the client gave up (its deadline): stop trickling
                return
            pause.wait(trickle.trickle)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server signature
        pass


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: Api) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.api = api

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out closed its socket: nothing to report


@contextmanager
def serve(api: Api) -> Iterator[Api]:
    server = ApiServer(api)
    api.url = f"http://127.0.0.1:{server.server_address[1]}/items"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def api() -> Iterator[Api]:
    with serve(Api(FrozenClock(T0))) as running:
        yield running


# -- the store side --------------------------------------------------------------------------------------


def digest(items: Any) -> tuple[int, str]:
    """Row count and checksum of (id, instant, customer, quantity, amount, deleted, tags), in id order."""
    h = hashlib.sha256()
    count = 0
    for item in items:
        at = item["updated_at"]
        at = datetime.fromisoformat(at.replace("Z", "+00:00")) if isinstance(at, str) else at
        at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
        tags = json.loads(item["tags"]) if isinstance(item["tags"], str) else item["tags"]
        line = (
            f"{item['id']}|{at.isoformat()}|{item['customer']}|{item['quantity']}|{float(item['amount'])!r}|"
            f"{bool(item['deleted'])}|{json.dumps(tags)}"
        )
        h.update(line.encode())
        count += 1
    return count, h.hexdigest()


class Sync:
    """A real SQLite store; each run builds a fresh source and engine, as the scheduled job does."""

    def __init__(self, api: Api, folder: Path, **source: Any) -> None:
        self.api = api
        self.clock = api.clock or FrozenClock(T0)
        self.store: Engine = get_engine(f"sqlite:///{folder / 'store.db'}")
        create_schema(self.store)
        self.waits: list[float] = []
        self.options: dict[str, Any] = {"rate_limit_per_second": 0, "timeout_seconds": 5, "max_retries": 3}
        self.options.update(source)

    def wait(self, seconds: float) -> bool:
        """The injected wait: records the pause and moves the clock instead of sleeping."""
        self.waits.append(seconds)
        self.clock.advance(seconds)
        return False

    def source(self, **overrides: Any) -> HttpJsonSource:
        options = {**self.options, **overrides}
        endpoint = options.pop("endpoint", self.api.url)
        return HttpJsonSource(endpoint, clock=self.clock, wait=self.wait, **options)

    def engine(self, **overrides: Any) -> Syncer:
        return Syncer(self.store, self.source(**overrides), "orders", self.clock, "http")

    def run(self, batch_size: int = 100) -> SyncResult:
        return self.engine().run(batch_size)

    def stored(self) -> tuple[int, str]:
        with self.store.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, updated_at, customer, quantity, amount, deleted, tags FROM orders ORDER BY id"
            ).mappings()
            return digest(dict(r) for r in rows)

    def cursor(self) -> tuple[dict[str, Any] | None, int]:
        return self.engine().read_cursor()

    def assert_equal(self) -> None:
        assert self.stored() == self.api.expected()


@pytest.fixture
def sync(api: Api, tmp_path: Path) -> Sync:
    return Sync(api, tmp_path)


# -- the store equals the source -------------------------------------------------------------------------


def test_store_equals_source_after_inserts_updates_and_soft_deletes(api: Api, sync: Sync) -> None:
    api.add(350)
    result = sync.run(100)
    assert (result.rows, result.inserted, result.updated, result.batches) == (350, 350, 0, 4)
    sync.assert_equal()
    api.add(40)
    api.touch([3, 5, 200], amount=999.0, tags=["vip"])
    api.touch([7], deleted=True)
    result = sync.run(100)
    assert (result.rows, result.inserted, result.updated) == (44, 40, 4)
    sync.assert_equal()
    assert sync.run(100).rows == 0
    stored, _ = sync.cursor()
    assert stored == {"value": api.now.isoformat(), "key": 7}  # an aware UTC datetime, compared as one


@pytest.mark.parametrize("paging", ["next", "list"])
def test_rows_sharing_one_cursor_value_across_a_page_boundary_are_never_skipped(
    api: Api, sync: Sync, paging: str
) -> None:
    api.paging = paging
    at = api.tick()
    api.add(250, at)  # one updated_at for all, pages of 100
    first = sync.run(100)
    assert (first.rows, first.batches) == (250, 3)
    api.add(30, at)  # late rows with the same cursor value but higher keys
    assert sync.run(100).rows == 30
    sync.assert_equal()
    since_keys = [s.query.get("since_key") for s in api.seen if "since" in s.query]
    assert "100" in since_keys and "200" in since_keys  # the tie was split by the key


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batch_size=st.integers(min_value=1, max_value=9),
    paging=st.sampled_from(["next", "list"]),
    rounds=st.lists(
        st.tuples(
            st.integers(0, 12),  # new rows
            st.lists(st.integers(1, 30), max_size=5),  # updated ids
            st.lists(st.integers(1, 30), max_size=2),  # soft-deleted ids
            st.booleans(),  # new rows share the previous cursor value
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_property_store_always_equals_the_api(tmp_path: Path, batch_size: int, paging: str, rounds: list[Any]) -> None:
    folder = tmp_path / os.urandom(4).hex()
    folder.mkdir()
    with serve(Api(FrozenClock(T0))) as api:
        api.paging = paging
        sync = Sync(api, folder)
        synced_once = False
        for new, touched, deleted, same_instant in rounds:
            api.add(new, api.now if same_instant else None)
            if existing := [i for i in touched if i in api.entries]:
                api.touch(existing, amount=float(len(api.seen)))
            if gone := [i for i in deleted if i in api.entries]:
                api.touch(gone, deleted=True)
            if not api.entries:
                continue  # nothing to infer the columns from yet
            sync.run(batch_size)
            synced_once = True
            sync.assert_equal()
        if synced_once:
            assert sync.run(batch_size).rows == 0


# -- retries, timeouts, refused connections --------------------------------------------------------------


def test_a_server_error_is_retried_with_backoff_and_the_run_succeeds(api: Api, sync: Sync) -> None:
    api.add(120)
    api.script.extend([Canned(500, b"oops"), Canned(502, b"bad gateway")])
    result = sync.run(100)
    assert result.rows == 120
    sync.assert_equal()
    assert sync.waits == [0.5, 1.0]  # exponential backoff through the injected wait: no real sleeping


@pytest.mark.parametrize("header", ["seconds", "http-date"])
def test_429_retry_after_is_honoured(api: Api, sync: Sync, header: str) -> None:
    api.add(10)
    value = "7" if header == "seconds" else format_datetime(sync.clock.now() + timedelta(seconds=7), usegmt=True)
    api.script.append(Canned(429, b"slow down", {"Retry-After": value}))
    assert sync.run(100).rows == 10
    assert sync.waits == [7.0]
    sync.assert_equal()


def test_a_retry_after_longer_than_the_limit_fails_fast_instead_of_hanging_the_run(api: Api, sync: Sync) -> None:
    api.add(10)
    api.script.append(Canned(503, b"", {"Retry-After": "3600"}))
    with pytest.raises(SourceError, match="HTTP 503 .* asks to wait 3600 s; try later"):
        sync.run(100)
    assert sync.waits == []


def test_timeouts_end_in_a_clear_source_error_after_retries_and_the_next_run_catches_up(api: Api, sync: Sync) -> None:
    api.add(50)
    engine = sync.engine(timeout_seconds=0.3, max_retries=2)
    engine.run(100)
    before, cursor = sync.stored(), sync.cursor()
    api.add(20)
    api.script.extend([Canned(status=None, delay=1.0)] * 3)  # answers, but only after the client gave up
    with pytest.raises(SourceError) as caught:
        engine.run(100)
    message = str(caught.value)
    assert "timed out after 0.3 s (SOURCE_TIMEOUT_SECONDS, the limit for connecting and reading" in message
    assert "failed after 3 attempt(s)" in message
    assert sync.waits == [0.5, 1.0]
    assert sync.stored() == before and sync.cursor() == cursor
    assert sync.run(100).rows == 20
    sync.assert_equal()


def test_a_body_trickled_past_the_deadline_fails_within_twice_the_deadline(api: Api, sync: Sync) -> None:
    api.add(50)
    source = sync.source(timeout_seconds=1, max_retries=0)
    source.columns()  # the first page, answered at once: the column types
    api.script.append(Canned(status=None, trickle=0.05))  # ~5 KB, 4 bytes every 50 ms: about a minute
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        list(source.read_batches(None, 100))
    elapsed = time.monotonic() - started
    print(f"a 1 s deadline against a trickled body: failed after {elapsed:.2f} s")
    assert elapsed < 2 * 1.0, f"the 1 s deadline held the request {elapsed:.2f} s"
    message = str(caught.value)
    assert "failed after 1 attempt(s): timed out after 1 s (SOURCE_TIMEOUT_SECONDS" in message


def test_a_trickled_attempt_is_retried_and_every_attempt_has_its_own_deadline(api: Api, sync: Sync) -> None:
    api.add(50)
    source = sync.source(timeout_seconds=1, max_retries=2)
    source.columns()
    api.script.extend([Canned(status=None, trickle=0.05)] * 3)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"failed after 3 attempt\(s\): timed out after 1 s"):
        list(source.read_batches(None, 100))
    elapsed = time.monotonic() - started
    assert elapsed < 2 * 3 * 1.0, f"3 attempts of 1 s took {elapsed:.2f} s"
    assert sync.waits == [0.5, 1.0]  # the retry policy is unchanged (backoff through the injected wait)
    assert len(api.seen) == 4


def test_the_deadline_also_cuts_a_trickled_body_over_tls(api: Api, sync: Sync, tmp_path: Path) -> None:
    """Over TLS the socket the deadline shuts down is the TLS one (wrapping detaches the plain socket)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
    )
    if made.returncode != 0:
        pytest.skip("openssl cannot make a test certificate")
    server = ApiServer(api)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        api.add(50)
        url = f"https://127.0.0.1:{server.server_address[1]}/items"
        source = sync.source(
            endpoint=url, timeout_seconds=1, max_retries=0, transport=httpx.HTTPTransport(verify=False)
        )
        source.columns()
        api.script.append(Canned(status=None, trickle=0.05))
        started = time.monotonic()
        with pytest.raises(SourceError, match="timed out after 1 s"):
            list(source.read_batches(None, 100))
        assert time.monotonic() - started < 2 * 1.0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_slow_body_that_ends_before_the_deadline_is_read_whole(api: Api, sync: Sync) -> None:
    api.add(3)
    source = sync.source(timeout_seconds=3, max_retries=1)
    source.columns()
    api.script.append(Canned(status=None, trickle=0.1, trickle_bytes=50))  # ~700 bytes over ~1.4 s
    batches = list(source.read_batches(None, 100))
    assert [len(b.rows) for b in batches] == [3]
    assert sync.waits == []  # no retry: the deadline is for the whole request, far more than one read


def test_connection_refused_gives_a_clear_error_without_any_secret(
    sync: Sync, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    endpoint = f"http://reader:pa55word@127.0.0.1:{port}/items?api_key=k3y-secret-value"
    source = sync.source(endpoint=endpoint, token="t0ken-secret", max_retries=2)
    with pytest.raises(SourceError) as caught:
        source.columns()
    message = str(caught.value)
    assert f"GET http://***@127.0.0.1:{port}/items?api_key=***&limit=100 failed after 3 attempt(s)" in message
    assert "cannot connect (ConnectError" in message
    assert sync.waits == [0.5, 1.0]
    shown = message + caplog.text
    for secret in ("pa55word", "reader", "k3y-secret-value", "t0ken-secret"):
        assert secret not in shown


# -- malformed pages are refused whole -------------------------------------------------------------------


def without(name: str) -> Any:
    return lambda item: {k: v for k, v in item.items() if k != name}


MALFORMED: dict[str, tuple[Any, str]] = {  # how a good item goes bad, and what the error says
    "bad JSON": (None, "did not return JSON (Content-Type 'application/json', body starts '<html>"),
    "not an object": (lambda item: 42, "is not a JSON object: 42"),
    "missing key": (without("id"), "has no key 'id' (SOURCE_KEY)"),
    "missing cursor": (without("updated_at"), "has no cursor field 'updated_at' (SOURCE_CURSOR_FIELD)"),
    "wrong type": (lambda item: {**item, "amount": "abc"}, "field 'amount' is 'abc', expected a number"),
    "cursor not comparable": (
        lambda item: {**item, "updated_at": {"at": 1}},
        "field 'updated_at' is {'at': 1}, expected an ISO 8601 datetime",
    ),
}


@pytest.mark.parametrize("where", [40, 140], ids=["first-page", "second-page"])
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_items_are_refused_whole_and_the_next_good_run_catches_up(
    api: Api, sync: Sync, kind: str, where: int
) -> None:
    api.add(150)
    engine = sync.engine()
    engine.run(100)
    sync.assert_equal()
    before = sync.stored()
    ids = api.add(200)
    bad_id = ids[where]
    spoil, expected = MALFORMED[kind]
    good = api.entries[bad_id][1]
    if spoil is None:  # the page that holds the bad item comes back as HTML
        api.script.extend([Canned(None)] * (where // 100) + [Canned(200, b"<html>maintenance</html>")])
    else:
        api.put(bad_id, spoil(good))
    with pytest.raises(SourceError, match="item|JSON") as caught:
        engine.run(100)
    assert expected in str(caught.value)
    stored, _ = sync.cursor()
    if where < 100:  # the refused page was the first: nothing of this run was applied
        assert sync.stored() == before
        assert stored is not None and stored["key"] == 150
    else:  # the first page committed with its cursor; none of the refused page's rows did
        assert sync.stored()[0] == 150 + 100
        assert stored is not None and stored["key"] == ids[99]
    api.put(bad_id, good)
    assert engine.run(100).rows == (200 if where < 100 else 100)
    sync.assert_equal()


def test_an_api_that_ignores_since_is_refused_instead_of_moving_the_cursor_back(api: Api, sync: Sync) -> None:
    api.add(20)
    sync.run(100)
    api.add(5)
    api.ignore_since = True
    with pytest.raises(SourceError, match=r"is not after .*the API must return items after since/since_key"):
        sync.run(100)
    assert sync.stored()[0] == 20


def test_a_next_url_to_another_origin_never_gets_the_token(api: Api, sync: Sync) -> None:
    api.token = "t0ken-secret"
    api.add(3)
    body = json.dumps({"items": [api.item(1, T0)], "next": "https://elsewhere.example/steal?x=1"}).encode()
    api.script.extend([Canned(None), Canned(200, body)])
    with pytest.raises(SourceError, match="points to another origin than SOURCE_ENDPOINT") as caught:
        sync.engine(token="t0ken-secret").run(100)
    assert "t0ken-secret" not in str(caught.value)
    assert len(api.seen) == 2


# -- token, rate limit, schema ---------------------------------------------------------------------------


def test_the_token_is_sent_as_bearer_and_never_appears_in_errors(api: Api, sync: Sync) -> None:
    api.token = "t0ken-secret"
    api.add(30)
    sync.engine(token="t0ken-secret").run(10)
    assert api.seen and all(s.authorization == "Bearer t0ken-secret" for s in api.seen)
    sync.assert_equal()
    api.seen.clear()
    with pytest.raises(SourceError) as caught:
        sync.engine(token="wrong-t0ken").run(10)
    assert "answered HTTP 401 Unauthorized; check SOURCE_TOKEN" in str(caught.value)
    assert "wrong-t0ken" not in str(caught.value)
    assert len(api.seen) == 1  # a 401 is not retried


def test_an_item_that_echoes_the_token_is_shown_without_it(api: Api, sync: Sync) -> None:
    """An error previews the item it refuses; an API that echoes the caller's token (or the endpoint's key)
    in its items must not carry it into the message."""
    api.token = "t0ken-secret"
    (bad,) = api.add(1)
    api.put(bad, {"updated_at": iso(api.now), "echo": "Bearer t0ken-secret", "key": "k3y-secret-value"})
    with pytest.raises(SourceError) as caught:
        sync.engine(token="t0ken-secret", endpoint=f"{api.url}?api_key=k3y-secret-value").run(10)
    assert "has no key 'id' (SOURCE_KEY)" in str(caught.value)
    assert "t0ken-secret" not in str(caught.value) and "k3y-secret-value" not in str(caught.value)


def test_httpx_request_logs_never_show_endpoint_secrets(api: Api, sync: Sync, caplog: pytest.LogCaptureFixture) -> None:
    api.add(5)
    caplog.set_level(logging.INFO, logger="httpx")
    sync.engine(endpoint=f"{api.url}?api_key=k3y-secret-value").run(10)
    assert "HTTP Request: GET" in caplog.text and "api_key=***&limit=10" in caplog.text
    assert "k3y-secret-value" not in caplog.text
    sync.assert_equal()


def test_the_rate_limit_spaces_requests_without_real_sleeping(api: Api, sync: Sync) -> None:
    api.add(45)
    result = sync.engine(rate_limit_per_second=2).run(10)  # 1 schema request + 5 pages
    assert result.batches == 5
    instants = [s.at for s in api.seen]
    assert len(instants) == 6
    gaps = [(b - a).total_seconds() for a, b in zip(instants, instants[1:], strict=False)]  # type: ignore[operator]
    assert gaps == [0.5] * 5
    assert sync.waits == [0.5] * 5


def test_min_interval_only_waits_for_what_is_left() -> None:
    clock = FrozenClock(T0)
    waits: list[float] = []
    limiter = MinInterval(4, clock, lambda s: waits.append(s))
    limiter.acquire()
    clock.advance(0.1)
    limiter.acquire()  # 0.15 s left of the 0.25 s interval
    clock.advance(0.15)  # the wait above did not move the clock; pretend it did
    clock.advance(1)
    limiter.acquire()  # long past: no wait
    assert waits == [pytest.approx(0.15)]
    assert MinInterval(0, clock, lambda s: waits.append(s)).interval == timedelta(0)


def test_columns_are_inferred_from_the_first_page(api: Api, sync: Sync) -> None:
    api.add(3)
    api.put(2, {**api.entries[2][1], "amount": 3, "note": None})  # an int among floats, an all-null field
    columns = {c.name: c for c in sync.source().columns()}
    assert list(columns)[:2] == ["id", "updated_at"]
    assert columns["id"].primary_key and not columns["id"].nullable
    kinds = {name: type(c.type) for name, c in columns.items()}
    assert kinds == {
        "id": BigInteger,
        "updated_at": DateTime,
        "customer": Text,
        "quantity": BigInteger,
        "amount": Float,
        "deleted": Boolean,
        "tags": JSON,
        "note": JSON,
    }
    assert columns["updated_at"].type.timezone is True  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "kind", "parsed"),
    [
        (["2026-02-01T09:00:00", "2026-02-01 09:00:01.5"], "datetime", datetime(2026, 2, 1, 9, 0)),
        (["2026-02-01T09:00:00+02:00"], "datetime_tz", datetime(2026, 2, 1, 7, 0, tzinfo=timezone.utc)),
        (["v1", "v2"], "text", "v1"),
        ([1, 2.5], "float", 1.0),
    ],
)
def test_cursor_values_are_typed_so_they_compare(
    api: Api, sync: Sync, values: list[Any], kind: str, parsed: Any
) -> None:
    for n, value in enumerate(values, start=1):
        api.entries[n] = (T0 + timedelta(seconds=n), {"id": n, "updated_at": value})
    source = sync.source()
    assert source._schema()["updated_at"] == kind
    batch = next(source.read_batches(None, 10))
    value = batch.rows[0][batch.names.index("updated_at")]
    assert value == parsed
    cursor = source.parse_cursor(Cursor(value, 1).as_json())
    assert cursor is not None and cursor.value == parsed


def test_mixed_cursor_types_are_refused(api: Api, sync: Sync) -> None:
    api.entries[1] = (T0, {"id": 1, "updated_at": "2026-02-01T09:00:00Z"})
    api.entries[2] = (T0 + timedelta(seconds=1), {"id": 2, "updated_at": "2026-02-01T09:00:01"})
    with pytest.raises(SourceError, match="mixes datetimes with and without an offset"):
        sync.source().columns()
    api.entries[2] = (T0 + timedelta(seconds=1), {"id": 2, "updated_at": 5})
    with pytest.raises(SourceError, match="must hold numbers, strings or ISO datetimes"):
        sync.source().columns()


def test_a_field_the_api_gains_becomes_a_column_on_the_next_run(api: Api, sync: Sync) -> None:
    api.add(5)
    for id_ in range(1, 6):
        api.put(id_, {**api.entries[id_][1], "note": None})  # all null: a JSON column
    sync.run(100)
    for id_ in range(1, 6):  # the API now serves every item with a new field
        api.put(id_, {**api.entries[id_][1], "channel": None})
    api.touch([2], channel="app", note="x")  # note now looks like text: it stays JSON
    result = sync.run(100)
    assert (result.rows, result.inserted, result.updated) == (1, 0, 1)
    with sync.store.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, channel, note FROM orders ORDER BY id").all()
    assert [tuple(r) for r in rows[:3]] == [(1, None, "null"), (2, "app", '"x"'), (3, None, "null")]
    sync.assert_equal()


def test_a_field_the_api_drops_is_named_instead_of_ignored(api: Api, sync: Sync) -> None:
    api.add(3)
    sync.run(100)
    for id_ in range(1, 4):
        api.put(id_, {k: v for k, v in api.entries[id_][1].items() if k != "tags"})
    with pytest.raises(SourceError, match="column 'tags' is in 'orders' but no longer in the source"):
        sync.run(100)


def test_an_empty_api_says_the_first_sync_waits_for_data(sync: Sync) -> None:
    with pytest.raises(SourceError, match="returned no items yet"):
        sync.run(100)


# -- configuration ---------------------------------------------------------------------------------------

BAD_HTTP_VALUES = [
    ("SOURCE_ENDPOINT", "ftp://files.example/orders", "http:// or https:// URL"),
    ("SOURCE_ENDPOINT", "orders.json", "http:// or https:// URL"),
    ("SOURCE_ENDPOINT", "http://host:port/x", "http:// or https:// URL"),
    ("SOURCE_RATE_LIMIT_PER_SECOND", "fast", "must be a number between 0 and 10000"),
    ("SOURCE_RATE_LIMIT_PER_SECOND", "-1", "between 0 and 10000"),
    ("SOURCE_TIMEOUT_SECONDS", "0", "between 0.1 and 3600"),
    ("SOURCE_MAX_RETRIES", "2.5", "whole number between 0 and 20"),
    ("SYNC_SOURCE", "graphql", "one of demo, sql, http"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_HTTP_VALUES)
def test_bad_http_source_values_give_a_clear_config_issue(key: str, value: str, allowed: str) -> None:
    settings = load_settings(env={key: value}, secrets={})
    if key == "SOURCE_ENDPOINT":  # decides where data comes from: no fallback (tests/test_config.py)
        [issue] = settings.fatal
        assert issue.key == key and allowed in issue.message and "does not fall back" in issue.message
        return
    [issue] = settings.issues
    assert issue.key == key
    assert allowed in issue.message and "using the default" in issue.message
    assert getattr(settings, key.lower()) == getattr(Settings(), key.lower())


def test_http_source_settings_defaults_and_secrets_masked() -> None:
    defaults = load_settings(env={}, secrets={})
    assert (defaults.source_rate_limit_per_second, defaults.source_timeout_seconds) == (5.0, 30.0)
    assert defaults.source_max_retries == 4
    settings = load_settings(
        env={
            "SYNC_SOURCE": "http",
            "SOURCE_ENDPOINT": "https://svc:pa55word@api.example/orders?api_key=k3y-secret",
            "SOURCE_TOKEN": "t0ken-secret",
            "SOURCE_RATE_LIMIT_PER_SECOND": "0.5",
        },
        secrets={},
    )
    assert settings.issues == ()
    assert settings.sync_source == "http" and settings.source_rate_limit_per_second == 0.5
    shown = " ".join(settings.redacted().values()) + repr(settings)
    assert "https://***@api.example/orders?api_key=***" in shown
    for secret in ("pa55word", "k3y-secret", "t0ken-secret"):
        assert secret not in shown
    bad = load_settings(env={"SOURCE_ENDPOINT": "ftp://u:topsecret@h/x"}, secrets={})
    assert "topsecret" not in str(bad.issues) + str(bad.fatal)


def test_build_source_needs_an_endpoint(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, sync_source="http")
    with pytest.raises(SourceError, match="an http source needs its endpoint \\(SOURCE_ENDPOINT\\)"):
        build_source(settings, settings.datasets[0], FrozenClock())


def test_the_configured_job_syncs_from_the_api(api: Api, make_settings: Any, sqlite_url: str) -> None:
    api.token = "t0ken-secret"
    api.add(12)
    settings = make_settings(
        sqlite_url,
        sync_source="http",
        source_endpoint=api.url,
        source_token="t0ken-secret",
        source_max_retries=0,
        source_rate_limit_per_second=0,
    )
    create_schema(get_engine(sqlite_url))
    (dataset,) = settings.datasets
    source = build_source(settings, dataset, FrozenClock())
    assert isinstance(source, HttpJsonSource) and source.max_retries == 0
    result = make_syncer(settings, dataset, FrozenClock()).run(5)
    assert (result.rows, result.batches) == (12, 3)
