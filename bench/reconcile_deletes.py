"""Key reconciliation (issue 11): `reconcile_deletes` over a store table of 1,000,000 rows whose source lost 1% of
them, time and peak memory, as a ratio to raw sqlite3 doing the same set difference in the same run.

- baseline: sqlite3 with the source ATTACHed to the store: `DELETE FROM items WHERE id NOT IN (SELECT id FROM
  src.items)`, one transaction (the database does the anti-join itself; it cannot when the source is another
  server, which is what reconcile_deletes is for).
- freshdash: `reconcile_deletes(get_engine(store), "items", SqlTableSource(get_engine(source), "items"), 5000)`:
  the store's keys in key order, 5,000 at a time, each batch looked up in the source with one `IN (...)` query,
  the missing ones deleted in their own guarded transaction.
Each method runs in its own child process on a fresh copy of the store (peak RSS = the child's ru_maxrss; "after
imports" = its RSS before the work), 3 repeats, medians reported. Both stores are checked equal to the source.
Prints ONE line on stdout.

Usage: python bench/reconcile_deletes.py [--rows N] [--repeats 3] [--batch 5000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import load, machine, progress  # noqa: E402

DDL = "CREATE TABLE items (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL, label VARCHAR(20) NOT NULL)"


def build(work: Path, rows: int) -> tuple[Path, Path, int]:
    """A store of `rows` rows and a source without every 100th of them; returns (source, store, deleted)."""
    store = work / "store_template.db"
    con = sqlite3.connect(store)
    con.execute(DDL)
    con.executemany(
        "INSERT INTO items VALUES (?, '2026-01-01 00:00:00.000000', ?)", ((i, f"item {i}") for i in range(1, rows + 1))
    )
    con.commit()
    con.close()
    source = work / "source.db"
    shutil.copy(store, source)
    con = sqlite3.connect(source)
    deleted = con.execute("DELETE FROM items WHERE id % 100 = 0").rowcount
    con.commit()
    con.close()
    return source, store, deleted


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(method: str, source: Path, store: Path, batch: int, result: Path) -> None:
    if method == "freshdash":
        from app.core.database import get_engine
        from app.sync.reconcile import reconcile_deletes
        from app.sync.source import SqlTableSource

        store_engine, source_engine = get_engine(f"sqlite:///{store}"), get_engine(f"sqlite:///{source}")
        table = SqlTableSource(source_engine, "items")
        after_imports = rss_mib()
        started = time.perf_counter()
        deleted = reconcile_deletes(store_engine, "items", table, batch)
    else:
        con = sqlite3.connect(store, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        after_imports = rss_mib()
        started = time.perf_counter()
        con.execute(f"ATTACH DATABASE '{source}' AS src")
        con.execute("BEGIN")
        deleted = con.execute("DELETE FROM items WHERE id NOT IN (SELECT id FROM src.items)").rowcount
        con.execute("COMMIT")
        con.close()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.write_text(json.dumps({"seconds": seconds, "deleted": deleted, "peak": peak, "imports": after_imports}))


def same_keys(source: Path, store: Path) -> bool:
    con = sqlite3.connect(store)
    con.execute(f"ATTACH DATABASE '{source}' AS src")
    differ = con.execute(
        "SELECT count(*) FROM (SELECT id FROM items EXCEPT SELECT id FROM src.items"
        " UNION ALL SELECT id FROM src.items EXCEPT SELECT id FROM items)"
    ).fetchone()[0]
    con.close()
    return bool(differ == 0)


def measure(method: str, source: Path, template: Path, work: Path, batch: int) -> dict[str, float]:
    store = work / f"store_{method}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, store)
    result = work / f"{method}.json"
    args = [sys.executable, __file__, "--child", method, str(source), str(store), str(batch), str(result)]
    subprocess.run(args, check=True, cwd=ROOT)
    found: dict[str, float] = json.loads(result.read_text())
    found["equal"] = float(same_keys(source, store))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        method, source, store, batch, result = args.child
        child(method, Path(source), Path(store), int(batch), Path(result))
        return 0
    with tempfile.TemporaryDirectory(prefix="fd_reconcile_") as tmp:
        work = Path(tmp)
        progress(f"building {args.rows:,} rows")
        source, template, deleted = build(work, args.rows)
        load_before = load()
        runs: dict[str, list[dict[str, float]]] = {"baseline": [], "freshdash": []}
        for n in range(args.repeats):
            for method in runs:  # alternating, so both sides see the same load
                progress(f"repeat {n + 1}/{args.repeats}: {method} (load {load()})")
                found = measure(method, source, template, work, args.batch)
                progress(f"  {found['seconds']:.2f} s, peak RSS {found['peak']:.0f} MiB")
                runs[method].append(found)
        load_after = load()
    med = {m: statistics.median(r["seconds"] for r in runs[m]) for m in runs}
    peak = {m: max(r["peak"] for r in runs[m]) for m in runs}
    imports = {m: statistics.median(r["imports"] for r in runs[m]) for m in runs}
    correct = all(r["equal"] and r["deleted"] == deleted for m in runs for r in runs[m])
    each = {m: "/".join(f"{r['seconds']:.2f}" for r in runs[m]) for m in runs}
    print(
        f"reconcile_deletes rows={args.rows:,} deleted={deleted:,} batch={args.batch} | "
        f"freshdash median={med['freshdash']:.2f} s ({each['freshdash']}; {args.rows / med['freshdash']:,.0f} keys/s) "
        f"baseline sqlite3 NOT IN over ATTACH median={med['baseline']:.2f} s ({each['baseline']}) | "
        f"ratio {med['freshdash'] / med['baseline']:.2f}x of the baseline's time | peak RSS MiB freshdash="
        f"{peak['freshdash']:.0f} (after imports {imports['freshdash']:.0f}) baseline={peak['baseline']:.0f} "
        f"(after start {imports['baseline']:.0f}) | stores equal source: {'yes' if correct else 'NO'} | "
        f"load {load_before}->{load_after} {machine()}"
    )
    return 0 if correct else 1


if __name__ == "__main__":
    raise SystemExit(main())
