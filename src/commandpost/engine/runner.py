"""Runs the processors in a loop: one pass, then sleep until the earliest due time or a wake-up.

On SQLite exactly one process holds the ``engine`` lease and runs passes; on
PostgreSQL every replica runs passes and processors claim rows with
``FOR UPDATE SKIP LOCKED``, so the lease there only says who is leader.

SQLite has one write lock for everything, and intake must not queue behind the engine: a processor
runs in a write transaction only when a read-only look (``has_work``) finds it has work, and after
each write transaction the engine pauses :data:`SQLITE_YIELD_SECONDS` so a writer waiting for the
lock (intake polls for it, see ``db/sqlite_writer.py``) gets it between two of the engine's.

The engine shares its process with intake's event loop, which waits for the GIL while a pass runs
Python (issue 19): a pass asks every ``has_work`` in one read session, one read transaction until a
processor runs, and every ``next_due`` in another, and gives the GIL up between two processors once
it has held it for :data:`GIL_HOLD_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import Clock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.engine import lease, wakeup
from commandpost.engine.processor import Processor
from commandpost.settings import Settings

log = logging.getLogger("commandpost.engine")

PASS_SECONDS = Histogram("commandpost_engine_pass_seconds", "Duration of one engine pass")
PROCESSOR_FAILURES = Counter(
    "commandpost_engine_processor_failures_total", "Processor runs that raised", ["processor"]
)
WORK_DONE = Counter("commandpost_engine_work_total", "Work items done by processors", ["processor"])
LAST_PASS = Gauge(
    "commandpost_engine_last_pass_timestamp_seconds",
    "When this process's engine last finished a pass without a failing processor (Unix time)",
)
LEASE_NAME = "engine"
SQLITE_YIELD_SECONDS = 0.003
GIL_HOLD_SECONDS = 0.001
"""Between two processors the engine gives the GIL up once it has held it this long."""
LEASE_RENEW_FRACTION = 1 / 6
"""A pass starts with at least 5/6 of the lease left (25 s of the default 30 s)."""


def _log_pass(seconds: float, total: int, done_by: dict[str, int]) -> None:
    """``engine pass: 12 items in 0.034s (escalate 3, notify 9)``, or ``engine pass: idle in …``."""
    if total:
        what = ", ".join(f"{name} {count}" for name, count in done_by.items())
        log.info("engine pass: %d items in %.3fs (%s)", total, seconds, what)
    elif log.isEnabledFor(logging.DEBUG):
        log.debug("engine pass: idle in %.3fs", seconds)


class Runner:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        settings: Settings,
        processors: Sequence[Processor],
        owner: str | None = None,
    ) -> None:
        """``processors``: the order of one pass, as :meth:`PassPlan.sequence` gives it from the root."""
        self.sessions, self.clock, self.settings = sessions, clock, settings
        self.processors = list(processors)
        self.scheduled = list(dict.fromkeys(self.processors))  # each once, for due times
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_sqlite = sessions.kw["bind"].dialect.name == "sqlite"
        self.read_sessions = make_session_factory(sessions.kw["bind"], read_only=True)
        self._held_since = time.perf_counter()
        self._renewed_at: datetime | None = None  # when hold_lease last renewed the lease

    # -- one pass (tests call this directly with a FrozenClock) ------------------------------
    def run_once(self) -> int:
        """One pass; logged with its duration and what each processor did: at INFO when it did any
        work, at DEBUG when not (an idle engine passes every few seconds; INFO stays quiet)."""
        now = self.clock.now()
        total = 0
        done_by: dict[str, int] = {}
        failed = False
        pass_started = time.perf_counter()
        try:
            with self.read_sessions() as reads:
                answers: dict[Processor, bool] = {}  # has_work, asked in the current read transaction
                for processor in self.processors:
                    if self.is_sqlite:
                        if processor not in answers:
                            answers[processor] = self._has_work(reads, processor, now)
                            self._let_others_in()
                        if not answers[processor]:
                            continue
                        reads.rollback()  # what this run commits, the next question must see
                        answers.clear()
                    done = self._run(processor, now)
                    if done is None:
                        failed = True
                    elif done:
                        total += done
                        done_by[processor.name] = done_by.get(processor.name, 0) + done
        finally:
            seconds = time.perf_counter() - pass_started
            PASS_SECONDS.observe(seconds)
        _log_pass(seconds, total, done_by)
        if not failed:  # a pass where every processor ran: what an outside checker waits for
            LAST_PASS.set(now.timestamp())
        return total

    def _run(self, processor: Processor, now: datetime) -> int | None:
        """Run one processor in its write transaction; None when it raised (logged, counted)."""
        started = time.monotonic()
        try:
            with transaction(self.sessions) as session:
                done = processor.run(session, now)
        except Exception:
            PROCESSOR_FAILURES.labels(processor.name).inc()
            log.exception("engine processor %s failed; the next pass retries", processor.name)
            return None
        finally:
            if self.is_sqlite:
                time.sleep(SQLITE_YIELD_SECONDS)  # the lock is free: let a waiting writer in
                self._held_since = time.perf_counter()
            else:
                self._let_others_in()
        WORK_DONE.labels(processor.name).inc(done)
        elapsed = time.monotonic() - started
        if elapsed > self.settings.engine_lease_seconds / 3:
            log.warning("engine processor %s took %.1fs", processor.name, elapsed)
        return done

    def _let_others_in(self) -> None:
        """Give the GIL up when this thread has run :data:`GIL_HOLD_SECONDS` since it last did: a
        thread waiting for it (intake's event loop) runs within about that, not at CPython's switch
        interval (5 ms). Not after every question: each ``sleep(0)`` cost 0.05-0.1 ms CPU on a busy host."""
        if time.perf_counter() - self._held_since >= GIL_HOLD_SECONDS:
            time.sleep(0)
            self._held_since = time.perf_counter()

    @staticmethod
    def _has_work(reads: Session, processor: Processor, now: datetime) -> bool:
        """Ask in the pass's read-only transaction (no write lock); when the question fails, roll it
        back (the next question begins afresh, untouched by the error) and run to find out."""
        try:
            return processor.has_work(reads, now)
        except Exception:
            reads.rollback()
            log.exception("engine processor %s: has_work failed; running it", processor.name)
            return True

    def next_wake(self, now: datetime) -> float:
        """Seconds to sleep: until the earliest due time, at most ``engine_max_sleep_seconds``; every
        processor asked in one read-only transaction, rolled back after a question that fails."""
        delay = self.settings.engine_max_sleep_seconds
        with self.read_sessions() as reads:
            for processor in self.scheduled:
                try:
                    due = processor.next_due(reads, now)
                except Exception:
                    reads.rollback()
                    log.exception("engine processor %s: next_due failed", processor.name)
                    continue
                finally:
                    self._let_others_in()
                if due is not None:
                    delay = min(delay, max(0.0, (due - now).total_seconds()))
        return delay

    def hold_lease(self) -> bool:
        """Whether this process holds the lease (SQLite), renewed once :data:`LEASE_RENEW_FRACTION` of
        it has passed since the last renewal: until then it is ours for sure, and a loop that passes
        twice a second (a sender working off a paced backlog) need not take the write lock for it."""
        if not self.is_sqlite:
            return True
        now = self.clock.now()
        ttl = timedelta(seconds=self.settings.engine_lease_seconds)
        renewed = self._renewed_at
        if renewed is not None and renewed <= now < renewed + ttl * LEASE_RENEW_FRACTION:
            return True
        with transaction(self.sessions) as session:
            held = lease.acquire(session, name=LEASE_NAME, owner=self.owner, now=now, ttl=ttl)
        self._renewed_at = now if held else None
        return held

    # -- the loop ---------------------------------------------------------------------------
    def wake(self) -> None:
        """New work arrived (an incident opened, an ack): run a pass now instead of sleeping on."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            delay = self.settings.engine_max_sleep_seconds
            try:
                if self.hold_lease():
                    self.run_once()
                    delay = self.next_wake(self.clock.now())
            except OperationalError as exc:  # SQLite busy past its timeout, PostgreSQL restarting: transient
                log.warning("engine pass skipped, database busy or unreachable (%s); retrying", exc.orig)
            except Exception:
                log.exception("engine pass failed; retrying")
            self._wake.wait(timeout=delay)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="commandpost-engine", daemon=True)
        self._thread.start()
        wakeup.register(self.wake)  # services ask for a pass once their work is committed

    def stop(self) -> None:
        wakeup.unregister(self.wake)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.is_sqlite:
            self._renewed_at = None
            try:
                with transaction(self.sessions) as session:
                    lease.release(session, name=LEASE_NAME, owner=self.owner)
            except Exception:
                log.warning("could not release the engine lease; it expires by itself")
