"""SEV3 alerts tell the team channel, SEV4 is recorded only — on both databases, through the real alert
intake (``alerts.service.ingest``) and the engine processor ``paging.alert_notices``, with the
example ops folder: the service's default severity is SEV3, whose route notifies ``oncall_channel``
(the ``payments`` team channel: Slack and the console); business hours are Mon–Fri 09:00–18:00 JST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select

import commandpost.models_registry  # noqa: F401
from commandpost.alerts import service as alerts_service
from commandpost.alerts.models import Alert
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.db import migrate
from commandpost.db.engine import transaction
from commandpost.engine import wakeup
from commandpost.engine.runner import Runner
from commandpost.notify.models import OutgoingMessage
from commandpost.paging import alert_fyi
from commandpost.paging.processors import AlertChannelNotices
from commandpost.settings import Settings
from commandpost.wiring import engine_plan
from tests.alert_support import keys
from tests.paging_support import BASE_URL, apply, ops_variant
from tests.schema_support import model_diff

SERVICE = "services/payment-platform.yaml"
POLICY = "escalation/payment-platform.yaml"
SLACK = "https://hooks.slack.example/services/T000/B100/payments"
FRIDAY_22_JST = datetime(2026, 6, 26, 13, 0, tzinfo=UTC)
MONDAY_09_JST = datetime(2026, 6, 29, 0, 0, tzinfo=UTC)


def notices() -> AlertChannelNotices:
    """A generous time budget: these tests count what one pass decides, whatever the machine's speed
    (the budget itself has its own test)."""
    return AlertChannelNotices(Settings(public_url=BASE_URL, engine_enabled=False), budget=5.0)


def trigger(key: str, alertname: str = "CSVExportFailing", **fields: Any) -> NormalizedEvent:
    return NormalizedEvent(
        action="trigger",
        dedup_key=key,
        alertname=alertname,
        **{"summary": "Admin-panel CSV export fails", **fields},
    )


def ingest(sessions, clock, *events: NormalizedEvent) -> list[alerts_service.Outcome]:
    key = keys(sessions)["generic"]
    with transaction(sessions) as s:
        ref = alerts_service.integration_for_key(s, key=key)
        assert ref is not None
        return alerts_service.ingest(s, integration=ref, events=list(events), now=clock.now())


def run(sessions, clock, processor: AlertChannelNotices) -> int:
    with transaction(sessions) as s:
        return processor.run(s, clock.now())


def next_due(sessions, clock, processor: AlertChannelNotices) -> datetime | None:
    with sessions() as s:
        return processor.next_due(s, clock.now())


def outbox(session) -> list[OutgoingMessage]:
    session.rollback()
    return list(session.scalars(select(OutgoingMessage).order_by(OutgoingMessage.key)))


def channel_rows(alert_id: int, due: datetime) -> list[tuple[Any, ...]]:
    """The two messages the payments channel gets for one alert: Slack, and the console."""
    to = f"alert-fyi/alert={alert_id}/to=#payments"
    return [
        (f"{to}/channel=console", "console", "#payments-oncall", due, None, "SEV3", None),
        (f"{to}/channel=slack", "slack", SLACK, due, None, "SEV3", None),
    ]


def rows(messages: list[OutgoingMessage]) -> list[tuple[Any, ...]]:
    return [
        (m.key, m.channel, m.destination, m.due_at, m.incident_id, m.severity, m.person) for m in messages
    ]


def notify_after(session, alert_id: int) -> datetime | None:
    session.rollback()
    return session.scalar(select(Alert.notify_after).where(Alert.id == alert_id))


def test_sev3_in_business_hours_tells_the_team_channel_once(sessions, session, clock):
    apply(sessions, clock)  # Wednesday 12:00 JST
    t0 = clock.now()
    woken: list[int] = []

    def listener() -> None:
        woken.append(1)

    wakeup.register(listener)
    try:
        (first,) = ingest(
            sessions,
            clock,
            trigger("csv", source="admin-1", runbook_url="https://runbooks.internal/payment-webhook-backlog"),
        )
    finally:
        wakeup.unregister(listener)
    assert woken == [1]  # the commit asks the engine for a pass at once
    assert (first.outcome, first.severity, first.incident) == ("recorded", "SEV3", None)
    clock.advance(seconds=20)
    ingest(sessions, clock, trigger("csv"))  # a repeat: counted on the same alert, no second notice
    clock.advance(seconds=5)
    processor = notices()
    assert next_due(sessions, clock, processor) == t0

    assert run(sessions, clock, processor) == 3  # one alert decided, two messages
    messages = outbox(session)
    assert rows(messages) == channel_rows(first.alert_id, t0)  # due when the alert was, not when decided
    slack = messages[1]
    assert slack.subject == "[SEV3] payment-platform: Admin-panel CSV export fails"
    assert slack.body.splitlines() == [
        "[SEV3] payment-platform: Admin-panel CSV export fails",
        "FYI, no page: SEV3 notifies oncall_channel; nobody is paged",
        f"Alert: generic CSVExportFailing — fired 2× since Wed 2026-06-24 12:00 JST (alert {first.alert_id})",
        "Source: admin-1",
        "Runbook: https://runbooks.internal/payment-webhook-backlog",
        "First move: scale out the consumer to drain the stagnation: `aws ecs update-service --cluster "
        "payments --service payment-webhook-consumer --desired-count 12`",
        "Alerts: commandpost alerts --service payment-platform --status open",
    ]
    assert slack.payload == {
        "kind": "alert-fyi",
        "alert": first.alert_id,
        "service": "payment-platform",
        "runbook_url": "https://runbooks.internal/payment-webhook-backlog",
        "target": "oncall_channel",
    }
    assert notify_after(session, first.alert_id) is None

    assert run(sessions, clock, processor) == 0
    assert next_due(sessions, clock, processor) is None
    assert len(outbox(session)) == 2


def test_an_external_runbook_url_is_linked_as_given_and_no_runbook_is_said(sessions, session, clock):
    apply(sessions, clock)
    ingest(sessions, clock, trigger("wiki", runbook_url="https://wiki.example/csv-export"))
    ingest(sessions, clock, trigger("bare", alertname="CronLate", summary=""))
    run(sessions, clock, notices())
    bodies = {m.key: m.body.splitlines() for m in outbox(session) if m.channel == "console"}
    wiki, bare = (
        bodies["alert-fyi/alert=1/to=#payments/channel=console"],
        bodies["alert-fyi/alert=2/to=#payments/channel=console"],
    )
    assert "Runbook: https://wiki.example/csv-export" in wiki
    assert not any(line.startswith("First move") for line in wiki)
    assert bare[0] == "[SEV3] payment-platform: CronLate"  # no summary: the alert name
    assert "Runbook: none linked" in bare


def test_outside_business_hours_the_channel_hears_at_the_opening(sessions, session, clock):
    clock.set(FRIDAY_22_JST)
    apply(sessions, clock)
    woken: list[int] = []

    def listener() -> None:
        woken.append(1)

    wakeup.register(listener)
    try:
        (out,) = ingest(sessions, clock, trigger("night"))
    finally:
        wakeup.unregister(listener)
    assert out.outcome == "suppressed" and woken == []  # nothing for the engine to do tonight
    processor = notices()
    assert run(sessions, clock, processor) == 0
    assert next_due(sessions, clock, processor) == MONDAY_09_JST

    clock.set(MONDAY_09_JST - timedelta(seconds=1))
    assert run(sessions, clock, processor) == 0
    assert outbox(session) == []

    clock.set(MONDAY_09_JST + timedelta(minutes=3))  # the engine was late: lateness counts from 09:00
    assert run(sessions, clock, processor) == 3
    messages = outbox(session)
    assert rows(messages) == channel_rows(out.alert_id, MONDAY_09_JST)
    assert "fired 1× since Fri 2026-06-26 22:00 JST" in messages[0].body
    assert run(sessions, clock, processor) == 0


def test_resolved_before_the_opening_the_channel_never_hears(sessions, session, clock):
    clock.set(FRIDAY_22_JST)
    apply(sessions, clock)
    (out,) = ingest(sessions, clock, trigger("flap"))
    clock.advance(minutes=40)
    ingest(sessions, clock, NormalizedEvent(action="resolve", dedup_key="flap"))
    processor = notices()
    clock.set(MONDAY_09_JST)
    assert run(sessions, clock, processor) == 1  # decided: nothing to tell
    assert outbox(session) == []
    assert notify_after(session, out.alert_id) is None
    assert next_due(sessions, clock, processor) is None
    clock.advance(days=1)
    assert run(sessions, clock, processor) == 0
    assert outbox(session) == []


def test_sev4_is_recorded_only(sessions, session, clock, tmp_path):
    def sev4_for_info(service: dict[str, Any]) -> None:
        service["alert_rules"].append({"match": {"source_severity": "info"}, "severity": "SEV4"})

    apply(sessions, clock, ops_variant(tmp_path, {SERVICE: sev4_for_info}))
    (out,) = ingest(sessions, clock, trigger("noise", source_severity="info"))
    assert (out.outcome, out.severity) == ("recorded", "SEV4")
    processor = notices()
    assert next_due(sessions, clock, processor) is None
    clock.advance(days=3)
    assert run(sessions, clock, processor) == 0
    assert outbox(session) == []


def test_a_sev3_nobody_is_to_hear_of_is_cleared_and_sends_nothing(sessions, session, clock, tmp_path):
    def no_sev3_route(policy: dict[str, Any]) -> None:
        del policy["severity_routing"]["SEV3"]

    apply(sessions, clock, ops_variant(tmp_path, {POLICY: no_sev3_route}))
    (out,) = ingest(sessions, clock, trigger("quiet"))
    assert out.severity == "SEV3" and notify_after(session, out.alert_id) == clock.now()
    processor = notices()
    assert run(sessions, clock, processor) == 1
    assert outbox(session) == []
    assert notify_after(session, out.alert_id) is None
    assert next_due(sessions, clock, processor) is None


def test_a_notify_target_that_is_a_team_reaches_its_lead_and_its_channel(sessions, session, clock, tmp_path):
    def notify_the_team(policy: dict[str, Any]) -> None:
        policy["severity_routing"]["SEV3"] = {"notify": ["payments"]}

    apply(sessions, clock, ops_variant(tmp_path, {POLICY: notify_the_team}))
    (out,) = ingest(sessions, clock, trigger("team"))
    run(sessions, clock, notices())
    sent = {(m.key.split("/")[2], m.channel, m.person) for m in outbox(session)}
    assert sent == {
        ("to=#payments", "slack", None),
        ("to=#payments", "console", None),
        ("to=yuta", "slack", "yuta"),
        ("to=yuta", "email", "yuta"),
        ("to=yuta", "console", "yuta"),
    }
    assert all(m.key.startswith(f"alert-fyi/alert={out.alert_id}/") for m in outbox(session))


def test_a_failing_alert_is_pushed_back_and_does_not_block_the_others(sessions, session, clock, monkeypatch):
    apply(sessions, clock)
    (bad,) = ingest(sessions, clock, trigger("bad"))
    (good,) = ingest(sessions, clock, trigger("good"))
    real = alert_fyi.announce

    def broken(session, decider, alert):  # type: ignore[no-untyped-def]
        if alert.id == bad.alert_id:
            raise RuntimeError("boom")
        return real(session, decider, alert)

    monkeypatch.setattr(alert_fyi, "announce", broken)
    processor = notices()
    run(sessions, clock, processor)
    assert {m.key.split("/")[1] for m in outbox(session)} == {f"alert={good.alert_id}"}
    retry_at = clock.now() + timedelta(seconds=30)
    assert notify_after(session, bad.alert_id) == retry_at
    assert next_due(sessions, clock, processor) == retry_at

    monkeypatch.setattr(alert_fyi, "announce", real)
    clock.set(retry_at)
    run(sessions, clock, processor)
    assert rows([m for m in outbox(session) if f"alert={bad.alert_id}/" in m.key]) == channel_rows(
        bad.alert_id, retry_at
    )


def test_a_pass_past_its_budget_commits_and_leaves_the_rest_due_at_once(sessions, session, clock):
    apply(sessions, clock)
    ingest(sessions, clock, trigger("a"), trigger("b"), trigger("c"))
    processor = AlertChannelNotices(Settings(public_url=BASE_URL, engine_enabled=False), budget=0.0)
    for told in (1, 2, 3):
        assert run(sessions, clock, processor) == 3  # one alert per pass: decided, two messages
        assert len({m.key.split("/")[1] for m in outbox(session)}) == told
        assert next_due(sessions, clock, processor) == (clock.now() if told < 3 else None)


def test_the_engine_tells_the_channel_after_burn_rate_alerts_and_before_the_sender(sessions, clock, settings):
    names = [
        p.name
        for p in Runner(
            sessions, clock, settings=settings, processors=engine_plan(settings).sequence()
        ).processors
    ]
    assert names.index("metrics.burn_rate_alerts") < names.index("paging.alert_notices")
    assert names.index("paging.alert_notices") < len(names) - 2  # the last escalations slot, the sender
    assert names[-2:] == ["paging.escalations", "notify-sender"]


def test_the_due_index_is_partial_and_models_and_migrations_agree(engine):
    (index,) = [i for i in inspect(engine).get_indexes("alert") if i["name"] == "ix_alert_notify_after"]
    assert index["column_names"] == ["notify_after"]
    where = index["dialect_options"][f"{engine.dialect.name}_where"]
    assert "notify_after IS NOT NULL" in str(where)
    assert [d for d in model_diff(engine) if d[0] in ("add_index", "remove_index")] == []


@pytest.mark.parametrize("status", ["triggered", "resolved"])
def test_the_upgrade_keeps_only_notices_still_ahead(engine, sessions, clock, status):
    """Before 0011 nothing sent or cleared notify_after: announcing that backlog would flood the
    channel, so the upgrade clears what was already due (and resolved alerts), and keeps the rest."""
    apply(sessions, clock)
    integration = keys(sessions)["generic"]
    with transaction(sessions) as s:
        ref = alerts_service.integration_for_key(s, key=integration)
        assert ref is not None
        wall = datetime.now(UTC)  # the migration has no injected clock: it runs at `serve`/`db upgrade`
        for key, when in (("old", wall - timedelta(days=30)), ("ahead", wall + timedelta(hours=12))):
            s.add(
                Alert(
                    integration_id=ref.id,
                    integration=ref.name,
                    service=ref.service,
                    source="generic",
                    dedup_key=key,
                    open_dedup_key=key if status != "resolved" else None,
                    status=status,
                    severity="SEV3",
                    paging=False,
                    outcome="recorded",
                    group_key=key,
                    first_seen_at=when,
                    last_seen_at=when,
                    notify_after=when,
                )
            )
    config = migrate.alembic_config(engine)
    command.downgrade(config, "0010")
    try:
        command.upgrade(config, "heads")
    finally:
        migrate.upgrade(engine)
    with sessions() as s:
        kept = {key: at for key, at in s.execute(select(Alert.dedup_key, Alert.notify_after))}
    assert kept["old"] is None
    assert (kept["ahead"] is not None) == (status == "triggered")


def storm(n: int) -> list[NormalizedEvent]:
    return [trigger(f"check-{i}", alertname=f"Check{i}", summary=f"Check {i} fails") for i in range(1, n + 1)]


def test_a_storm_of_one_service_is_one_digest_per_recipient_and_channel(sessions, session, clock):
    """A backlog released at the opening: twelve alerts of one service are one message per channel,
    listing ten and counting the rest, due at the opening; every alert is decided once."""
    clock.set(FRIDAY_22_JST)
    apply(sessions, clock)
    alerts = ingest(
        sessions, clock, *storm(12), trigger("check-1"), trigger("wiki", runbook_url="https://wiki.example/x")
    )
    ids = sorted({out.alert_id for out in alerts})
    assert len(ids) == 13  # the repeat of check-1 is counted on its alert
    processor = notices()
    clock.set(MONDAY_09_JST + timedelta(minutes=3))
    assert run(sessions, clock, processor) == 13 + 2  # thirteen alerts decided, two messages

    messages = outbox(session)
    to = f"alert-digest/service=payment-platform/severity=SEV3/first={ids[0]}/to=#payments"
    assert rows(messages) == [
        (f"{to}/channel=console", "console", "#payments-oncall", MONDAY_09_JST, None, "SEV3", None),
        (f"{to}/channel=slack", "slack", SLACK, MONDAY_09_JST, None, "SEV3", None),
    ]
    slack = messages[1]
    assert slack.subject == "[SEV3] payment-platform: 13 alerts"
    assert slack.body.splitlines() == [
        "[SEV3] payment-platform: 13 alerts",
        "FYI, no page: SEV3 notifies oncall_channel; nobody is paged",
        f"- Check 1 fails — generic Check1 ×2 (alert {ids[0]})",
        *(f"- Check {i} fails — generic Check{i} ×1 (alert {ids[i - 1]})" for i in range(2, 11)),
        "… and 3 more",
        "Alerts: commandpost alerts --service payment-platform --status open",
    ]
    assert slack.payload == {
        "kind": "alert-digest",
        "alerts": ids,
        "service": "payment-platform",
        "severity": "SEV3",
        "target": "oncall_channel",
    }
    assert all(notify_after(session, alert_id) is None for alert_id in ids)

    assert run(sessions, clock, processor) == 0
    assert next_due(sessions, clock, processor) is None
    assert len(outbox(session)) == 2


def test_a_digest_links_each_alerts_runbook_when_it_has_one(sessions, session, clock):
    apply(sessions, clock)
    ingest(
        sessions,
        clock,
        trigger("csv", runbook_url="https://runbooks.internal/payment-webhook-backlog"),
        trigger("wiki", alertname="WikiCheck", summary="", runbook_url="https://wiki.example/csv-export"),
        *storm(2),
    )
    assert run(sessions, clock, notices()) == 4 + 2
    console = next(m for m in outbox(session) if m.channel == "console")
    assert console.body.splitlines()[2:6] == [
        "- Admin-panel CSV export fails — generic CSVExportFailing ×1 (alert 1) — runbook "
        "https://runbooks.internal/payment-webhook-backlog",
        "- WikiCheck — generic WikiCheck ×1 (alert 2) — runbook https://wiki.example/csv-export",
        "- Check 1 fails — generic Check1 ×1 (alert 3)",
        "- Check 2 fails — generic Check2 ×1 (alert 4)",
    ]
    assert "… and" not in console.body  # all four listed


def test_three_alerts_of_one_service_are_still_told_one_by_one(sessions, session, clock):
    apply(sessions, clock)
    ids = [out.alert_id for out in ingest(sessions, clock, *storm(alert_fyi.DIGEST_AFTER))]
    assert run(sessions, clock, notices()) == 3 + 6
    messages = outbox(session)
    assert rows(messages) == [row for alert_id in ids for row in channel_rows(alert_id, clock.now())]
    assert [m.subject for m in messages if m.channel == "slack"] == [
        f"[SEV3] payment-platform: Check {i} fails" for i in (1, 2, 3)
    ]


@pytest.mark.parametrize("storm_size", [4, 5])
def test_a_resolved_alert_is_left_out_of_the_count(sessions, session, clock, storm_size):
    """One alert of the storm resolves before the pass: it is decided (cleared) and told to nobody;
    the others are a digest when more than three remain, else told one by one."""
    apply(sessions, clock)
    ids = [out.alert_id for out in ingest(sessions, clock, *storm(storm_size))]
    ingest(sessions, clock, NormalizedEvent(action="resolve", dedup_key="check-2"))
    announced = [alert_id for alert_id in ids if alert_id != ids[1]]
    assert run(sessions, clock, notices()) == storm_size + 2 * (1 if storm_size > 4 else 3)
    messages = outbox(session)
    if storm_size > 4:
        assert {m.key.split("/first=")[1].split("/")[0] for m in messages} == {str(ids[0])}
        assert all(m.payload["alerts"] == announced for m in messages)
        assert messages[0].subject == "[SEV3] payment-platform: 4 alerts"
        assert f"(alert {ids[1]})" not in messages[0].body
    else:
        assert rows(messages) == [
            row for alert_id in announced for row in channel_rows(alert_id, clock.now())
        ]
    assert all(notify_after(session, alert_id) is None for alert_id in ids)
    assert run(sessions, clock, notices()) == 0
    assert len(outbox(session)) == 2 * (1 if storm_size > 4 else 3)
