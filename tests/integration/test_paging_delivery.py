"""Pages through a far end that fails first: a local HTTP receiver answers 500, 500, then 429 with
Retry-After, then recovers. Nothing is lost — notify's retries deliver every page, every attempt is
recorded, and the pages endpoint says so. Both databases, frozen clock moved to each retry."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.notify.channels import Channels
from commandpost.notify.models import DELIVERED, OutgoingAttempt, OutgoingMessage
from commandpost.notify.sender import NotificationSender
from tests.integration.notify_sink import start_sink, stop_sink
from tests.paging_support import act, apply, open_alert, ops_variant, processor

pytestmark = pytest.mark.integration
INCIDENTS = 10


def test_a_failing_then_recovering_receiver_loses_no_page(sessions, session, clock, settings, tmp_path):
    sink = start_sink()
    for handle in ("yuta", "hana"):
        sink.script(f"/hook/{handle}", 500, 500, (429, {"Retry-After": "20"}), 200)

    def people(data: dict[str, Any]) -> None:
        for person in data["people"]:
            person["contact"] = {"webhook": f"{sink.url}/hook/{person['handle']}"}
            person.pop("notify", None)
            person.pop("notification_rules", None)

    apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": people}))
    tuned = settings.model_copy(
        update={
            "outbound_allowlist": ["127.0.0.1"],
            "notify_backoff_base_seconds": 5.0,
            "notify_max_attempts": 10,
        }
    )
    sender = NotificationSender(
        tuned, channels=Channels(tuned, console_stream=io.StringIO()), owner="s", rand=lambda: 0.5
    )
    esc = processor()
    t0 = clock.now()
    for n in range(INCIDENTS):
        act(
            sessions,
            lambda s, n=n: open_alert(s, severity="SEV2", title=f"backlog {n}", now=t0, group=f"g{n}"),
        )
    try:
        for _ in range(200):  # the engine's passes, the clock moved to the next due time each time
            with transaction(sessions) as s:
                esc.run(s, clock.now())
                sender.run(s, clock.now())
            with sessions() as s:
                dues = [d for d in (esc.next_due(s, clock.now()), sender.next_due(s, clock.now())) if d]
            if not dues or min(dues) > t0 + timedelta(minutes=20):
                break
            clock.set(max(min(dues), clock.now() + timedelta(milliseconds=1)))
        sender.drain()
    finally:
        sender.close()
        stop_sink(sink)

    session.rollback()
    pages = session.scalars(select(OutgoingMessage).where(OutgoingMessage.channel == "webhook")).all()
    assert len(pages) == INCIDENTS * 2  # level 1 (primary yuta) and level 2 (secondary hana)
    assert {m.status for m in pages} == {DELIVERED}
    received = {json.loads(r.body)["key"] for r in sink.received}
    assert received == {m.key for m in pages}
    outcomes = [
        (a.status_code, a.outcome)
        for a in session.scalars(
            select(OutgoingAttempt).join(OutgoingMessage).where(OutgoingMessage.channel == "webhook")
        )
    ]
    assert outcomes.count((500, "retry")) == 4 and outcomes.count((429, "retry")) == 2
    assert outcomes.count((200, "delivered")) == INCIDENTS * 2
