"""The draft from a scripted incident (frozen clock), compared section by section with an expected file;
criteria on a real database; re-generation as the live document moves on. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.errors import Conflict, NotFound
from commandpost.incidents import comms, details, roles, service, timeline
from commandpost.incidents.models import TimelineEntry
from commandpost.policy import service as policy_service
from commandpost.postmortems import draft, processors, smart
from commandpost.postmortems import service as pm_service
from commandpost.postmortems.models import ActionItem, Postmortem
from commandpost.runbooks import service as runbooks_service

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "postmortems"
START = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 12:00 in Asia/Tokyo; after the runbook's last_updated
RUNBOOK = "payment-webhook-backlog"


def script_webhook_backlog(sessions, clock: FrozenClock, *, resolve: bool = True) -> int:
    """The guide's §3-2 incident as responders would run it, through the incidents and runbooks services.

    12:00 WebhookBacklogHigh opens a SEV2 · 12:03 @yuta acks (IC) · 12:04 Ops to @ken · 12:05 initial
    comms · 12:10 identified · 12:12 decision · 12:21 rollback by hand · 12:24 Mitigate step done ·
    12:30 mitigated · 12:40 Verify step · 12:45 comms update · 12:52 resolved (+ the resolved comms).
    """
    clock.set(START)

    def at(minutes: int) -> datetime:
        clock.set(START + timedelta(minutes=minutes))
        return clock.now()

    with transaction(sessions) as s:
        incident, _ = service.open_or_attach(
            s,
            service="payment-platform",
            severity="SEV2",
            title="Payment webhook backlog above 1,000",
            group_key="alertname=WebhookBacklogHigh",
            impact_started_at=START - timedelta(minutes=8),
            detected_at=START,
            runbook=RUNBOOK,
            no_runbook=False,
            source_summary="alertmanager WebhookBacklogHigh: payment-webhooks queue depth 4,200 > 1,000",
            now=at(0),
        )
        number = incident.number
    config = None

    def step(minutes: int, fn):  # type: ignore[no-untyped-def]
        nonlocal config
        with transaction(sessions) as s:
            config = policy_service.current_config(s)
            fn(s, timeline.incident(s, number=number, for_update=True), at(minutes))

    step(3, lambda s, i, now: service.acknowledge(s, incident=i, person="yuta", now=now))
    step(
        4,
        lambda s, i, now: roles.assign(
            s, incident=i, role="ops", person="ken", actor="yuta", is_admin=False, config=config, now=now
        ),
    )
    step(
        5,
        lambda s, i, now: comms.post(
            s,
            incident=i,
            kind="initial",
            audience="internal",
            body="Charges are delayed: webhook processing is stuck. Next update by 13:05.",
            actor="yuta",
            config=config,
            now=now,
        ),
    )
    step(
        8,
        lambda s, i, now: service.add_entry(
            s, incident=i, kind="note", text="queue depth 4,200 and growing; consumer crash-looping",
            actor="ken", now=now,
        ),
    )  # fmt: skip
    step(
        10,
        lambda s, i, now: service.change_status(
            s,
            incident=i,
            status="identified",
            actor="yuta",
            now=now,
            note="consumer 1.4.2 crashes on a new event type",
        ),
    )
    step(
        12,
        lambda s, i, now: service.add_entry(
            s, incident=i, kind="decision", text="roll back the consumer to 1.4.1 rather than scale out",
            actor="yuta", now=now,
        ),
    )  # fmt: skip
    step(
        21,
        lambda s, i, now: service.add_entry(
            s, incident=i, kind="action", text="rolled back payment-webhook-consumer to task definition :41",
            actor="ken", now=now,
        ),
    )  # fmt: skip
    step(
        24,
        lambda s, i, now: runbooks_service.mark_step(
            s, incident=i, slug=RUNBOOK, step_ref="3.4", state="done", by="ken", now=now
        ),
    )
    step(
        30, lambda s, i, now: service.change_status(s, incident=i, status="mitigated", actor="yuta", now=now)
    )
    step(
        40,
        lambda s, i, now: runbooks_service.mark_step(
            s, incident=i, slug=RUNBOOK, step_ref="4.1", state="done", by="ken", now=now
        ),
    )
    step(
        45,
        lambda s, i, now: comms.post(
            s,
            incident=i,
            kind="update",
            audience="internal",
            body="Rolled back; the queue is draining. Re-injecting the DLQ next.",
            actor="yuta",
            config=config,
            now=now,
        ),
    )
    if resolve:
        step(
            52,
            lambda s, i, now: service.change_status(
                s,
                incident=i,
                status="resolved",
                actor="yuta",
                now=now,
                note="queue normal for 10 minutes; ledger reconciled",
            ),
        )
    return number


def run_criteria(sessions, clock: FrozenClock, minutes_after: int = 8) -> int:
    clock.advance(minutes=minutes_after)
    with transaction(sessions) as s:
        return processors.Criteria().run(s, clock.now())


def _sections(markdown: str) -> dict[str, str]:
    """``## Heading`` → its body; the part before the first heading under ``header``."""
    head, *rest = markdown.split("\n## ")
    out = {"header": head}
    for part in rest:
        title, _, body = part.partition("\n")
        out[title] = body
    return out


def test_resolving_a_sev2_drafts_a_postmortem_that_matches_the_expected_file(sessions, applied_ops, clock):
    number = script_webhook_backlog(sessions, clock)
    assert run_criteria(sessions, clock) == 1
    with transaction(sessions) as s:
        _incident, pm = pm_service.find(s, number=number)
        got = pm_service.markdown(s, pm=pm)
        assert (pm.status, pm.author, pm.required) == ("draft", "yuta", True)
        assert pm.criteria["summary"] == "required: SEV2; manual intervention at 12:21 by @ken"
    expected = (FIXTURES / "webhook-backlog-draft.md").read_text(encoding="utf-8")
    got_sections, expected_sections = _sections(got), _sections(expected)
    assert list(got_sections) == list(expected_sections)
    for title, body in expected_sections.items():
        assert got_sections[title] == body, f"section {title!r} differs"


def test_the_draft_timeline_is_the_live_document_transcribed(sessions, applied_ops, clock):
    number = script_webhook_backlog(sessions, clock)
    run_criteria(sessions, clock)
    with transaction(sessions) as s:
        incident, pm = pm_service.find(s, number=number)
        live = timeline.all_entries(s, incident=incident)
        rows = pm.facts["timeline"]
    kept = [e for e in live if e.kind != "note" and (e.kind != "system" or e.data.get("acknowledged"))]
    kept = [e for e in kept if not (e.kind == "system" and "postmortem" in e.data)]
    assert [r["entry_id"] for r in rows] == [e.id for e in kept]
    assert {r["kind"] for r in rows} >= {
        "alert", "status", "decision", "action", "comms", "runbook_step", "role", "system",
    }  # fmt: skip
    for row, entry in zip(rows, kept, strict=True):
        assert row["at"] == entry.at.isoformat()
        assert row["time"] == entry.at.astimezone(rules_zone()).strftime("%H:%M")
    # the live document now says the postmortem is required, and why
    assert live[-1].kind == "system"
    assert live[-1].text == (
        f"INC-{number}: postmortem required: SEV2; manual intervention at 12:21 by @ken — "
        f"draft: commandpost postmortem show INC-{number}"
    )


def rules_zone():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Tokyo")


def test_a_second_pass_changes_nothing_and_a_later_change_regenerates_unedited_sections(
    sessions, applied_ops, clock
):
    number = script_webhook_backlog(sessions, clock)
    run_criteria(sessions, clock)
    assert run_criteria(sessions, clock) == 0
    with transaction(sessions) as s:
        pm_service.edit(
            s,
            number=number,
            actor="yuta",
            now=clock.now(),
            sections={"summary": "Our own summary of the backlog."},
        )
    clock.advance(minutes=5)
    with transaction(sessions) as s:
        details.update_details(
            s,
            incident=timeline.incident(s, number=number, for_update=True),
            actor="yuta",
            now=clock.now(),
            changes={"impact": "about 1,800 charges confirmed late; none lost", "data_loss": False},
        )
        service.change_status(
            s,
            incident=timeline.incident(s, number=number, for_update=True),
            status="closed",
            actor="yuta",
            now=clock.now(),
        )
    assert run_criteria(sessions, clock) == 1
    with transaction(sessions) as s:
        _incident, pm = pm_service.find(s, number=number)
        assert pm.sections["summary"] == "Our own summary of the backlog."  # edited: left alone
        assert pm.sections["user_impact"] == "about 1,800 charges confirmed late; none lost"
        assert pm.sections["timeline"].splitlines()[-1].endswith("**status** resolved → closed by @yuta")
        assert pm.facts["incident_status"] == "closed"
    assert run_criteria(sessions, clock) == 0


def test_an_open_incident_has_no_postmortem_and_start_refuses_it(sessions, applied_ops, clock):
    number = script_webhook_backlog(sessions, clock, resolve=False)
    assert run_criteria(sessions, clock) == 0
    with (
        transaction(sessions) as s,
        pytest.raises(NotFound, match="criteria are evaluated when it is resolved"),
    ):
        pm_service.find(s, number=number)
    with pytest.raises(Conflict, match="a postmortem starts once it is resolved"), transaction(sessions) as s:
        pm_service.start(s, number=number, actor="yuta", now=clock.now())
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Postmortem)) == 0


# ---------------------------------------------------------------- criteria on the database


def _declare_and_resolve(sessions, clock, *, minutes: int = 30, **declare) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        incident = service.declare(
            s, title="Admin CSV export fails", actor="hana", now=clock.now(), **declare
        )
        number = incident.number
    clock.advance(minutes=minutes)
    with transaction(sessions) as s:
        service.change_status(
            s,
            incident=timeline.incident(s, number=number, for_update=True),
            status="resolved",
            actor="hana",
            now=clock.now(),
        )
    return number


def _alert_incident(sessions, clock, *, severity: str) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        incident, _ = service.open_or_attach(
            s, service="payment-platform", severity=severity, title="CSV export errors",
            group_key=f"g-{severity}-{clock.now().timestamp()}", impact_started_at=None, detected_at=None,
            runbook=None, no_runbook=True, source_summary="generic CsvExportErrors: 5xx on /export",
            now=clock.now(),
        )  # fmt: skip
        number = incident.number
    clock.advance(minutes=2)
    with transaction(sessions) as s:
        service.acknowledge(
            s, incident=timeline.incident(s, number=number, for_update=True), person="hana", now=clock.now()
        )
    return number


def _resolve(sessions, clock, number: int, minutes: int = 20) -> None:  # type: ignore[no-untyped-def]
    clock.advance(minutes=minutes)
    with transaction(sessions) as s:
        service.change_status(
            s,
            incident=timeline.incident(s, number=number, for_update=True),
            status="resolved",
            actor="hana",
            now=clock.now(),
        )


def _criteria(sessions, number: int) -> tuple[str, bool, list[str]]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        _i, pm = pm_service.find(s, number=number)
        return pm.status, pm.required, [r["criterion"] for r in pm.criteria["reasons"]]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("nothing", ("not_required", False, [])),
        ("data_loss", ("draft", True, ["data_loss"])),
        ("manual_flag", ("draft", True, ["manual_intervention"])),
        ("action", ("draft", True, ["manual_intervention"])),
        ("mitigate_step", ("draft", True, ["manual_intervention"])),
        ("slow", ("draft", True, ["resolve_time"])),
        ("sev2", ("draft", True, ["severity"])),
    ],
)
def test_each_criterion_alone_on_an_alert_detected_sev3(sessions, applied_ops, clock, setup, expected):
    severity = "SEV2" if setup == "sev2" else "SEV3"
    number = _alert_incident(sessions, clock, severity=severity)
    with transaction(sessions) as s:
        incident = timeline.incident(s, number=number, for_update=True)
        if setup in ("data_loss", "manual_flag"):
            field = "data_loss" if setup == "data_loss" else "manual_intervention"
            details.update_details(s, incident=incident, actor="hana", now=clock.now(), changes={field: True})
        elif setup == "action":
            service.add_entry(
                s,
                incident=incident,
                kind="action",
                text="restarted the export worker",
                actor="hana",
                now=clock.now(),
            )
        elif setup == "mitigate_step":
            details.update_details(
                s, incident=incident, actor="hana", now=clock.now(), changes={"runbook": RUNBOOK}
            )
            runbooks_service.mark_step(
                s, incident=incident, slug=RUNBOOK, step_ref="3.3", state="done", by="hana", now=clock.now()
            )
    _resolve(sessions, clock, number, minutes=60 * 25 if setup == "slow" else 20)
    run_criteria(sessions, clock, minutes_after=1)
    assert _criteria(sessions, number) == expected


def test_sev4_never_requires_one_even_with_every_other_criterion(sessions, applied_ops, clock):
    number = _declare_and_resolve(sessions, clock, severity="SEV4", minutes=60 * 30)
    with transaction(sessions) as s:
        service.change_status(
            s,
            incident=timeline.incident(s, number=number, for_update=True),
            status="investigating",
            actor="hana",
            now=clock.now(),
        )
        incident = timeline.incident(s, number=number, for_update=True)
        details.update_details(
            s, incident=incident, actor="hana", now=clock.now(), changes={"data_loss": True}
        )
        service.add_entry(
            s, incident=incident, kind="action", text="deleted the temp files", actor="hana", now=clock.now()
        )
    _resolve(sessions, clock, number)
    run_criteria(sessions, clock, minutes_after=1)
    with transaction(sessions) as s:
        _i, pm = pm_service.find(s, number=number)
        assert (pm.status, pm.required) == ("not_required", False)
        assert pm.criteria["summary"] == "not required: SEV4 never requires a postmortem (a ticket suffices)"
        assert s.scalar(select(func.count()).select_from(ActionItem)) == 0


def test_manual_detection_drafts_and_prefills_the_missing_alert_item(sessions, applied_ops, clock):
    number = _declare_and_resolve(sessions, clock, severity="SEV3", service="payment-platform")
    run_criteria(sessions, clock, minutes_after=1)
    run_criteria(sessions, clock, minutes_after=1)  # a later pass adds no second item
    with transaction(sessions) as s:
        _i, pm = pm_service.find(s, number=number)
        assert pm.criteria["summary"] == (
            "required: detection manual: a human noticed, not monitoring (a monitoring defect)"
        )
        assert pm.sections["detection"].startswith(
            f"Manual: a human noticed, not monitoring — @hana declared INC-{number} at 12:00 "
            "with no alert firing. This is a monitoring defect"
        )
        (item,) = pm_service.items_of(s, pm=pm)
        assert (item.type, item.owner, item.status, item.origin, item.ticket) == (
            "prevent", "hana", "open", draft.MISSING_ALERT, None,
        )  # fmt: skip
        assert item.title == (
            "Add the missing alert for 'Admin CSV export fails' on payment-platform "
            "so monitoring detects it, not a person"
        )
        assert item.due == datetime(2026, 7, 8).date()  # 14 days after the day it was drafted (JST)
        assert "new alert fires and pages" in (item.verification or "")
        # the machine's own item passes the SMART rules a person's item must pass, ticket aside
        ctx_problems = smart.smart_problems(
            smart.ActionDraft(item.title, item.type, item.owner, item.due, "OPS-1", item.verification),
            smart.SmartContext(
                today=datetime(2026, 6, 24).date(), timezone="Asia/Tokyo",
                vague_words=policy_service.current_config(s).settings.postmortem.vague_words,
                people={"hana"},
            ),
        )  # fmt: skip
        assert ctx_problems == []


def test_a_not_required_postmortem_becomes_a_draft_when_a_later_change_meets_a_criterion(
    sessions, applied_ops, clock
):
    number = _alert_incident(sessions, clock, severity="SEV3")
    _resolve(sessions, clock, number)
    run_criteria(sessions, clock, minutes_after=1)
    assert _criteria(sessions, number) == ("not_required", False, [])
    clock.advance(hours=20)
    with transaction(sessions) as s:
        details.update_details(
            s,
            incident=timeline.incident(s, number=number, for_update=True),
            actor="hana",
            now=clock.now(),
            changes={"data_loss": True},
        )
    run_criteria(sessions, clock, minutes_after=1)
    assert _criteria(sessions, number) == ("draft", True, ["data_loss"])


def test_start_drafts_one_by_choice(sessions, applied_ops, clock):
    number = _alert_incident(sessions, clock, severity="SEV3")
    _resolve(sessions, clock, number)
    with transaction(sessions) as s:
        pm = pm_service.start(s, number=number, actor="hana", now=clock.now())
        assert pm.status == "draft"
        assert pm.criteria["summary"].endswith("(written by choice)")
        assert pm.sections["detection"].startswith(
            'Automatic: monitoring detected it — the alert "generic CsvExportErrors'
        )
    with transaction(sessions) as s:
        count = s.scalar(select(func.count()).select_from(TimelineEntry))
    assert count and run_criteria(sessions, clock) == 0
