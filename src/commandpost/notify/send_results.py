"""The sender's records: every attempt and its consequence, interrupted sends, claims handed back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter as MetricCounter
from sqlalchemy import bindparam, case, insert, select, tuple_, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Update
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from commandpost.db.engine import transaction
from commandpost.db.upsert import insert_for
from commandpost.notify.channels import Outbound
from commandpost.notify.models import ATTEMPTS, DEAD, DELIVERED, MESSAGES, PACES, PENDING, SENDING
from commandpost.notify.receipts import fall_through
from commandpost.notify.rules import Delivery, after_attempt, destination_hash, retry_delay
from commandpost.security.redact import redact_text
from commandpost.settings import Settings

log = logging.getLogger("commandpost.notify")

SENT = MetricCounter("commandpost_notify_attempts_total", "Notification attempts", ["channel", "outcome"])
ERROR_LIMIT = 1000
RECORD_TRIES = 5  # with SQLite's 5 s busy timeout: ~25 s of a locked database, inside the 30 s claim


@dataclass(frozen=True, slots=True)
class Result:
    message: Outbound
    delivery: Delivery
    started_at: datetime
    seconds: float

    @property
    def finished_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.seconds)


def attempt_limit(row: Any, settings: Settings) -> int:
    """A message's own attempt limit, else the server's."""
    return int(row.attempt_limit or settings.notify_max_attempts)


def recover(session: Session, now: datetime, *, owner: str, settings: Settings) -> int:
    """Messages whose claim expired (their sender died mid-send): back to ``pending``, or a dead letter
    when their attempts are used up, with an ``interrupted`` attempt recorded."""
    rows = session.execute(
        select(MESSAGES.c.id, MESSAGES.c.attempts, MESSAGES.c.attempt_limit, MESSAGES.c.claimed_by)
        .where(MESSAGES.c.status == SENDING, MESSAGES.c.next_attempt_at <= now)
        .order_by(MESSAGES.c.next_attempt_at)
        .limit(settings.notify_batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    attempts, updates = [], []
    for row in rows:
        dead = row.attempts >= attempt_limit(row, settings)
        error = f"sender {row.claimed_by} stopped during attempt {row.attempts} (its claim expired); " + (
            "attempts used up" if dead else "sending again: the receiver may see it twice"
        )
        attempts.append(
            {
                "message_id": row.id,
                "number": row.attempts,
                "at": now,
                "duration_ms": None,
                "status_code": None,
                "error": error,
                "outcome": "interrupted",
                "sender": owner,
            }
        )
        updates.append(
            {
                "b_id": row.id,
                "b_attempts": row.attempts,
                "b_status": DEAD if dead else PENDING,
                "b_error": error,
            }
        )
    session.execute(insert(ATTEMPTS), attempts)
    session.execute(_release_claimed(now), updates)
    log.warning("notify: took back %d message(s) whose sender stopped mid-send", len(rows))
    return len(rows)


@retry(
    retry=retry_if_exception_type(OperationalError),
    stop=stop_after_attempt(RECORD_TRIES),
    wait=wait_random_exponential(multiplier=0.1, max=2.0),
    reraise=True,
)
def record_durably(
    factory: sessionmaker[Session],
    results: list[Result],
    unstarted: list[Outbound],
    *,
    owner: str,
    settings: Settings,
    rand: Callable[[], float],
) -> None:
    """Record in a transaction of its own, retried while the database is busy (SQLite's write lock
    under load): these sends already happened, and a lost record means the claim expires and the
    receiver gets the message a second time."""
    if not results and not unstarted:
        return
    with transaction(factory) as session:
        _record(session, results, owner=owner, settings=settings, rand=rand)
        if unstarted:
            _release(session, unstarted)


def _record(
    session: Session, results: list[Result], *, owner: str, settings: Settings, rand: Callable[[], float]
) -> None:
    if not results:
        return
    attempts, updates, refs = [], [], []
    dead: list[tuple[Outbound, datetime]] = []
    delivered: list[tuple[int, int]] = []
    delivered_at: datetime | None = None
    paces: dict[str, datetime] = {}
    for result in results:
        message, delivery = result.message, result.delivery
        finished = result.finished_at
        outcome = after_attempt(delivery, message.attempt, message.attempt_limit)
        error = redact_text(delivery.error)[:ERROR_LIMIT] if delivery.error else None
        SENT.labels(message.channel, outcome).inc()
        if outcome == "dead":
            if delivery.outcome == "retry":
                error = f"{error} (gave up after {message.attempt} attempts)"
            log.warning("notify: message %d (%s) is a dead letter: %s", message.id, message.channel, error)
        attempts.append(
            {
                "message_id": message.id,
                "number": message.attempt,
                "at": result.started_at,
                "duration_ms": round(result.seconds * 1000),
                "status_code": delivery.status_code,
                "error": error,
                "outcome": outcome,
                "sender": owner,
            }
        )
        if delivery.provider_ref:
            refs.append({"b_id": message.id, "b_ref": delivery.provider_ref[:100]})
        if outcome == "delivered":
            delivered.append((message.id, message.attempt))
            delivered_at = max(delivered_at or finished, finished)
            continue
        if outcome == "dead":
            dead.append((message, result.started_at))
        next_at = finished
        if outcome == "retry":
            delay = retry_delay(
                delivery,
                message.attempt,
                base=settings.notify_backoff_base_seconds,
                cap=settings.notify_backoff_cap_seconds,
                rand=rand(),
            )
            next_at = finished + timedelta(seconds=delay)
        updates.append(
            {
                "b_id": message.id,
                "b_attempts": message.attempt,
                "b_status": PENDING if outcome == "retry" else DEAD,
                "b_next": next_at,
                "b_error": error,
            }
        )
        if delivery.retry_after is not None:
            h = destination_hash(message.destination)
            until = finished + timedelta(seconds=delivery.retry_after)
            paces[h] = max(paces.get(h, until), until)
    session.execute(insert(ATTEMPTS), attempts)
    if delivered:  # the common case, one statement for the batch (sent_at: when it was recorded)
        session.execute(
            update(MESSAGES)
            .where(tuple_(MESSAGES.c.id, MESSAGES.c.attempts).in_(delivered), MESSAGES.c.status == SENDING)
            .values(
                status=DELIVERED,
                sent_at=delivered_at,
                next_attempt_at=delivered_at,
                last_error=None,
                claimed_by=None,
            )
        )
    if updates:
        session.execute(_release_claimed(bindparam("b_next")), updates)
    if refs:
        session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == bindparam("b_id"))
            .values(provider_ref=bindparam("b_ref")),
            refs,
        )
    for message, at in dead:  # a page that cannot reach this way tries the person's next way now
        fall_through(session, incident_id=message.incident_id, person=message.person, key=message.key, now=at)
    for h, until in sorted(paces.items()):
        _hold_destination(session, h, until)


def _hold_destination(session: Session, h: str, until: datetime) -> None:
    """After a 429: nothing goes to this destination before ``until`` (from any replica)."""
    statement = insert_for(session, PACES).values(destination_hash=h, next_at=until)
    excluded = statement.excluded.next_at
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["destination_hash"],
            set_={"next_at": _later(PACES.c.next_at, excluded)},
        )
    )


def _release(session: Session, messages: list[Outbound]) -> None:
    """Claimed but never started (the pass ran out of time): back to pending, the attempt not counted."""
    session.execute(
        _still_claimed().values(
            status=PENDING,
            attempts=MESSAGES.c.attempts - 1,
            next_attempt_at=bindparam("b_next"),
            claimed_by=None,
        ),
        [{"b_id": m.id, "b_attempts": m.attempt, "b_next": m.due_at} for m in messages],
    )


def _later(a: Any, b: Any) -> Any:
    """The later of two timestamps, in SQL both databases speak."""
    return case((a > b, a), else_=b)


def _still_claimed() -> Update:
    """An UPDATE of the messages still claimed at the attempt their sender counted (``b_id``,
    ``b_attempts``): a message another pass took over meanwhile is left alone."""
    return update(MESSAGES).where(
        MESSAGES.c.id == bindparam("b_id"),
        MESSAGES.c.status == SENDING,
        MESSAGES.c.attempts == bindparam("b_attempts"),
    )


def _release_claimed(next_attempt_at: Any) -> Update:
    """Hand claimed messages back, each only if still at the attempt its sender counted (``b_id``,
    ``b_attempts``): ``b_status`` with ``b_error``, unclaimed, due at ``next_attempt_at``."""
    return _still_claimed().values(
        status=bindparam("b_status"),
        last_error=bindparam("b_error"),
        next_attempt_at=next_attempt_at,
        claimed_by=None,
    )
