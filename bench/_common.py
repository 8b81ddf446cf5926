"""Shared bits of the benchmarks: repo root on sys.path, settings on a temp SQLite file, percentiles.

Every benchmark prints exactly one result line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import math
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from app.config import Settings


def settings_for(db_path: Path, **overrides: Any) -> Settings:
    """Settings as a deployment would build them, on a temporary SQLite file."""
    # Imported here: the throughput benchmarks' baseline children import this module and must not load the app.
    from app.config import load_settings

    env = {"DATABASE_URL": f"sqlite:///{db_path}", "DEMO_SOURCE_PATH": str(db_path.parent / "demo_source.db")}
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    settings = load_settings(env=env, secrets={})
    if settings.issues:
        raise SystemExit(f"bad benchmark settings: {settings.issues}")
    return settings


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def load() -> str:
    """The 1-minute load average, to read a result against (the machine is shared)."""
    import os

    return f"{os.getloadavg()[0]:.2f}"


def machine() -> str:
    import os
    import platform

    return f"nproc={os.cpu_count()} python={platform.python_version()} sqlite={sqlite3.sqlite_version}"
