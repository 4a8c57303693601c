"""When an action item is overdue and when its owner is reminded, by the day in the org's timezone
(no clock: callers pass ``now``)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

REMIND_BEFORE = timedelta(days=2)
REMIND_AT = time(9, 0)
Kind = Literal["before", "after"]


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def is_overdue(due: date, now: datetime, timezone: str) -> bool:
    """Overdue once the due day is over in the org's timezone."""
    return local_today(now, timezone) > due


def reminder_times(due: date, timezone: str) -> dict[Kind, datetime]:
    """09:00 org time two days before the due day, and 09:00 the morning after it."""
    zone = ZoneInfo(timezone)
    before = datetime.combine(due - REMIND_BEFORE, REMIND_AT, tzinfo=zone)
    after = datetime.combine(due + timedelta(days=1), REMIND_AT, tzinfo=zone)
    return {"before": before, "after": after}


def due_reminder(
    due: date, now: datetime, timezone: str, *, before_sent_for: date | None, after_sent_for: date | None
) -> Kind | None:
    """The reminder owed at ``now`` (one of each kind per due date; past due, only the "after" one)."""
    times = reminder_times(due, timezone)
    if now >= times["after"]:
        return None if after_sent_for == due else "after"
    if now >= times["before"]:
        return None if before_sent_for == due else "before"
    return None


def next_reminder_at(
    due: date, timezone: str, *, before_sent_for: date | None, after_sent_for: date | None
) -> datetime | None:
    times = reminder_times(due, timezone)
    if before_sent_for != due:
        return times["before"]
    if after_sent_for != due:
        return times["after"]
    return None
