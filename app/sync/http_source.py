"""The HTTP JSON API source: pages of JSON items read over httpx, with retries, a client-side rate limit and
destination columns inferred from the first page. It only reads; the engine owns writes and the cursor.

The contract the API must keep (also in the README, "HTTP JSON API"):

    GET <SOURCE_ENDPOINT>?since=<cursor value>&since_key=<cursor key>&limit=<batch size>
    Authorization: Bearer <SOURCE_TOKEN>                      (sent only when SOURCE_TOKEN is set)
    -> 200 {"items": [{...}, ...], "next": "<absolute URL of the next page>" | null}   or a bare [{...}, ...]

- `since` and `since_key` are omitted on the first sync. Otherwise the API returns only the items whose
  (cursor field, key) pair is strictly greater than (since, since_key), ordered by (cursor field, key): rows
  sharing one cursor value are split across pages by their key, so none is skipped. A datetime `since` is
  sent in ISO 8601 with its offset (``2026-02-01T09:00:00+00:00``): compare it as a datetime, not as text.
- `next` (resolved against the page URL, same origin as the endpoint when a token is set) is followed as
  given; `null` or an empty page ends the read. Without a `next` member (a bare list) the source asks again
  after the last item while pages come back full.
- Each item is a JSON object holding the key (a whole number or a string) and the cursor field (a number,
  a string, or an ISO 8601 datetime string, compared as a datetime). Other fields are optional. The columns
  are inferred from the first page of the whole collection on every run: a field it gains becomes a new
  destination column, one it loses fails the run with a message; fields seen only on later pages are ignored.
- SOURCE_TIMEOUT_SECONDS bounds each request whole (connect, headers and the whole body), not each read: a
  server that trickles its body is cut off at the deadline.
- 429, 5xx, connection errors and timeouts are retried with exponential backoff (a `Retry-After` in seconds
  or as an HTTP date is honoured); other statuses fail at once. Any bad page or item raises SourceError, so
  the engine refuses the whole batch. Error messages never contain the token or URL credentials.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Float, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt

from app.clock import Clock, SystemClock
from app.errors import SourceError
from app.redaction import MIN_URL_PART, http_url_secrets, redact_http_url, scrub
from app.sync.http_transport import OWN_PARAMS, MinInterval, RequestDeadline, Wait, hint, retry_after_seconds
from app.sync.json_values import EXPECTED, json_kind, merge, param, parse_datetime, preview
from app.sync.source import Batch, Cursor, Row

logger = logging.getLogger(__name__)
SQL_TYPES: dict[str, Callable[[], TypeEngine[Any]]] = {
    "int": BigInteger,
    "float": Float,
    "bool": Boolean,
    "text": Text,
    "json": JSON,
    "datetime": DateTime,
    "datetime_tz": lambda: DateTime(timezone=True),
}
_NO_NEXT = object()  # the page had no "next" member: paginate by keyset ourselves


class HttpJsonSource:
    """Items of one JSON endpoint, read in (cursor field, key) order after a cursor."""

    def __init__(
        self,
        endpoint: str,
        key: str = "id",
        cursor_field: str = "updated_at",
        *,
        token: str = "",
        rate_limit_per_second: float = 5.0,
        timeout_seconds: float = 30.0,
        max_retries: int = 4,
        clock: Clock | None = None,
        wait: Wait | None = None,
        backoff_seconds: float = 0.5,
        max_wait_seconds: float = 300.0,
        sample_size: int = 100,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.key = key
        self.keys = (key,)  # the Source protocol's shape; an API's key is one field
        self.cursor_field = cursor_field
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.clock: Clock = clock or SystemClock()
        # Every pause (rate limit, backoff, Retry-After) goes through `wait`: tests never sleep, and a wait
        # that returns True (an Event that was set) stops the read.
        self.wait: Wait = wait or threading.Event().wait
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self.sample_size = sample_size
        self.limiter = MinInterval(rate_limit_per_second, self.clock, self.wait)
        self._token = token
        self._transport = transport
        self._kinds: dict[str, str] | None = None
        self._secrets = _secrets_of(endpoint, token)

    # -- the Source protocol -------------------------------------------------------------------------

    def columns(self, store: Dialect | None = None) -> list[Column[Any]]:
        return [
            Column(name, SQL_TYPES[kind](), primary_key=(name == self.key), nullable=(name != self.key))
            for name, kind in self._schema().items()
        ]

    def check_keys(self) -> None:
        """An API's items are not counted up front; the upsert keeps the last item of a repeated key."""

    def parse_cursor(self, stored: dict[str, Any] | None) -> Cursor | None:
        if not stored:
            return None
        kind = self._schema()[self.cursor_field]
        return Cursor(self._value(self.cursor_field, kind, stored.get("value"), "the stored cursor"), stored.get("key"))

    def read_batches(self, after: Cursor | None, batch_size: int, store: Dialect | None = None) -> Iterator[Batch]:
        kinds = self._schema()
        names = tuple(kinds)
        key_at, value_at = names.index(self.key), names.index(self.cursor_field)
        position = after
        url = self._page_url(position, batch_size)
        with self._client() as client:
            while True:
                items, next_url = self._get_page(client, url)
                rows = self._rows(items, kinds, position, url)  # the whole page is checked before any batch
                for start in range(0, len(rows), batch_size):
                    chunk = rows[start : start + batch_size]
                    yield Batch(names, chunk, Cursor(chunk[-1][value_at], chunk[-1][key_at]))
                if not rows:
                    return
                position = Cursor(rows[-1][value_at], rows[-1][key_at])
                if next_url is _NO_NEXT:
                    if len(items) < batch_size:
                        return
                    url = self._page_url(position, batch_size)
                elif next_url is None:
                    return
                else:
                    url = self._next_url(url, str(next_url))

    # -- schema --------------------------------------------------------------------------------------

    def _schema(self) -> dict[str, str]:
        """Field name -> kind, inferred once from the first page of the whole collection."""
        if self._kinds is None:
            url = self._page_url(None, self.sample_size)
            with self._client() as client:
                items, _ = self._get_page(client, url)
            if not items:
                raise self._error(
                    f"{self._show(url)} returned no items yet: the destination's columns are inferred from the "
                    "first page, so the first sync waits until the API has data"
                )
            self._kinds = self._infer(items, url)
        return self._kinds

    def _infer(self, items: list[Any], url: str) -> dict[str, str]:
        seen: dict[str, set[str]] = {self.key: set(), self.cursor_field: set()}
        cursor_values: list[Any] = []
        for n, item in enumerate(items):
            self._check_item(n, item, url)
            cursor_values.append(item[self.cursor_field])
            for name, value in item.items():
                kinds = seen.setdefault(name, set())
                if value is not None:
                    kinds.add(json_kind(value))
        result = {name: merge(kinds) for name, kinds in seen.items()}
        if result[self.key] not in {"int", "text"}:
            raise self._error(
                f"the key {self.key!r} must be a whole number or a string in every item of {self._show(url)}"
            )
        result[self.cursor_field] = self._cursor_kind(cursor_values, url)
        return result

    def _cursor_kind(self, values: list[Any], url: str) -> str:
        kind = merge({json_kind(v) for v in values})
        if kind == "text":
            parsed = [parse_datetime(v) for v in values]
            if all(p is not None for p in parsed):
                aware = {p.tzinfo is not None for p in parsed if p is not None}
                if len(aware) > 1:
                    raise self._error(
                        f"cursor field {self.cursor_field!r} mixes datetimes with and without an offset in "
                        f"{self._show(url)}: they are not comparable"
                    )
                return "datetime_tz" if aware == {True} else "datetime"
            return "text"
        if kind not in {"int", "float"}:
            raise self._error(
                f"cursor field {self.cursor_field!r} must hold numbers, strings or ISO datetimes that compare "
                f"with each other; {self._show(url)} has {preview(values[:3])}"
            )
        return kind

    # -- items ---------------------------------------------------------------------------------------

    def _check_item(self, n: int, item: Any, url: str) -> None:
        where = f"item {n} of {self._show(url)}"
        if not isinstance(item, dict):
            raise self._error(f"{where} is not a JSON object: {preview(item)}")
        if item.get(self.key) is None:
            raise self._error(f"{where} has no key {self.key!r} (SOURCE_KEY): {preview(item)}")
        if item.get(self.cursor_field) is None:
            raise self._error(
                f"{where} ({self.key}={item[self.key]!r}) has no cursor field {self.cursor_field!r} "
                "(SOURCE_CURSOR_FIELD)"
            )

    def _rows(self, items: list[Any], kinds: dict[str, str], after: Cursor | None, url: str) -> list[Row]:
        rows: list[Row] = []
        previous = None if after is None else (after.value, after.key)
        names = list(kinds)
        key_at, value_at = names.index(self.key), names.index(self.cursor_field)
        for n, item in enumerate(items):
            self._check_item(n, item, url)
            where = f"item {n} ({self.key}={item[self.key]!r}) of {self._show(url)}"
            row = tuple(self._value(name, kind, item.get(name), where) for name, kind in kinds.items())
            position = (row[value_at], row[key_at])
            try:
                in_order = previous is None or position > previous
            except TypeError:
                raise self._error(
                    f"{where}: cursor {preview(position)} does not compare with {preview(previous)}"
                ) from None
            if not in_order:
                raise self._error(
                    f"{where}: ({self.cursor_field}, {self.key}) = {preview(position)} is not after "
                    f"{preview(previous)}; the API must return items after since/since_key, ordered by "
                    f"({self.cursor_field}, {self.key})"
                )
            previous = position
            rows.append(row)
        return rows

    def _value(self, name: str, kind: str, value: Any, where: str) -> Any:
        """The JSON value typed like its column; SourceError when it does not fit."""
        if value is None or kind == "json":
            return value
        if kind in {"datetime", "datetime_tz"}:
            parsed = parse_datetime(value)
            if parsed is not None and (parsed.tzinfo is not None) == (kind == "datetime_tz"):
                return parsed
        elif kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        elif isinstance(value, bool):
            if kind == "bool":
                return value
        elif (kind == "int" and isinstance(value, int)) or (kind == "text" and isinstance(value, str)):
            return value
        raise self._error(
            f"{where}: field {name!r} is {preview(value)}, expected {EXPECTED[kind]} "
            "(the column type was inferred from the first page of the API)"
        )

    # -- HTTP ----------------------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        headers = {"Accept": "application/json", "User-Agent": "freshdash"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.timeout_seconds),  # each read; RequestDeadline bounds the request
            limits=httpx.Limits(max_keepalive_connections=0),  # a new connection per request: see RequestDeadline
            follow_redirects=True,
            transport=self._transport,
        )

    def _page_url(self, after: Cursor | None, limit: int) -> str:
        params: dict[str, str] = {"limit": str(limit)}
        if after is not None:
            params["since"] = param(after.value)
            params["since_key"] = param(after.key)
        return str(httpx.URL(self.endpoint).copy_merge_params(params))

    def _next_url(self, current: str, next_url: str) -> str:
        resolved = urljoin(current, next_url)
        parts, home = urlsplit(resolved), urlsplit(self.endpoint)
        if parts.scheme not in {"http", "https"}:
            raise self._error(f"the page's next URL {self._show(resolved)} is not an http(s) URL")
        if self._token and (parts.scheme, parts.hostname, parts.port) != (home.scheme, home.hostname, home.port):
            raise self._error(
                f"the page's next URL {self._show(resolved)} points to another origin than SOURCE_ENDPOINT: "
                "refusing to send SOURCE_TOKEN there"
            )
        return resolved

    def _get_page(self, client: httpx.Client, url: str) -> tuple[list[Any], object]:
        response = self._request(client, url)
        try:
            body = response.json()
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            raise self._error(
                f"{self._show(url)} did not return JSON (Content-Type {response.headers.get('content-type')!r}, "
                f"body starts {response.text[:60]!r})"
            ) from None
        if isinstance(body, list):
            return body, _NO_NEXT
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            next_url = body.get("next", _NO_NEXT)
            if next_url is not None and next_url is not _NO_NEXT and not isinstance(next_url, str):
                raise self._error(f"{self._show(url)}: 'next' must be a URL or null, not {preview(next_url)}")
            return body["items"], next_url
        raise self._error(
            f'{self._show(url)} returned {preview(body)}; expected a JSON list of items or {{"items": [...], '
            '"next": ...}'
        )

    def _request(self, client: httpx.Client, url: str) -> httpx.Response:
        """GET with the retry policy (tenacity): 429, 5xx, connection errors and timeouts are retried with
        exponential backoff or the server's Retry-After, every pause through the injected `wait`."""
        attempts = self.max_retries + 1
        problems: list[str] = []  # what went wrong in each attempt, for the messages
        retry_after: list[float | None] = []  # the server's Retry-After of each attempt, in seconds

        def delay(state: RetryCallState) -> float:
            asked = retry_after[-1]
            backoff = min(self.backoff_seconds * 2 ** (state.attempt_number - 1), 30.0)
            return backoff if asked is None else asked

        def before_sleep(state: RetryCallState) -> None:
            pause = state.next_action.sleep if state.next_action is not None else 0.0
            if pause > self.max_wait_seconds:
                raise self._error(
                    f"GET {self._show(url)} answered {problems[-1]} and asks to wait {pause:g} s; try later"
                )
            shown = self._scrub(problems[-1])
            logger.warning(
                "GET %s: %s; retry %d of %d in %.1f s",
                self._show(url),
                shown,
                state.attempt_number,
                attempts - 1,
                pause,
            )

        def pause(seconds: float) -> None:
            if self.wait(seconds):
                raise self._error(f"GET {self._show(url)}: stopped while waiting to retry ({problems[-1]})")

        def gave_up(_state: RetryCallState) -> httpx.Response:
            raise self._error(f"GET {self._show(url)} failed after {attempts} attempt(s): {problems[-1]}")

        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=delay,
            retry=retry_if_result(lambda response: response is None),
            before_sleep=before_sleep,
            sleep=pause,
            retry_error_callback=gave_up,
        )
        response = retrying(self._attempt, client, url, problems, retry_after)
        assert response is not None  # a None outcome is retried, and the last one raises in gave_up
        return response

    def _attempt(
        self, client: httpx.Client, url: str, problems: list[str], retry_after: list[float | None]
    ) -> httpx.Response | None:
        """One GET: the response, None when it is worth retrying (the problem noted), or an error."""
        self.limiter.acquire()
        deadline = RequestDeadline(self.timeout_seconds)
        try:
            response = deadline.get(client, url)
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.TimeoutException) or deadline.expired.is_set():
                problems.append(
                    f"timed out after {self.timeout_seconds:g} s (SOURCE_TIMEOUT_SECONDS, the limit for "
                    "connecting and reading the whole response)"
                )
            else:
                problems.append(f"cannot connect ({type(exc).__name__}: {str(exc)[:200]})")
            retry_after.append(None)
            return None
        if response.is_success:
            return response
        problem = f"HTTP {response.status_code} {response.reason_phrase}"
        if response.status_code != 429 and response.status_code < 500:
            raise self._error(f"GET {self._show(url)} answered {problem}{hint(response.status_code)}")
        problems.append(problem)
        retry_after.append(retry_after_seconds(response, self.clock))
        return None

    # -- secrets -------------------------------------------------------------------------------------

    def _show(self, url: str) -> str:
        return redact_http_url(url, keep=OWN_PARAMS)

    def _scrub(self, message: str) -> str:
        return scrub(message, self._secrets)

    def _error(self, message: str) -> SourceError:
        return SourceError(self._scrub(message))


def _secrets_of(endpoint: str, token: str) -> list[str]:
    """Values that must never be shown: the token, URL credentials and query values of the endpoint."""
    # Longest first, so a secret containing another is replaced whole; tiny values would scrub everything.
    found = [token, *http_url_secrets(endpoint)]
    return sorted({s for s in found if len(s) >= MIN_URL_PART}, key=len, reverse=True)
