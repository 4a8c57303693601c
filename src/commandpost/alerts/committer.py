"""Group commit: many intake requests, one transaction, each answered only after the commit.

An intake request hands its parsed events to :meth:`GroupCommitter.submit` and waits. One
writer thread takes every request queued at that moment, applies them in arrival order in one
transaction (:func:`commandpost.alerts.service.ingest` per request), commits, and only then
wakes the waiting requests — so a 2xx still means "committed", while a burst of N requests
costs one ``BEGIN``/``COMMIT`` instead of N. No request waits for a timer: at low load a batch
is one request. When anything in a batch fails, the batch is rolled back and its requests are
replayed one transaction each, so one bad request never fails its neighbours.

The thread starts on the first request and ends after :data:`IDLE_EXIT_SECONDS` without work,
so an app needs no lifespan hook for it. It keeps one Session between batches (building one per
batch cost more than a small batch's work) and checks the ops revision with one raw query.

One writer per process suits SQLite (one writer at a time anyway) and keeps PostgreSQL batches
free of lock-order deadlocks among themselves; other processes are kept correct by the unique
constraints, not by this thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from commandpost.alerts import dedup, service
from commandpost.alerts.metrics import BATCH_SIZE
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.alerts.service import IntegrationRef, Outcome
from commandpost.errors import CommandpostError, Unavailable
from commandpost.policy import service as policy_service
from commandpost.policy.schema import OpsConfig

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


class GroupCommitter:
    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = MAX_BATCH_REQUESTS) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._config: tuple[int | None, OpsConfig] | None = None
        self._session: Session | None = None

    async def submit(
        self, integration: IntegrationRef, events: Sequence[NormalizedEvent], *, body: Any, now: datetime
    ) -> list[Outcome]:
        """Store the events; returns their outcomes once committed (raises what the pipeline raised)."""
        loop = asyncio.get_running_loop()
        job = _Job(integration, events, body, now, loop, loop.create_future())
        with self._lock:
            self._queue.put(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alert-group-commit", daemon=True)
                self._thread.start()
        return await job.future

    def _run(self) -> None:
        try:
            while True:
                try:
                    first = self._queue.get(timeout=IDLE_EXIT_SECONDS)
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                batch = [first]
                while len(batch) < self._max_batch:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                BATCH_SIZE.observe(len(batch))
                self._commit(batch)
        finally:
            self._drop_session()

    def _commit(self, batch: list[_Job]) -> None:
        try:
            results = self._transaction(batch)
        except Exception as exc:
            if len(batch) > 1:
                for job in batch:  # replay alone: only the failing request fails
                    self._commit([job])
                return
            _deliver(batch[0], error=_as_error(exc))
            return
        for job, outcomes in zip(batch, results, strict=True):
            _deliver(job, result=outcomes)

    def _transaction(self, batch: list[_Job]) -> list[list[Outcome]]:
        """One transaction for the batch, on the writer thread's own session (kept between batches:
        building a Session and checking out its connection costs more than a small batch)."""
        if self._session is None:
            self._session = self._sessions()
        session = self._session
        try:
            config = self._current_config(session)
            with dedup.pinned(session):
                results = [
                    service.ingest(
                        session,
                        integration=job.integration,
                        events=job.events,
                        now=job.now,
                        body=job.body,
                        config=config,
                    )
                    for job in batch
                ]
            session.commit()
        except BaseException:
            self._drop_session()
            raise
        session.expunge_all()  # the incidents it touched: nothing is kept from one batch to the next
        return results

    def _drop_session(self) -> None:
        if self._session is not None:
            try:
                self._session.rollback()
            finally:
                self._session.close()
                self._session = None

    def _current_config(self, session: Session) -> OpsConfig:
        """The applied ops, re-read only when a new revision appears (one small query per batch)."""
        cursor = session.connection().connection.cursor()
        try:
            cursor.execute(LATEST_REVISION)
            row = cursor.fetchone()
        finally:
            cursor.close()
        revision = row[0] if row else None
        if self._config is None or self._config[0] != revision:
            self._config = (revision, policy_service.current_config(session))
        return self._config[1]


def _as_error(exc: Exception) -> Exception:
    if isinstance(exc, CommandpostError):
        return exc
    if isinstance(exc, DBAPIError):
        log.warning("alert intake: database error, answering 503: %s", exc.__class__.__name__)
        return Unavailable("the database refused the write; retry shortly", retry_after=2)
    log.exception("alert intake: unexpected error")
    return exc


def _deliver(job: _Job, *, result: list[Outcome] | None = None, error: Exception | None = None) -> None:
    def settle() -> None:
        if job.future.done():  # the client went away
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result or [])

    with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody is waiting any more
        job.loop.call_soon_threadsafe(settle)
