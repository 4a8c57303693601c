"""The engine runner: one pass runs every processor, failures are contained, sleep follows due times,
and on SQLite exactly one process holds the lease."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from commandpost.engine import lease
from commandpost.engine.runner import Runner
from commandpost.wiring import engine_plan


class Recorder:
    def __init__(
        self, name: str, due_in: timedelta | None = None, fail: bool = False, work: bool = True
    ) -> None:
        self.name, self.due_in, self.fail, self.work = name, due_in, fail, work
        self.calls: list[datetime] = []

    def has_work(self, session: Session, now: datetime) -> bool:
        return self.work

    def run(self, session: Session, now: datetime) -> int:
        self.calls.append(now)
        if self.fail:
            raise RuntimeError("boom")
        return 2

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return now + self.due_in if self.due_in is not None else None


def test_run_once_runs_every_processor_and_survives_a_failure(sessions, clock, settings):
    good, bad, late = Recorder("good"), Recorder("bad", fail=True), Recorder("late")
    runner = Runner(sessions, clock, settings=settings, processors=[good, bad, late])
    assert runner.run_once() == 4
    assert good.calls == [clock.now()] and bad.calls == [clock.now()] and late.calls == [clock.now()]


def test_on_sqlite_a_processor_without_work_never_takes_the_write_lock(engine, sessions, clock, settings):
    """Intake must not queue behind passes that change nothing: an idle processor is only asked, in a
    read-only transaction, and runs nowhere near SQLite's one write lock; one with work runs."""
    idle, busy = Recorder("idle", work=False), Recorder("busy")
    runner = Runner(sessions, clock, settings=settings, processors=[idle, busy])
    if engine.dialect.name != "sqlite":  # no single write lock: every processor runs, claims its rows
        assert runner.run_once() == 4 and idle.calls == busy.calls == [clock.now()]
        return
    assert runner.run_once() == 2
    assert idle.calls == [] and busy.calls == [clock.now()]
    with engine.connect() as holder:
        holder.execute(text("PRAGMA busy_timeout = 0"))
        holder.execute(text("DELETE FROM engine_lease WHERE 1 = 0"))  # holds the write lock from here
        idle_only = Runner(sessions, clock, settings=settings, processors=[idle])
        assert idle_only.run_once() == 0 and idle.calls == []
        holder.rollback()


def test_sleep_is_until_the_earliest_due_time(sessions, clock, settings):
    runner = Runner(
        sessions,
        clock,
        settings=settings,
        processors=[Recorder("a", timedelta(seconds=3)), Recorder("b", timedelta(milliseconds=200))],
    )
    assert runner.next_wake(clock.now()) == 0.2
    idle = Runner(sessions, clock, settings=settings, processors=[Recorder("idle")])
    assert idle.next_wake(clock.now()) == settings.engine_max_sleep_seconds


def test_lease_has_one_holder_until_it_expires(sessions, clock):
    ttl = timedelta(seconds=30)
    with sessions() as s:
        assert lease.acquire(s, name="engine", owner="a", now=clock.now(), ttl=ttl)
        s.commit()
    with sessions() as s:
        assert not lease.acquire(s, name="engine", owner="b", now=clock.now(), ttl=ttl)
        assert lease.acquire(s, name="engine", owner="a", now=clock.now(), ttl=ttl)  # renewal
        s.commit()
    clock.advance(seconds=31)
    with sessions() as s:
        assert lease.acquire(s, name="engine", owner="b", now=clock.now(), ttl=ttl)
        s.commit()
    with sessions() as s:
        lease.release(s, name="engine", owner="b")
        s.commit()
    with sessions() as s:
        assert lease.acquire(s, name="engine", owner="a", now=clock.now(), ttl=ttl)
        s.commit()


def test_runner_loop_wakes_on_demand(sessions, clock, settings):
    import threading

    ran = threading.Event()

    class Signal(Recorder):
        def run(self, session: Session, now: datetime) -> int:
            super().run(session, now)
            if len(self.calls) >= 2:
                ran.set()
            return 0

    settings = settings.model_copy(update={"engine_max_sleep_seconds": 60.0})
    sig = Signal("signal")
    runner = Runner(sessions, clock, settings=settings, processors=[sig])
    runner.start()
    try:
        runner.wake()
        assert ran.wait(timeout=10), "a wake-up should trigger a second pass long before the 60 s sleep"
    finally:
        runner.stop()


def test_default_processors_page_with_the_runners_own_base_url(sessions, clock, settings):
    """Page links come from the settings the runner was given, not from the environment's."""
    from sqlalchemy import select

    from commandpost.db.engine import transaction
    from commandpost.notify.models import OutgoingMessage
    from tests.paging_support import apply, open_alert

    apply(sessions, clock)
    own = settings.model_copy(update={"public_url": "https://cp.runner.example"})
    runner = Runner(sessions, clock, settings=own, processors=engine_plan(own).sequence())
    with transaction(sessions) as s:
        incident = open_alert(s, severity="SEV1", title="checkout down", now=clock.now(), group="g")
    escalations = runner.processors[0]
    with transaction(sessions) as s:
        assert escalations.run(s, clock.now()) > 0
    with sessions() as s:
        pages = s.scalars(select(OutgoingMessage).where(OutgoingMessage.key.startswith("page/"))).all()
    link = f"https://cp.runner.example/incidents/INC-{incident.number}"
    assert pages and all(link in m.body for m in pages), [m.body for m in pages]


class Broken(Recorder):
    """Its questions fail as a bad write does: the session is left needing a rollback (on either
    database), so a runner that asked the next processor in the same transaction without one fails it."""

    def _fail(self, session: Session, now: datetime) -> None:
        session.add(lease.EngineLease(name="broken", owner=None, expires_at=now))  # owner is NOT NULL
        session.flush()

    def has_work(self, session: Session, now: datetime) -> bool:
        self._fail(session, now)
        return False

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        self._fail(session, now)
        return None


class Asks(Recorder):
    """Answers from the database, as a real processor does."""

    def has_work(self, session: Session, now: datetime) -> bool:
        session.scalar(text("SELECT count(*) FROM engine_lease"))
        return self.work

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        session.scalar(text("SELECT count(*) FROM engine_lease"))
        return super().next_due(session, now)


def test_an_idle_pass_asks_every_processor_in_one_read_transaction(engine, sessions, clock, settings):
    """Issue 19: each question used to open a transaction of its own; intake's event loop waited on
    the GIL for all that Python. An idle pass is one read transaction; next_wake another."""
    from sqlalchemy import event

    from tests.paging_support import apply

    apply(sessions, clock)
    plan = engine_plan(settings).sequence()
    runner = Runner(sessions, clock, settings=settings, processors=plan)
    runner.run_once()  # what is due at once after an apply (the burn-rate minute)
    begun: list[object] = []

    def count(connection: object) -> None:
        begun.append(connection)

    event.listen(engine, "begin", count)
    try:
        passes = [runner.run_once(), len(begun)]
        begun.clear()
        runner.next_wake(clock.now())
        wakes = len(begun)
    finally:
        event.remove(engine, "begin", count)
    assert wakes == 1
    if engine.dialect.name == "sqlite":  # on PostgreSQL every processor runs, in its own transaction
        assert passes == [0, 1]


def test_a_failing_question_leaves_the_others_answered(engine, sessions, clock, settings):
    """A question that raises is rolled back alone: the processor runs anyway (it may have work),
    and the next processor is asked afresh and answers — idle stays idle, the due time counts."""
    broken = Broken("broken")
    idle = Asks("idle", due_in=timedelta(milliseconds=200), work=False)
    busy = Asks("busy")
    runner = Runner(sessions, clock, settings=settings, processors=[broken, idle, busy])
    assert runner.next_wake(clock.now()) == 0.2
    if engine.dialect.name != "sqlite":  # questions are asked on SQLite only; here every one runs
        return
    assert runner.run_once() == 4
    assert broken.calls == busy.calls == [clock.now()] and idle.calls == []


def test_the_lease_is_renewed_once_a_sixth_of_it_has_passed(engine, sessions, clock, settings):
    """A loop that passes twice a second (a sender working off a paced backlog) takes SQLite's write
    lock for the lease only when a sixth of it has passed; until then it is still ours for sure."""
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":  # every replica runs passes: no lease to hold
        assert Runner(sessions, clock, settings=settings, processors=[]).hold_lease()
        return
    ttl = settings.engine_lease_seconds
    a = Runner(sessions, clock, settings=settings, processors=[], owner="a")
    b = Runner(sessions, clock, settings=settings, processors=[], owner="b")
    begun: list[object] = []

    def count(connection: object) -> None:
        begun.append(connection)

    event.listen(engine, "begin", count)
    try:
        assert a.hold_lease() and len(begun) == 1
        clock.advance(seconds=ttl / 6 - 0.5)
        assert a.hold_lease() and len(begun) == 1
        assert not b.hold_lease() and len(begun) == 2  # a's lease holds b off
        clock.advance(seconds=0.5)
        assert a.hold_lease() and len(begun) == 3  # renewed: it runs a full ttl from here
        clock.advance(seconds=ttl - 1)
        assert not b.hold_lease()
        clock.advance(seconds=2)
        assert b.hold_lease()  # a stalled past its lease: b takes over …
        assert not a.hold_lease()  # … and a finds out at its next renewal
    finally:
        event.remove(engine, "begin", count)
