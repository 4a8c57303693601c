"""The sender processor with scripted channels and a frozen clock: retries, dead letters, Retry-After,
pacing, lateness, crash recovery, slow sinks. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from commandpost.notify import service
from commandpost.notify.models import DEAD, DELIVERED, PENDING, SENDING, OutgoingAttempt, OutgoingMessage
from commandpost.notify.rules import Delivery
from commandpost.notify.sender import NotificationSender

HOOK = "https://hooks.example.com/a"
OTHER = "https://hooks.example.com/b"


class ScriptedChannels:
    """Answers per destination from a script (the last answer repeats); records what was sent."""

    def __init__(self) -> None:
        self.answers: dict[str, deque[Delivery]] = defaultdict(deque)
        self.holds: dict[str, threading.Event] = {}
        self.sent: list[tuple[str, int, int]] = []
        self.lock = threading.Lock()

    def script(self, destination: str, *answers: Delivery) -> None:
        self.answers[destination].extend(answers)

    def send(self, message, now):  # type: ignore[no-untyped-def]
        hold = self.holds.get(message.destination)
        if hold is not None:
            assert hold.wait(timeout=20), "test never released a held send"
        with self.lock:
            self.sent.append((message.destination, message.id, message.attempt))
            queue = self.answers[message.destination]
            return queue.popleft() if len(queue) > 1 else (queue[0] if queue else Delivery("delivered", 200))

    def close(self) -> None:
        for hold in self.holds.values():
            hold.set()


OK, E500, E404 = (
    Delivery("delivered", 200),
    Delivery("retry", 500, "HTTP 500"),
    Delivery("dead", 404, "HTTP 404"),
)


@pytest.fixture
def channels() -> ScriptedChannels:
    return ScriptedChannels()


@pytest.fixture
def make_sender(settings, channels):  # type: ignore[no-untyped-def]
    made: list[NotificationSender] = []

    def make(owner: str = "sender-a", **overrides: object) -> NotificationSender:
        tuned = settings.model_copy(
            update={"notify_pass_wait_seconds": 30.0, "notify_max_attempts": 3, **overrides}
        )
        sender = NotificationSender(tuned, channels=channels, owner=owner, rand=lambda: 0.5)  # type: ignore[arg-type]
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


def run(sender: NotificationSender, sessions, now: datetime) -> int:  # type: ignore[no-untyped-def]
    with sessions() as s:
        done = sender.run(s, now)
        s.commit()
        return done


def enqueue(sessions, clock, key: str, destination: str = HOOK, channel: str = "webhook", **kw):  # type: ignore[no-untyped-def]
    with sessions() as s:
        message = service.enqueue(
            s,
            key=key,
            channel=channel,  # type: ignore[arg-type]
            destination=destination,
            subject=f"[SEV1] {key}",
            body="first move: look",
            severity="SEV1",
            incident_id=7,
            person="yuta",
            now=kw.pop("now", clock.now()),
            **kw,
        )
        s.commit()
        return message.id


def message(session, message_id: int) -> OutgoingMessage:
    session.rollback()  # a fresh read: end the read-only session's snapshot
    return session.get(OutgoingMessage, message_id)


def attempts(session, message_id: int) -> list[OutgoingAttempt]:
    return list(
        session.scalars(
            select(OutgoingAttempt)
            .where(OutgoingAttempt.message_id == message_id)
            .order_by(OutgoingAttempt.id)
        )
    )


def test_due_messages_are_sent_once_and_recorded(sessions, session, clock, channels, make_sender):
    ids = [enqueue(sessions, clock, f"k{i}", destination=f"https://hooks.example.com/{i}") for i in range(3)]
    future = enqueue(sessions, clock, "later", not_before=clock.now() + timedelta(minutes=5))
    sender = make_sender()
    assert sender.next_due(session, clock.now()) == clock.now()
    assert run(sender, sessions, clock.now()) == 3
    assert sorted(i for _d, i, _a in channels.sent) == ids
    for i in ids:
        m = message(session, i)
        assert (m.status, m.attempts, m.late, m.claimed_by) == (DELIVERED, 1, False, None)
        assert m.sent_at is not None and m.sent_at >= clock.now()
        [a] = attempts(session, i)
        assert (a.number, a.outcome, a.status_code, a.sender, a.at) == (
            1,
            "delivered",
            200,
            "sender-a",
            clock.now(),
        )
    assert run(sender, sessions, clock.now()) == 0  # nothing twice
    assert message(session, future).status == PENDING
    assert sender.next_due(session, clock.now()) == clock.now() + timedelta(minutes=5)


def test_a_failing_sink_is_retried_with_backoff_until_it_recovers(
    sessions, session, clock, channels, make_sender
):
    channels.script(HOOK, E500, E500, OK)
    mid = enqueue(sessions, clock, "k")
    sender = make_sender()
    run(sender, sessions, clock.now())
    m = message(session, mid)
    # backoff(1) with rand 0.5: 5 s step → 2.5 + 1.25 = 3.75 s after the attempt ended
    assert m.status == PENDING and m.last_error == "HTTP 500"
    assert clock.now() + timedelta(seconds=3.75) <= m.next_attempt_at < clock.now() + timedelta(seconds=4)
    clock.advance(seconds=3)
    assert run(sender, sessions, clock.now()) == 0  # not yet
    clock.advance(seconds=1)
    run(sender, sessions, clock.now())
    m = message(session, mid)
    assert m.status == PENDING and m.next_attempt_at >= clock.now() + timedelta(seconds=7.5)  # 10 s step
    clock.advance(seconds=8)
    run(sender, sessions, clock.now())
    m = message(session, mid)
    assert (m.status, m.attempts, m.last_error) == (DELIVERED, 3, None)
    assert [a.outcome for a in attempts(session, mid)] == ["retry", "retry", "delivered"]
    assert len(channels.sent) == 3


def test_dead_letter_after_max_attempts_then_retry(sessions, session, clock, channels, make_sender):
    channels.script(HOOK, E500)
    mid = enqueue(sessions, clock, "k")
    sender = make_sender()
    for _ in range(3):
        run(sender, sessions, clock.now())
        clock.advance(minutes=10)
    m = message(session, mid)
    assert (m.status, m.attempts) == (DEAD, 3)
    assert m.last_error == "HTTP 500 (gave up after 3 attempts)"
    assert [a.outcome for a in attempts(session, mid)] == ["retry", "retry", "dead"]
    assert sender.next_due(session, clock.now()) is None
    assert [x.id for x in service.list_messages(session, status="failed")] == [mid]

    channels.answers[HOOK] = deque([OK])
    with sessions() as s:
        service.retry(s, message_id=mid, now=clock.now(), max_attempts=3)
        s.commit()
    run(sender, sessions, clock.now())
    m = message(session, mid)
    assert (m.status, m.attempts, m.attempt_limit) == (DELIVERED, 4, 6)


def test_a_permanent_refusal_is_dead_at_once(sessions, session, clock, channels, make_sender):
    channels.script(HOOK, E404)
    mid = enqueue(sessions, clock, "k")
    run(make_sender(), sessions, clock.now())
    m = message(session, mid)
    assert (m.status, m.attempts, m.last_error) == (DEAD, 1, "HTTP 404")


def test_retry_after_holds_the_whole_destination(sessions, session, clock, channels, make_sender):
    channels.script(HOOK, Delivery("retry", 429, "HTTP 429", retry_after=30.0), OK)
    first = enqueue(sessions, clock, "k1")
    sender = make_sender()
    run(sender, sessions, clock.now())
    second = enqueue(sessions, clock, "k2")  # same destination, queued during the hold
    elsewhere = enqueue(sessions, clock, "k3", destination=OTHER)
    m = message(session, first)
    assert m.status == PENDING and m.next_attempt_at >= clock.now() + timedelta(seconds=30)
    assert run(sender, sessions, clock.now() + timedelta(seconds=1)) == 1  # only the other destination
    assert message(session, elsewhere).status == DELIVERED
    assert run(sender, sessions, clock.now() + timedelta(seconds=29)) == 0
    assert message(session, second).next_attempt_at >= clock.now() + timedelta(seconds=30)
    assert run(sender, sessions, clock.now() + timedelta(seconds=31)) == 2
    assert {message(session, first).status, message(session, second).status} == {DELIVERED}
    assert [d for d, _i, _a in channels.sent].count(HOOK) == 3


def test_slack_is_paced_per_webhook_url(sessions, session, clock, channels, make_sender):
    ids = [enqueue(sessions, clock, f"k{i}", destination=HOOK, channel="slack") for i in range(3)]
    other = enqueue(sessions, clock, "o", destination=OTHER, channel="slack")
    sender = make_sender()
    assert run(sender, sessions, clock.now()) == 2  # one per URL
    assert sender.next_due(session, clock.now()) == clock.now() + timedelta(seconds=1)
    assert run(sender, sessions, clock.now() + timedelta(milliseconds=500)) == 0
    assert run(sender, sessions, clock.now() + timedelta(seconds=1)) == 1
    assert run(sender, sessions, clock.now() + timedelta(seconds=2)) == 1
    assert [i for d, i, _a in channels.sent if d == HOOK] == ids  # in order
    assert message(session, other).status == DELIVERED


def test_pages_due_during_downtime_go_out_at_start_marked_late(
    sessions, session, clock, channels, make_sender
):
    overdue = enqueue(sessions, clock, "overdue")
    escalation = enqueue(sessions, clock, "escalation", not_before=clock.now() + timedelta(minutes=5))
    clock.advance(minutes=20)  # the server was down
    fresh = enqueue(sessions, clock, "fresh")
    sender = make_sender()
    assert run(sender, sessions, clock.now()) == 3
    assert message(session, overdue).late and message(session, escalation).late
    assert not message(session, fresh).late
    assert {message(session, i).status for i in (overdue, escalation, fresh)} == {DELIVERED}


def test_a_message_in_flight_when_its_sender_died_is_sent_again(
    sessions, session, clock, channels, make_sender
):
    mid = enqueue(sessions, clock, "k")
    crashed = make_sender("crashed")
    with sessions() as s:  # the claim commits, then the process dies before sending
        assert [m.id for m in crashed._claim(s, clock.now())] == [mid]
        s.commit()
    survivor = make_sender("survivor")
    assert message(session, mid).status == SENDING
    assert run(survivor, sessions, clock.now() + timedelta(seconds=10)) == 0  # the claim still holds
    assert survivor.next_due(session, clock.now()) == clock.now() + timedelta(seconds=30)
    assert run(survivor, sessions, clock.now() + timedelta(seconds=30)) == 2  # recovered + sent
    m = message(session, mid)
    assert (m.status, m.attempts) == (DELIVERED, 2)
    interrupted, delivered = attempts(session, mid)
    assert (
        interrupted.outcome == "interrupted"
        and "sender crashed stopped during attempt 1" in interrupted.error
    )
    assert (delivered.outcome, delivered.sender) == ("delivered", "survivor")
    assert channels.sent == [(HOOK, mid, 2)]


def test_a_slow_sink_does_not_hold_up_the_others(sessions, session, clock, channels, make_sender):
    slow = "https://slow.example.com/hook"
    channels.holds[slow] = threading.Event()
    slow_ids = [enqueue(sessions, clock, f"s{i}", destination=slow) for i in range(6)]
    fast_ids = [
        enqueue(sessions, clock, f"f{i}", destination=f"https://fast.example.com/{i}") for i in range(5)
    ]
    sender = make_sender(notify_pass_wait_seconds=0.3, notify_concurrency=6, notify_per_destination_limit=2)
    assert run(sender, sessions, clock.now()) == 5  # the fast ones, while two slow sends hang
    assert {message(session, i).status for i in fast_ids} == {DELIVERED}
    statuses = sorted(message(session, i).status for i in slow_ids)
    assert statuses == [PENDING] * 4 + [SENDING] * 2  # two in flight, the unstarted handed back
    assert sorted(message(session, i).attempts for i in slow_ids) == [0, 0, 0, 0, 1, 1]
    assert run(sender, sessions, clock.now()) == 0  # the destination is at its limit: nothing more goes
    channels.holds[slow].set()
    assert sender.drain(timeout=10)
    assert sorted(message(session, i).status for i in slow_ids) == [DELIVERED] * 2 + [PENDING] * 4
    clock.advance(seconds=2)
    assert run(sender, sessions, clock.now()) == 4
    assert {message(session, i).status for i in slow_ids} == {DELIVERED}


def test_the_engine_runner_sends_and_sleeps_until_the_next_retry(
    sessions, session, clock, channels, settings
):
    from commandpost.engine.runner import Runner

    channels.script(HOOK, E500, OK)
    mid = enqueue(sessions, clock, "k")
    sender = NotificationSender(
        settings.model_copy(update={"notify_pass_wait_seconds": 30.0}), channels=channels, rand=lambda: 0.0
    )  # type: ignore[arg-type]
    runner = Runner(sessions, clock, settings=settings, processors=[sender])
    try:
        assert runner.run_once() == 1
        assert message(session, mid).status == PENDING
        assert 2.5 <= runner.next_wake(clock.now()) < 3  # the backoff, not a fixed cycle
        clock.advance(seconds=3)
        assert runner.run_once() == 1
        assert message(session, mid).status == DELIVERED
        assert runner.next_wake(clock.now()) == settings.engine_max_sleep_seconds  # nothing left
    finally:
        sender.close()
