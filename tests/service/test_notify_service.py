"""The outbox service on SQLite and PostgreSQL: idempotent enqueue, redaction, history, retry."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from commandpost.errors import Conflict, NotFound, ValidationFailed
from commandpost.notify import service
from commandpost.notify.models import DEAD, DELIVERED, PENDING, SENDING, OutgoingMessage


def page(session, clock, key="page/incident=7/level=1/person=yuta/channel=slack/repeat=0", **overrides):
    fields = {
        "key": key,
        "channel": "slack",
        "destination": "https://hooks.example.com/services/T/B/yuta",
        "subject": "[SEV1] INC-7 payment webhook backlog",
        "body": "First move: scale the workers",
        "severity": "SEV1",
        "incident_id": 7,
        "person": "yuta",
        "now": clock.now(),
    }
    fields.update(overrides)
    return service.enqueue(session, **fields)


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(OutgoingMessage))


def test_enqueue_inserts_once_per_key(sessions, session, clock):
    with sessions() as s:
        first = page(s, clock)
        assert first is not None and first.id and first.status == PENDING
        assert first.due_at == clock.now() == first.next_attempt_at and first.attempts == 0
        assert page(s, clock, subject="something else") is None  # same key: nothing, no error
        s.commit()
    with sessions() as s:
        assert page(s, clock) is None  # and across transactions
        assert page(s, clock, key="page/incident=7/level=1/person=yuta/channel=email/repeat=0") is not None
        s.commit()
    assert count(session) == 2
    stored = session.scalar(select(OutgoingMessage).order_by(OutgoingMessage.id))
    assert stored.subject == "[SEV1] INC-7 payment webhook backlog"


def test_concurrent_enqueues_of_one_key_leave_one_row(sessions, session, clock):
    barrier = threading.Barrier(4)
    results: list[object] = []

    def decide() -> None:
        with sessions() as s:
            barrier.wait()
            results.append(page(s, clock))
            s.commit()

    threads = [threading.Thread(target=decide) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(session) == 1
    assert sum(r is not None for r in results) == 1


def test_not_before_delays_the_first_attempt_and_sets_the_due_time(sessions, clock):
    later = clock.now() + timedelta(hours=2)
    with sessions() as s:
        message = page(s, clock, not_before=later)
        assert message.due_at == later == message.next_attempt_at and message.created_at == clock.now()
        s.commit()


def test_subject_body_and_payload_are_redacted_before_storage(sessions, session, clock):
    with sessions() as s:
        page(
            s,
            clock,
            subject="[SEV1] key AKIAIOSFODNN7EXAMPLE leaked",
            body="aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            payload={"api_token": "abc123", "note": "AKIAIOSFODNN7EXAMPLE"},
        )
        s.commit()
    stored = session.scalar(select(OutgoingMessage))
    for text in (stored.subject, stored.body, str(stored.payload)):
        assert "AKIAIOSFODNN7EXAMPLE" not in text and "[REDACTED:" in text
    assert "abc123" not in str(stored.payload)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"channel": "fax"}, "channel 'fax' is not one of console, slack, email, webhook, push, sms, voice"),
        ({"key": ""}, "idempotency key"),
        ({"key": "x" * 256}, "idempotency key"),
        ({"key": "page\n7"}, "idempotency key"),
        ({"destination": ""}, "destination"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(sessions, session, clock, overrides, message):
    with sessions() as s, pytest.raises(ValidationFailed, match=message):
        page(s, clock, **overrides)
    assert count(session) == 0


def test_history_lists_and_filters(sessions, session, clock):
    with sessions() as s:
        a = page(s, clock, key="a")
        clock.advance(seconds=5)
        b = page(s, clock, key="b", channel="email", destination="yuta@example.com")
        c = page(s, clock, key="c", incident_id=8)
        s.flush()
        b.status = DEAD
        c.status = DELIVERED
        s.commit()
    assert [m.key for m in service.messages_for_incident(session, incident_id=7)] == ["a", "b"]
    assert [m.id for m in service.list_messages(session)] == [c.id, b.id, a.id]
    assert [m.key for m in service.list_messages(session, status="failed")] == ["b"]
    assert [m.key for m in service.list_messages(session, status="dead")] == ["b"]
    assert [m.key for m in service.list_messages(session, channel="slack", incident_id=7)] == ["a"]
    assert [m.key for m in service.list_messages(session, before_id=c.id, limit=1)] == ["b"]
    with pytest.raises(ValidationFailed, match="status 'lost'"):
        service.list_messages(session, status="lost")


def test_retry_gives_a_dead_letter_a_fresh_budget(sessions, clock):
    with sessions() as s:
        message = page(s, clock)
        s.flush()
        message.status, message.attempts, message.last_error = DEAD, 10, "HTTP 500"
        s.commit()
        clock.advance(minutes=30)
        retried = service.retry(s, message_id=message.id, now=clock.now(), max_attempts=10)
        s.commit()
        assert (retried.status, retried.attempt_limit, retried.next_attempt_at) == (PENDING, 20, clock.now())


def test_retry_refuses_what_is_delivered_or_in_flight_and_unknown_ids(sessions, clock):
    with sessions() as s:
        message = page(s, clock)
        s.flush()
        for status in (DELIVERED, SENDING):
            message.status = status
            s.flush()
            with pytest.raises(Conflict, match=f"is {status}"):
                service.retry(s, message_id=message.id, now=clock.now(), max_attempts=3)
        with pytest.raises(NotFound, match="no notification 999"):
            service.retry(s, message_id=999, now=clock.now(), max_attempts=3)
