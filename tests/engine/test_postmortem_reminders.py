"""Action-item reminders with an advanced clock: seed, move the FrozenClock, run one pass, assert the outbox
(``outgoing_message`` rows queued through notify). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.incidents import service, timeline
from commandpost.notify.models import OutgoingMessage
from commandpost.postmortems import actions
from commandpost.postmortems import processors as pm_processors
from commandpost.postmortems import service as pm_service
from commandpost.settings import Settings
from commandpost.wiring import engine_plan

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 12:00 JST
DUE = date(2026, 12, 10)


def _item(sessions, clock, *, owner: str = "hana", due: date = DUE) -> int:  # type: ignore[no-untyped-def]
    clock.set(NOW)
    with transaction(sessions) as s:
        incident, _ = service.open_or_attach(
            s, service="payment-platform", severity="SEV2", title="Receipts not issued", group_key="receipts",
            impact_started_at=None, detected_at=None, runbook=None, no_runbook=True,
            source_summary="generic ReceiptsStalled: no receipts for 10m", now=clock.now(),
        )  # fmt: skip
        service.acknowledge(s, incident=incident, person="yuta", now=clock.now())
        service.change_status(s, incident=incident, status="resolved", actor="yuta", now=clock.now())
        pm = pm_service.evaluate(s, incident=incident, now=clock.now())
        item = actions.add(
            s, pm=pm, incident=incident, title="Alert when no receipt is issued for 5 minutes",
            type="prevent", owner=owner, due=due, ticket="OPS-77",
            verification="stop the receipts job in staging and see the page",
            actor="yuta", now=clock.now(),
        )  # fmt: skip
        return item.id


def _pass(sessions, clock, when: datetime) -> int:  # type: ignore[no-untyped-def]
    clock.set(when)
    with transaction(sessions) as s:
        return pm_processors.ActionItemReminders().run(s, clock.now())


def _outbox(sessions) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        rows = s.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id))
        return [(m.key, m.channel, m.destination, m.subject) for m in rows]


def test_owner_is_reminded_two_days_before_and_the_morning_after(sessions, applied_ops, clock):
    item = _item(sessions, clock)
    assert _pass(sessions, clock, datetime(2026, 12, 7, 23, 59, tzinfo=UTC)) == 0  # 08:59 JST, 2 days before
    assert _outbox(sessions) == []

    assert _pass(sessions, clock, datetime(2026, 12, 8, 0, 0, tzinfo=UTC)) == 1  # 09:00 JST
    subject = f"Action item #{item} from the INC-1 postmortem is due 2026-12-10"
    slack = "slack:hana@example.com https://hooks.slack.example/services/T000/B002/hana"
    assert _outbox(sessions) == [
        (f"action-item:{item}:before:2026-12-10:slack", "slack", slack, subject),
        (f"action-item:{item}:before:2026-12-10:email", "email", "hana@example.com", subject),
        (f"action-item:{item}:before:2026-12-10:console", "console", "@hana", subject),
    ]
    assert _pass(sessions, clock, datetime(2026, 12, 9, 0, 0, tzinfo=UTC)) == 0  # once per kind and due day
    with transaction(sessions) as s:
        assert actions.overdue_count(s, now=datetime(2026, 12, 10, 14, 59, tzinfo=UTC)) == 0  # 23:59 JST
        assert actions.overdue_count(s, now=datetime(2026, 12, 10, 15, 0, tzinfo=UTC)) == 1
        body = s.scalars(select(OutgoingMessage.body)).first()
    assert body is not None and f"commandpost action done {item}" in body and "ticket OPS-77" in body

    assert _pass(sessions, clock, datetime(2026, 12, 11, 0, 0, tzinfo=UTC)) == 1  # the morning after
    after = [row for row in _outbox(sessions) if ":after:" in row[0]]
    assert [row[1] for row in after] == ["slack", "email", "console"]
    assert after[0][3] == f"Action item #{item} from the INC-1 postmortem is overdue (due 2026-12-10)"
    assert _pass(sessions, clock, datetime(2026, 12, 30, tzinfo=UTC)) == 0
    assert len(_outbox(sessions)) == 6


def test_a_new_due_day_rearms_the_reminders_and_done_silences_them(sessions, applied_ops, clock):
    item = _item(sessions, clock)
    _pass(sessions, clock, datetime(2026, 12, 11, 0, 0, tzinfo=UTC))  # first seen overdue: only "after"
    assert [key.split(":")[2] for key, *_ in _outbox(sessions)] == ["after"] * 3
    with transaction(sessions) as s:
        actions.update_item(
            s, item_id=item, changes={"due": date(2026, 12, 20)}, actor="hana", now=clock.now()
        )
        assert actions.overdue_count(s, now=clock.now()) == 0
        assert actions.next_reminder(s) == datetime(2026, 12, 18, 0, 0, tzinfo=UTC)
    assert _pass(sessions, clock, datetime(2026, 12, 18, 0, 0, tzinfo=UTC)) == 1
    assert _outbox(sessions)[-1][0] == f"action-item:{item}:before:2026-12-20:console"
    with transaction(sessions) as s:
        actions.update_item(s, item_id=item, changes={"status": "done"}, actor="hana", now=clock.now())
        assert actions.next_reminder(s) is None
    assert _pass(sessions, clock, datetime(2026, 12, 21, 0, 0, tzinfo=UTC)) == 0
    assert len(_outbox(sessions)) == 6


def test_a_second_pass_at_the_same_instant_queues_nothing(sessions, applied_ops, clock):
    _item(sessions, clock)
    at = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    assert (_pass(sessions, clock, at), _pass(sessions, clock, at)) == (1, 0)
    assert len(_outbox(sessions)) == 3


def test_the_engine_runs_criteria_and_reminders_before_the_sender(sessions, applied_ops, clock):
    names = [p.name for p in engine_plan(Settings()).sequence()]
    last_send = len(names) - 1 - names[::-1].index("notify-sender")  # the sender's slot at the end
    assert names.index("postmortems.criteria") < names.index("postmortems.action_item_reminders")
    assert names.index("postmortems.action_item_reminders") < last_send == len(names) - 1


def test_the_handoff_lines_list_items_due_soon_and_overdue(sessions, applied_ops, clock):
    item = _item(sessions, clock, owner="ken")
    with transaction(sessions) as s:
        assert actions.due_lines(s, person="ken", now=datetime(2026, 11, 30, tzinfo=UTC)) == []
        assert actions.due_lines(s, person="@ken", now=datetime(2026, 12, 5, tzinfo=UTC)) == [
            f"#{item} due 2026-12-10 (INC-1): Alert when no receipt is issued for 5 minutes"
        ]
        assert actions.due_lines(s, person="ken", now=datetime(2026, 12, 12, tzinfo=UTC))[0].startswith(
            f"#{item} due 2026-12-10 (INC-1, overdue)"
        )
        assert actions.due_lines(s, person="hana", now=datetime(2026, 12, 5, tzinfo=UTC)) == []
        incident = timeline.incident(s, number=1)
        assert incident.status == "resolved"
