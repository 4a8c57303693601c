"""The sender: the one engine processor that talks to the outside world.

One pass:

1. **Recover** messages whose claim expired (their sender died mid-send): back to ``pending``,
   with an ``interrupted`` attempt recorded.
2. **Claim** due messages — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas take disjoint
   rows; on SQLite the engine lease makes this the only sender — honouring per-destination pacing
   (Slack ~1/s per webhook URL; any destination after a 429's Retry-After). Claiming sets
   ``status='sending'``, counts the attempt and sets the claim's expiry, with a conditional UPDATE.
3. **Commit**, then send — never inside a transaction, concurrently on a bounded thread pool.
4. **Record** every attempt and its consequence (delivered; retry after backoff or Retry-After;
   dead letter) with UPDATEs conditional on the claim (``status='sending' AND attempts=n``).

Committing the claim before the network call is the at-least-once choice: a crash after the
far end received a message but before step 4 committed leaves a claim that expires, and the
message is sent again (the webhook carries ``Commandpost-Idempotency-Key``, email a stable
Message-ID, for receivers to fold the copy). The alternative, sending inside the claiming
transaction, loses pages (a crash after the send rolls back nothing useful) and holds locks
across network calls. So: zero missed; a duplicate only for a message in flight at a crash.

A pass waits at most ``notify_pass_wait_seconds`` for its sends; sends still running then finish
on their own and record their result in their own transaction, sends not yet started are handed
back. A slow sink therefore never holds up escalations or other sinks, and while a destination has
slow sends in flight only ``notify_per_destination_limit`` of them run at once.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter as MetricCounter
from prometheus_client import Histogram
from sqlalchemy import Engine, bindparam, case, insert, or_, select, tuple_, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from commandpost import public_url
from commandpost.db.engine import make_session_factory, transaction
from commandpost.db.upsert import insert_for
from commandpost.engine.processor import is_due
from commandpost.notify.channels import Channels, Outbound
from commandpost.notify.models import (
    ATTEMPTS,
    DEAD,
    DELIVERED,
    MESSAGES,
    PACES,
    PENDING,
    SENDING,
)
from commandpost.notify.receipts import fall_through
from commandpost.notify.rules import (
    BUSY_DEFER,
    Delivery,
    after_attempt,
    destination_hash,
    retry_delay,
    take_slot,
)
from commandpost.security import links
from commandpost.security.links import Links, LinkSigner, SubscriptionSigner
from commandpost.security.redact import redact_text
from commandpost.settings import Settings, get_settings

log = logging.getLogger("commandpost.notify")

SENT = MetricCounter("commandpost_notify_attempts_total", "Notification attempts", ["channel", "outcome"])
SEND_SECONDS = Histogram("commandpost_notify_send_seconds", "Duration of one send", ["channel"])
LATENESS = Histogram(
    "commandpost_notify_lateness_seconds",
    "First attempt's start minus the message's due time",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
ERROR_LIMIT = 1000
RECORD_TRIES = 5  # with SQLite's 5 s busy timeout: ~25 s of a locked database, inside the 30 s claim
CLAIMED_COLUMNS = (
    "id",
    "key",
    "channel",
    "destination",
    "subject",
    "body",
    "severity",
    "incident_id",
    "person",
    "payload",
    "attempts",
    "attempt_limit",
    "due_at",
)
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
ACTIONABLE = ("page", "test")
"""Kinds of message that carry one-tap ack/escalate links: a page, and a page-test."""
SUBSCRIPTION = "status_subscription"
"""An email to a status page subscriber: it carries its unsubscribe link (and the first, its confirm link)."""


@dataclass(frozen=True, slots=True)
class Result:
    message: Outbound
    delivery: Delivery
    started_at: datetime
    seconds: float

    @property
    def finished_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.seconds)


class _Pass:
    """One pass's claimed messages, queued per destination, and the results that came back in time."""

    def __init__(self, batch: list[Outbound], factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.queues: dict[str, deque[Outbound]] = {}
        for message in batch:
            self.queues.setdefault(destination_hash(message.destination), deque()).append(message)
        self.waiting = len(batch)
        self.results: list[Result] = []
        self.closed = False
        self.cond = threading.Condition()

    def take(self, h: str) -> Outbound | None:
        with self.cond:
            queue = self.queues[h]
            return queue.popleft() if queue and not self.closed else None

    def deliver(self, result: Result) -> bool:
        """Hand a result to the pass; False when the pass has already closed."""
        with self.cond:
            if self.closed:
                return False
            self.results.append(result)
            self.waiting -= 1
            self.cond.notify_all()
            return True

    def close(self, timeout: float) -> tuple[list[Outbound], list[Result]]:
        """Wait up to ``timeout`` for every result; then the messages never started, and the results."""
        with self.cond:
            self.cond.wait_for(lambda: self.waiting == 0, timeout=timeout)
            self.closed = True
            unstarted = [m for queue in self.queues.values() for m in queue]
            for queue in self.queues.values():
                queue.clear()
            return unstarted, list(self.results)


class NotificationSender:
    """The engine processor ``notify-sender``; see the module docstring for one pass."""

    name = "notify-sender"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        channels: Channels | None = None,
        owner: str | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings or get_settings()
        self._channels = channels
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.rand = rand
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Condition()
        self._sending: Counter[str] = Counter()  # destination hash -> sends running now
        self._factories: dict[int, sessionmaker[Session]] = {}
        self._links: Links | None = None

    @property
    def channels(self) -> Channels:
        if self._channels is None:
            self._channels = Channels(self.settings)
        return self._channels

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.settings.notify_concurrency, thread_name_prefix="notify-send"
            )
        return self._pool

    # ------------------------------------------------------------------ the processor interface

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(self.next_due(session, now), now)

    def run(self, session: Session, now: datetime) -> int:
        recovered = self._recover(session, now)
        self._links = None  # made at most once a pass, when a claimed page needs its links
        batch = self._claim(session, now)
        session.commit()  # claims are durable before any network call
        if not batch:
            return recovered
        current = _Pass(batch, self._factory(session.get_bind()))
        with self._lock:
            busy = dict(self._sending)
        cap = self.settings.notify_per_destination_limit
        for h, queue in current.queues.items():
            for _ in range(max(1, min(len(queue), cap - busy.get(h, 0)))):
                self.pool.submit(self._lane, current, h, now)
        unstarted, results = current.close(timeout=self.settings.notify_pass_wait_seconds)
        self._record_durably(current.factory, results, unstarted)
        return recovered + len(results)

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        """The earliest pending attempt or claim expiry (a claim that expires means a dead sender)."""
        dues = [
            session.scalar(
                select(MESSAGES.c.next_attempt_at)
                .where(MESSAGES.c.status == status)
                .order_by(MESSAGES.c.next_attempt_at)
                .limit(1)
            )
            for status in (PENDING, SENDING)
        ]
        found = [d for d in dues if d is not None]
        return min(found) if found else None

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until sends that outlived their pass have recorded their results (tests, shutdown)."""
        with self._lock:
            return self._lock.wait_for(
                lambda: not any(n > 0 for n in self._sending.values()), timeout=timeout
            )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._channels is not None:
            self._channels.close()

    # ------------------------------------------------------------------ claiming

    def _limit(self, row: Any) -> int:
        return int(row.attempt_limit or self.settings.notify_max_attempts)

    def _interval(self, channel: str) -> timedelta | None:
        seconds = self.settings.slack_min_interval_seconds if channel == "slack" else 0.0
        return timedelta(seconds=seconds) if seconds > 0 else None

    def _recover(self, session: Session, now: datetime) -> int:
        rows = session.execute(
            select(MESSAGES.c.id, MESSAGES.c.attempts, MESSAGES.c.attempt_limit, MESSAGES.c.claimed_by)
            .where(MESSAGES.c.status == SENDING, MESSAGES.c.next_attempt_at <= now)
            .order_by(MESSAGES.c.next_attempt_at)
            .limit(self.settings.notify_batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        attempts, updates = [], []
        for row in rows:
            dead = row.attempts >= self._limit(row)
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
                    "sender": self.owner,
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
        session.execute(
            update(MESSAGES)
            .where(
                MESSAGES.c.id == bindparam("b_id"),
                MESSAGES.c.status == SENDING,
                MESSAGES.c.attempts == bindparam("b_attempts"),
            )
            .values(
                status=bindparam("b_status"),
                last_error=bindparam("b_error"),
                next_attempt_at=now,
                claimed_by=None,
            ),
            updates,
        )
        log.warning("notify: took back %d message(s) whose sender stopped mid-send", len(rows))
        return len(rows)

    def _paces(
        self, session: Session, hashes: set[str], paced: set[str], now: datetime
    ) -> dict[str, datetime]:
        """Pacing rows of these destinations, locked (PostgreSQL) so replicas take turns on each."""
        if paced:
            statement = insert_for(session, PACES).on_conflict_do_nothing(index_elements=["destination_hash"])
            session.execute(statement, [{"destination_hash": h, "next_at": NEVER} for h in sorted(paced)])
        rows = session.execute(
            select(PACES.c.destination_hash, PACES.c.next_at)
            .where(PACES.c.destination_hash.in_(sorted(hashes)))
            .order_by(PACES.c.destination_hash)
            .with_for_update()
        ).all()
        return {row.destination_hash: row.next_at for row in rows}

    def _claim(self, session: Session, now: datetime) -> list[Outbound]:
        candidates = session.execute(
            select(MESSAGES.c.id, MESSAGES.c.channel, MESSAGES.c.destination)
            .where(MESSAGES.c.status == PENDING, MESSAGES.c.next_attempt_at <= now)
            .order_by(MESSAGES.c.next_attempt_at, MESSAGES.c.id)
            .limit(self.settings.notify_batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not candidates:
            return []
        hashes = {row.id: destination_hash(row.destination) for row in candidates}
        paced = {hashes[row.id] for row in candidates if self._interval(row.channel)}
        blocked = self._paces(session, set(hashes.values()), paced, now)
        with self._lock:
            busy = dict(self._sending)  # between passes: only sends that outlived their pass
        chosen: list[int] = []
        deferred: list[dict[str, Any]] = []
        taken: dict[str, datetime] = {}
        per_destination: Counter[str] = Counter()
        cap = self.settings.notify_per_destination_limit
        for row in candidates:
            h = hashes[row.id]
            free_at = taken.get(h, blocked.get(h))
            interval = self._interval(row.channel)
            if interval is not None:
                ok, next_free = take_slot(free_at, now, interval)
                if not ok:
                    deferred.append({"b_id": row.id, "b_next": next_free})
                    continue
                taken[h] = next_free
            elif free_at is not None and free_at > now:
                deferred.append({"b_id": row.id, "b_next": free_at})
                continue
            if busy.get(h) and busy[h] + per_destination[h] >= cap:
                deferred.append({"b_id": row.id, "b_next": now + BUSY_DEFER})
                continue
            per_destination[h] += 1
            chosen.append(row.id)
        if taken:
            session.execute(
                update(PACES)
                .where(PACES.c.destination_hash == bindparam("b_hash"))
                .values(next_at=bindparam("b_next")),
                [{"b_hash": h, "b_next": at} for h, at in sorted(taken.items())],
            )
        if deferred:
            session.execute(
                update(MESSAGES)
                .where(MESSAGES.c.id == bindparam("b_id"), MESSAGES.c.status == PENDING)
                .values(next_attempt_at=bindparam("b_next")),
                deferred,
            )
        if not chosen:
            return []
        late_cutoff = now - timedelta(seconds=self.settings.notify_late_after_seconds)
        claimed = session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id.in_(chosen), MESSAGES.c.status == PENDING)
            .values(
                status=SENDING,
                attempts=MESSAGES.c.attempts + 1,
                claimed_by=self.owner,
                next_attempt_at=now + timedelta(seconds=self.settings.notify_claim_seconds),
                late=or_(MESSAGES.c.late, MESSAGES.c.due_at < late_cutoff),
            )
            .returning(*(MESSAGES.c[name] for name in CLAIMED_COLUMNS))
        ).all()
        by_id = {row.id: row for row in claimed}
        return [self._outbound(session, by_id[i], now) for i in chosen if i in by_id]

    def _links_for(self, session: Session) -> Links:
        if self._links is None:
            self._links = Links(
                LinkSigner(links.key(session, self.settings)),
                public_url.base_url(session, self.settings),
                timedelta(seconds=self.settings.link_ttl_seconds),
            )
        return self._links

    def _outbound(self, session: Session, row: Any, now: datetime) -> Outbound:
        if row.attempts == 1:
            LATENESS.observe(max(0.0, (now - row.due_at).total_seconds()))
        payload = dict(row.payload or {})
        if payload.get("kind") in ACTIONABLE and row.person:
            # made at send time, never stored: the outbox holds no credential
            payload.update(
                self._links_for(session).for_message(
                    message_id=row.id, person=row.person, incident_id=row.incident_id, now=now
                )
            )
        elif payload.get("kind") == SUBSCRIPTION and isinstance(payload.get("subscriber"), int):
            signer = SubscriptionSigner(links.key(session, self.settings))
            payload.update(
                signer.links(
                    base_url=public_url.base_url(session, self.settings),
                    subscriber_id=payload["subscriber"],
                    now=now,
                    confirm=payload.get("confirm") is True,
                )
            )
        return Outbound(
            id=row.id,
            key=row.key,
            channel=row.channel,
            destination=row.destination,
            subject=row.subject,
            body=row.body,
            severity=row.severity,
            incident_id=row.incident_id,
            person=row.person,
            payload=payload,
            attempt=row.attempts,
            attempt_limit=self._limit(row),
            due_at=row.due_at,
        )

    # ------------------------------------------------------------------ sending

    def _attempt(self, message: Outbound, now: datetime) -> Result:
        started = time.monotonic()
        try:
            delivery = self.channels.send(message, now)
        except Exception as exc:  # a bug in a channel must not lose the message
            log.exception("notify: the %s channel raised on message %d", message.channel, message.id)
            delivery = Delivery(
                "retry", error=f"{type(exc).__name__} in the {message.channel} channel: {exc}"
            )
        seconds = time.monotonic() - started
        SEND_SECONDS.labels(message.channel).observe(seconds)
        return Result(message, delivery, now, seconds)

    def _factory(self, bind: Any) -> sessionmaker[Session]:
        engine: Engine = bind if isinstance(bind, Engine) else bind.engine
        factory = self._factories.get(id(engine))
        if factory is None:
            factory = self._factories[id(engine)] = make_session_factory(engine)
        return factory

    def _lane(self, current: _Pass, h: str, now: datetime) -> None:
        """Send one destination's messages in order (a destination gets a few lanes at most)."""
        while True:
            with self._lock:
                self._sending[h] += 1  # counted before taking, so drain() never misses a send
            try:
                message = current.take(h)
                if message is None:
                    return
                result = self._attempt(message, now)
                if not current.deliver(result):  # the pass has moved on: record the result here
                    try:
                        self._record_durably(current.factory, [result], [])
                    except Exception:  # the claim expires and a later pass sends it again
                        log.exception("notify: could not record the result of message %d", message.id)
            finally:
                with self._lock:
                    self._sending[h] -= 1
                    self._lock.notify_all()

    # ------------------------------------------------------------------ recording

    @retry(
        retry=retry_if_exception_type(OperationalError),
        stop=stop_after_attempt(RECORD_TRIES),
        wait=wait_random_exponential(multiplier=0.1, max=2.0),
        reraise=True,
    )
    def _record_durably(
        self, factory: sessionmaker[Session], results: list[Result], unstarted: list[Outbound]
    ) -> None:
        """Record in a transaction of its own, retried while the database is busy (SQLite's write lock
        under load): these sends already happened, and a lost record means the claim expires and the
        receiver gets the message a second time."""
        if not results and not unstarted:
            return
        with transaction(factory) as session:
            self._record(session, results)
            if unstarted:
                self._release(session, unstarted)

    def _record(self, session: Session, results: list[Result]) -> None:
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
                log.warning(
                    "notify: message %d (%s) is a dead letter: %s", message.id, message.channel, error
                )
            attempts.append(
                {
                    "message_id": message.id,
                    "number": message.attempt,
                    "at": result.started_at,
                    "duration_ms": round(result.seconds * 1000),
                    "status_code": delivery.status_code,
                    "error": error,
                    "outcome": outcome,
                    "sender": self.owner,
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
                    base=self.settings.notify_backoff_base_seconds,
                    cap=self.settings.notify_backoff_cap_seconds,
                    rand=self.rand(),
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
                .where(
                    tuple_(MESSAGES.c.id, MESSAGES.c.attempts).in_(delivered), MESSAGES.c.status == SENDING
                )
                .values(
                    status=DELIVERED,
                    sent_at=delivered_at,
                    next_attempt_at=delivered_at,
                    last_error=None,
                    claimed_by=None,
                )
            )
        if updates:
            session.execute(
                update(MESSAGES)
                .where(
                    MESSAGES.c.id == bindparam("b_id"),
                    MESSAGES.c.status == SENDING,
                    MESSAGES.c.attempts == bindparam("b_attempts"),
                )
                .values(
                    status=bindparam("b_status"),
                    next_attempt_at=bindparam("b_next"),
                    last_error=bindparam("b_error"),
                    claimed_by=None,
                ),
                updates,
            )
        if refs:
            session.execute(
                update(MESSAGES)
                .where(MESSAGES.c.id == bindparam("b_id"))
                .values(provider_ref=bindparam("b_ref")),
                refs,
            )
        for message, at in dead:  # a page that cannot reach this way tries the person's next way now
            fall_through(
                session, incident_id=message.incident_id, person=message.person, key=message.key, now=at
            )
        for h, until in sorted(paces.items()):
            self._hold_destination(session, h, until)

    def _hold_destination(self, session: Session, h: str, until: datetime) -> None:
        """After a 429: nothing goes to this destination before ``until`` (from any replica)."""
        statement = insert_for(session, PACES).values(destination_hash=h, next_at=until)
        excluded = statement.excluded.next_at
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["destination_hash"],
                set_={"next_at": _later(PACES.c.next_at, excluded)},
            )
        )

    def _release(self, session: Session, messages: list[Outbound]) -> None:
        """Claimed but never started (the pass ran out of time): back to pending, the attempt not counted."""
        session.execute(
            update(MESSAGES)
            .where(
                MESSAGES.c.id == bindparam("b_id"),
                MESSAGES.c.status == SENDING,
                MESSAGES.c.attempts == bindparam("b_attempts"),
            )
            .values(
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
