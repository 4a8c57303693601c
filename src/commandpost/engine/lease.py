"""A row lease: ``acquire`` succeeds for the current holder or when the lease has expired.

Conditional UPDATE first (no read-then-write race), INSERT when the row does not
exist yet; a concurrent INSERT loses on the primary key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commandpost.engine.models import EngineLease


def acquire(session: Session, *, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
    result = session.execute(
        update(EngineLease)
        .where(EngineLease.name == name, or_(EngineLease.owner == owner, EngineLease.expires_at < now))
        .values(owner=owner, expires_at=now + ttl)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(EngineLease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(EngineLease(name=name, owner=owner, expires_at=now + ttl))
    except IntegrityError:
        return False
    return True


def release(session: Session, *, name: str, owner: str) -> None:
    session.execute(
        update(EngineLease)
        .where(EngineLease.name == name, EngineLease.owner == owner)
        .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
    )
