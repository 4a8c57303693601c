"""The command post in Slack (issue 17): an engine processor that gives each incident its channel and
keeps it told, so a Slack outage delays the channel and never declaring, paging or the timeline.

One pass (only while ``slack_bot_token`` is set):

1. **Rows.** Each open incident without a ``slack_channel`` row gets one (``ON CONFLICT DO NOTHING``
   on the incident: two replicas insert one).
2. **Claim** due rows — pending ones, backoffs that ran out, channels whose incident's timeline moved
   past ``cursor``, closed ones whose postmortem became Final — with a conditional UPDATE that sets
   ``claimed_by`` and a claim expiry in ``next_attempt_at`` (a replica whose UPDATE matches nothing
   skips the row). **Commit**: no transaction is open during a Slack call.
3. **Work** each claimed row on a worker thread: read what the channel needs in a read-only session
   (``channel_job.py``), then call Slack step by step (``channel_steps.py``) —
   ``conversations.create`` (the incident's ``channel`` name, a ``-2``, ``-3``… on ``name_taken``),
   ``setTopic``, ``invite``, two ``bookmarks.add``, the opening message, the announcement — saving
   each step's result at once (conditional on the claim), so a retry or a crash never repeats a call
   that succeeded. Then it follows the timeline from ``cursor``: one message per pass with the new
   lines, invites for new role holders and the newly paged, the topic kept in step; on close a
   summary, and once the postmortem is Final (or none is required), when the org archives,
   ``conversations.archive``.
4. The pass waits at most ``wait`` seconds for its workers; one still talking to a slow Slack finishes
   on its own and saves its own results. A call that can succeed later (429 with ``Retry-After``, 5xx,
   ``ratelimited``, a timeout) backs the row off through ``next_attempt_at``; one Slack refuses for good
   skips an optional step (topic, invite, bookmark, announcement) or marks the row ``failed``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from commandpost.db.engine import make_session_factory, transaction
from commandpost.db.upsert import insert_for
from commandpost.errors import Unavailable
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems.models import Postmortem
from commandpost.settings import Settings, get_settings
from commandpost.slack import models as m
from commandpost.slack.channel_job import ARCHIVABLE, ChannelJob, read_job
from commandpost.slack.channel_steps import ChannelSteps, channel_name
from commandpost.slack.client import SlackFailure, call, enabled, web_client
from commandpost.slack.models import SlackChannel

log = logging.getLogger("commandpost.slack")

BATCH = 20
"""Rows claimed per pass."""
CLAIM = timedelta(minutes=2)
"""A claim's life: a worker that died mid-row is taken over after this."""
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(seconds=60)
"""Backoff of a row Slack could not serve (2 s, 4 s, … at most a minute): the command post matters."""
USERS_KEPT = timedelta(hours=1)
"""How long a person's Slack id (or its absence) found by ``users.lookupByEmail`` is reused."""
WAIT_SECONDS = 0.5


class _Lost(Exception):
    """The claim is gone (it expired and another replica took the row): stop, save nothing."""


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure in a row."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))


class CommandPost:
    """The engine processor ``slack.command_post`` (phase ``decide``); see the module docstring."""

    name = "slack.command_post"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        owner: str | None = None,
        wait: float = WAIT_SECONDS,
        workers: int = 2,
    ) -> None:
        self.settings = settings or get_settings()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wait = wait
        self.workers = workers
        self._client: WebClient | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._running: set[Future[None]] = set()
        self._users: dict[str, tuple[str | None, datetime]] = {}
        self._factories: dict[int, tuple[sessionmaker[Session], sessionmaker[Session]]] = {}

    @property
    def client(self) -> WebClient:
        if self._client is None:
            self._client = web_client(self.settings)
        return self._client

    # ------------------------------------------------------------------ the processor interface

    def has_work(self, session: Session, now: datetime) -> bool:
        if not enabled(self.settings):
            return False
        return bool(session.scalar(select(or_(exists(self._unopened()), exists(self._due(now))))))

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        if not enabled(self.settings):
            return None
        if self.has_work(session, now):
            return now
        due: datetime | None = session.scalar(
            select(func.min(SlackChannel.next_attempt_at)).where(
                SlackChannel.state.in_((m.PENDING, m.CREATED))
            )
        )
        return due

    def run(self, session: Session, now: datetime) -> int:
        if not enabled(self.settings):
            return 0
        opened = self._open_rows(session, now)
        claimed = self._claim(session, now)
        session.commit()  # claims are durable, and no transaction is open during a Slack call
        if not claimed:
            return opened
        factories = self._factory(session.get_bind())
        futures = [self.pool.submit(self._work, factories, row_id, now) for row_id in claimed]
        with self._lock:
            self._running.update(futures)
        for future in futures:
            future.add_done_callback(self._forget)
        wait_for(futures, timeout=self.wait)
        return opened + len(claimed)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every worker of earlier passes is done (tests, shutdown)."""
        with self._lock:
            running = list(self._running)
        _done, pending = wait_for(running, timeout=timeout)
        return not pending

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="slack")
        return self._pool

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._running.discard(future)

    def _factory(self, bind: Any) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        engine: Engine = bind if isinstance(bind, Engine) else bind.engine
        found = self._factories.get(id(engine))
        if found is None:
            found = self._factories[id(engine)] = (
                make_session_factory(engine),
                make_session_factory(engine, read_only=True),
            )
        return found

    # ------------------------------------------------------------------ rows and claims

    @staticmethod
    def _unopened() -> Any:
        return (
            select(Incident.id)
            .outerjoin(SlackChannel, SlackChannel.incident_id == Incident.id)
            .where(Incident.status.in_(incident_rules.OPEN_STATUSES), SlackChannel.id.is_(None))
        )

    @staticmethod
    def _due(now: datetime) -> Any:
        moved = exists(
            select(TimelineEntry.id).where(
                TimelineEntry.incident_id == SlackChannel.incident_id, TimelineEntry.id > SlackChannel.cursor
            )
        )
        final = exists(
            select(Postmortem.id).where(
                Postmortem.incident_id == SlackChannel.incident_id, Postmortem.status.in_(ARCHIVABLE)
            )
        )
        idle = and_(SlackChannel.next_attempt_at.is_(None), SlackChannel.state == m.CREATED)
        return select(SlackChannel.id).where(
            SlackChannel.state.in_((m.PENDING, m.CREATED)),
            or_(
                SlackChannel.next_attempt_at <= now,
                and_(idle, SlackChannel.step == m.FOLLOW, moved),
                and_(idle, SlackChannel.step == m.ARCHIVE, final),
            ),
        )

    def _open_rows(self, session: Session, now: datetime) -> int:
        missing = session.execute(self._unopened().add_columns(Incident.channel).limit(BATCH)).all()
        if not missing:
            return 0
        rows = [
            {
                "incident_id": incident_id,
                "state": m.PENDING,
                "step": m.CREATE,
                "name": channel_name(name or f"inc-{incident_id}"),
                "cursor": 0,
                "invited": "",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for incident_id, name in missing
        ]
        statement = insert_for(session, SlackChannel.__table__).on_conflict_do_nothing(
            index_elements=["incident_id"]
        )
        session.execute(statement, rows)
        return len(rows)

    def _claim(self, session: Session, now: datetime) -> list[int]:
        candidates = session.scalars(self._due(now).order_by(SlackChannel.id).limit(BATCH)).all()
        claimed = []
        for row_id in candidates:
            result = session.execute(
                update(SlackChannel)
                .where(
                    SlackChannel.id == row_id,
                    SlackChannel.state.in_((m.PENDING, m.CREATED)),
                    or_(SlackChannel.next_attempt_at.is_(None), SlackChannel.next_attempt_at <= now),
                )
                .values(claimed_by=self.owner, next_attempt_at=now + CLAIM, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                claimed.append(row_id)
        return claimed

    def _save(self, factory: sessionmaker[Session], job: ChannelJob, now: datetime, **values: Any) -> None:
        """Store a step's result at once, only while the claim is still ours."""
        with transaction(factory) as session:
            result = session.execute(
                update(SlackChannel)
                .where(SlackChannel.id == job.row_id, SlackChannel.claimed_by == self.owner)
                .values(**values, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise _Lost
        for name, value in values.items():
            if hasattr(job, name) and name != "invited":
                setattr(job, name, value)

    # ------------------------------------------------------------------ one row

    def _work(
        self, factories: tuple[sessionmaker[Session], sessionmaker[Session]], row_id: int, now: datetime
    ) -> None:
        writer, reader = factories
        try:
            with transaction(reader, commit=False) as session:
                job = read_job(session, row_id, now, owner=self.owner, base_url=self.settings.base_url())
        except Unavailable:  # no ops applied: nothing to name or invite by yet
            job = None
        except Exception:
            log.exception("slack: reading the channel row %s failed", row_id)
            job = None
        if job is None:
            self._release_by_id(writer, row_id, now)
            return
        try:
            ChannelSteps(self.client, self._save, self._slack_id).act(writer, job, now)
            self._save(
                writer,
                job,
                now,
                claimed_by=None,
                next_attempt_at=None,
                attempts=0,
                last_error="; ".join(job.notes)[:500] or None,
            )
        except _Lost:
            log.info("slack: the claim on %s's channel expired; another replica has it", job.number)
        except SlackFailure as failure:
            self._failed(writer, job, now, failure)
        except Exception as exc:
            log.exception("slack: the channel of %s failed", job.number)
            self._failed(writer, job, now, SlackFailure(job.step, f"{type(exc).__name__}: {exc}", True))

    def _release_by_id(self, writer: sessionmaker[Session], row_id: int, now: datetime) -> None:
        with transaction(writer) as session:
            session.execute(
                update(SlackChannel)
                .where(SlackChannel.id == row_id, SlackChannel.claimed_by == self.owner)
                .values(claimed_by=None, next_attempt_at=now + BACKOFF_CAP, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def _failed(
        self, writer: sessionmaker[Session], job: ChannelJob, now: datetime, failure: SlackFailure
    ) -> None:
        error = "; ".join([str(failure), *job.notes])[:500]
        try:
            if failure.retry:
                attempts = job.attempts + 1
                wait = (
                    timedelta(seconds=failure.retry_after)
                    if failure.retry_after is not None
                    else backoff(attempts)
                )
                log.warning("slack: %s's channel: %s; trying again in %s", job.number, failure, wait)
                self._save(
                    writer,
                    job,
                    now,
                    claimed_by=None,
                    attempts=attempts,
                    next_attempt_at=now + wait,
                    last_error=error,
                )
            else:
                log.error("slack: %s's channel: Slack refused %s; giving up", job.number, failure)
                self._save(
                    writer, job, now, claimed_by=None, state=m.FAILED, next_attempt_at=None, last_error=error
                )
        except _Lost:
            pass

    def _slack_id(self, config: OpsConfig, handle: str, now: datetime) -> str | None:
        person = config.person(handle)
        if person is None:
            return None
        if person.contact.slack_user:
            return person.contact.slack_user
        email = person.contact.email
        if not email:
            return None
        with self._lock:
            cached = self._users.get(email)
        if cached is not None and now - cached[1] < USERS_KEPT:
            return cached[0]
        try:
            answer = call("users.lookupByEmail", self.client.users_lookupByEmail, email=email)
            found: str | None = str(answer["user"]["id"])
        except SlackFailure as failure:
            if failure.retry:
                raise
            found = None
        with self._lock:
            self._users[email] = (found, now)
        return found
