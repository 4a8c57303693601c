"""The status page publishes only what a person decided (issue 18, item 5), on both databases.

Measured before: an unacknowledged alert-opened SEV1 turned /status into "major outage" under the raw
alert title; SEV labels and INC numbers were public; a drill held a service at "partial outage"; every
update showed the incident's *current* state; the banner said "Some systems are affected" in a major
outage; "No incidents reported in the last 7 days" sat beside an outage. Each is a test here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commandpost.db.engine import transaction
from commandpost.errors import Conflict, Forbidden, ValidationFailed
from commandpost.incidents import details, public_status, publish, roles, service, timeline
from commandpost.incidents.models import PublicUpdate, TimelineEntry
from commandpost.policy import service as policy_service
from tests.conftest import EXAMPLE_OPS

LEDGER = """name: ledger
owner: payments
description: The charging ledger.
"""


def ops_folder(tmp_path: Path, status_page: str = "") -> Path:
    """The example ops with a second service (ledger), and ``status_page`` settings if given."""
    folder = tmp_path / "ops"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(EXAMPLE_OPS, folder)
    (folder / "services" / "ledger.yaml").write_text(LEDGER)
    if status_page:
        with (folder / "commandpost.yaml").open("a") as f:
            f.write(f"\nstatus_page: {status_page}\n")
    return folder


@pytest.fixture
def ops(sessions, clock, tmp_path):
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=ops_folder(tmp_path), now=clock.now(), actor="test")
        return policy_service.current_config(s)


def declare(sessions, clock, title="Payment webhooks piling up", severity="SEV2", **values):
    with transaction(sessions) as s:
        made = service.declare(
            s,
            title=title,
            severity=severity,
            service="payment-platform",
            actor="yuta",
            now=clock.now(),
            **values,
        )
        return made.number


def alert_opened(sessions, clock, title="KubePodCrashLooping payments-api-7f9c"):
    with transaction(sessions) as s:
        made, created = service.open_or_attach(
            s,
            service="payment-platform",
            severity="SEV1",
            title=title,
            group_key="g1",
            impact_started_at=None,
            detected_at=None,
            runbook=None,
            no_runbook=True,
            source_summary=title,
            now=clock.now(),
        )
        assert created
        return made.number


def pub(sessions, clock, number, actor="yuta", **values):
    values.setdefault("message", "Card payments are delayed; no charge is lost.")
    with transaction(sessions) as s:
        return publish.publish(
            s,
            incident=timeline.incident(s, number=number, for_update=True),
            actor=actor,
            config=service.config_of(s),
            now=clock.now(),
            **values,
        )


def page(sessions, clock) -> public_status.StatusPage:
    with transaction(sessions) as s:
        return public_status.read(s, config=service.config_of(s), now=clock.now())


def states(status: public_status.StatusPage) -> dict[str, str]:
    return {c.name: c.state for c in status.components}


def counts(sessions) -> tuple[int, int]:
    with transaction(sessions) as s:
        return (
            s.scalar(select(func.count()).select_from(PublicUpdate)) or 0,
            s.scalar(select(func.count()).select_from(TimelineEntry)) or 0,
        )


def status(sessions, clock, number, to, actor="yuta"):
    with transaction(sessions) as s:
        return service.change_status(
            s,
            incident=timeline.incident(s, number=number, for_update=True),
            status=to,
            actor=actor,
            now=clock.now(),
        )


FIRST = {"title": "Delayed card payments", "services": {"payment-platform": "partial_outage"}}


def test_nothing_reaches_the_page_until_comms_or_the_ic_publishes(sessions, clock, ops):
    number = alert_opened(sessions, clock)
    declare(sessions, clock, severity="SEV1")
    shown = page(sessions, clock)
    assert shown.overall == "operational" and shown.banner == "All systems operational"
    assert states(shown) == {"payment-platform": "operational", "ledger": "operational"}
    assert shown.incidents == []
    # nobody acknowledged the alert: nobody holds Comms, so nobody can publish
    with pytest.raises(Forbidden, match="nobody holds Comms on INC-1 yet"):
        pub(sessions, clock, number, actor="hana", **FIRST)
    with transaction(sessions) as s:
        service.acknowledge(
            s, incident=timeline.incident(s, number=number, for_update=True), person="hana", now=clock.now()
        )
    pub(sessions, clock, number, actor="hana", state="identified", **FIRST)
    shown = page(sessions, clock)
    assert states(shown) == {"payment-platform": "partial_outage", "ledger": "operational"}
    assert shown.banner == "Partial outage"
    (incident,) = shown.incidents
    assert (incident.title, incident.state, incident.number, incident.severity) == (
        "Delayed card payments", "identified", None, None,
    )  # fmt: skip


def test_only_the_comms_holder_or_the_ic_publishes(sessions, clock, ops):
    number = declare(sessions, clock)
    before = counts(sessions)
    with pytest.raises(Forbidden, match=r"the IC @yuta holds Comms \(by default\)"):
        pub(sessions, clock, number, actor="ken", **FIRST)
    with transaction(sessions) as s:
        roles.assign(
            s, incident=timeline.incident(s, number=number, for_update=True), role="comms", person="hana",
            actor="yuta", is_admin=False, config=service.config_of(s), now=clock.now(),
        )  # fmt: skip
    after_assign = counts(sessions)
    assert after_assign[0] == before[0]
    with pytest.raises(Forbidden, match="Comms is held by @hana, IC by @yuta"):
        pub(sessions, clock, number, actor="ken", **FIRST)
    assert counts(sessions) == after_assign  # a refusal stores nothing
    assert pub(sessions, clock, number, actor="hana", **FIRST).author == "hana"
    assert pub(sessions, clock, number, actor="yuta", message="Still on it.").author == "yuta"  # the IC too


def test_each_update_keeps_the_state_it_was_published_with(sessions, clock, ops):
    number = declare(sessions, clock)
    first = pub(sessions, clock, number, message="We are looking into delayed payments.", **FIRST)
    clock.advance(minutes=20)
    pub(sessions, clock, number, state="monitoring", message="A fix is out; we are watching.")
    clock.advance(minutes=20)
    last = pub(sessions, clock, number, state="resolved", message="Payments are back to normal.")
    (incident,) = page(sessions, clock).incidents
    assert [(u.state, u.message) for u in incident.updates] == [
        ("resolved", "Payments are back to normal."),
        ("monitoring", "A fix is out; we are watching."),
        ("investigating", "We are looking into delayed payments."),
    ]
    assert incident.key == first.id and incident.title == "Delayed card payments"
    assert last.services == {"payment-platform": "operational"}  # resolved: the services recovered
    assert states(page(sessions, clock))["payment-platform"] == "operational"
    with transaction(sessions) as s:  # the timeline holds each publication as a comms update
        comms = s.scalars(
            select(TimelineEntry).where(TimelineEntry.kind == "comms").order_by(TimelineEntry.id)
        ).all()
    assert [(e.data["comms_kind"], e.data["public_state"]) for e in comms] == [
        ("initial", "investigating"), ("update", "monitoring"), ("resolved", "resolved"),
    ]  # fmt: skip
    assert comms[0].text.startswith("Status page · Investigating · payment-platform: partial outage\n")


def test_the_banner_is_the_worst_published_state(sessions, clock, ops):
    one = declare(sessions, clock)
    two = declare(sessions, clock, title="Ledger lag")
    pub(sessions, clock, one, **FIRST)
    pub(
        sessions,
        clock,
        two,
        title="Slow ledger",
        services={"ledger": "degraded", "payment-platform": "major outage"},
    )
    shown = page(sessions, clock)
    assert states(shown) == {"payment-platform": "major_outage", "ledger": "degraded"}
    assert shown.banner == "Major outage"
    pub(sessions, clock, two, state="resolved", message="Fixed.")
    shown = page(sessions, clock)
    assert states(shown) == {"payment-platform": "partial_outage", "ledger": "operational"}
    assert shown.banner == "Partial outage"
    pub(
        sessions,
        clock,
        one,
        state="identified",
        message="Maintenance.",
        services={"payment-platform": "maintenance"},
    )
    assert page(sessions, clock).banner == "Maintenance in progress"


def test_a_drill_is_never_public(sessions, clock, ops):
    drill = declare(sessions, clock, title="Game day", labels={"drill": "true"})
    before = counts(sessions)
    with pytest.raises(Conflict, match="drills are never published"):
        pub(sessions, clock, drill, **FIRST)
    assert counts(sessions) == before
    # published as real, labelled a drill afterwards (JSON true, any case of "true"): gone from the page
    real = declare(sessions, clock)
    pub(sessions, clock, real, **FIRST)
    assert states(page(sessions, clock))["payment-platform"] == "partial_outage"
    with transaction(sessions) as s:
        details.update_details(
            s, incident=timeline.incident(s, number=real, for_update=True), actor="yuta", now=clock.now(),
            changes={"labels": {"drill": "TRUE"}},
        )  # fmt: skip
    shown = page(sessions, clock)
    assert shown.incidents == [] and shown.banner == "All systems operational"
    # a drill's unresolved publication does not hold its close back
    status(sessions, clock, real, "closed")


def test_numbers_and_severities_are_shown_only_when_the_org_opts_in(sessions, clock, ops, tmp_path):
    number = declare(sessions, clock)
    pub(sessions, clock, number, **FIRST)
    (incident,) = page(sessions, clock).incidents
    assert (incident.number, incident.severity) == (None, None)
    with transaction(sessions) as s:
        folder = ops_folder(tmp_path, "{show_incident_numbers: true, show_severity: true}")
        policy_service.apply_folder(s, path=folder, now=clock.now(), actor="test")
    (incident,) = page(sessions, clock).incidents
    assert (incident.number, incident.severity) == ("INC-1", "SEV2")


def test_the_last_7_days_are_of_published_incidents(sessions, clock, ops):
    old = declare(sessions, clock)
    pub(sessions, clock, old, **FIRST)
    pub(sessions, clock, old, state="resolved", message="Fixed.")
    stuck = declare(sessions, clock, title="Ledger lag")
    pub(sessions, clock, stuck, title="Slow ledger", services={"ledger": "degraded"})
    clock.advance(days=8)
    shown = page(sessions, clock)
    assert [i.title for i in shown.incidents] == ["Slow ledger"]  # unresolved in public: still listed
    assert states(shown)["ledger"] == "degraded"
    pub(sessions, clock, stuck, state="resolved", message="Fixed.")
    assert [i.title for i in page(sessions, clock).incidents] == ["Slow ledger"]  # resolved today
    clock.advance(days=7, seconds=1)
    assert page(sessions, clock).incidents == []


def test_resolving_prompts_for_the_resolved_update_and_closing_waits_for_it(sessions, clock, ops):
    number = declare(sessions, clock)
    status(sessions, clock, number, "resolved")  # never published: nothing to prompt
    with transaction(sessions) as s:
        assert publish.resolve_prompt(s, incident=timeline.incident(s, number=number)) is None
    other = declare(sessions, clock, title="Ledger lag")
    pub(sessions, clock, other, state="identified", **FIRST)
    with transaction(sessions) as s:
        assert publish.resolve_prompt(s, incident=timeline.incident(s, number=other)) is None  # still open
    status(sessions, clock, other, "resolved")
    with transaction(sessions) as s:
        prompt = publish.resolve_prompt(s, incident=timeline.incident(s, number=other))
    assert prompt == (
        "the status page still shows INC-2 as identified (payment-platform: partial outage): publish the "
        "resolved update — commandpost incident publish INC-2 --state resolved --message …"
    )
    before = counts(sessions)
    with pytest.raises(Conflict, match="INC-2 is still 'identified' on the public status page"):
        status(sessions, clock, other, "closed")
    assert counts(sessions) == before
    pub(sessions, clock, other, state="resolved", message="Payments are back to normal.")
    with transaction(sessions) as s:
        assert publish.resolve_prompt(s, incident=timeline.incident(s, number=other)) is None
    assert status(sessions, clock, other, "closed").status == "closed"
    with pytest.raises(Conflict, match="read-only"):
        pub(sessions, clock, other, message="late")


def test_the_first_update_names_title_and_services_later_ones_may_not(sessions, clock, ops):
    number = declare(sessions, clock)
    with pytest.raises(ValidationFailed, match="needs a public title") as refused:
        pub(sessions, clock, number, services={"payment-platform": "degraded"})
    assert "commandpost incident publish INC-1 --title" in refused.value.message
    with pytest.raises(ValidationFailed, match="names the affected services"):
        pub(sessions, clock, number, title="Slow payments")
    assert counts(sessions)[0] == 0
    pub(sessions, clock, number, **FIRST)
    later = pub(sessions, clock, number, message="Still on it.")
    assert (later.title, later.state, later.services) == (
        "Delayed card payments", "investigating", {"payment-platform": "partial_outage"},
    )  # fmt: skip
    with pytest.raises(
        ValidationFailed, match="leaves every service it names operational, not payment-platform"
    ):
        pub(sessions, clock, number, state="resolved", services={"payment-platform": "degraded"})


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"message": "x" * 5001}, "message is longer than 5000 characters"),
        ({"title": "t" * 301}, "title is longer than 300 characters"),
        ({"message": "  "}, "message must not be empty"),
        ({"message": "nul \x00 here"}, "message holds a control character"),
        ({"message": "escape \x1b[2J"}, "message holds a control character"),
        ({"title": "bidi \u202e reversed"}, "title holds a control character"),
        ({"state": "on fire"}, "unknown state 'on fire'"),
        ({"services": {"payment-platform": "kaput"}}, "unknown service state 'kaput'"),
        ({"services": {"<script>": "degraded"}}, "unknown service '<script>'"),
    ],
)
def test_hostile_input_is_refused_and_nothing_is_stored(sessions, clock, ops, values, says):
    number = declare(sessions, clock)
    before = counts(sessions)
    with pytest.raises(ValidationFailed) as refused:
        pub(sessions, clock, number, **{**FIRST, **values})
    assert says in refused.value.message
    assert counts(sessions) == before


def test_public_text_is_stored_as_typed_but_secrets_are_redacted(sessions, clock, ops):
    number = declare(sessions, clock)
    text = "<script>alert(1)</script>\nline two\ttab; key AKIAIOSFODNN7EXAMPLE"
    update = pub(sessions, clock, number, title="<b>Delayed</b>", message=text, services=FIRST["services"])
    assert update.title == "<b>Delayed</b>"  # escaped where it is shown, not changed here
    assert update.message.startswith("<script>alert(1)</script>\nline two\ttab; key ")
    assert "AKIAIOSFODNN7EXAMPLE" not in update.message and "[REDACTED:aws-access-key]" in update.message


def test_service_states_read_in_any_spelling():
    assert [publish.service_state(v) for v in ("Partial Outage", "major-outage", " degraded ")] == [
        "partial_outage", "major_outage", "degraded",
    ]  # fmt: skip
    assert publish.pairs(["a=degraded", "", " b = major_outage"]) == {"a": "degraded", "b": " major_outage"}
    with pytest.raises(ValidationFailed, match="is not SERVICE=STATE"):
        publish.pairs(["payment-platform"])
    assert publish.worst([]) == "operational"
    assert publish.worst(["maintenance", "degraded", "operational"]) == "degraded"


def _bars(status: public_status.StatusPage, service: str) -> dict[str, str]:
    """The days that are not operational: ISO date → state."""
    return {d.day.isoformat(): d.state for d in status.uptime[service].days if d.state != "operational"}


def test_90_days_of_bars_from_published_states_in_the_org_timezone(sessions, clock, ops):
    """2026-06-24 12:00 JST: payment-platform partly down 2 h; the 25th a major outage that turns
    partial and stays so; the ledger degraded (up); a drill's major outage counts for nothing."""
    one = declare(sessions, clock)
    pub(sessions, clock, one, **FIRST)
    clock.advance(hours=2)
    pub(sessions, clock, one, state="resolved", message="Fixed.")
    clock.advance(days=1)  # 06-25 14:00 JST
    two = declare(sessions, clock, title="Ledger lag")
    major = {"payment-platform": "major_outage", "ledger": "degraded"}
    pub(sessions, clock, two, title="Payments down", services=major)
    clock.advance(hours=1)
    pub(sessions, clock, two, message="Partly back.", services={"payment-platform": "partial_outage"})
    drill = declare(sessions, clock, title="Game day")
    pub(sessions, clock, drill, title="Ledger down", services={"ledger": "major_outage"})
    with transaction(sessions) as s:
        details.update_details(
            s, incident=timeline.incident(s, number=drill, for_update=True), actor="yuta", now=clock.now(),
            changes={"labels": {"drill": True}},
        )  # fmt: skip
    clock.advance(days=2)  # 06-27 15:00 JST
    shown = page(sessions, clock)
    payments, ledger = shown.uptime["payment-platform"], shown.uptime["ledger"]
    assert len(payments.days) == 90 and payments.days[-1].day.isoformat() == "2026-06-27"
    assert payments.days[0].day.isoformat() == "2026-03-30"
    assert _bars(shown, "payment-platform") == {
        "2026-06-24": "partial_outage",
        "2026-06-25": "major_outage",
        "2026-06-26": "partial_outage",
        "2026-06-27": "partial_outage",
    }
    assert _bars(shown, "ledger") == {"2026-06-25": "degraded"}  # the second update named payments only
    window = (89 * 24 + 15) * 3600  # from 03-30 00:00 JST to now
    down = (2 + 49) * 3600  # 2 h on the 24th; 06-25 14:00 → now
    assert payments.percent == int((1 - down / window) * 10000) / 100 == 97.62
    assert ledger.percent == 100.0 and ledger.label == "100.00%"


def test_a_state_published_before_the_window_holds_into_it(sessions, clock, ops):
    number = declare(sessions, clock)
    pub(sessions, clock, number, title="Ledger maintenance", services={"ledger": "maintenance"})
    clock.advance(days=120)
    shown = page(sessions, clock)
    assert set(_bars(shown, "ledger").values()) == {"maintenance"} and len(_bars(shown, "ledger")) == 90
    assert shown.uptime["ledger"].percent == 100.0  # maintenance is no outage
    assert shown.banner == "Maintenance in progress" and [i.title for i in shown.incidents] == [
        "Ledger maintenance"
    ]
