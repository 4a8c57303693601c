"""An incident's escalation row: read it, change it only if it is still what was read, stop it, and
say so on the timeline.

Every change is a conditional UPDATE on the (chain, level, repeat, state) the row was read with,
made *before* anything is enqueued, so a decision is taken once even if two deciders race.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from commandpost.errors import Conflict
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import service as incident_service
from commandpost.incidents.models import Incident
from commandpost.paging.models import Escalation
from commandpost.paging.rules import ACKNOWLEDGED

AUTHOR = incident_rules.SYSTEM_AUTHOR


def find(session: Session, incident: Incident, *, lock: bool) -> Escalation | None:
    """The incident's row, if its chain ever started (``lock``: FOR UPDATE, read afresh)."""
    query = select(Escalation).where(Escalation.incident_id == incident.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def move(session: Session, esc: Escalation, now: datetime, **values: Any) -> bool:
    """UPDATE the row only if it is still what we read; mirror the change on the object."""
    values["updated_at"] = now
    result = session.execute(
        update(Escalation)
        .where(
            Escalation.id == esc.id,
            Escalation.chain == esc.chain,
            Escalation.level == esc.level,
            Escalation.repeat == esc.repeat,
            Escalation.state == esc.state,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        set_committed_value(esc, name, value)
    return True


def record(session: Session, incident: Incident, text: str, now: datetime, data: dict[str, Any]) -> None:
    """A ``page`` entry on the timeline; a closed incident is read-only, so it gets none."""
    with contextlib.suppress(Conflict):
        incident_service.record(
            session, incident=incident, kind="page", text=text, author=AUTHOR, now=now, data=data
        )


def stop(
    session: Session,
    esc: Escalation,
    incident: Incident,
    *,
    state: str,
    reason: str,
    now: datetime,
    note: bool,
) -> bool:
    """End the chain (resolved / stopped / acknowledged): nothing more fires by itself."""
    values: dict[str, Any] = {"state": state, "next_escalation_at": None, "stop_reason": reason[:300]}
    values["stopped_at"] = now if state != ACKNOWLEDGED else None
    if state == ACKNOWLEDGED:
        values["acknowledged_at"] = incident.acknowledged_at or now
    if not move(session, esc, now, **values):
        return False
    if note:
        record(session, incident, reason, now, {"escalation": state, "chain": esc.chain})
    return True
