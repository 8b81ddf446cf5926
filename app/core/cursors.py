"""The sync cursors' one operator action the core owns: a full resync forgets a cursor (rows stay)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Engine, Table, update

from app.core.database import write_transaction
from app.core.models import SyncCursor

cursors = cast(Table, SyncCursor.__table__)


def reset_cursor(engine: Engine, name: str, now: datetime) -> bool:
    """Full resync: forget the cursor (rows stay; the next run re-reads and upserts everything).

    The version moves on, so a run in progress fails its compare-and-set instead of writing past it.
    """
    with write_transaction(engine) as conn:
        moved = conn.execute(
            update(cursors)
            .where(cursors.c.name == name)
            .values(value=None, version=cursors.c.version + 1, updated_at=now)
        ).rowcount
    return bool(moved)
