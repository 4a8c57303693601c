"""Group commit: many intake requests, one transaction, each answered only after the commit.

An intake request hands its parsed events to :meth:`GroupCommitter.submit` and waits. The
requests queued at a moment are applied in arrival order in one transaction
(:func:`commandpost.alerts.service.ingest` per request), committed, and only then answered — so
a 2xx still means "committed", while a burst of N requests costs one ``BEGIN``/``COMMIT``
instead of N. No request waits for a timer: at low load a batch is one request. The batch's
repeats are bumped in one statement up front (:func:`commandpost.alerts.dedup.bump_repeats`).
When anything in a batch fails, the batch is rolled back and its requests are replayed one
transaction each, so one bad request never fails its neighbours — unless the database itself is
unavailable (locked past the busy timeout, full, unreachable): then every request of the batch is
answered 503 at once, instead of each waiting out another busy timeout of its own.

Where a batch runs depends on the database:

- **SQLite**: on the event loop itself, once the requests of the current loop iteration have
  queued. SQLite's work here is CPU in this process (a WAL commit with ``synchronous=NORMAL``
  does not wait for the disk), and a writer thread would have to win the GIL back from the busy
  event loop after every statement — measured, that hand-over (up to the interpreter's 5 ms
  switch interval each time) was the limit of the whole intake. The loop's connection never
  waits for SQLite's write lock: when another writer (the engine, a CLI, a second process)
  holds it, ``BEGIN IMMEDIATE`` fails at once and the batch goes to the writer thread below,
  which waits for the lock while the loop keeps serving, polling for it
  (:func:`commandpost.db.sqlite_writer.take_write_lock`). The loop's connection leaves the WAL
  checkpoints to a :class:`~commandpost.db.sqlite_writer.WalCheckpointer`.
- **PostgreSQL**: on a writer thread, which waits for the network and the server's commit
  without holding the GIL while the loop keeps parsing requests.

The writer thread starts on its first batch and ends after :data:`IDLE_EXIT_SECONDS` without
work; the loop's connection is given back after as long idle. Each keeps one Session between
batches (building one per batch cost more than a small batch's work) and checks the ops
revision with one raw query per batch. One writer per process keeps PostgreSQL batches free of
lock-order deadlocks among themselves; other processes are kept correct by the unique
constraints, not by this class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from commandpost.alerts import dedup, service, timebounds
from commandpost.alerts.metrics import BATCH_SIZE
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.alerts.service import IntegrationRef, Outcome
from commandpost.db import sqlite_writer
from commandpost.db.unavailable import is_unavailable, unavailable
from commandpost.errors import CommandpostError, Unavailable
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig

log = logging.getLogger("commandpost.alerts")

LATEST_REVISION = "SELECT max(id) FROM ops_revision"
IDLE_EXIT_SECONDS = 5.0
MAX_BATCH_REQUESTS = 256


@dataclass
class _Job:
    integration: IntegrationRef
    events: Sequence[NormalizedEvent]
    body: Any
    now: datetime
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Outcome]]


class _Busy(Exception):
    """The loop's connection found SQLite's write lock taken: the batch goes to the writer thread."""


class GroupCommitter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_batch: int = MAX_BATCH_REQUESTS,
        bounds: timebounds.TimeBounds = timebounds.DEFAULT,
    ) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self.bounds = bounds
        self._config: tuple[int | None, OpsConfig] | None = None
        bind = sessions.kw.get("bind")
        self._on_loop = bind is not None and bind.dialect.name == "sqlite"
        # the event loop's batches (SQLite)
        self._pending: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._loop_writer = _Writer(
            self, self._open_loop_session, sqlite_writer.close_session, fail_fast=True
        )
        self._loop_lock = threading.Lock()  # one loop at a time on that connection (tests run several)
        self._loop_used = 0.0
        self._idle_check: asyncio.TimerHandle | None = None
        self._idle_loop: asyncio.AbstractEventLoop | None = None
        self._wal = sqlite_writer.WalCheckpointer(sessions, thread_name="alert-wal-checkpoint")
        # the writer thread's batches (PostgreSQL, or SQLite while another writer holds the lock)
        self._queue: queue.SimpleQueue[list[_Job]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if self._on_loop:
            self._thread_writer = _Writer(
                self, self._open_polling_session, sqlite_writer.close_session, poll_for_lock=True
            )
        else:
            self._thread_writer = _Writer(self, self._sessions, _close_thread_session)

    async def submit(
        self,
        integration: IntegrationRef,
        events: Sequence[NormalizedEvent],
        *,
        body: Any,
        now: datetime,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> list[Outcome]:
        """Store the events; returns their outcomes once committed (raises what the pipeline raised).
        ``loop``: the running event loop, when the caller knows it."""
        loop = loop or asyncio.get_running_loop()
        job = _Job(integration, events, body, now, loop, loop.create_future())
        if self._on_loop:
            pending = self._pending.get(loop)
            if pending is None:
                self._pending[loop] = [job]
                loop.call_soon(self._flush, loop)
            else:
                pending.append(job)
        else:
            self._to_thread([job])
        return await job.future

    def close(self) -> None:
        """Give the loop's connection back (the app is shutting down); a later batch takes a new one."""
        with self._loop_lock:
            self._loop_writer.drop()

    # ------------------------------------------------------------ on the event loop (SQLite)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._pending.pop(loop)
        if self._wal.restart_due:
            self._finish_checkpoint()
        for start in range(0, len(jobs), self._max_batch):
            batch = jobs[start : start + self._max_batch]
            BATCH_SIZE.observe(len(batch))
            self._commit_on_loop(batch)
        self._loop_used = now = time.monotonic()
        if self._wal.due(now):
            self._wal.start()
        if self._idle_check is None or self._idle_loop is not loop:
            self._idle_loop = loop
            self._idle_check = loop.call_later(IDLE_EXIT_SECONDS, self._release_when_idle)

    def _finish_checkpoint(self) -> None:
        """The loop's connection copies the rest of the WAL in, so its next commit starts it over."""
        with self._loop_lock:
            try:
                self._wal.finish(self._loop_writer.session)
            except Exception as exc:
                self._loop_writer.drop()
                log.warning("alert intake: WAL checkpoint failed: %s", exc)

    def _commit_on_loop(self, batch: list[_Job]) -> None:
        try:
            with self._loop_lock:
                results = self._loop_writer.transaction(batch)
        except _Busy:
            self._to_thread(batch)
            return
        except Exception as exc:
            if len(batch) > 1 and not is_unavailable(exc):
                for job in batch:  # replay alone: only the failing request fails
                    self._commit_on_loop([job])
                return
            for job in batch:  # the database is down for all of them: each gets its 503 now
                _settle(job, error=_as_error(exc))
            return
        for job, outcomes in zip(batch, results, strict=True):
            _settle(job, result=outcomes)

    def _release_when_idle(self) -> None:
        idle = time.monotonic() - self._loop_used
        if idle < IDLE_EXIT_SECONDS:
            loop = asyncio.get_running_loop()
            self._idle_check = loop.call_later(IDLE_EXIT_SECONDS - idle, self._release_when_idle)
            return
        self._idle_check = None
        self.close()
        if not self._wal.running:
            self._wal.start()  # nothing more is coming: copy the WAL in, so readers need not search it

    def _open_loop_session(self) -> Session:
        """A session on a connection of its own that fails fast instead of waiting for the lock and
        leaves checkpoints to :attr:`_wal`."""
        return sqlite_writer.open_session(self._sessions, busy_timeout=0, wal_autocheckpoint=0)

    def _open_polling_session(self) -> Session:
        """The writer thread's (SQLite): SQLite does not wait for the lock; :class:`_Writer` polls."""
        return sqlite_writer.open_session(self._sessions, busy_timeout=0)

    # ------------------------------------------------------------ on the writer thread

    def _to_thread(self, batch: list[_Job]) -> None:
        with self._lock:
            self._queue.put(batch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alert-group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                try:
                    batch = self._queue.get(timeout=IDLE_EXIT_SECONDS)
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                while len(batch) < self._max_batch:
                    try:
                        batch += self._queue.get_nowait()
                    except queue.Empty:
                        break
                BATCH_SIZE.observe(len(batch))
                self._commit_on_thread(batch)
        finally:
            self._thread_writer.drop()

    def _commit_on_thread(self, batch: list[_Job]) -> None:
        try:
            results = self._thread_writer.transaction(batch)
        except Exception as exc:
            if len(batch) > 1 and not is_unavailable(exc):
                for job in batch:  # replay alone: only the failing request fails
                    self._commit_on_thread([job])
                return
            error = _as_error(exc)  # the database is down for all of them: each gets its 503 now
            _deliver([(job, None, error) for job in batch])
            return
        _deliver([(job, outcomes, None) for job, outcomes in zip(batch, results, strict=True)])

    # ------------------------------------------------------------ shared

    def current_config(self, session: Session) -> OpsConfig:
        """The applied ops, re-read only when a new revision appears (one small query per batch)."""
        cursor = session.connection().connection.cursor()
        try:
            cursor.execute(LATEST_REVISION)
            row = cursor.fetchone()
        finally:
            cursor.close()
        revision = row[0] if row else None
        config = self._config
        if config is None or config[0] != revision:
            config = self._config = (revision, policy_service.current_config(session))
        return config[1]


class _Writer:
    """Runs batches on one session, kept between batches and rebuilt after a failure."""

    def __init__(
        self,
        committer: GroupCommitter,
        open_session: Callable[[], Session],
        close_session: Callable[[Session], None],
        *,
        fail_fast: bool = False,
        poll_for_lock: bool = False,
    ) -> None:
        self._committer = committer
        self._open = open_session
        self._close = close_session
        self._fail_fast = fail_fast
        self._poll_for_lock = poll_for_lock
        self._session: Session | None = None

    def session(self) -> Session:
        if self._session is None:
            self._session = self._open()
        return self._session

    def transaction(self, batch: list[_Job]) -> list[list[Outcome]]:
        """One transaction for the batch: its repeats bumped in one statement, then each request."""
        session = self.session()
        try:
            if self._poll_for_lock:
                sqlite_writer.take_write_lock(session)
            config = self._committer.current_config(session)
            with dedup.pinned(session):
                dedup.bump_repeats(session, triggers=_repeats(batch))
                results = [
                    service.ingest(
                        session,
                        integration=job.integration,
                        events=job.events,
                        now=job.now,
                        body=job.body,
                        config=config,
                        bounds=self._committer.bounds,
                    )
                    for job in batch
                ]
            session.commit()
        except BaseException as exc:
            self.drop()
            if self._fail_fast and sqlite_writer.is_busy(exc):
                raise _Busy from exc
            raise
        session.expunge_all()  # the incidents it touched: nothing is kept from one batch to the next
        return results

    def drop(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            try:
                session.rollback()
            finally:
                self._close(session)


def _repeats(batch: list[_Job]) -> list[tuple[int, str, int, datetime]]:
    """(integration, key, how many, last now) of the keys only plain triggers touch in the batch."""
    found: dict[tuple[int, str], list[Any]] = {}
    other: set[tuple[int, str]] = set()
    for job in batch:
        integration = job.integration.id
        for event in job.events:
            key = (integration, event.dedup_key)
            if event.action == "trigger" and event.kind == "alert" and not event.idempotency_key:
                seen = found.get(key)
                if seen is None:
                    found[key] = [1, job.now]
                else:
                    seen[0] += 1
                    seen[1] = job.now
            else:
                other.add(key)
    return [(i, k, n, now) for (i, k), (n, now) in found.items() if (i, k) not in other]


def _close_thread_session(session: Session) -> None:
    session.close()


def _as_error(exc: Exception) -> Exception:
    if isinstance(exc, CommandpostError):
        return exc
    busy = unavailable(exc)
    if busy is not None:
        log.warning("alert intake: database unavailable, answering 503: %s", exc.__class__.__name__)
        return busy
    if isinstance(exc, DBAPIError):
        log.warning("alert intake: database error, answering 503: %s", exc.__class__.__name__)
        return Unavailable("the database refused the write; retry shortly", retry_after=2)
    log.exception("alert intake: unexpected error")
    return exc


def _settle(job: _Job, *, result: list[Outcome] | None = None, error: Exception | None = None) -> None:
    """Answer one request, on its event loop's thread."""
    if job.future.done():  # the client went away
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result or [])


def _deliver(answers: list[tuple[_Job, list[Outcome] | None, Exception | None]]) -> None:
    """Answer a batch from the writer thread: one wake-up per event loop, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, list[Outcome] | None, Exception | None]]] = {}
    for answer in answers:
        by_loop.setdefault(answer[0].loop, []).append(answer)

    for loop, batch in by_loop.items():

        def settle(batch: list[tuple[_Job, list[Outcome] | None, Exception | None]] = batch) -> None:
            for job, result, error in batch:
                _settle(job, result=result, error=error)

        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle)
