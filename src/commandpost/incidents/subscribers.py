"""Email subscriptions to the status page (issue 18), double opt-in, through the outbox's SMTP channel.

Subscribing stores the address alone and queues a confirmation email; only a confirmed address
receives each published update and each maintenance notice. The links (confirm, unsubscribe) are
signed, single-purpose and expiring (``security.links.SubscriptionSigner``), made by the sender at
send time and never stored. Nothing here tells the caller whether an address was already
subscribed: every well-formed request answers the same. An address never confirmed is forgotten
after :data:`UNCONFIRMED_TTL`. Addresses are never logged; the outbox keeps them as destinations.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from commandpost.errors import ValidationFailed
from commandpost.incidents.models import StatusSubscriber
from commandpost.notify import service as notify
from commandpost.security.links import CONFIRM_TTL

UNCONFIRMED_TTL = CONFIRM_TTL
MAX_ADDRESS = 254
"""RFC 5321's path limit."""
KIND = "status_subscription"
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
"""A plain ASCII address (what the SMTP channel sends to): no display name, no quoted or IP literals."""


def address(value: str | None) -> str:
    """The address as stored (domain in lower case), or 422 saying what is wrong without echoing it."""
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValidationFailed("enter an email address", details={"field": "email"})
    if len(cleaned) > MAX_ADDRESS or not _ADDRESS.fullmatch(cleaned):
        raise ValidationFailed(
            "that is not an email address this page can send to (name@example.com)",
            details={"field": "email"},
        )
    local, _, domain = cleaned.rpartition("@")
    return f"{local}@{domain.lower()}"


def subscribe(session: Session, *, email: str, now: datetime) -> None:
    """Queue a confirmation for a new or unconfirmed address; a confirmed one is left as it is."""
    wanted = address(email)
    session.execute(
        delete(StatusSubscriber).where(
            StatusSubscriber.confirmed_at.is_(None), StatusSubscriber.created_at < now - UNCONFIRMED_TTL
        )
    )
    found = session.scalars(
        select(StatusSubscriber).where(StatusSubscriber.address == wanted).with_for_update()
    ).first()
    if found is not None and found.confirmed_at is not None:
        return
    if found is None:
        found = StatusSubscriber(address=wanted, created_at=now)
        session.add(found)
        session.flush()
    else:
        found.created_at = now  # a fresh request restarts the day it has to confirm
    _send(
        session,
        found,
        key=f"status-subscribe:{found.id}:{int(now.timestamp() * 1000)}",
        subject="Confirm your subscription to status updates",
        body=(
            "Someone — we hope you — asked to receive this status page's updates by email.\n"
            "Follow the Confirm link above within 24 hours to start; if it was not you, ignore this "
            "email and nothing more will be sent."
        ),
        now=now,
        confirm=True,
    )


def confirm(session: Session, *, subscriber_id: int, now: datetime) -> bool:
    """Confirm (idempotent); False when the subscriber is gone (unsubscribed, or forgotten)."""
    found = session.get(StatusSubscriber, subscriber_id, with_for_update=True)
    if found is None:
        return False
    if found.confirmed_at is None:
        found.confirmed_at = now
    return True


def unsubscribe(session: Session, *, subscriber_id: int) -> None:
    """Forget the address (idempotent: a second click finds nothing and says the same)."""
    session.execute(delete(StatusSubscriber).where(StatusSubscriber.id == subscriber_id))


def announce(session: Session, *, key: str, subject: str, body: str, now: datetime) -> int:
    """Queue ``subject``/``body`` to every confirmed subscriber, each with its unsubscribe link; returns
    how many. ``key`` names the announcement (an update, a window): queued once per subscriber."""
    confirmed = session.scalars(
        select(StatusSubscriber)
        .where(StatusSubscriber.confirmed_at.is_not(None))
        .order_by(StatusSubscriber.id)
    ).all()
    for subscriber in confirmed:
        _send(
            session,
            subscriber,
            key=f"{key}:{subscriber.id}",
            subject=subject,
            body=body,
            now=now,
            confirm=False,
        )
    return len(confirmed)


def _send(
    session: Session,
    subscriber: StatusSubscriber,
    *,
    key: str,
    subject: str,
    body: str,
    now: datetime,
    confirm: bool,
) -> None:
    notify.enqueue(
        session,
        key=key,
        channel="email",
        destination=subscriber.address,
        subject=subject,
        body=body,
        severity=None,
        incident_id=None,
        person=None,
        payload={"kind": KIND, "subscriber": subscriber.id, "confirm": confirm},
        now=now,
    )
