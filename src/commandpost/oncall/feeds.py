"""iCal feed tokens: a per-feed secret in the URL, because calendar apps cannot send headers.

A feed token opens one read-only calendar and nothing else: it lives in its own table, is not
an API token, and only its SHA-256 is stored. Rotating replaces it; the old URL stops working.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.errors import NotFound, ValidationFailed
from commandpost.oncall import ical
from commandpost.oncall import service as oncall_service
from commandpost.oncall.models import IcalFeed
from commandpost.oncall.rules import Shift
from commandpost.policy.opsfiles import OpsConfig

FEED_PREFIX = "cpf_"
WINDOW_BACK = timedelta(days=30)
WINDOW_AHEAD = timedelta(days=90)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return FEED_PREFIX + secrets.token_urlsafe(32)


def url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/ical/{token}.ics"


def create_feed(
    session: Session,
    *,
    config: OpsConfig,
    schedule: str | None,
    person: str | None,
    actor: str,
    now: datetime,
) -> tuple[IcalFeed, str]:
    """A feed of one schedule's or one person's shifts; returns the row and the token (shown once)."""
    if bool(schedule) == bool(person):
        raise ValidationFailed("a feed is of exactly one of: schedule, person")
    if schedule:
        if config.schedule(schedule) is None:
            known = ", ".join(s.name for s in config.schedules) or "none"
            raise ValidationFailed(f"unknown schedule '{schedule}' (schedules: {known})")
        kind, target = "schedule", schedule
    else:
        target = (person or "").lstrip("@")
        if config.person(target) is None:
            known = ", ".join(p.handle for p in config.people)
            raise ValidationFailed(f"unknown person '{target}' (people: {known})")
        kind = "person"
    token = _new_token()
    row = IcalFeed(
        kind=kind,
        target=target,
        token_hash=_hash(token),
        prefix=token[: len(FEED_PREFIX) + 6],
        created_by=actor,
        created_at=now,
        rotated_at=None,
    )
    session.add(row)
    session.flush()
    return row, token


def _get(session: Session, feed_id: int) -> IcalFeed:
    row = session.get(IcalFeed, feed_id)
    if row is None:
        raise NotFound(f"no iCal feed with id {feed_id}")
    return row


def rotate_feed(session: Session, *, feed_id: int, now: datetime) -> tuple[IcalFeed, str]:
    """A new secret for the feed; the old URL stops working at once."""
    row = _get(session, feed_id)
    token = _new_token()
    row.token_hash, row.prefix, row.rotated_at = _hash(token), token[: len(FEED_PREFIX) + 6], now
    session.flush()
    return row, token


def delete_feed(session: Session, *, feed_id: int) -> IcalFeed:
    row = _get(session, feed_id)
    session.delete(row)
    session.flush()
    return row


def list_feeds(session: Session) -> list[IcalFeed]:
    return list(session.scalars(select(IcalFeed).order_by(IcalFeed.id)))


def feed_by_token(session: Session, *, token: str) -> IcalFeed | None:
    return session.scalars(select(IcalFeed).where(IcalFeed.token_hash == _hash(token))).first()


def _beneath_a_stack(config: OpsConfig, shift: Shift) -> bool:
    schedule = config.schedule(shift.schedule)
    return schedule is not None and shift.layer in schedule.in_stacks()


def calendar(session: Session, *, config: OpsConfig, feed: IcalFeed, now: datetime) -> bytes:
    """The feed's shifts from 30 days back to 90 days ahead, as iCalendar bytes.

    A person's feed leaves out the layers a stack stacks: their time there shows in the stack's
    events, which say which layer it came from, and only where no higher layer covers it."""
    start, end = now - WINDOW_BACK, now + WINDOW_AHEAD
    if feed.kind == "schedule":
        shifts = oncall_service.schedule_shifts(
            session, config=config, schedule=feed.target, start=start, end=end
        )
        name = f"On call: {feed.target}"
    else:
        if config.person(feed.target) is None:
            raise NotFound(f"this feed's person '{feed.target}' is no longer in people.yaml")
        shifts = [
            shift
            for shift in oncall_service.person_shifts(
                session, config=config, person=feed.target, start=start, end=end
            )
            if not _beneath_a_stack(config, shift)
        ]
        name = f"On call: @{feed.target}"
    return ical.render(shifts, name=name, config=config, now=now, with_person=feed.kind == "schedule")
