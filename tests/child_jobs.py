"""Module-level job functions for runs in child processes (they travel by pickle: see tests/test_child_runs.py).

Each job writes its pid as a run log line first, so a test can check that its process is gone.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, update

from app.core.database import get_engine, write_transaction
from app.core.runner import RunContext

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("name", String(40)))
cursors = Table("item_cursor", metadata, Column("id", Integer, primary_key=True), Column("value", Integer))


def _started(ctx: RunContext) -> None:
    ctx.log("INFO", f"pid {os.getpid()}")


def sleeps(ctx: RunContext) -> None:
    _started(ctx)
    time.sleep(3600)  # a blocking call that never returns in time


def reads_a_silent_socket(ctx: RunContext) -> None:
    _started(ctx)
    left, _right = socket.socketpair()
    left.recv(1)  # nothing is ever sent: blocks forever


def ignores_sigterm(ctx: RunContext) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _started(ctx)
    time.sleep(3600)


def kills_itself(ctx: RunContext) -> None:
    _started(ctx)
    os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would


def exits(ctx: RunContext) -> None:
    _started(ctx)
    os._exit(3)


def reports(ctx: RunContext, hold: float = 1.0) -> dict[str, Any]:
    """Progress and a log line; the result has no rows, so the rows recorded are those of its progress."""
    _started(ctx)
    ctx.progress(5, "five rows done")
    ctx.log("INFO", "hello from the child")
    threading.Event().wait(hold)  # a lease renewal or two carries the progress
    return {"pid": os.getpid(), "items": [1, 2], "parent_alive": os.getppid() != 1}


def raises(ctx: RunContext, secret: str) -> None:
    _started(ctx)
    raise RuntimeError(f"cannot reach postgresql://app:{secret}@db.example.com/app")


def pid(ctx: RunContext) -> dict[str, Any]:
    return {"pid": os.getpid(), "niceness": os.nice(0)}


def first_line(ctx: RunContext) -> dict[str, Any]:
    """For the start-overhead bench: the monotonic clock is system-wide, so it compares across processes."""
    return {"first_line": time.monotonic(), "rows": 0}


def writes_after_go(ctx: RunContext, url: str, flags: str) -> dict[str, Any]:
    """Waits for `go` (after the test took the lease over), then writes a row and moves the cursor under the guard."""
    _started(ctx)
    folder = Path(flags)
    (folder / "ready").touch()
    for _ in range(3000):  # bounded: 30 s
        if (folder / "go").exists():
            break
        time.sleep(0.01)
    with write_transaction(get_engine(url)) as conn:
        conn.execute(insert(items).values(id=2, name="zombie"))
        conn.execute(update(cursors).values(value=2))
        ctx.guard(conn)
    return {"rows": 1}
