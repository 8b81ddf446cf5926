"""Scheduler instance heartbeats: each process writes one row, so a silent scheduler is visible."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, func, insert, select, update

from app.core.database import write_transaction
from app.core.models import Instance

instances = cast(Table, Instance.__table__)


class InstanceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def beat(self, instance_id: str, now: datetime, state: str, sessions: int) -> None:
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(instances)
                .where(instances.c.id == instance_id)
                .values(heartbeat_at=now, state=state, sessions=sessions)
            ).rowcount
            if not changed:
                conn.execute(
                    insert(instances).values(
                        id=instance_id, started_at=now, heartbeat_at=now, state=state, sessions=sessions
                    )
                )

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        query = select(instances).order_by(instances.c.heartbeat_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def running_since(self, since: datetime) -> int:
        """How many processes beat "running" at or after `since` (the schedulers that run jobs now)."""
        query = select(func.count()).where(instances.c.state == "running", instances.c.heartbeat_at >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
