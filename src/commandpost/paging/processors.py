"""The engine processors of paging: escalations due (:class:`EscalationsDue`, the pages of a pass)
and non-paging alerts told to the team channel (:class:`AlertChannelNotices`, see
:mod:`commandpost.paging.alert_fyi`).

Escalations due: claim rows whose ``next_escalation_at`` has come, decide.

Claiming locks the escalation row *and* its incident in one statement with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so replicas take disjoint rows and never wait for each other (no lock
order to get wrong: whoever else holds either row is simply skipped this pass). An ack or a
severity change racing with the claim either commits first — and the decision sees it — or waits
for this transaction. On SQLite the engine lease makes this the only decider and the write lock
serialises it with the API; the conditional UPDATEs (:mod:`commandpost.paging.row`) hold in both.

A pass claims up to :data:`BATCH` due rows and decides for at most :data:`BUDGET_SECONDS`
(:data:`SQLITE_BUDGET_SECONDS` on SQLite, where the decision holds the write lock intake needs);
rows claimed but not reached stay due and go first in the next pass, which the runner starts at
once. A batch is decided in one savepoint; if any row fails (a bug, a broken config) the batch is decided
again one savepoint per row, and the failing row is pushed back by :data:`RETRY_AFTER` and logged
instead of blocking every escalation behind it.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from prometheus_client import Counter, Histogram
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, load_only

from commandpost.alerts.models import Alert
from commandpost.engine.processor import is_due
from commandpost.incidents.models import Incident
from commandpost.paging import alert_fyi, decision
from commandpost.paging.decider import Decider
from commandpost.paging.models import Escalation
from commandpost.settings import Settings, get_settings

log = logging.getLogger("commandpost.paging")

BATCH = 200
BUDGET_SECONDS = 0.25
"""A pass decides for at most this long, then commits: the sender sends those pages in the same
engine pass."""
SQLITE_BUDGET_SECONDS = 0.05
"""On SQLite the decision holds the one write lock that intake needs too: commit more often."""
RETRY_AFTER = timedelta(seconds=30)
DECIDED_LATE = Histogram(
    "commandpost_escalation_decided_seconds",
    "Due time of an escalation step to its decision (messages queued)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300),
)
FAILED = Counter("commandpost_escalation_failures_total", "Escalation rows whose decision raised")


class _Budgeted:
    """A processor that claims up to ``batch`` due rows and decides for at most ``budget`` seconds
    (by default :data:`BUDGET_SECONDS`, or :data:`SQLITE_BUDGET_SECONDS` when the session is SQLite's)."""

    def __init__(
        self, settings: Settings | None = None, *, batch: int = BATCH, budget: float | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.batch = batch
        self.budget = budget

    def deadline(self, session: Session) -> float:
        """When this pass stops deciding (``time.monotonic()``)."""
        budget = self.budget
        if budget is None:
            sqlite = session.get_bind().dialect.name == "sqlite"
            budget = SQLITE_BUDGET_SECONDS if sqlite else BUDGET_SECONDS
        return time.monotonic() + budget


class EscalationsDue(_Budgeted):
    name = "paging.escalations"
    FIRST_DUE = select(func.min(Escalation.next_escalation_at))
    """Built once: the engine asks every pass, twice (``has_work``, ``next_due``), and building it
    (and its cache key) cost more than running it."""

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(self.next_due(session, now), now)

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
        decider = Decider.of(session, base_url=self.settings.base_url(), now=now)
        dues = [(esc, incident, esc.next_escalation_at or now) for esc, incident in claimed]
        deadline = self.deadline(session)
        done: list[tuple[Escalation, Incident, datetime]] = []
        work = 0
        try:
            with session.begin_nested():  # the fast path: the whole batch in one savepoint
                for row in dues:
                    work += decision.process(session, decider, row[0], row[1])
                    done.append(row)
                    if time.monotonic() > deadline:
                        break  # commit what is decided; the rest is due at once, next pass
        except Exception:
            log.warning("an escalation failed in a batch of %d; deciding them one by one", len(dues))
            session.expire_all()
            done, work = self._one_by_one(session, decider, dues, now, at_least=len(done) + 1)
        for _esc, _incident, due in done:
            DECIDED_LATE.observe(max(0.0, (now - due).total_seconds()))
        return work

    def _one_by_one(
        self,
        session: Session,
        decider: Decider,
        dues: list[tuple[Escalation, Incident, datetime]],
        now: datetime,
        *,
        at_least: int,
    ) -> tuple[list[tuple[Escalation, Incident, datetime]], int]:
        """The slow path: a savepoint per row (at least through the row that failed, then within the
        budget); a row that fails is pushed back by RETRY_AFTER. Returns the rows reached and the work."""
        deadline = self.deadline(session)
        work = 0
        reached = 0
        for esc, incident, due in dues:
            if reached >= at_least and time.monotonic() > deadline:
                break
            reached += 1
            try:
                with session.begin_nested():
                    work += decision.process(session, decider, esc, incident)
            except Exception:
                FAILED.inc()
                session.expire_all()
                log.exception(
                    "escalation of incident id %s failed; retrying in %s", esc.incident_id, RETRY_AFTER
                )
                session.execute(
                    update(Escalation)
                    .where(Escalation.id == esc.id, Escalation.next_escalation_at == due)
                    .values(next_escalation_at=now + RETRY_AFTER)
                    .execution_options(synchronize_session=False)
                )
        return dues[:reached], work

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        due: datetime | None = session.scalar(self.FIRST_DUE)
        return due


class AlertChannelNotices(_Budgeted):
    """Alerts whose ``notify_after`` has come (SEV3: now within business hours, else the opening):
    tell the route's ``notify`` targets once, or nobody if the alert was resolved meanwhile.

    Claims up to ``batch`` due alerts (``FOR UPDATE SKIP LOCKED``: replicas take disjoint rows),
    plans them (:func:`~commandpost.paging.alert_fyi.plan`: a storm of one service becomes a digest)
    and decides for at most ``budget`` seconds, a savepoint per alert or digest; the rest stay due
    and the runner starts the next pass at once, so a morning's backlog never holds a page's pass
    for long. Alerts whose decision raises are pushed back by :data:`RETRY_AFTER` and logged."""

    name = "paging.alert_notices"
    COLUMNS = (
        Alert.id,
        Alert.service,
        Alert.source,
        Alert.dedup_key,
        Alert.status,
        Alert.severity,
        Alert.alertname,
        Alert.summary,
        Alert.origin,
        Alert.runbook,
        Alert.count,
        Alert.first_seen_at,
        Alert.notify_after,
    )

    FIRST_DUE = select(func.min(Alert.notify_after)).where(Alert.notify_after.is_not(None))
    """Built once, like :attr:`EscalationsDue.FIRST_DUE`; the IS NOT NULL lets both databases answer
    from the partial index."""

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(self.next_due(session, now), now)

    def run(self, session: Session, now: datetime) -> int:
        due = session.scalars(
            select(Alert)
            .options(load_only(*self.COLUMNS))
            .where(Alert.notify_after <= now)
            .order_by(Alert.notify_after, Alert.id)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        if not due:
            return 0
        decider = Decider.of(session, base_url=self.settings.base_url(), now=now)
        deadline = self.deadline(session)
        work = 0
        for unit in alert_fyi.plan(decider, due):
            whens = [(alert.id, alert.notify_after) for alert in unit]
            try:
                with session.begin_nested():
                    work += len(unit) + alert_fyi.decide(session, decider, unit)
            except Exception:
                session.expire_all()
                ids = ", ".join(str(alert_id) for alert_id, _when in whens)
                log.exception("telling the channel of alert %s failed; retrying in %s", ids, RETRY_AFTER)
                for alert_id, when in whens:
                    session.execute(
                        update(Alert)
                        .where(Alert.id == alert_id, Alert.notify_after == when)
                        .values(notify_after=now + RETRY_AFTER)
                        .execution_options(synchronize_session=False)
                    )
            if time.monotonic() > deadline:
                break  # commit what is decided; the rest is due at once, next pass
        return work

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        due: datetime | None = session.scalar(self.FIRST_DUE)
        return due
