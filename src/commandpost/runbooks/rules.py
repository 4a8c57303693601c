"""Pure runbook rules: staleness, the first move, step states, who may mark a step. No I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commandpost.errors import ValidationFailed
from commandpost.runbooks.document import MITIGATE, FirstMove, Runbook, SnapshotView, Step

STEP_STATES: tuple[str, ...] = ("done", "skipped", "failed")


def local_today(now: datetime, timezone: str) -> date:
    """Today in the org's timezone: a runbook dated "today" in Tokyo is not from the future in UTC."""
    return now.astimezone(ZoneInfo(timezone)).date()


def as_date(value: Any) -> date | None:
    """A front-matter ``last_updated`` as a date (YAML gives a date; a quoted ISO string is accepted)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Staleness:
    last_updated: date
    age_days: int
    max_age_days: int
    stale: bool
    stale_from: date

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_updated": self.last_updated.isoformat(),
            "age_days": self.age_days,
            "max_age_days": self.max_age_days,
            "stale": self.stale,
            "stale_from": self.stale_from.isoformat(),
        }


def staleness(last_updated: date, today: date, max_age: timedelta) -> Staleness:
    """Stale once ``today - last_updated`` exceeds ``runbook_max_age`` (guide §3: runbooks are perishable)."""
    age = (today - last_updated).days
    max_days = max_age.days
    return Staleness(
        last_updated=last_updated,
        age_days=age,
        max_age_days=max_days,
        stale=age > max_days,
        stale_from=last_updated + timedelta(days=max_days + 1),
    )


def first_move(runbook: Runbook | SnapshotView) -> FirstMove | None:
    """The step every page carries (guide §4): the Mitigate step labelled "First move", else its first step.

    Warning steps are never a first move. None when Mitigate has no steps.
    """
    moves = [
        FirstMove(step_id=s.id, text=s.text, command=s.command)
        for s in runbook.steps
        if s.section == MITIGATE and not s.warning
    ]
    return next((m for m in moves if m.named), moves[0] if moves else None)


def normalize_state(value: str) -> str:
    state = str(value).strip().lower()
    if state not in STEP_STATES:
        raise ValidationFailed(
            f"unknown step state {value!r}; valid: {', '.join(STEP_STATES)}",
            details={"field": "state", "value": value, "valid": list(STEP_STATES)},
        )
    return state


def resolve_step(steps: list[Step], wanted: str) -> Step | None:
    """A step by its full id (``3.2-a1b2c3``) or by ``section.position`` (``3.2``) when unambiguous."""
    text = wanted.strip()
    exact = next((s for s in steps if s.id == text), None)
    if exact is not None:
        return exact
    short = [s for s in steps if s.id.split("-", 1)[0] == text]
    return short[0] if len(short) == 1 else None


def needs_ops(step: Step) -> bool:
    """Mitigate steps change the system: only the Ops holder (or the IC holding Ops) marks them."""
    return step.section == MITIGATE
