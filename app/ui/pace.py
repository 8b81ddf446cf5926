"""Which version of a dataset's data pages read while its sync runs, and its caches warmed off the request path.

Every committed batch of a run is a new data version (the committed cursor), and the public data API's caches
are keyed on it. Pages that re-read at every version would query a store busy taking the batches on every
rerun. `Pace` holds them on the version they last read and, at most every REREAD_DURING_SYNC_SECONDS, warms
the newest committed version in a background thread: it makes the same cached reads the pages made on the
held version, keyed on the newer one. Pages move on once those reads are cached, so a page rerun during a
sync does not wait for a query it made before. A finished run is read at once (invariant 7): its version is
the committed one, warmed or not.

One Pace per process (every session reads the same caches), kept per store and job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.records import JobStatus

logger = logging.getLogger(__name__)
MAX_READS = 64  # reads remembered per store and job (st.cache_data keeps as many entries per function)
Start = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class Read:
    """A cached read a page made: `function(versions, *args)`, keyed on the data versions of `jobs` (in order)."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    jobs: tuple[str, ...]
    versions: tuple[int, ...]

    def at(self, job: str, version: int) -> None:
        """The same read, keyed on `version` of `job` (the other jobs' versions as the page read them)."""
        versions = zip(self.jobs, self.versions, strict=True)
        self.function(tuple(version if j == job else v for j, v in versions), *self.args)


@dataclass
class _Held:
    version: int
    since: float  # monotonic seconds: when pages moved on to `version`
    reads: dict[Any, Read] = field(default_factory=dict)  # the reads pages made on `version`, oldest first
    warming: int | None = None  # a newer version whose reads a background thread is making
    warmed: int | None = None  # a newer version whose reads are made: pages move on to it


def in_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="freshdash-warm", daemon=True).start()


class Pace:
    """The version pages read, per store and job; `start` runs a warm (a thread; tests run it when they choose)."""

    def __init__(self, start: Start = in_thread) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], _Held] = {}
        self._start = start

    def version(self, status: JobStatus, every: float, now: float, store: str = "") -> int:
        key, committed = (store, str(status.job)), int(status.data_version)
        warm: Callable[[], None] | None = None
        with self._lock:
            held = self._held.get(key)
            # Only an older version is held: a reset cursor starts again lower, and holding a higher one would
            # key the caches on another data set.
            if status.current_run is not None and every > 0 and held is not None and held.version < committed:
                if held.warmed is not None and held.version < held.warmed <= committed:
                    self._held[key] = _Held(held.warmed, now)
                    return held.warmed
                # the first data (pages held no data) is read ahead at once; later versions every `every` s
                if held.warming is None and (held.version == 0 or now - held.since >= every):
                    held.warming = committed
                    warm = self._warm_job(key, held, committed, list(held.reads.values()))
                version = held.version
            else:
                if held is None or held.version != committed:
                    self._held[key] = _Held(committed, now)
                version = committed
        if warm is not None:
            self._start(warm)
        return version

    def remember(self, store: str, read: Read) -> None:
        """A page made `read`: it is made again on the next version of each of its jobs before pages move on."""
        identity = (read.function, read.args, read.jobs)
        try:
            hash(identity)
        except TypeError:
            return  # arguments that cannot be keyed: the page makes this read itself on the next version
        with self._lock:
            for job, version in zip(read.jobs, read.versions, strict=True):
                held = self._held.get((store, job))
                if held is None or held.version != version:
                    continue
                held.reads.pop(identity, None)
                held.reads[identity] = read
                while len(held.reads) > MAX_READS:
                    held.reads.pop(next(iter(held.reads)))

    def _warm_job(self, key: tuple[str, str], held: _Held, version: int, reads: list[Read]) -> Callable[[], None]:
        def warm() -> None:
            try:
                for read in reads:
                    read.at(key[1], version)
            except Exception as exc:  # noqa: BLE001 - any read's error: pages make that read and show it
                logger.warning("reading version %s of %s ahead of the pages failed: %s", version, key[1], exc)
            finally:
                with self._lock:  # if the run ended meanwhile, `held` was replaced: this changes nothing
                    held.warming, held.warmed = None, version

        return warm
