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
   dead letter) with UPDATEs conditional on the claim (``status='sending' AND attempts=n``):
   ``send_results.py``, which also records step 1.

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
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Histogram
from sqlalchemy import Engine, bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from commandpost import public_url
from commandpost.db.engine import make_session_factory
from commandpost.db.upsert import insert_for
from commandpost.engine.processor import is_due
from commandpost.notify.channels import Channels, Outbound
from commandpost.notify.models import MESSAGES, PACES, PENDING, SENDING
from commandpost.notify.rules import BUSY_DEFER, Delivery, destination_hash, take_slot
from commandpost.notify.send_results import Result, attempt_limit, record_durably, recover
from commandpost.security import links
from commandpost.security.links import Links, LinkSigner, SubscriptionSigner
from commandpost.settings import Settings, get_settings

log = logging.getLogger("commandpost.notify")

SEND_SECONDS = Histogram("commandpost_notify_send_seconds", "Duration of one send", ["channel"])
LATENESS = Histogram(
    "commandpost_notify_lateness_seconds",
    "First attempt's start minus the message's due time",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
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
NEXT_DUE = select(
    *(
        select(MESSAGES.c.next_attempt_at)
        .where(MESSAGES.c.status == status)
        .order_by(MESSAGES.c.next_attempt_at)
        .limit(1)
        .scalar_subquery()
        for status in (PENDING, SENDING)
    )
)
"""Every pass asks it (``has_work``, ``next_due``): built once, not a min() over both statuses, which
would read every pending and sending row."""
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
ACTIONABLE = ("page", "test")
"""Kinds of message that carry one-tap ack/escalate links: a page, and a page-test."""
SUBSCRIPTION = "status_subscription"
"""An email to a status page subscriber: it carries its unsubscribe link (and the first, its confirm link)."""


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
        recovered = recover(session, now, owner=self.owner, settings=self.settings)
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
        """The earliest pending attempt or claim expiry (a claim that expires means a dead sender):
        one statement, each status's earliest read off the ``(status, next_attempt_at)`` index."""
        found = [due for due in session.execute(NEXT_DUE).one() if due is not None]
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

    def _interval(self, channel: str) -> timedelta | None:
        seconds = self.settings.slack_min_interval_seconds if channel == "slack" else 0.0
        return timedelta(seconds=seconds) if seconds > 0 else None

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
            attempt_limit=attempt_limit(row, self.settings),
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

    def _record_durably(
        self, factory: sessionmaker[Session], results: list[Result], unstarted: list[Outbound]
    ) -> None:
        """Record with this sender's name, backoff and randomness (``send_results.py``)."""
        record_durably(factory, results, unstarted, owner=self.owner, settings=self.settings, rand=self.rand)

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
