"""A Streamlit session without a browser: Streamlit's own websocket protocol, for load benchmarks.

Like the frontend, a client connects to ws://HOST/_stcore/stream (subprotocol "streamlit"), asks for a script
run with a `BackMsg.rerun_script` (a `ClientState`), and reads `ForwardMsg`s until `script_finished`.
It honours the server's `auto_rerun` messages (a fragment's `run_every`, e.g. the live badge) by sending
fragment reruns on that period, as the browser does. It never draws anything: what a rerun costs the server is
what is measured. Every request waits for the previous one to finish (one run at a time per session).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect

FULL = "full"
FRAGMENT = "fragment"
SELF = "self"  # a fragment run that reran the whole page (the badge's st.rerun() once a sync committed)
# a run ended by a newer request (st.rerun(), a fragment's rerun of the app) is not the end of the request
_EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN
_COMPILE_ERROR = ForwardMsg.FINISHED_WITH_COMPILE_ERROR


@dataclass
class Stats:
    """What every client of one phase records (shared; asyncio runs them in one thread)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {FULL: [], FRAGMENT: [], SELF: []})
    failures: list[str] = field(default_factory=list)
    exceptions_shown: int = 0
    bytes_received: int = 0


class StreamlitClient:
    """One session. `rerun()` and the fragment timers share one request lock."""

    def __init__(self, url: str, stats: Stats, timeout: float = 60.0) -> None:
        self.ws_url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.stats, self.timeout = stats, timeout
        self.page_script_hash = ""
        self.fragments: dict[str, tuple[float, float]] = {}  # fragment id -> (interval s, next due monotonic)
        self._ws: ClientConnection | None = None
        self._lock = asyncio.Lock()
        self._finished: asyncio.Future[int] | None = None
        self._pending = ""  # the kind of the request in flight; a fragment's becomes SELF if the page reruns
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> float:
        """Connect and render the page once; returns that first run's latency (ms)."""
        self._ws = await connect(self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=self.timeout)  # type: ignore[list-item]
        self._reader = asyncio.create_task(self._read())
        return await self.rerun()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def rerun(self, fragment_id: str = "") -> float:
        """One run (the whole page, or one fragment): ms from the request to its `script_finished`."""
        kind = FRAGMENT if fragment_id else FULL
        async with self._lock:
            assert self._ws is not None
            msg = BackMsg()
            msg.rerun_script.query_string = ""
            msg.rerun_script.page_script_hash = self.page_script_hash
            if fragment_id:
                msg.rerun_script.fragment_id = fragment_id
                msg.rerun_script.is_auto_rerun = True
            self._finished = asyncio.get_running_loop().create_future()
            self._pending = kind
            started = time.perf_counter()
            await self._ws.send(msg.SerializeToString())
            try:
                status = await asyncio.wait_for(self._finished, self.timeout)
            except asyncio.TimeoutError:
                self.stats.failures.append(f"{kind} rerun: no script_finished after {self.timeout:g} s")
                return float("nan")
            finally:
                self._finished = None
            elapsed = (time.perf_counter() - started) * 1000
            if status == _COMPILE_ERROR:
                self.stats.failures.append(f"{kind} rerun: compile error")
            self.stats.latencies[self._pending].append(elapsed)
            return elapsed

    async def run_fragment_timers(self, until: float) -> None:
        """Rerun each registered fragment on its period, like the frontend's auto-rerun timers."""
        while time.monotonic() < until:
            now = time.monotonic()
            for fragment_id, (interval, due) in list(self.fragments.items()):
                if now >= due and self.fragments.get(fragment_id) == (interval, due):
                    self.fragments[fragment_id] = (interval, now + interval)
                    await self.rerun(fragment_id)
            await asyncio.sleep(0.25)

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for data in self._ws:
                assert isinstance(data, bytes)
                self.stats.bytes_received += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg)
        except Exception as exc:  # noqa: BLE001 - a dropped connection is a result of the benchmark
            if self._finished is not None and not self._finished.done():
                self._finished.set_exception(exc)
            self.stats.failures.append(f"connection: {type(exc).__name__}: {str(exc)[:120]}")

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session" and not msg.metadata.run.fragment_ids:
            # a full run starts (a fragment run starts with one too, naming its fragments): the frontend forgets
            # its fragment timers, and the run re-registers the live ones with auto_rerun
            self.fragments.clear()
            if not self.page_script_hash:
                self.page_script_hash = msg.new_session.page_script_hash
            if self._pending == FRAGMENT:
                self._pending = SELF
        elif kind == "auto_rerun":
            interval = float(msg.auto_rerun.interval)
            self.fragments[msg.auto_rerun.fragment_id] = (interval, time.monotonic() + interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self.fragments.pop(fragment_id, None)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            if msg.delta.new_element.WhichOneof("type") == "exception":
                self.stats.exceptions_shown += 1
        elif kind == "script_finished" and msg.script_finished != _EARLY:
            if self._finished is not None and not self._finished.done():
                self._finished.set_result(msg.script_finished)
