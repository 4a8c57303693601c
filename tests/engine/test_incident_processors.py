"""Engine scenarios for incidents: seed, move the FrozenClock, run one pass, assert the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from commandpost.db.engine import transaction
from commandpost.engine.runner import Runner
from commandpost.incidents import comms, hooks, roles, service, timeline
from commandpost.incidents.processors import CommsReminders, HandoverExpiry
from tests.factories import make_incident, make_offer
from tests.seam_support import also


@pytest.fixture
def runner(sessions, clock, settings):
    return Runner(sessions, clock, settings=settings, processors=[HandoverExpiry(), CommsReminders()])


def _reminders(sessions, number=1):
    with transaction(sessions) as s:
        return [
            e
            for e in timeline.all_entries(s, incident=timeline.incident(s, number=number))
            if e.data.get("reminder") == "comms_overdue"
        ]


def test_handover_offer_expires_after_the_ttl_and_the_role_stays(runner, sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
        make_offer(s, timeline.incident(s, number=1), now=clock.now())
    clock.advance(minutes=14, seconds=59)
    assert runner.run_once() == 0
    clock.advance(seconds=1)
    assert runner.run_once() == 1
    assert runner.run_once() == 0
    with transaction(sessions) as s:
        incident = timeline.incident(s, number=1)
        assert roles.ic_holder(s, incident=incident) == "yuta"
        last = timeline.all_entries(s, incident=incident)[-1]
    assert (last.kind, last.author, last.at) == ("handover", "commandpost", clock.now())
    assert last.data["state"] == "expired"


def test_sev1_comms_reminders_once_per_overdue_period(runner, sessions, applied_ops, clock):
    seen: list[str] = []
    hook = lambda _s, incident, entry, _now: seen.append(entry.text)  # noqa: E731
    with also(hooks.comms_overdue, hook):
        with transaction(sessions) as s:
            declared = make_incident(s, now=clock.now(), severity="SEV1")
            make_offer(s, declared, role="comms", person="hana", now=clock.now())
            roles.accept(
                s, incident=timeline.lock(s, incident=declared), role="comms", actor="hana", now=clock.now()
            )
        assert declared.comms_due_at == clock.now() + timedelta(minutes=30)
        with transaction(sessions) as s:
            assert CommsReminders().next_due(s, clock.now()) == declared.comms_due_at
        clock.advance(minutes=29)
        assert runner.run_once() == 0
        clock.advance(minutes=1)
        assert runner.run_once() == 1
        assert runner.run_once() == 0  # the same due time never twice
        clock.advance(minutes=29)
        assert runner.run_once() == 0
        clock.advance(minutes=1)  # a whole cadence later, still silent: the next period's reminder
        assert runner.run_once() == 1
        reminders = _reminders(sessions)
        assert [r.data["period"] for r in reminders] == [
            (declared.comms_due_at + timedelta(minutes=k)).isoformat() for k in (0, 30)
        ]
        assert reminders[0].text == (
            "INC-1: comms update overdue since 12:30 JST (SEV1 cadence 30m); Comms: @hana — "
            "post one: commandpost comms INC-1 update"
        )
        assert seen == [r.text for r in reminders]


def test_posting_comms_moves_the_due_time_and_silences_reminders(runner, sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now(), severity="SEV1")
    clock.advance(minutes=20)
    with transaction(sessions) as s:
        entry = comms.post(
            s,
            incident=timeline.incident(s, number=1),
            kind="initial",
            audience="external",
            body=None,
            actor="yuta",
            config=applied_ops,
            now=clock.now(),
        )
        incident = timeline.incident(s, number=1)
    assert incident.comms_due_at == clock.now() + timedelta(minutes=30)
    assert entry.data["comms_kind"] == "initial" and entry.data["audience"] == "external"
    assert entry.text.startswith("[SEV1] Incident #1: Payment webhooks failing\nStatus: investigating")
    assert "Next update by 12:50 JST." in entry.text
    clock.advance(minutes=29)
    assert runner.run_once() == 0
    clock.advance(minutes=1)
    assert runner.run_once() == 1


def test_an_engine_that_was_down_writes_one_reminder_not_one_per_missed_period(
    runner, sessions, applied_ops, clock
):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now(), severity="SEV1")
    clock.advance(hours=3, minutes=5)
    assert runner.run_once() == 1
    assert runner.run_once() == 0
    (reminder,) = _reminders(sessions)
    assert reminder.data["period"] == (clock.now() - timedelta(minutes=5)).isoformat()


def test_raising_severity_brings_the_reminder_forward_and_resolving_stops_it(
    runner, sessions, applied_ops, clock
):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now(), severity="SEV2")  # 1h cadence
    clock.advance(minutes=40)
    assert runner.run_once() == 0
    with transaction(sessions) as s:
        service.change_severity(
            s,
            incident=timeline.incident(s, number=1),
            severity="SEV1",
            reason="all charges",
            actor="yuta",
            now=clock.now(),
        )
    assert runner.run_once() == 1  # SEV1's 30m from the declaration is already past
    with transaction(sessions) as s:
        service.change_status(
            s, incident=timeline.incident(s, number=1), status="resolved", actor="yuta", now=clock.now()
        )
        assert CommsReminders().next_due(s, clock.now()) is None
    clock.advance(hours=2)
    assert runner.run_once() == 0


def test_severities_without_a_cadence_never_remind(runner, sessions, applied_ops, clock):
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now(), severity="SEV3")
    assert incident.comms_due_at is None
    clock.advance(days=1)
    assert runner.run_once() == 0


def test_next_wake_follows_the_earliest_due_time(runner, sessions, applied_ops, clock, settings):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now(), severity="SEV1")
        make_offer(s, timeline.incident(s, number=1), now=clock.now())
    assert runner.next_wake(clock.now()) == settings.engine_max_sleep_seconds
    clock.advance(minutes=15)
    assert runner.next_wake(clock.now()) == 0.0
