"""Handoff notices on both databases: what the notice says (unresolved incidents, runbooks changed since
the last handoff) and the engine processor that queues it once per person and channel."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.incidents import service as incidents_service
from commandpost.notify.models import OutgoingMessage
from commandpost.oncall import handoff_notice
from commandpost.oncall.processors import HandoffNotices
from commandpost.oncall.rules import Handoff
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.settings import Settings
from commandpost.wiring import engine_plan
from tests.conftest import EXAMPLE_OPS

HANDOFF = datetime(2026, 6, 29, 1, 0, tzinfo=UTC)  # Monday 10:00 JST: primary yuta -> hana
RUNBOOK = "runbooks/payment-webhook-backlog.md"


def _setup(sessions: sessionmaker[Session], clock: FrozenClock, tmp_path) -> OpsConfig:  # type: ignore[no-untyped-def]
    """Ops applied before the last handoff, a runbook edited after it, one open and one resolved incident."""
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    clock.set(datetime(2026, 6, 20, tzinfo=UTC))
    with sessions() as s:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        s.commit()
    clock.set(datetime(2026, 6, 24, 3, tzinfo=UTC))
    path = ops / RUNBOOK
    path.write_text(path.read_text() + "\nOne more line learned on Tuesday.\n")
    with sessions() as s:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        config = policy_service.current_config(s)
        open_one = incidents_service.declare(
            s,
            title="Webhook backlog growing",
            severity="SEV2",
            actor="yuta",
            now=clock.now(),
            service="payment-platform",
        )
        done = incidents_service.declare(
            s, title="Old blip", severity="SEV3", actor="yuta", now=clock.now(), service="payment-platform"
        )
        incidents_service.change_status(s, incident=done, status="resolved", actor="yuta", now=clock.now())
        s.commit()
        assert open_one.number != done.number
    return config


def test_notice_lists_unresolved_incidents_and_runbooks_changed_since_the_last_handoff(
    sessions, clock, tmp_path
):
    config = _setup(sessions, clock, tmp_path)
    handoff = Handoff("payment-platform", "primary", HANDOFF, "yuta", "hana")
    with sessions() as s:
        notice = handoff_notice.build(s, config, handoff, now=HANDOFF)
    assert notice.since == HANDOFF - timedelta(weeks=1)
    assert [(i.severity, i.status, i.title) for i in notice.incidents] == [
        ("SEV2", "investigating", "Webhook backlog growing")
    ]
    assert [(r.slug, r.change) for r in notice.runbooks] == [("payment-webhook-backlog", "changed")]
    assert notice.action_items == []
    incoming, outgoing = notice.body("hana"), notice.body("yuta")
    assert "Webhook backlog growing" in incoming and "payment-webhook-backlog" in incoming
    assert "You take over" in incoming and "You hand over" in outgoing
    assert "Mon 2026-06-29 10:00 JST" in notice.subject("hana") and "@yuta" in notice.subject("hana")
    assert "hand over to @hana" in notice.subject("yuta")
    # a week later the runbook edit is older than the last handoff: no longer listed
    later = Handoff("payment-platform", "primary", HANDOFF + timedelta(weeks=1), "hana", "ken")
    with sessions() as s:
        assert handoff_notice.build(s, config, later, now=later.at).runbooks == []


def test_processor_queues_one_notice_per_person_and_channel_once(sessions, clock, tmp_path):
    _setup(sessions, clock, tmp_path)
    processor = HandoffNotices()
    assert processor.name in {p.name for p in engine_plan(Settings()).sequence()}
    with sessions() as s:
        assert processor.next_due(s, clock.now()) == HANDOFF
        assert processor.run(s, HANDOFF - timedelta(minutes=1)) == 0
        s.commit()
    with sessions() as s:
        # primary yuta -> hana, secondary hana -> ken; each has two contact methods plus the console
        assert processor.run(s, HANDOFF + timedelta(minutes=1)) == 12
        s.commit()
    with sessions() as s:
        assert (
            processor.run(s, HANDOFF + timedelta(minutes=2)) == 0
        )  # a second pass (or replica) adds nothing
        assert processor.next_due(s, HANDOFF + timedelta(minutes=2)) == HANDOFF + timedelta(weeks=1)
        rows = s.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id)).all()
    assert len(rows) == 12
    assert {(r.person, r.channel) for r in rows if "primary" in r.key} == {
        ("yuta", "email"),
        ("yuta", "slack"),
        ("yuta", "console"),
        ("hana", "email"),
        ("hana", "slack"),
        ("hana", "console"),
    }
    hana = next(r for r in rows if r.person == "hana" and r.channel == "email" and "layer=primary" in r.key)
    assert hana.key == (
        "handoff/schedule=payment-platform/layer=primary/at=20260629T010000Z/person=hana/channel=email"
    )
    assert hana.subject.startswith("[handoff] you are on call for payment-platform primary")
    assert "Webhook backlog growing" in hana.body
    assert hana.payload is not None and hana.payload["incoming"] == "hana"


def test_processor_skips_handoffs_older_than_its_lookback(sessions, clock, tmp_path):
    _setup(sessions, clock, tmp_path)
    with sessions() as s:
        assert HandoffNotices().run(s, HANDOFF + timedelta(hours=7)) == 0


def test_notice_hands_over_action_items_due_soon_or_overdue(sessions, clock, tmp_path):
    from datetime import date

    from commandpost.db.engine import transaction
    from commandpost.incidents import timeline
    from commandpost.postmortems import actions
    from commandpost.postmortems import service as pm_service

    config = _setup(sessions, clock, tmp_path)
    with transaction(sessions) as s:
        number = incidents_service.declare(
            s, title="Receipts not issued", severity="SEV2", service="payment-platform", actor="yuta",
            now=clock.now(),
        ).number  # fmt: skip
        incident = timeline.incident(s, number=number, for_update=True)
        incidents_service.change_status(
            s, incident=incident, status="resolved", actor="yuta", now=clock.now()
        )
        pm_service.evaluate(s, incident=incident, now=clock.now())
    with transaction(sessions) as s:
        incident, pm = pm_service.find(s, number=number, for_update=True)
        actions.add(
            s, pm=pm, incident=incident, title="Alert on DLQ depth above 100 for 5 minutes", type="prevent",
            owner="hana",
            due=date(2026, 7, 1), ticket="OPS-7", verification="fire a test message into the DLQ in a drill",
            actor="yuta", now=clock.now(),
        )  # fmt: skip
    handoff = Handoff("payment-platform", "primary", HANDOFF, "yuta", "hana")
    with sessions() as s:
        notice = handoff_notice.build(s, config, handoff, now=HANDOFF)
    assert any("due 2026-07-01" in line and "Alert on DLQ depth" in line for line in notice.action_items)
    assert "Alert on DLQ depth" in notice.body("hana")
