"""Declaring, the status machine on a real database, severity, details, listing — SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from commandpost.db.engine import transaction
from commandpost.errors import Conflict, InvalidTransition, ValidationFailed
from commandpost.incidents import comms, details, hooks, roles, rules, service, timeline
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy import service as policy_service
from tests.conftest import EXAMPLE_OPS
from tests.factories import make_incident
from tests.seam_support import also

PATHS = {
    "investigating": [],
    "identified": ["identified"],
    "mitigated": ["mitigated"],
    "resolved": ["resolved"],
    "closed": ["closed"],
}


def _apply_ops(sessions, tmp_path, clock, old, new):
    """A copy of examples/ops with one line of commandpost.yaml changed, applied; returns its config."""
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    settings = ops / "commandpost.yaml"
    assert old in settings.read_text()
    settings.write_text(settings.read_text().replace(old, new))
    with sessions() as s:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        s.commit()
        return policy_service.current_config(s)


def _entries(sessions, number):
    with transaction(sessions) as s:
        return [
            (e.kind, e.text) for e in timeline.all_entries(s, incident=timeline.incident(s, number=number))
        ]


def test_declare_records_everything_the_metrics_need(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now(), summary="webhook queue stuck", impact="charges delayed")
    assert incident.number == 1
    assert (incident.status, incident.severity, incident.detection) == ("investigating", "SEV2", "manual")
    assert incident.declared_at == incident.detected_at == clock.now()
    assert incident.acknowledged_at is None  # SEV2 on a service pages its on-call: acknowledged when they ack
    assert incident.channel == "inc-2026-06-24-payment-webhooks-failing"
    assert incident.comms_due_at == clock.now() + timedelta(hours=1)  # SEV2 cadence in examples/ops
    with transaction(sessions) as s:
        assert roles.ic_holder(s, incident=timeline.incident(s, number=1)) == "yuta"
    assert _entries(sessions, 1) == [
        ("system", "INC-1 declared SEV2 on payment-platform by @yuta: Payment webhooks failing"),
        ("role", "INC-1: @yuta is IC"),
        ("system", "INC-1: command post is #inc-2026-06-24-payment-webhooks-failing"),
    ]


def test_numbers_are_sequential_and_channels_unique(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        first = make_incident(s, now=clock.now())
        second = make_incident(s, now=clock.now(), ic="hana", severity="1")
    assert (first.number, second.number) == (1, 2)
    assert second.channel == "inc-2026-06-24-payment-webhooks-failing-2"
    with transaction(sessions) as s:
        assert roles.ic_holder(s, incident=timeline.incident(s, number="INC-2")) == "hana"
    assert ("role", "INC-2: @hana is IC (named by @yuta)") in _entries(sessions, 2)


def test_concurrent_declarations_get_distinct_numbers(sessions, applied_ops, clock):
    barrier = threading.Barrier(4)
    numbers: list[int] = []
    failures: list[BaseException] = []

    def declare() -> None:
        try:
            barrier.wait()
            with transaction(sessions) as s:
                numbers.append(make_incident(s, now=clock.now()).number)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=declare) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(numbers) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"severity": "SEV5"}, "SEV1, SEV2, SEV3, SEV4"),
        ({"service": "billing"}, "payment-platform"),
        ({"ic": "nobody"}, "@hana"),
        ({"title": "   "}, "title must not be empty"),
    ],
)
def test_bad_declarations_store_nothing(sessions, applied_ops, clock, overrides, message):
    with pytest.raises(ValidationFailed, match=message), transaction(sessions) as s:
        make_incident(s, now=clock.now(), **overrides)
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
        assert s.scalar(select(func.count()).select_from(TimelineEntry)) == 0


def test_impact_start_cannot_be_in_the_future_or_after_detection(sessions, applied_ops, clock):
    with pytest.raises(ValidationFailed, match="future"), transaction(sessions) as s:
        make_incident(s, now=clock.now(), impact_started_at=clock.now() + timedelta(minutes=1))
    with pytest.raises(ValidationFailed, match="after detected_at"), transaction(sessions) as s:
        make_incident(
            s,
            now=clock.now(),
            detected_at=clock.now() - timedelta(minutes=5),
            impact_started_at=clock.now() - timedelta(minutes=1),
        )
    with transaction(sessions) as s:
        ok = make_incident(s, now=clock.now(), impact_started_at=clock.now() - timedelta(minutes=8))
    assert ok.impact_started_at == clock.now() - timedelta(minutes=8)


@pytest.mark.parametrize("source", rules.STATUSES)
def test_transition_table_on_the_database(sessions, applied_ops, clock, source):
    """Every (source, target) pair, each on its own incident driven to ``source`` first."""
    for target in rules.STATUSES:
        with transaction(sessions) as s:
            number = make_incident(s, now=clock.now()).number
        for step in PATHS[source]:
            clock.advance(minutes=1)
            with transaction(sessions) as s:
                service.change_status(
                    s,
                    incident=timeline.incident(s, number=number),
                    status=step,
                    actor="yuta",
                    now=clock.now(),
                )
        before = _entries(sessions, number)
        clock.advance(minutes=1)
        allowed = rules.allowed_next(source)
        if target in allowed:
            with transaction(sessions) as s:
                incident = service.change_status(
                    s,
                    incident=timeline.incident(s, number=number),
                    status=target,
                    actor="yuta",
                    now=clock.now(),
                )
            assert incident.status == target
            for stamp in rules.check_transition(source, target).stamps:
                assert getattr(incident, stamp) is not None
            after = _entries(sessions, number)
            assert after[: len(before)] == before
            assert after[len(before)][0] == "status"
            continue
        error = Conflict if source == "closed" else InvalidTransition
        with pytest.raises(error) as caught, transaction(sessions) as s:
            service.change_status(
                s, incident=timeline.incident(s, number=number), status=target, actor="yuta", now=clock.now()
            )
        if source != "closed":
            assert caught.value.details["allowed"] == list(allowed)
            assert f"allowed next: {', '.join(allowed)}" in caught.value.message
        assert _entries(sessions, number) == before
        with transaction(sessions) as s:
            assert timeline.incident(s, number=number).status == source


def test_milestones_are_set_once_and_reopen_keeps_them(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
    start = clock.now()

    def move(status: str, minutes: int) -> Incident:
        clock.advance(minutes=minutes)
        with transaction(sessions) as s:
            return service.change_status(
                s, incident=timeline.incident(s, number=1), status=status, actor="yuta", now=clock.now()
            )

    resolved = move("resolved", 10)
    assert resolved.mitigated_at == resolved.resolved_at == start + timedelta(minutes=10)
    assert resolved.identified_at is None
    assert resolved.comms_due_at is None
    reopened = move("reopen", 5)
    assert (reopened.status, reopened.reopen_count) == ("investigating", 1)
    assert reopened.comms_due_at is not None
    again = move("resolved", 5)
    assert again.resolved_at == start + timedelta(minutes=10)  # first resolution wins for metrics
    closed = move("closed", 5)
    assert closed.closed_at == start + timedelta(minutes=25)
    kinds = [k for k, t in _entries(sessions, 1) if k == "status"]
    assert len(kinds) == 4
    assert ("status", "INC-1 reopened by @yuta") in _entries(sessions, 1)


def test_closed_incident_refuses_every_write_and_keeps_its_timeline(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
        service.change_status(
            s, incident=timeline.incident(s, number=1), status="closed", actor="yuta", now=clock.now()
        )
    before = _entries(sessions, 1)
    config = applied_ops
    writes = [
        lambda s, i: service.add_entry(
            s, incident=i, kind="note", text="late", actor="yuta", now=clock.now()
        ),
        lambda s, i: service.change_severity(
            s, incident=i, severity="SEV1", reason="r", actor="yuta", now=clock.now()
        ),
        lambda s, i: service.acknowledge(s, incident=i, person="hana", now=clock.now()),
        lambda s, i: details.update_details(
            s, incident=i, actor="yuta", now=clock.now(), changes={"summary": "x"}
        ),
        lambda s, i: roles.assign(
            s,
            incident=i,
            role="ops",
            person="mei",
            actor="yuta",
            is_admin=False,
            config=config,
            now=clock.now(),
        ),
        lambda s, i: roles.offer(
            s,
            incident=i,
            role="ic",
            person="hana",
            actor="yuta",
            is_admin=False,
            config=config,
            now=clock.now(),
        ),
    ]
    for write in writes:
        with pytest.raises(Conflict, match="INC-1 is closed"), transaction(sessions) as s:
            write(s, timeline.incident(s, number=1, for_update=True))
    assert _entries(sessions, 1) == before


def test_severity_change_needs_a_reason_and_applies_the_new_cadence(sessions, applied_ops, clock):
    raised: list[tuple[str, str]] = []
    hook = lambda _s, _i, old, new, _now: raised.append((old, new))  # noqa: E731
    with also(hooks.severity_raised, hook):
        with transaction(sessions) as s:
            make_incident(s, now=clock.now())
        before = _entries(sessions, 1)
        with pytest.raises(ValidationFailed, match="reason"), transaction(sessions) as s:
            service.change_severity(
                s,
                incident=timeline.incident(s, number=1),
                severity="SEV1",
                reason=" ",
                actor="yuta",
                now=clock.now(),
            )
        with pytest.raises(Conflict, match="already SEV2"), transaction(sessions) as s:
            service.change_severity(
                s,
                incident=timeline.incident(s, number=1),
                severity="2",
                reason="same",
                actor="yuta",
                now=clock.now(),
            )
        assert _entries(sessions, 1) == before
        clock.advance(minutes=10)
        with transaction(sessions) as s:
            incident = service.change_severity(
                s,
                incident=timeline.incident(s, number=1),
                severity="SEV1",
                reason="all charging fails",
                actor="yuta",
                now=clock.now(),
            )
        # SEV1 cadence is 30m from the declaration (no comms yet), not 1h as for SEV2.
        assert incident.comms_due_at == incident.declared_at + timedelta(minutes=30)
        assert raised == [("SEV2", "SEV1")]
        kind, line = _entries(sessions, 1)[-1]
        assert kind == "severity"
        assert line.startswith("INC-1: severity SEV2 → SEV1 by @yuta: all charging fails — SEV1 rules: pages")
        assert "comms every 30m (next due 12:30 JST)" in line
        with transaction(sessions) as s:
            lowered = service.change_severity(
                s,
                incident=timeline.incident(s, number=1),
                severity="SEV3",
                reason="contained",
                actor="yuta",
                now=clock.now(),
            )
        assert lowered.comms_due_at is None  # SEV3 has no cadence
        assert raised == [("SEV2", "SEV1")]  # lowering is not a raise


def test_update_details_records_what_changed(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
    with transaction(sessions) as s:
        incident = details.update_details(
            s,
            incident=timeline.incident(s, number=1),
            actor="hana",
            now=clock.now(),
            changes={"impact": "5% of charges delayed", "data_loss": True, "summary": None},
        )
    assert (incident.impact, incident.data_loss) == ("5% of charges delayed", True)
    assert _entries(sessions, 1)[-1] == ("system", "INC-1 updated by @hana: data_loss, impact")
    with pytest.raises(ValidationFailed, match="cannot edit status"), transaction(sessions) as s:
        details.update_details(
            s, incident=timeline.incident(s, number=1), actor="hana", now=clock.now(), changes={"status": "x"}
        )


def test_entries_never_go_back_in_time_even_if_a_clock_does(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
    lagging = clock.now() - timedelta(minutes=3)  # a replica whose clock is behind
    with transaction(sessions) as s:
        entry = service.add_entry(
            s, incident=timeline.incident(s, number=1), kind="note", text="n", actor="yuta", now=lagging
        )
        incident = service.change_status(
            s, incident=timeline.incident(s, number=1), status="mitigated", actor="yuta", now=lagging
        )
    assert entry.at == clock.now()
    assert incident.mitigated_at == clock.now()


def test_timeline_is_append_only_in_the_database(sessions, applied_ops, clock, engine):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
    with pytest.raises(RuntimeError, match="append-only"), transaction(sessions) as s:
        s.scalars(select(TimelineEntry)).first().text = "rewritten"  # type: ignore[union-attr]
        s.flush()
    for statement in ("UPDATE timeline_entry SET text = 'x'", "DELETE FROM timeline_entry"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert len(_entries(sessions, 1)) == 3


def test_corrections_point_at_an_entry_of_the_same_incident(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
        make_incident(s, now=clock.now(), title="Other")
        other = timeline.all_entries(s, incident=timeline.incident(s, number=2))[0].id
        wrong = service.add_entry(
            s,
            incident=timeline.incident(s, number=1),
            kind="note",
            text="queue at 10k",
            actor="yuta",
            now=clock.now(),
        )
    with transaction(sessions) as s:
        fix = service.add_entry(
            s,
            incident=timeline.incident(s, number=1),
            kind="note",
            text="queue at 100k",
            actor="yuta",
            now=clock.now(),
            corrects=wrong.id,
        )
    assert fix.corrects_id == wrong.id
    with pytest.raises(ValidationFailed, match="not on INC-1"), transaction(sessions) as s:
        service.add_entry(
            s,
            incident=timeline.incident(s, number=1),
            kind="note",
            text="x",
            actor="yuta",
            now=clock.now(),
            corrects=other,
        )
    with pytest.raises(ValidationFailed, match="note, action, decision"), transaction(sessions) as s:
        service.add_entry(
            s, incident=timeline.incident(s, number=1), kind="status", text="x", actor="yuta", now=clock.now()
        )


def test_timeline_cursor_pages(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now())
        for i in range(5):
            service.add_entry(s, incident=incident, kind="note", text=f"n{i}", actor="yuta", now=clock.now())
    with transaction(sessions) as s:
        incident = timeline.incident(s, number=1)
        first = timeline.entries(s, incident=incident, limit=4)
        rest = timeline.entries(s, incident=incident, after=first[-1].id, limit=100)
        assert [e.text for e in first + rest][-5:] == ["n0", "n1", "n2", "n3", "n4"]
        assert len(first) == 4 and len(rest) == 4
        assert timeline.entries(s, incident=incident, after=rest[-1].id) == []
        with pytest.raises(ValidationFailed, match="limit"):
            timeline.entries(s, incident=incident, limit=0)


def test_secrets_are_redacted_in_title_note_summary_and_reason(sessions, applied_ops, clock):
    secret = "AKIAIOSFODNN7EXAMPLE"
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now(), title=f"Leaked key {secret}", summary=f"key {secret}")
        service.add_entry(
            s, incident=incident, kind="note", text=f"rotating {secret} now", actor="yuta", now=clock.now()
        )
        service.change_severity(
            s, incident=incident, severity="SEV1", reason=f"{secret} is live", actor="yuta", now=clock.now()
        )
    with transaction(sessions) as s:
        incident = timeline.incident(s, number=1)
        stored = [incident.title, incident.summary, incident.channel] + [
            e.text + str(e.data) for e in timeline.all_entries(s, incident=incident)
        ]
    assert all(secret not in value for value in stored)
    assert incident.title == "Leaked key [REDACTED:aws-access-key]"
    assert any("rotating [REDACTED:aws-access-key] now" in value for value in stored)


def test_secrets_are_redacted_in_label_keys_runbook_and_comms_body(sessions, applied_ops, clock):
    """The fields a person types that the title/note test does not reach: label keys, runbook, comms body."""
    secret = "AKIAIOSFODNN7EXAMPLE"
    with transaction(sessions) as s:
        incident = make_incident(
            s, now=clock.now(), labels={f"key-{secret}": f"value {secret}", "team": "pay"}
        )
        details.update_details(
            s,
            incident=incident,
            actor="yuta",
            now=clock.now(),
            changes={"runbook": f"rb {secret}", "labels": {secret: "x", "api_token": "hunter2"}},
        )
        comms.post(
            s,
            incident=incident,
            kind="update",
            audience="internal",
            body=f"rotated {secret}",
            actor="yuta",
            config=applied_ops,
            now=clock.now(),
        )
    with transaction(sessions) as s:
        incident = timeline.incident(s, number=1)
        stored = [incident.runbook, str(incident.labels)] + [
            e.text + str(e.data) for e in timeline.all_entries(s, incident=incident)
        ]
    assert all(secret not in str(value) and "hunter2" not in str(value) for value in stored), stored
    assert incident.runbook == "rb [REDACTED:aws-access-key]"
    assert incident.labels == {"[REDACTED:aws-access-key]": "x", "api_token": "[REDACTED:secret-key]"}
    assert "rotated [REDACTED:aws-access-key]" in stored[-1]


def test_comms_body_is_bounded_like_every_other_text(sessions, applied_ops, clock):
    """The service bounds the body itself (the web form has no schema limit): 422, nothing stored."""
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
    before = _entries(sessions, 1)
    with pytest.raises(ValidationFailed, match="body is longer than 20000"), transaction(sessions) as s:
        comms.post(
            s,
            incident=timeline.incident(s, number=1, for_update=True),
            kind="update",
            audience="internal",
            body="x" * 20_001,
            actor="yuta",
            config=applied_ops,
            now=clock.now(),
        )
    assert _entries(sessions, 1) == before
    with transaction(sessions) as s:
        assert timeline.incident(s, number=1).last_comms_at is None


def test_channel_template_comes_from_commandpost_yaml(sessions, clock, tmp_path):
    _apply_ops(
        sessions,
        tmp_path,
        clock,
        'incident_channel_template: "inc-{date}-{slug}"',
        'incident_channel_template: "{severity}-{service}-{number}"',
    )
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now())
    assert incident.channel == "sev2-payment-platform-1"
    assert _entries(sessions, 1)[-1] == ("system", "INC-1: command post is #sev2-payment-platform-1")


def test_listing_filters_and_validates(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_incident(s, now=clock.now())
        make_incident(s, now=clock.now(), severity="SEV1", service=None)
        make_incident(s, now=clock.now(), severity="SEV3")
        service.change_status(
            s, incident=timeline.incident(s, number=3), status="resolved", actor="yuta", now=clock.now()
        )
    with transaction(sessions) as s:
        assert [i.number for i in service.list_incidents(s)] == [3, 2, 1]
        assert [i.number for i in service.list_incidents(s, status="open")] == [2, 1]
        assert [i.number for i in service.list_incidents(s, status="resolved")] == [3]
        assert [i.number for i in service.list_incidents(s, severity="1")] == [2]
        assert [i.number for i in service.list_incidents(s, service="payment-platform")] == [3, 1]
        with pytest.raises(ValidationFailed, match="SEV1, SEV2, SEV3, SEV4"):
            service.list_incidents(s, severity="SEV9")
        with pytest.raises(
            ValidationFailed, match="investigating, identified, mitigated, resolved, closed, open"
        ):
            service.list_incidents(s, status="done")
        with pytest.raises(ValidationFailed, match="valid: payment-platform"):
            service.list_incidents(s, service="nope")


def test_declaring_runs_the_opened_hooks(sessions, applied_ops, clock):
    seen: list[str] = []
    opened = lambda _s, incident, _now: seen.append(f"opened INC-{incident.number}")  # noqa: E731
    post = lambda _s, incident, entry, _now: seen.append(f"post #{incident.channel} {entry.kind}")  # noqa: E731
    with (
        also(hooks.incident_opened, opened),
        also(hooks.command_post_opened, post),
        transaction(sessions) as s,
    ):
        make_incident(s, now=clock.now())
    assert seen == ["post #inc-2026-06-24-payment-webhooks-failing system", "opened INC-1"]
