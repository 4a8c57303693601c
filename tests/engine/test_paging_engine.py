"""The escalation processor on both databases: DST moving who is paged, repeats, empty layers,
stops (ack, resolve, lowered severity, no policy), hand escalation, restarts across a due time,
a failing row not blocking the others, and the engine wake-up after commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.engine import wakeup
from commandpost.engine.runner import Runner
from commandpost.errors import Conflict
from commandpost.incidents import service as incidents_service
from commandpost.incidents import timeline
from commandpost.notify.models import DELIVERED, OutgoingMessage
from commandpost.notify.rules import Delivery
from commandpost.notify.sender import NotificationSender
from commandpost.paging import decision
from commandpost.paging import service as paging_service
from commandpost.paging.models import Escalation
from tests.paging_support import (
    ack,
    act,
    apply,
    escalate,
    expand,
    open_alert,
    ops_variant,
    outbox,
    page_entries,
    processor,
    resolve,
    run_until,
)

SCHEDULE = "schedules/payment-platform.yaml"
POLICY = "escalation/payment-platform.yaml"


def daily(timezone: str, start: str) -> Any:
    """The example schedule as two daily rotations handing off at 10:00 in ``timezone``."""

    def edit(data: dict[str, Any]) -> None:
        data["timezone"] = timezone
        for layer in data["layers"]:
            layer["rotation"].update(
                length="daily", start=start, handoff={"time": "10:00", "timezone": timezone}
            )

    return edit


@pytest.mark.parametrize(
    ("zone", "start", "opened", "primary", "secondary"),
    [
        # Spring forward: Sunday 2026-03-08 10:00 EDT is 14:00 UTC (15:00 UTC the day before, EST).
        ("America/New_York", "2026-03-01", datetime(2026, 3, 8, 13, 50, tzinfo=UTC), "ken", "yuta"),
        # Fall back: Sunday 2026-10-25 10:00 CET is 09:00 UTC (08:00 UTC the day before, CEST).
        ("Europe/Berlin", "2026-10-01", datetime(2026, 10, 25, 8, 50, tzinfo=UTC), "mei", "hana"),
    ],
)
def test_dst_moves_the_handoff_in_utc_and_so_who_is_paged(
    sessions, session, clock, tmp_path, zone, start, opened, primary, secondary
):
    """Opened ten minutes before the local 10:00 handoff, escalated 15 minutes later: the first page
    goes to the outgoing primary, the escalation to the incoming secondary — an hour off either way
    if the handoff were computed with the offset of the day before."""
    clock.set(opened - timedelta(days=1))
    apply(sessions, clock, ops_variant(tmp_path, {SCHEDULE: daily(zone, start)}))
    clock.set(opened)
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="Receipts", now=opened, group="dst"))
    run_until(sessions, clock, opened + timedelta(minutes=30), processor())
    assert outbox(session) == sorted(
        [
            *expand(opened, "INC-1", "page", 1, primary),
            *expand(opened + timedelta(minutes=15), "INC-1", "page", 2, secondary),
        ]
    )


def test_levels_with_repeat_start_over_and_an_empty_layer_is_skipped_at_once(
    sessions, session, clock, tmp_path
):
    def policy(data: dict[str, Any]) -> None:
        data["severity_routing"]["SEV2"] = {
            "levels": [
                {"targets": ["night_only"]},
                {"targets": ["primary_oncall"], "after": "10m"},
                {"targets": ["team_lead"], "after": "10m"},
            ],
            "repeat": 1,
        }
        data["targets"]["night_only"] = {"schedule": "night", "layer": "owl"}

    def schedule(data: dict[str, Any]) -> None:
        data["layers"].append(
            {
                "name": "owl",
                "rotation": {"members": ["mei"], "start": "2026-01-05"},
                "restrictions": [{"start": "00:00", "end": "06:00"}],
            }
        )

    folder = ops_variant(tmp_path, {POLICY: policy})
    (folder / "schedules" / "night.yaml").write_text(
        "timezone: Asia/Tokyo\nlayers:\n  - name: owl\n    rotation:\n      members: [mei]\n"
        "      start: 2026-01-05\n    restrictions:\n      - start: '00:00'\n        end: '06:00'\n"
    )
    opened = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)  # 12:00 JST: the owl layer is empty
    clock.set(opened)
    apply(sessions, clock, folder)
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="Backlog", now=opened, group="r"))
    run_until(sessions, clock, opened + timedelta(hours=2), processor())
    minutes = [opened + timedelta(minutes=m) for m in (0, 10, 20, 30)]
    # Level 1 reaches nobody → level 2 at once; repeat after the last level's 10m; then done.
    assert outbox(session) == sorted(
        [
            *expand(minutes[0], "INC-1", "page", 2, "yuta"),
            *expand(minutes[1], "INC-1", "page", 3, "yuta"),
            *expand(minutes[2], "INC-1", "page", 2, "yuta"),
            *expand(minutes[3], "INC-1", "page", 3, "yuta"),
        ]
    )
    entries = page_entries(session, 1)
    assert entries[0].startswith("INC-1: SEV2 level 1 of 3 reached nobody; the next level is due at once")
    assert "nobody is on call for night/owl" in entries[0]
    assert "repeat 1 of 1" in entries[-2]


def test_ack_resolve_and_a_lowered_severity_stop_the_chain(sessions, session, clock):
    apply(sessions, clock)
    t0 = clock.now()
    act(sessions, lambda s: open_alert(s, severity="SEV1", title="one", now=t0, group="1"))
    act(sessions, lambda s: open_alert(s, severity="SEV1", title="two", now=t0, group="2"))
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="three", now=t0, group="3"))
    esc = processor()
    run_until(sessions, clock, t0 + timedelta(minutes=1), esc)
    act(sessions, ack(1, "yuta", clock.now()))
    act(sessions, resolve(2, "yuta", clock.now()))
    act(
        sessions,
        lambda s: incidents_service.change_severity(
            s,
            incident=timeline.incident(s, number=3, for_update=True),
            severity="SEV3",
            reason="contained",
            actor="yuta",
            now=clock.now(),
        ),
    )
    run_until(sessions, clock, t0 + timedelta(hours=1), esc)
    levels = {(row[1], row[3]) for row in outbox(session) if row[2] == "page"}
    assert levels == {("INC-1", 1), ("INC-2", 1), ("INC-3", 1)}
    session.rollback()
    states = dict(session.execute(select(Escalation.incident_id, Escalation.state)).all())
    assert sorted(states.values()) == ["acknowledged", "resolved", "stopped"]
    assert session.scalar(select(Escalation.id).where(Escalation.next_escalation_at.is_not(None))) is None


def test_a_service_without_a_policy_says_nobody_can_be_paged(sessions, session, clock, tmp_path):
    def service(data: dict[str, Any]) -> None:
        data.pop("escalation_policy")
        data["alert_rules"] = []  # `check` refuses paging alert rules without a policy

    folder = ops_variant(tmp_path, {"services/payment-platform.yaml": service})
    (folder / POLICY).unlink()
    apply(sessions, clock, folder)
    act(sessions, lambda s: open_alert(s, severity="SEV1", title="lonely", now=clock.now(), group="n"))
    run_until(sessions, clock, clock.now() + timedelta(minutes=10), processor())
    assert outbox(session) == []
    assert page_entries(session, 1) == [
        "INC-1: SEV1 pages but nobody can be paged: service 'payment-platform' has no escalation policy"
    ]
    with pytest.raises(Conflict, match="no escalation policy"):
        act(sessions, escalate(1, "yuta", clock.now()))


def test_escalate_pages_the_next_level_now_and_wraps_after_the_last(sessions, session, clock):
    apply(sessions, clock)
    t0 = clock.now()
    act(
        sessions,
        lambda s: incidents_service.declare(
            s, title="Looks bad", severity="SEV2", actor="mei", now=t0, service="payment-platform", page=False
        ),
    )
    esc = processor()
    run_until(sessions, clock, t0 + timedelta(minutes=30), esc)
    assert outbox(session) == []  # declared without paging: the declarer is IC and on it; nobody paged
    for minutes in (31, 32, 33):
        clock.set(t0 + timedelta(minutes=minutes))
        act(sessions, escalate(1, "mei", clock.now()))
    run_until(sessions, clock, t0 + timedelta(hours=2), esc)
    assert outbox(session) == sorted(
        [
            *expand(t0 + timedelta(minutes=31), "INC-1", "page", 1, "yuta"),
            *expand(t0 + timedelta(minutes=32), "INC-1", "page", 2, "hana"),
            *expand(t0 + timedelta(minutes=33), "INC-1", "page", 1, "yuta"),  # one more cycle, by hand
        ]
    )
    session.rollback()
    row = session.scalars(select(Escalation)).one()
    assert (row.state, row.next_escalation_at, row.repeat) == ("acknowledged", None, 1)
    act(sessions, resolve(1, "mei", clock.now()))
    with pytest.raises(Conflict, match="nothing to escalate"):
        act(sessions, escalate(1, "mei", clock.now()))


def test_escalate_refuses_a_severity_that_pages_nobody(sessions, clock):
    apply(sessions, clock)
    act(
        sessions,
        lambda s: incidents_service.declare(
            s, title="Slow CSV", severity="SEV3", actor="mei", now=clock.now(), service="payment-platform"
        ),
    )
    with pytest.raises(Conflict, match="pages nobody for SEV3; raise the severity"):
        act(sessions, escalate(1, "mei", clock.now()))


class Recording:
    """Channels that deliver everything and remember what, and with which due time."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, datetime | None, datetime]] = []
        self.lock = threading.Lock()

    def send(self, message, now):  # type: ignore[no-untyped-def]
        with self.lock:
            self.sent.append((message.key, message.due_at, now))
        return Delivery("delivered", 200)

    def close(self) -> None:
        pass


def test_a_restart_across_an_escalation_boundary_sends_on_the_first_pass_marked_late(
    sessions, session, clock, settings
):
    apply(sessions, clock)
    t0 = clock.now()
    settings = settings.model_copy(update={"public_url": "https://cp.example"})
    channels = Recording()

    def runner() -> Runner:
        sender = NotificationSender(settings, channels=channels, owner="r", rand=lambda: 0.5)  # type: ignore[arg-type]
        return Runner(sessions, clock, settings=settings, processors=[paging_processor(settings), sender])

    act(sessions, lambda s: open_alert(s, severity="SEV2", title="Backlog", now=t0, group="x"))
    first = runner()
    first.run_once()
    assert {key.split("/")[3] for key, _, _ in channels.sent} == {"level=0"}
    # The engine is down from t0 until t0 + 40m; level 2 fell due at t0 + 15m.
    clock.set(t0 + timedelta(minutes=40))
    runner().run_once()
    late = [(key, due, at) for key, due, at in channels.sent if "level=1" in key]
    assert late and all(due == t0 + timedelta(minutes=15) and at == clock.now() for _, due, at in late)
    session.rollback()
    rows = session.scalars(select(OutgoingMessage).where(OutgoingMessage.key.like("%level=1%"))).all()
    assert {(r.status, r.late) for r in rows} == {(DELIVERED, True)}
    assert {(r.status, r.late) for r in session.scalars(select(OutgoingMessage)) if "level=0" in r.key} == {
        (DELIVERED, False)
    }


def paging_processor(settings):  # type: ignore[no-untyped-def]
    from commandpost.paging.processors import EscalationsDue

    return EscalationsDue(settings)


def test_a_failing_row_is_pushed_back_and_does_not_block_the_others(sessions, session, clock, monkeypatch):
    apply(sessions, clock)
    t0 = clock.now()
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="bad", now=t0, group="bad"))
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="good", now=t0, group="good"))
    real = decision.process

    def flaky(s, decider, esc, incident):  # type: ignore[no-untyped-def]
        if incident.number == 1:
            raise RuntimeError("boom")
        return real(s, decider, esc, incident)

    monkeypatch.setattr(decision, "process", flaky)
    esc = processor()
    with transaction(sessions) as s:
        esc.run(s, t0)
    assert {row[1] for row in outbox(session)} == {"INC-2"}
    session.rollback()
    retry_at = session.scalar(select(Escalation.next_escalation_at).where(Escalation.incident_id == 1))
    assert retry_at == t0 + timedelta(seconds=30)
    monkeypatch.setattr(decision, "process", real)
    run_until(sessions, clock, t0 + timedelta(seconds=30), esc)
    assert {row[1] for row in outbox(session) if row[3] == 1} == {"INC-1", "INC-2"}


def test_an_opened_incident_wakes_the_engine_after_commit_only(sessions, clock):
    apply(sessions, clock)
    woken: list[int] = []

    def listener() -> None:
        woken.append(1)

    wakeup.register(listener)
    try:
        with sessions() as s:
            open_alert(s, severity="SEV1", title="rolled back", now=clock.now(), group="w1")
            assert woken == []
            s.rollback()
        with sessions() as s:
            s.execute(select(1))
            s.commit()
        assert woken == []  # the rolled-back request is gone
        with sessions() as s:
            open_alert(s, severity="SEV1", title="kept", now=clock.now(), group="w2")
            assert woken == []
            s.commit()
        assert woken == [1]
    finally:
        wakeup.unregister(listener)


def test_pagerduty_style_source_ack_stops_the_chain(sessions, session, clock):
    apply(sessions, clock)
    t0 = clock.now()
    act(sessions, lambda s: open_alert(s, severity="SEV1", title="DB", now=t0, group="pd"))
    esc = processor()
    run_until(sessions, clock, t0 + timedelta(minutes=1), esc)
    assert act(
        sessions,
        lambda s: paging_service.acknowledge_number(s, number=1, by="pagerduty ack", now=clock.now()),
    )
    assert not act(
        sessions, lambda s: paging_service.acknowledge_number(s, number=1, by="again", now=clock.now())
    )
    run_until(sessions, clock, t0 + timedelta(hours=1), esc)
    assert {row[3] for row in outbox(session) if row[2] == "page"} == {1}
    assert page_entries(session, 1)[-1] == "INC-1: escalation stopped — acknowledged by pagerduty ack"


def test_a_sev3_resolved_before_business_hours_never_bothers_the_channel(sessions, session, clock):
    clock.set(datetime(2026, 6, 26, 13, 0, tzinfo=UTC))  # Friday 22:00 JST
    apply(sessions, clock)
    for title in ("CSV export slow", "Cron late"):
        act(
            sessions,
            lambda s, title=title: incidents_service.declare(
                s, title=title, severity="SEV3", actor="mei", now=clock.now(), service="payment-platform"
            ),
        )
    esc = processor()
    run_until(sessions, clock, clock.now() + timedelta(hours=1), esc)
    act(sessions, resolve(1, "mei", clock.now()))
    monday = datetime(2026, 6, 29, 0, 0, tzinfo=UTC)  # 09:00 JST
    run_until(sessions, clock, monday + timedelta(hours=1), esc)
    assert outbox(session) == sorted(expand(monday, "INC-2", "fyi", None, "#payments"))
    assert page_entries(session, 1) == [
        "INC-1: SEV3 pages nobody; oncall_channel will hear at Mon 2026-06-29 09:00 JST, "
        "when business hours start"
    ]
