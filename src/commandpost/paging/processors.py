"""The engine processor "escalations due": claim rows whose ``next_escalation_at`` has come, decide.

Claiming locks the escalation row *and* its incident in one statement with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so replicas take disjoint rows and never wait for each other (no lock
order to get wrong: whoever else holds either row is simply skipped this pass). An ack or a
severity change racing with the claim either commits first — and the decision sees it — or waits
for this transaction. On SQLite the engine lease makes this the only decider and the write lock
serialises it with the API; the conditional UPDATEs in the service hold in both.

Each row is decided in its own savepoint: a row that fails (a bug, a broken config) is pushed back
by :data:`RETRY_AFTER` and logged instead of blocking every escalation behind it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from prometheus_client import Counter, Histogram
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from commandpost.incidents.models import Incident
from commandpost.paging import service
from commandpost.paging.models import Escalation
from commandpost.settings import Settings, get_settings

log = logging.getLogger("commandpost.paging")

BATCH = 500
RETRY_AFTER = timedelta(seconds=30)
DECIDED_LATE = Histogram(
    "commandpost_escalation_decided_seconds",
    "Due time of an escalation step to its decision (messages queued)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300),
)
FAILED = Counter("commandpost_escalation_failures_total", "Escalation rows whose decision raised")


class EscalationsDue:
    name = "paging.escalations"

    def __init__(self, settings: Settings | None = None, *, batch: int = BATCH) -> None:
        self.settings = settings or get_settings()
        self.batch = batch

    def run(self, session: Session, now: datetime) -> int:
        claimed = session.execute(
            select(Escalation, Incident)
            .join(Incident, Incident.id == Escalation.incident_id)
            .where(Escalation.next_escalation_at <= now)
            .order_by(Escalation.next_escalation_at, Escalation.id)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        if not claimed:
            return 0
        decider = service.Decider.of(session, base_url=self.settings.base_url(), now=now)
        work = 0
        for esc, incident in claimed:
            due = esc.next_escalation_at or now
            try:
                with session.begin_nested():
                    work += service.process(session, decider, esc, incident)
            except Exception:
                FAILED.inc()
                log.exception(
                    "escalation of incident %s failed; retrying in %s", incident.number, RETRY_AFTER
                )
                session.execute(
                    update(Escalation)
                    .where(Escalation.id == esc.id, Escalation.next_escalation_at == due)
                    .values(next_escalation_at=now + RETRY_AFTER)
                    .execution_options(synchronize_session=False)
                )
                continue
            DECIDED_LATE.observe(max(0.0, (now - due).total_seconds()))
        return work

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        due: datetime | None = session.scalar(select(func.min(Escalation.next_escalation_at)))
        return due
