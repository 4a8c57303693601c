"""Heartbeats on SQLite and PostgreSQL, through the real app and the engine's whole pass: apply makes
the rows and keys, a ping (GET or POST) moves the due time, a silence of interval + grace raises
``HeartbeatMissed`` which opens an incident and pages the on-call by the service's policy, the next
ping resolves it, removing the heartbeat from ops stops it, hostile pings change nothing, and a pass
reads only the due rows through the due-time index."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from commandpost.alerts import heartbeats
from commandpost.alerts.models import Alert, Heartbeat
from commandpost.alerts.processors import HeartbeatsDue
from commandpost.db.engine import transaction
from commandpost.engine.runner import Runner
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.notify.models import OutgoingMessage
from commandpost.policy import service as policy_service
from commandpost.policy.models import IntegrationKey
from commandpost.settings import Settings
from commandpost.wiring import engine_plan
from tests.paging_support import BASE_URL, apply, ops_variant

SERVICE = "services/payment-platform.yaml"
BEAT = "payment-webhook-consumer"


def with_beat(**fields: Any) -> Any:
    """The example service with one paging heartbeat (every 5m, 1m grace, SEV2 with its runbook)."""

    def edit(data: dict[str, Any]) -> None:
        data["heartbeats"] = [
            {
                "name": BEAT,
                "interval": "5m",
                "grace": "1m",
                "severity": "SEV2",
                "runbook": "payment-webhook-backlog",
                **fields,
            }
        ]

    return edit


def without_beats(data: dict[str, Any]) -> None:
    data.pop("heartbeats", None)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return ops_variant(tmp_path / "a", {SERVICE: with_beat()})


def key_of(sessions: Any, name: str = BEAT) -> str:
    with sessions() as s:
        (row,) = [k for k in policy_service.list_integrations(s) if k.name == name]
        return row.key


def beat(session: Any, name: str = BEAT) -> Heartbeat | None:
    session.rollback()
    return session.scalars(select(Heartbeat).where(Heartbeat.name == name)).first()


def engine_pass(sessions: Any, clock: Any) -> int:
    settings = Settings(public_url=BASE_URL, engine_enabled=False)
    return Runner(sessions, clock, settings=settings, processors=engine_plan(settings).sequence()).run_once()


def missed_alerts(session: Any) -> list[Alert]:
    session.rollback()
    return list(
        session.scalars(select(Alert).where(Alert.alertname == heartbeats.ALERTNAME).order_by(Alert.id))
    )


def test_apply_makes_a_key_and_a_row_due_one_interval_and_grace_later(
    sessions, session, clock, client, folder
):
    apply(sessions, clock, folder)
    with sessions() as s:
        rows = {k.name: k for k in policy_service.list_integrations(s)}
        line = policy_service.intake_line("https://cp.example", rows[BEAT])
    assert (rows[BEAT].source, rows[BEAT].service) == ("heartbeat", "payment-platform")
    assert line == (
        f"heartbeat {BEAT} (payment-platform): curl -fsS -m 10 --retry 3 "
        f"https://cp.example/api/v1/heartbeats/{rows[BEAT].key}"
    )
    row = beat(session)
    assert row is not None
    assert (row.interval_seconds, row.grace_seconds, row.due_at, row.last_ping_at, row.missed_at) == (
        300,
        60,
        clock.now() + timedelta(minutes=6),
        None,
        None,
    )


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_ping_moves_the_due_time(method, sessions, session, clock, client, folder):
    apply(sessions, clock, folder)
    key = key_of(sessions)
    clock.advance(seconds=200)
    reply = client.request(
        method, f"/api/v1/heartbeats/{key}", content=b"done: 120 rows" if method == "POST" else None
    )
    assert reply.status_code == 200, reply.text
    due = clock.now() + timedelta(minutes=6)
    assert reply.json() == {
        "status": "success",
        "heartbeat": BEAT,
        "next_due_at": due.isoformat(),
        "resolved": False,
    }
    row = beat(session)
    assert row is not None and (row.due_at, row.last_ping_at) == (due, clock.now())


def test_a_silence_pages_by_the_policy_and_the_next_ping_resolves(sessions, session, clock, client, folder):
    apply(sessions, clock, folder)
    key = key_of(sessions)
    assert client.get(f"/api/v1/heartbeats/{key}").status_code == 200
    pinged = clock.now()
    clock.advance(seconds=5 * 60 + 59)  # within interval + grace: nothing
    engine_pass(sessions, clock)
    assert missed_alerts(session) == []
    clock.advance(seconds=1)  # interval + grace since the ping
    engine_pass(sessions, clock)
    (alert,) = missed_alerts(session)
    assert (alert.source, alert.status, alert.severity, alert.paging, alert.runbook) == (
        "heartbeat",
        "triggered",
        "SEV2",
        True,
        "payment-webhook-backlog",
    )
    assert alert.labels == {"heartbeat": BEAT, "service": "payment-platform"}
    assert alert.starts_at == pinged + timedelta(minutes=5)  # the ping that did not come
    assert BEAT in alert.summary and "every 5m, grace 1m" in alert.summary
    incident = session.get(Incident, alert.incident_id)
    assert incident is not None and (incident.severity, incident.service, incident.runbook) == (
        "SEV2",
        "payment-platform",
        "payment-webhook-backlog",
    )
    pages = list(session.scalars(select(OutgoingMessage).where(OutgoingMessage.incident_id == incident.id)))
    assert pages and {m.person for m in pages if m.key.startswith("page/")} == {"yuta"}  # primary on call
    assert all("Paged: primary_oncall (level 1 of 2)" in m.body for m in pages if m.key.startswith("page/"))
    row = beat(session)
    assert row is not None and (row.due_at, row.missed_at) == (None, clock.now())

    clock.advance(minutes=30)  # still silent: one alert, not one per pass
    engine_pass(sessions, clock)
    assert len(missed_alerts(session)) == 1

    reply = client.post(f"/api/v1/heartbeats/{key}")
    assert reply.status_code == 200 and reply.json()["resolved"] is True
    (alert,) = missed_alerts(session)
    assert (alert.status, alert.resolved_at) == ("resolved", clock.now())
    notes = session.scalars(
        select(TimelineEntry.text).where(
            TimelineEntry.incident_id == incident.id, TimelineEntry.kind == "alert"
        )
    ).all()
    assert any("alert resolved" in n for n in notes)
    row = beat(session)
    assert row is not None and (row.due_at, row.missed_at) == (clock.now() + timedelta(minutes=6), None)


def test_an_alert_rule_for_heartbeatmissed_wins_over_the_heartbeats_severity(
    sessions, session, clock, tmp_path
):
    def edit(data: dict[str, Any]) -> None:
        with_beat()(data)
        data["alert_rules"].insert(
            0, {"match": {"alertname": "HeartbeatMissed", "labels": {"heartbeat": BEAT}}, "severity": "SEV4"}
        )

    apply(sessions, clock, ops_variant(tmp_path, {SERVICE: edit}))
    clock.advance(minutes=6)
    engine_pass(sessions, clock)
    (alert,) = missed_alerts(session)
    assert (alert.severity, alert.paging, alert.incident_id) == ("SEV4", False, None)


def test_removing_a_heartbeat_from_ops_stops_it(sessions, session, clock, client, folder, tmp_path):
    apply(sessions, clock, folder)
    key = key_of(sessions)
    clock.advance(minutes=6)
    engine_pass(sessions, clock)
    (alert,) = missed_alerts(session)
    assert alert.status == "triggered"
    apply(sessions, clock, ops_variant(tmp_path / "b", {SERVICE: without_beats}))
    assert beat(session) is None
    (alert,) = missed_alerts(session)
    assert alert.status == "resolved"  # nothing will ping it again
    with sessions() as s:
        assert BEAT not in {k.name for k in policy_service.list_integrations(s)}
    clock.advance(days=2)
    engine_pass(sessions, clock)
    assert len(missed_alerts(session)) == 1
    assert client.get(f"/api/v1/heartbeats/{key}").status_code == 404  # its key stopped working


def test_a_changed_interval_moves_a_waiting_heartbeats_due_time(sessions, session, clock, folder, tmp_path):
    apply(sessions, clock, folder)
    declared = clock.now()
    clock.advance(minutes=1)
    apply(sessions, clock, ops_variant(tmp_path / "b", {SERVICE: with_beat(interval="1h", grace="0m")}))
    row = beat(session)
    assert row is not None and (row.interval_seconds, row.grace_seconds, row.due_at) == (
        3600,
        0,
        declared + timedelta(hours=1),
    )


def test_hostile_pings_are_refused_and_change_nothing(sessions, session, clock, client, folder):
    apply(sessions, clock, folder)
    key = key_of(sessions)
    alertmanager = key_of(sessions, "payment-platform-alertmanager")
    before = beat(session)
    assert before is not None
    due = before.due_at
    unknown = client.get("/api/v1/heartbeats/0123456789abcdef0123456789abcdef")
    assert unknown.status_code == 404
    message = unknown.json()["error"]["message"]
    assert message == "no active heartbeat has this key (was it rotated or removed from ops?)"
    for path in (
        f"/api/v1/heartbeats/{alertmanager}",  # another integration's key: the same answer
        f"/api/v1/heartbeats/{key[:-1]}%00",  # NUL
        f"/api/v1/heartbeats/{key}%00",
        f"/api/v1/heartbeats/{key}%0d%0aX-Injected:%201",  # control characters
        f"/api/v1/heartbeats/{key}%1b[31m",
        f"/api/v1/heartbeats/{'a' * 5000}",  # huge
        "/api/v1/heartbeats/%F0%9F%92%93",
    ):
        reply = client.get(path)
        assert reply.status_code == 404, (path, reply.text)
        assert reply.json()["error"]["message"] == message  # nothing says which keys exist
    huge = client.post(f"/api/v1/heartbeats/{key}", content=b"x" * (2 * 1024 * 1024))
    assert huge.status_code == 413
    assert client.post(f"/api/v1/intake/alertmanager/{key}", json={}).status_code == 404  # not an intake key
    after = beat(session)
    assert after is not None and (after.due_at, after.last_ping_at) == (due, None)


def test_pings_are_rate_limited_like_intake(sessions, session, clock, client, folder):
    apply(sessions, clock, folder)
    key = key_of(sessions)
    statuses = [client.get(f"/api/v1/heartbeats/{key}").status_code for _ in range(70)]
    assert statuses[:60] == [200] * 60 and 429 in statuses[60:]  # one a second, at most
    refused = client.get(f"/api/v1/heartbeats/{key}")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_a_pass_reads_only_the_due_rows_through_the_index(sessions, session, engine, clock, folder):
    apply(sessions, clock, folder)
    _fill(sessions, clock, 2000)  # due 10 to 59 minutes from now
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "heartbeat" in statement:
            statements.append(statement)

    clock.advance(minutes=6)  # only the declared heartbeat is due
    event.listen(engine, "before_cursor_execute", record)
    try:
        with transaction(sessions) as s:
            assert HeartbeatsDue().run(s, clock.now()) == 1
    finally:
        event.remove(engine, "before_cursor_execute", record)
    selects = [st for st in statements if st.lstrip().upper().startswith("SELECT") and "FROM heartbeat" in st]
    assert selects and all("due_at <=" in st and "LIMIT" in st for st in selects if "JOIN" not in st)
    with sessions() as s:
        query = str(
            select(Heartbeat.id)
            .where(Heartbeat.due_at <= clock.now())
            .order_by(Heartbeat.due_at)
            .limit(200)
            .compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        )
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {query}")))
            assert (
                "USING INDEX ix_heartbeat_due_at" in plan
                or "USING COVERING INDEX ix_heartbeat_due_at" in plan
            )
        else:
            s.execute(text("ANALYZE heartbeat"))
            plan = " ".join(str(r[0]) for r in s.execute(text(f"EXPLAIN {query}")))
            assert "ix_heartbeat_due_at" in plan and "Seq Scan" not in plan, plan
        assert s.scalar(select(func.count()).select_from(Heartbeat).where(Heartbeat.due_at.is_(None))) == 1


def _fill(sessions: Any, clock: Any, count: int) -> None:
    """``count`` more heartbeats, each with a key of its own, none due within the next 10 minutes."""

    now = clock.now()
    with transaction(sessions) as s:
        ids = (
            s.execute(
                IntegrationKey.__table__.insert().returning(IntegrationKey.__table__.c.id),  # type: ignore[attr-defined]
                [
                    {
                        "name": f"k-{i}",
                        "service": "payment-platform",
                        "source": "heartbeat",
                        "key": f"k{i:031d}",
                        "created_at": now,
                        "active": True,
                    }
                    for i in range(count)
                ],
            )
            .scalars()
            .all()
        )
        s.execute(
            Heartbeat.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "integration_id": key_id,
                    "name": f"beat-{i}",
                    "service": "payment-platform",
                    "interval_seconds": 60,
                    "grace_seconds": 0,
                    "due_at": now + timedelta(minutes=10 + i % 50),
                    "created_at": now,
                }
                for i, key_id in enumerate(ids)
            ],
        )
