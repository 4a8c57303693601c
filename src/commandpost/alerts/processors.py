"""The engine processor of alerts: heartbeats whose ping did not come (:mod:`commandpost.alerts.heartbeats`).

Each pass reads only the rows due by now, through the due-time index, so its cost follows the misses,
not the number of heartbeats (``bench/heartbeats.py`` measures it with 10,000). A batch is decided in
savepoints, one per heartbeat: a miss whose alert raises (a bug, a broken config) is pushed back by
:data:`RETRY_AFTER` and logged instead of blocking the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from commandpost.alerts import heartbeats
from commandpost.alerts.models import Heartbeat
from commandpost.engine.processor import is_due
from commandpost.policy import service as policy_service

log = logging.getLogger("commandpost.alerts")

BATCH = 200
RETRY_AFTER = timedelta(seconds=30)


class HeartbeatsDue:
    """Heartbeats due by now: each raises ``HeartbeatMissed`` once, routed and paged like any alert."""

    name = "alerts.heartbeats"

    def __init__(self, *, batch: int = BATCH) -> None:
        self.batch = batch

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(self.next_due(session, now), now)

    def run(self, session: Session, now: datetime) -> int:
        rows = heartbeats.due(session, now=now, limit=self.batch)
        if not rows:
            return 0
        config = policy_service.current_config(session)
        work = 0
        for row in rows:
            row_id, due = row.id, row.due_at
            try:
                with session.begin_nested():
                    work += heartbeats.miss(session, config, row, now)
            except Exception:
                session.expire_all()
                log.exception("heartbeat %s: raising its miss failed; retrying in %s", row_id, RETRY_AFTER)
                session.execute(
                    update(Heartbeat)
                    .where(Heartbeat.id == row_id, Heartbeat.due_at == due)
                    .values(due_at=now + RETRY_AFTER)
                    .execution_options(synchronize_session=False)
                )
        return work

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return heartbeats.next_due(session)
