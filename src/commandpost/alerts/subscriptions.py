"""SNS subscriptions awaiting an operator: kept, listed to admins, confirmed on request.

With ``sns_auto_confirm`` off, a verified SubscriptionConfirmation is recorded and nothing else
happens until an operator confirms it; and every stored copy of the delivery has the SubscribeURL's
Token redacted. So the intake keeps each (un)subscription confirmation here as well
(:func:`record`, in the intake's transaction), with the URL whole, and:

- :func:`list_subscriptions` — the pending ones (``include_all``: every state), for admins only;
- :func:`confirmable` → :func:`perform` → :func:`mark_confirmed` — confirming, in three steps so the
  adapter holds no database transaction (on SQLite: no write lock) while AWS answers the GET.
  :func:`perform` goes through :func:`commandpost.alerts.sources.sns_confirm.confirm_subscription`, the
  auto-confirm path's own function: https, ``sns.<region>.amazonaws.com[.cn]``, no port or user
  info, ``Action=ConfirmSubscription``, no redirects — checked again on the stored URL.

The token is shown to admins and to nobody else: no log line, error message, audit row or
timeline entry quotes it (messages use :func:`commandpost.alerts.sources.sns_verify.shown`). A confirmed
or superseded row forgets its URL. AWS keeps a confirmation token valid for three days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from commandpost.alerts.models import SnsSubscription
from commandpost.alerts.normalized import Subscription
from commandpost.alerts.sources import sns_confirm
from commandpost.db.upsert import insert_for
from commandpost.errors import Conflict, NotFound, Unavailable

__all__ = [
    "CONFIRMABLE",
    "TOKEN_VALID_FOR",
    "Confirmable",
    "SnsSubscription",
    "confirmable",
    "get",
    "list_subscriptions",
    "mark_confirmed",
    "perform",
    "record",
]

TOKEN_VALID_FOR = timedelta(days=3)
"""How long AWS accepts a confirmation token (its SubscribeURL) after sending it."""
CONFIRMABLE = frozenset({"pending", "unsubscribed"})
"""States whose SubscribeURL an admin may visit: confirm a new subscription, or subscribe again."""
MAX_ARN = 500

_table = cast(Table, SnsSubscription.__table__)


@dataclass(frozen=True)
class Confirmable:
    """What confirming one subscription needs, read before any request leaves."""

    id: int
    topic_arn: str
    subscribe_url: str
    received_at: datetime


def expires_at(row: SnsSubscription) -> datetime:
    return row.received_at + TOKEN_VALID_FOR


def record(
    session: Session,
    *,
    integration_id: int,
    integration: str,
    service: str,
    subscription: Subscription,
    now: datetime,
) -> None:
    """Keep one (un)subscription confirmation; a redelivery of the same MessageId changes nothing."""
    confirmed = subscription.state == "confirmed"
    values: dict[str, Any] = {
        "integration_id": integration_id,
        "integration": integration,
        "service": service,
        "topic_arn": subscription.topic_arn[:400],
        "message_id": subscription.message_id[:255],
        "state": subscription.state,
        "subscribe_url": None if confirmed else subscription.subscribe_url,
        "subscription_arn": (subscription.subscription_arn or "")[:MAX_ARN] or None,
        "received_at": now,
        "confirmed_at": now if confirmed else None,
        "confirmed_by": "auto" if confirmed else None,
    }
    inserted = session.execute(
        insert_for(session, _table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["integration_id", "message_id"])
        .returning(_table.c.id)
    ).first()
    if inserted is not None and confirmed:
        _supersede(session, integration_id, subscription.topic_arn, but=int(inserted[0]))


def list_subscriptions(
    session: Session, *, include_all: bool = False, limit: int = 200
) -> list[SnsSubscription]:
    """Newest first: those awaiting confirmation, or (``include_all``) every state."""
    query = select(SnsSubscription)
    if not include_all:
        query = query.where(SnsSubscription.state == "pending")
    return list(session.scalars(query.order_by(SnsSubscription.id.desc()).limit(limit)))


def get(session: Session, *, subscription_id: int) -> SnsSubscription:
    row = session.get(SnsSubscription, subscription_id)
    if row is None:
        raise NotFound(
            f"no SNS subscription {subscription_id} "
            "(commandpost integrations subscriptions --all lists them)",
            details={"subscription": subscription_id},
        )
    return row


def confirmable(session: Session, *, subscription_id: int) -> Confirmable:
    """The subscription's SubscribeURL, if it still waits for one; Conflict when it does not."""
    row = get(session, subscription_id=subscription_id)
    if row.state not in CONFIRMABLE or row.subscribe_url is None:
        if row.state == "confirmed":
            by = f" by {row.confirmed_by}" if row.confirmed_by else ""
            at = f" at {row.confirmed_at.isoformat()}" if row.confirmed_at else ""
            raise Conflict(f"SNS subscription {row.id} to {row.topic_arn} is already confirmed{at}{by}")
        raise Conflict(
            f"SNS subscription {row.id} to {row.topic_arn} is {row.state}: a later confirmation of the "
            "topic replaced it"
        )
    return Confirmable(row.id, row.topic_arn, row.subscribe_url, row.received_at)


def perform(target: Confirmable, *, now: datetime) -> str | None:
    """GET the SubscribeURL (the auto-confirm path's checks and client); AWS's SubscriptionArn.

    Outside any transaction. Raises Forbidden for a URL the host rules refuse (nothing is
    requested) and Unavailable when AWS cannot be reached or refuses — then the row stays as it
    was, to try again.
    """
    try:
        return sns_confirm.confirm_subscription(target.subscribe_url, http=None)
    except Unavailable as exc:
        if now <= target.received_at + TOKEN_VALID_FOR:
            raise
        raise Unavailable(
            f"{exc.message} — its token was valid for {TOKEN_VALID_FOR.days} days, until "
            f"{(target.received_at + TOKEN_VALID_FOR).isoformat()}: have AWS send a new confirmation "
            f"(aws sns subscribe --topic-arn {target.topic_arn} --protocol https --notification-endpoint "
            "<the integration's intake URL>)",
            retry_after=exc.retry_after,
        ) from None


def mark_confirmed(
    session: Session, *, subscription_id: int, subscription_arn: str | None, actor: str, now: datetime
) -> SnsSubscription:
    """Record the confirmation (conditional: a concurrent confirm wins once) and forget the URL."""
    done = session.execute(
        update(_table)
        .where(_table.c.id == subscription_id, _table.c.state.in_(sorted(CONFIRMABLE)))
        .values(
            state="confirmed",
            subscribe_url=None,
            subscription_arn=(subscription_arn or "")[:MAX_ARN] or None,
            confirmed_at=now,
            confirmed_by=actor[:100],
        )
        .returning(_table.c.integration_id, _table.c.topic_arn)
    ).first()
    if done is None:
        confirmable(session, subscription_id=subscription_id)  # raises what it is now (NotFound, Conflict)
        raise Conflict(f"SNS subscription {subscription_id} changed while it was being confirmed")
    _supersede(session, int(done[0]), str(done[1]), but=subscription_id)
    row = get(session, subscription_id=subscription_id)
    session.refresh(row)
    return row


def _supersede(session: Session, integration_id: int, topic_arn: str, *, but: int) -> None:
    """Older confirmations of a topic now confirmed are not to be visited: forget their URLs."""
    session.execute(
        update(_table)
        .where(
            _table.c.integration_id == integration_id,
            _table.c.topic_arn == topic_arn,
            _table.c.id != but,
            _table.c.state.in_(sorted(CONFIRMABLE)),
        )
        .values(state="superseded", subscribe_url=None)
    )
