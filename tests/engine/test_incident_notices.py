"""Issue 3 meets issue 6: what the incident lifecycle tells people through the notify outbox.

Comms overdue → the effective Comms holder, once per incident and overdue period; a role offer →
the person offered; a declaration → the command post announced to the team channel once (by
paging's FYI to the severity route's ``notify`` targets). Both databases, FrozenClock, one pass at
a time, assertions on the outbox (nothing is sent: no sender runs here).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from commandpost import wiring
from commandpost.db.engine import transaction
from commandpost.engine.runner import Runner
from commandpost.incidents import comms, roles, timeline
from commandpost.incidents import notices as incident_notices
from commandpost.incidents.models import TimelineEntry
from commandpost.incidents.processors import CommsReminders
from commandpost.notify.models import OutgoingMessage
from commandpost.settings import Settings
from tests.factories import make_incident, make_offer
from tests.paging_support import apply, ops_variant, processor, run_until

PUBLIC_URL = "https://cp.example"
# examples/ops/people.yaml: neither has per-severity preferences, so every contact method + console;
# Slack is the person (a DM by the bot, found by email) with their webhook beside.
YUTA = {
    "slack": "slack:yuta@example.com https://hooks.slack.example/services/T000/B001/yuta",
    "email": "yuta@example.com",
}
HANA = {
    "slack": "slack:hana@example.com https://hooks.slack.example/services/T000/B002/hana",
    "email": "hana@example.com",
}


@pytest.fixture(autouse=True)
def public_url() -> None:
    """Links in these notices come from the settings the root wired the process with."""
    wiring.wire(Settings(public_url=PUBLIC_URL, engine_enabled=False))


@pytest.fixture
def runner(sessions, clock, settings):
    return Runner(sessions, clock, settings=settings, processors=[CommsReminders()])


def outbox(session, kind: str | None = None) -> list[OutgoingMessage]:
    session.rollback()
    rows = session.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id)).all()
    return [m for m in rows if kind is None or m.key.startswith(f"{kind}/")]


def by_channel(messages: list[OutgoingMessage]) -> dict[str, str]:
    channels = [m.channel for m in messages]
    assert len(channels) == len(set(channels)), f"more than one message per channel: {channels}"
    return {m.channel: m.destination for m in messages}


# ------------------------------------------------------------------ comms overdue → the Comms holder


def test_overdue_comms_tells_the_ic_holding_comms_once_per_channel_and_period(
    runner, sessions, session, applied_ops, clock
):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now(), severity="SEV1")  # IC @yuta, Comms held by default
    clock.advance(minutes=29)
    assert runner.run_once() == 0
    assert outbox(session) == []
    clock.advance(minutes=1)  # 12:30 JST: the SEV1 update is due
    assert runner.run_once() == 1
    first = outbox(session, "comms-overdue")
    assert by_channel(first) == {**YUTA, "console": "@yuta"}
    assert {m.person for m in first} == {"yuta"}
    assert [m.key for m in first] == [
        f"comms-overdue/incident=INC-1/period=20260624T033000Z/to=yuta/channel={c}"
        for c in ("slack", "email", "console")
    ]
    message = first[0]
    assert message.severity == "SEV1" and message.incident_id is not None
    assert message.subject == "[SEV1] INC-1 comms update due now: Payment webhooks failing"
    assert message.body.splitlines() == [
        "[SEV1] INC-1 payment-platform: Payment webhooks failing",
        "Comms update due now: it was due at 12:30 JST (SEV1: an update every 30m).",
        "You hold Comms on INC-1 (as IC, by default).",
        "Post one: commandpost comms INC-1 update",
        f"Incident: {PUBLIC_URL}/incidents/INC-1",
    ]
    assert message.payload["url"] == f"{PUBLIC_URL}/incidents/INC-1"
    assert message.payload["command"] == "commandpost comms INC-1 update"

    # A second pass at the same instant, and later in the same period: nothing more.
    assert runner.run_once() == 0
    clock.advance(minutes=29)
    assert runner.run_once() == 0
    assert outbox(session) == first

    # The next period: one more reminder, saying how long overdue, under new keys.
    clock.advance(minutes=1)
    assert runner.run_once() == 1
    second = outbox(session, "comms-overdue")[len(first) :]
    assert by_channel(second) == {**YUTA, "console": "@yuta"}
    assert all("/period=20260624T040000Z/" in m.key for m in second)
    assert second[0].subject == "[SEV1] INC-1 comms update overdue by 30m: Payment webhooks failing"
    assert "Comms update overdue by 30m: it was due at 12:30 JST" in second[0].body


def test_the_same_reminder_decided_twice_queues_nothing_the_second_time(
    runner, sessions, session, applied_ops, clock
):
    """Belt and braces: the idempotency key holds even if the hook ran again for the same period
    (a replica re-deciding it), not only because the reminder's conditional update runs once."""
    with transaction(sessions) as s:
        make_incident(s, now=clock.now(), severity="SEV1")
    clock.advance(minutes=30)
    assert runner.run_once() == 1
    before = [m.key for m in outbox(session)]
    assert len(before) == 3
    with transaction(sessions) as s:
        incident = timeline.lock(s, incident=timeline.incident(s, number=1))
        entry = s.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.incident_id == incident.id)
            .order_by(TimelineEntry.id.desc())
        ).first()
        assert entry is not None and entry.data["reminder"] == "comms_overdue"
        assert (
            incident_notices.comms_overdue(
                s, incident, entry, clock.now(), settings=Settings(public_url=PUBLIC_URL)
            )
            == 0
        )
    assert [m.key for m in outbox(session)] == before


def test_a_delegated_comms_holder_is_told_instead_of_the_ic(runner, sessions, session, applied_ops, clock):
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now(), severity="SEV1")
        roles.assign(
            s,
            incident=timeline.lock(s, incident=incident),
            role="comms",
            person="hana",
            actor="yuta",
            is_admin=False,
            config=applied_ops,
            now=clock.now(),
        )
    clock.advance(minutes=30)
    assert runner.run_once() == 1
    messages = outbox(session)
    assert {m.person for m in messages} == {"hana"}
    assert by_channel(messages) == {**HANA, "console": "@hana"}
    assert "You hold Comms on INC-1." in messages[0].body.splitlines()


def test_posting_comms_in_time_tells_nobody(runner, sessions, session, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now(), severity="SEV1")
    clock.advance(minutes=20)
    with transaction(sessions) as s:
        comms.post(
            s,
            incident=timeline.incident(s, number=1),
            kind="initial",
            audience="internal",
            body=None,
            actor="yuta",
            config=applied_ops,
            now=clock.now(),
        )
    clock.advance(minutes=29)  # 10 minutes past the first due time, 1 minute before the new one
    assert runner.run_once() == 0
    assert outbox(session) == []


# ------------------------------------------------------------------ role offered → the person offered


def test_a_role_offer_tells_the_person_offered(sessions, session, applied_ops, clock):
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now(), severity="SEV1")
        offer = make_offer(s, incident, role="ic", person="hana", now=clock.now())
        offer_id = offer.id
    messages = outbox(session)
    assert {m.person for m in messages} == {"hana"}
    assert by_channel(messages) == {**HANA, "console": "@hana"}
    assert [m.key for m in messages] == [
        f"role-offer/incident=INC-1/offer={offer_id}/to=hana/channel={c}"
        for c in ("slack", "email", "console")
    ]
    message = messages[0]
    assert message.subject == "[SEV1] INC-1 IC offered to you by @yuta: Payment webhooks failing"
    # Offered at 12:00:00 JST with the example's 15-minute TTL.
    assert message.body.splitlines() == [
        "[SEV1] INC-1 payment-platform: Payment webhooks failing",
        "@yuta offers you IC on INC-1.",
        "The offer expires at 12:15:00 JST; until you accept, IC stays with @yuta.",
        "Accept: commandpost role accept INC-1 ic",
        "Decline: commandpost role decline INC-1 ic",
        f"Incident: {PUBLIC_URL}/incidents/INC-1",
    ]
    assert message.payload["role"] == "ic" and message.payload["offered_by"] == "yuta"


def test_each_offer_is_told_once_and_a_new_offer_again(sessions, session, applied_ops, clock):
    """An expired offer and a fresh one to the same person are two offers: two notices."""
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now())
        make_offer(s, incident, role="comms", person="hana", now=clock.now())
    assert len(outbox(session, "role-offer")) == 3
    clock.advance(minutes=16)
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), role="comms", person="hana", now=clock.now())
    messages = outbox(session, "role-offer")
    assert len(messages) == 6
    assert len({m.key for m in messages}) == 6
    assert "@yuta offers you Comms on INC-1." in messages[-1].body.splitlines()
    assert "Accept: commandpost role accept INC-1 comms" in messages[-1].body.splitlines()


def test_a_secret_in_the_title_never_reaches_a_notice(sessions, session, applied_ops, clock):
    secret = "AKIAIOSFODNN7EXAMPLE"
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now(), title=f"leaked key {secret} in logs")
        make_offer(s, incident, role="ops", person="hana", now=clock.now())
    messages = outbox(session)
    assert messages
    for m in messages:
        assert secret not in m.subject and secret not in m.body
        assert "[REDACTED:" in m.subject


# ------------------------------------------------------------------ the command post → the team channel


def _sev1_notifies_the_channel(data: dict[str, Any]) -> None:
    data["severity_routing"]["SEV1"]["notify"] = ["eng_manager", "oncall_channel"]


TEAM_CHANNEL = {
    "slack": "https://hooks.slack.example/services/T000/B100/payments",
    "console": "#payments-oncall",
}


@pytest.mark.parametrize("severity", ["SEV1", "SEV3"])
def test_declaring_announces_the_command_post_to_the_team_channel_once(
    sessions, session, clock, tmp_path, severity
):
    """The team channel is the route's channel-kind ``notify`` target (SEV3 in the example; SEV1 here
    with ``oncall_channel`` added): paging's FYI at open tells it, and carries the command post."""
    folder = ops_variant(tmp_path, {"escalation/payment-platform.yaml": _sev1_notifies_the_channel})
    apply(sessions, clock, folder)  # Wednesday 12:00 JST: within business hours
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now(), severity=severity, title="Payment webhooks failing")
        channel = incident.channel
    assert channel == "inc-2026-06-24-payment-webhooks-failing"
    esc = processor()
    run_until(sessions, clock, clock.now(), esc)
    to_channel = [m for m in outbox(session) if m.destination in TEAM_CHANNEL.values()]
    assert by_channel(to_channel) == TEAM_CHANNEL
    for m in to_channel:
        assert m.key.startswith("fyi/incident=INC-1/")
        assert f"Command post: #{channel}" in m.body.splitlines()
    # Nothing else announces it: no other message carries the channel name to the team channel,
    # and later passes (and the comms/offer notices) add nothing there.
    run_until(sessions, clock, clock.now() + timedelta(hours=1), esc)
    assert [m.id for m in outbox(session) if m.destination in TEAM_CHANNEL.values()] == [
        m.id for m in to_channel
    ]
    assert all(m.key.startswith(("fyi/", "page/")) for m in outbox(session))


def test_a_comms_holder_missing_from_people_yaml_keeps_the_reminder(
    runner, sessions, session, applied_ops, clock, caplog
):
    """Declared by someone people.yaml does not list: nowhere to send, but the timeline reminder
    stands and nothing is rolled back."""
    with transaction(sessions) as s:
        make_incident(s, now=clock.now(), severity="SEV1", actor="ghost")
    clock.advance(minutes=30)
    assert runner.run_once() == 1
    assert outbox(session) == []
    with transaction(sessions) as s:
        entries = timeline.all_entries(s, incident=timeline.incident(s, number=1))
    assert [e.data.get("comms_holder") for e in entries if e.data.get("reminder")] == ["ghost"]
    assert "cannot tell @ghost" in caplog.text
