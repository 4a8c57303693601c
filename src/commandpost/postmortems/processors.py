"""The postmortems domain's engine processors.

- :class:`Criteria` evaluates the criteria when an incident resolves and again whenever its live
  document moves on (``incident.updated_at`` past the postmortem's ``evaluated_for``), drafting the
  postmortem when one is required. The incidents domain has no "resolved" hook, and polling the
  stored columns also catches a flag set days after resolution.
- :class:`ActionItemReminders` queues reminders to owners two days before the due day and the
  morning after it, through notifications (one message per item, kind, due day and channel).
- :class:`TicketSync` reads the state of action items' tickets in the team's tracker.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from commandpost.engine.processor import is_due
from commandpost.errors import Unavailable
from commandpost.postmortems import actions, service, tickets, trackers


class Criteria:
    name = "postmortems.criteria"
    PENDING = select(exists(service.pending_evaluation()))
    """Built once: the engine asks every pass, and building it cost as much as running it."""

    def has_work(self, session: Session, now: datetime) -> bool:
        return bool(session.scalar(self.PENDING))

    def run(self, session: Session, now: datetime) -> int:
        try:
            return service.evaluate_due(session, now=now)
        except Unavailable:  # no ops revision applied yet: nothing to judge by
            return 0

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return None  # polled each pass (at most engine_max_sleep_seconds apart)


class ActionItemReminders:
    name = "postmortems.action_item_reminders"

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(actions.next_reminder(session), now)

    def run(self, session: Session, now: datetime) -> int:
        return actions.remind_due(session, now=now)

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return actions.next_reminder(session)


class TicketSync:
    """Reads the state of action items' tickets in the team's tracker, a batch of due ones a pass
    (:func:`tickets.sync_due`): done there becomes done here even where no webhook is set up."""

    name = "postmortems.ticket_sync"

    def __init__(self, client: trackers.Trackers, *, every: timedelta) -> None:
        self.client = client
        self.every = every

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(tickets.next_sync(session), now)

    def run(self, session: Session, now: datetime) -> int:
        return tickets.sync_due(session, client=self.client, now=now, every=self.every)

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return tickets.next_sync(session)
