"""Two senders (two replicas) on one database send every message exactly once to the far end."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from commandpost.notify import service
from commandpost.notify.channels import Channels
from commandpost.notify.models import DELIVERED, OutgoingAttempt, OutgoingMessage
from commandpost.notify.sender import NotificationSender
from tests.integration.notify_sink import start_sink, stop_sink

pytestmark = pytest.mark.integration
MESSAGES = 400


def test_two_concurrent_senders_send_each_message_exactly_once(sessions, session, clock, settings):
    sink = start_sink()
    tuned = settings.model_copy(
        update={
            "outbound_allowlist": ["127.0.0.1"],
            "notify_batch_size": 25,
            "notify_pass_wait_seconds": 30.0,
        }
    )
    with sessions() as s:
        for i in range(MESSAGES):
            service.enqueue(
                s,
                key=f"fanout/{i}",
                channel="webhook",
                destination=f"{sink.url}/people/{i % 40}",
                subject=f"[SEV1] page {i}",
                body="first move",
                severity="SEV1",
                incident_id=i // 2,
                person=f"p{i % 40}",
                now=clock.now(),
            )
        s.commit()

    senders = [
        NotificationSender(
            tuned,
            channels=Channels(tuned, console_stream=io.StringIO()),
            owner=f"replica-{n}",
            rand=lambda: 0.5,
        )
        for n in (1, 2)
    ]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def replica(sender: NotificationSender) -> None:
        try:
            start.wait()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with sessions() as s:
                    done = sender.run(s, clock.now())
                    s.commit()
                    if done == 0 and sender.next_due(s, clock.now()) is None:
                        return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(s,)) for s in senders]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
    finally:
        for sender in senders:
            sender.close()
        stop_sink(sink)

    assert not errors, errors
    received = Counter(json.loads(r.body)["key"] for r in sink.received)
    assert len(received) == MESSAGES, "missed messages"
    assert max(received.values()) == 1, f"duplicates: {[k for k, n in received.items() if n > 1][:5]}"
    session.rollback()
    by_status = dict(
        session.execute(select(OutgoingMessage.status, func.count()).group_by(OutgoingMessage.status)).all()
    )
    assert by_status == {DELIVERED: MESSAGES}
    assert session.scalar(select(func.max(OutgoingMessage.attempts))) == 1  # no retries, no re-claims
    by_sender = Counter(session.scalars(select(OutgoingAttempt.sender)).all())
    assert sum(by_sender.values()) == MESSAGES
    if sessions.kw["bind"].dialect.name == "postgresql":  # SKIP LOCKED: both replicas took a share
        assert set(by_sender) == {"replica-1", "replica-2"}, by_sender
