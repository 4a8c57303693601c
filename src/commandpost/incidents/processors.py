"""The incidents domain's engine processors: handover offers that expire, comms updates that are overdue.

Both compare stored ``*_at`` columns with ``now`` and write timeline entries through
conditional updates, so a test moves a FrozenClock and runs one pass, and a second replica
(or a second pass at the same instant) writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from commandpost.engine.processor import is_due
from commandpost.incidents import comms, roles


class HandoverExpiry:
    """An unanswered role offer expires at ``expires_at``; the role stays with its holder."""

    name = "incidents.handover_expiry"

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(roles.next_expiry(session), now)

    def run(self, session: Session, now: datetime) -> int:
        return roles.expire_due(session, now=now)

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return roles.next_expiry(session)


class CommsReminders:
    """One overdue-comms reminder per incident and overdue period, on the timeline (later: to Comms)."""

    name = "incidents.comms_reminders"

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(comms.next_reminder(session), now)

    def run(self, session: Session, now: datetime) -> int:
        return comms.remind_due(session, now=now)

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return comms.next_reminder(session)
