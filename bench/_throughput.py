"""The harness the throughput benchmarks share (pg_throughput.py, mariadb_throughput.py): scratch PostgreSQL
databases, every method timed in its own child process, the repeat loop, and the phrases of the result line.

Each benchmark keeps its own source, columns, methods (their writes in _loaders.py), summary and result line;
nothing here loads the app (the baselines' children must not pay for it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import progress

PG_ADMIN = os.environ.get("FRESHDASH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PHASES = ("initial", "incremental")

Method = Callable[[str, str, int], Callable[[], None]]  # (source, store, batch) -> the run to time
Phase = dict[str, dict[str, float]]  # method -> seconds, peak_rss_mib, load
Results = dict[str, Phase]  # phase -> its methods
Summary = Callable[[str, str, str], tuple[Any, ...]]  # (kind, where, table) -> comparable sums of the table


def pg_url(database: str, driver: str = "") -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    scheme = "postgresql+psycopg" if driver else "postgresql"
    return f"{scheme}{base.removeprefix('postgresql')}/{database}"


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


# -- one method in a child process --------------------------------------------------------------------------


def child(method: Method, source: str, store: str, batch: int, profile: str | None) -> None:
    """Time the run only (not the set-up); peak RSS is this process's ru_maxrss."""
    run = method(source, store, batch)
    started = time.perf_counter()
    if profile:
        import cProfile

        cProfile.runctx("run()", globals(), {"run": run}, profile)
    else:
        run()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak}))


def spawn(script: str, method: str, source: str, store: str, batch: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, script, "--child", method, source, store, "--batch", str(batch)],
        check=True,
        capture_output=True,
        text=True,
    )
    found: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    found["load"] = os.getloadavg()[0]
    return found


# -- one repeat ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scratch:
    """One repeat's stores: a PostgreSQL database per method not named *sqlite*, a SQLite file per one that is."""

    source: str
    stores: dict[str, str]
    files: dict[str, str]

    @classmethod
    def new(cls, methods: Collection[str], work: Path) -> Scratch:
        tag = uuid.uuid4().hex[:8]
        return cls(
            f"fd_bench_src_{tag}",
            {m: f"fd_bench_{m}_{tag}" for m in methods if "sqlite" not in m},
            {m: str(work / f"{m}_{tag}.db") for m in methods if "sqlite" in m},
        )

    def where(self, method: str) -> str:
        return self.stores.get(method) or self.files[method]

    def create_stores(self) -> None:
        for name in self.stores.values():
            pg_admin(f"CREATE DATABASE {name}")

    def drop_stores(self) -> None:
        for name in self.stores.values():
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fetch_one(kind: str, where: str, sql: str) -> Any:
    """The one row `sql` returns from a store: a SQLite file (kind "sqlite") or a PostgreSQL database."""
    if kind == "sqlite":
        con = sqlite3.connect(where)
        try:
            return con.execute(sql).fetchone()
        finally:
            con.close()
    import psycopg

    with psycopg.connect(pg_url(where)) as conn:
        return conn.execute(sql).fetchone()


def order(methods: Collection[str], turn: int) -> list[str]:
    """Each repeat starts with another method: the PostgreSQL ones and the SQLite ones each turn."""
    pg = [m for m in methods if "sqlite" not in m]
    lite = [m for m in methods if "sqlite" in m]
    return pg[turn % len(pg) :] + pg[: turn % len(pg)] + lite[turn % len(lite) :] + lite[: turn % len(lite)]


@dataclass(frozen=True)
class Run:
    """One repeat's parameters."""

    rows: int
    batch: int
    work: Path  # where the SQLite stores go
    turn: int  # which method starts


def measure(
    script: str, methods: Collection[str], scratch: Scratch, run: Run, change: Callable[[], int], once: Collection[str]
) -> Results:
    """Both phases, `change()` altering the source between them; the methods in `once` load only."""
    results: Results = {phase: {} for phase in PHASES}
    for phase in PHASES:
        if phase == "incremental":
            progress(f"changed {change():,} source rows")
        for method in order(methods, run.turn):
            if phase == "incremental" and method in once:
                continue
            # Every child starts after a CHECKPOINT: none pays for the one before it.
            pg_admin("CHECKPOINT")
            results[phase][method] = spawn(script, method, scratch.source, scratch.where(method), run.batch)
            progress(f"{phase} {method}: {results[phase][method]['seconds']:.2f} s")
    return results


def verify(
    want: tuple[Any, ...],
    methods: Collection[str],
    scratch: Scratch,
    summary: Summary,
    once: Collection[str],
) -> None:
    """Every refreshed store holds what the source holds (`summary(kind, where, table)` of each)."""
    for method in methods:
        if method in once:
            continue  # loaded once, not refreshed
        kind = "sqlite" if "sqlite" in method else "pg"
        table = "base_orders" if method == "pg_baseline" else "orders"
        got = summary(kind, scratch.where(method), table)
        if got != want:
            raise SystemExit(f"{method}'s store differs from the source: {got} != {want}")


@dataclass(frozen=True)
class Source:
    """How a benchmark creates, fills, changes and drops its source database (the harness names it)."""

    kind: str  # the source's kind for the benchmark's summary
    admin: Callable[[str], None]  # runs one statement on the server, outside any database
    create_sql: str  # CREATE DATABASE {name} …
    drop_sql: str  # DROP DATABASE IF EXISTS {name} …
    build: Callable[[str, int], None]  # (database, rows)
    change: Callable[[str, int], int]  # (database, round) -> rows changed


def repeat(
    script: str, methods: Collection[str], source: Source, summary: Summary, once: Collection[str], run: Run
) -> Results:
    """One repeat on scratch stores: the source built, both phases measured, every store checked against the
    source, all dropped."""
    scratch = Scratch.new(methods, run.work)
    try:
        source.admin(source.create_sql.format(name=scratch.source))
        scratch.create_stores()
        progress(f"building {run.rows:,} source rows")
        source.build(scratch.source, run.rows)
        results = measure(script, methods, scratch, run, lambda: source.change(scratch.source, 1), once)
        verify(summary(source.kind, scratch.source, "src_orders"), methods, scratch, summary, once)
    finally:
        source.admin(source.drop_sql.format(name=scratch.source))
        scratch.drop_stores()
    return results


# -- the result line ----------------------------------------------------------------------------------------


def ratio(phase: Phase, method: str, base: str) -> str:
    return f"{phase[base]['seconds'] / phase[method]['seconds']:.2f}x"


def rate(phase: Phase, method: str, rows: int) -> str:
    return f"{rows / phase[method]['seconds']:,.0f} rows/s (load {phase[method]['load']:.2f})"


def against(phase: Phase, method: str, base: str, rows: int, base_name: str) -> str:
    """Both rates and their ratio: `baseline 1,000 rows/s (load 1.00), freshdash 900 rows/s (load 1.00) = 0.90x`."""
    return (
        f"{base_name} {rate(phase, base, rows)}, freshdash {rate(phase, method, rows)} = {ratio(phase, method, base)}"
    )


def versus(phase: Phase, method: str, base: str) -> str:
    return f"{phase[base]['seconds']:.2f} s vs {phase[method]['seconds']:.2f} s = {ratio(phase, method, base)}"


def peak_rss(phase: Phase, methods: Collection[str]) -> str:
    return ", ".join(f"{m} {phase[m]['peak_rss_mib']:.0f}" for m in methods)


def main(
    name: str,
    script: str,
    methods: Mapping[str, Method],
    source: Source,
    summary: Summary,
    describe: Callable[[Phase, Phase, int], str],
    batch: int,
    once: Collection[str] = (),
    quick: tuple[int, int] | None = None,
) -> None:
    """The command line: `--child` runs one method; otherwise the repeats, one result line each (`name rows=…
    batch=… | describe(…)`). The methods in `once` are measured on the initial load only."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=batch)
    if quick:
        parser.add_argument("--quick", action="store_true", help=f"{quick[0]:,} rows, {quick[1]} repeat(s)")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "SOURCE", "STORE"))
    parser.add_argument("--profile", help="(with --child) write the run's cProfile stats to this file")
    args = parser.parse_args()
    if args.child:
        method, database, store = args.child
        child(methods[method], database, store, args.batch, args.profile)
        return
    if quick and args.quick:
        args.rows, args.repeats = quick
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeats):
            progress(f"repeat {n + 1}/{args.repeats}")
            run = Run(args.rows, args.batch, Path(tmp), n)
            results = repeat(script, methods, source, summary, once, run)
            lines.append(describe(results["initial"], results["incremental"], args.rows))
            progress(lines[-1])
    for line in lines:
        print(f"{name} rows={args.rows:,} batch={args.batch} | {line}")
