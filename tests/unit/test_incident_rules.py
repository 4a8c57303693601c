"""The pure rules of an incident: the whole transition table, names, numbers, channel names, comms text."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from commandpost.errors import InvalidTransition, ValidationFailed
from commandpost.incidents import rules

FORWARD = {
    "investigating": {"identified", "mitigated", "resolved", "closed"},
    "identified": {"mitigated", "resolved", "closed"},
    "mitigated": {"resolved", "closed"},
    "resolved": {"closed", "investigating"},
    "closed": set(),
}
PAIRS = list(itertools.product(rules.STATUSES, rules.STATUSES))


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_transition_table_exhaustively(source, target):
    if target in FORWARD[source]:
        move = rules.check_transition(source, target, number="INC-7")
        assert move.target == target
        assert move.name == ("reopen" if (source, target) == ("resolved", "investigating") else "forward")
        return
    with pytest.raises(InvalidTransition) as caught:
        rules.check_transition(source, target, number="INC-7")
    allowed = list(rules.allowed_next(source))
    assert caught.value.details["allowed"] == allowed
    assert set(allowed) == FORWARD[source]
    for state in allowed:
        assert state in caught.value.message
    assert f"from {source} to {target}" in caught.value.message
    assert caught.value.http_status == 409


def test_closed_is_final_and_says_so():
    with pytest.raises(InvalidTransition, match=r"none \(closed is final\)"):
        rules.check_transition("closed", "investigating")


@pytest.mark.parametrize(
    ("source", "ok"), [("resolved", True), ("investigating", False), ("mitigated", False), ("closed", False)]
)
def test_reopen_alias_only_from_resolved(source, ok):
    if ok:
        move = rules.check_transition(source, "reopen")
        assert (move.target, move.name) == ("investigating", "reopen")
    else:
        with pytest.raises(InvalidTransition, match="reopen is only from resolved"):
            rules.check_transition(source, "reopen")


def test_unknown_status_is_422_naming_valid_ones():
    with pytest.raises(ValidationFailed) as caught:
        rules.check_transition("investigating", "fixed")
    assert caught.value.http_status == 422
    for status in rules.STATUSES:
        assert status in caught.value.message


@pytest.mark.parametrize(
    ("target", "stamps"),
    [
        ("identified", ("identified_at",)),
        ("mitigated", ("mitigated_at",)),
        ("resolved", ("mitigated_at", "resolved_at")),
        ("closed", ("mitigated_at", "resolved_at", "closed_at")),
    ],
)
def test_skips_fill_implied_milestones_but_never_identified(target, stamps):
    assert rules.check_transition("investigating", target).stamps == stamps


@pytest.mark.parametrize(
    ("given", "expected"), [("SEV2", "SEV2"), ("sev1", "SEV1"), ("3", "SEV3"), (4, "SEV4")]
)
def test_severity_normalized(given, expected):
    assert rules.normalize_severity(given) == expected


@pytest.mark.parametrize("bad", ["SEV5", "P1", "critical", "0", ""])
def test_unknown_severity_names_valid_ones(bad):
    with pytest.raises(ValidationFailed) as caught:
        rules.normalize_severity(bad)
    assert "SEV1, SEV2, SEV3, SEV4" in caught.value.message
    assert caught.value.details["valid"] == ["SEV1", "SEV2", "SEV3", "SEV4"]


def test_raise_means_more_severe():
    assert rules.is_raise("SEV2", "SEV1")
    assert not rules.is_raise("SEV1", "SEV2")
    assert not rules.is_raise("SEV3", "SEV3")


@pytest.mark.parametrize(("given", "expected"), [("IC", "ic"), ("ops", "ops"), (" Comms ", "comms")])
def test_role_names(given, expected):
    assert rules.normalize_role(given) == expected


def test_unknown_role_names_valid_ones():
    with pytest.raises(ValidationFailed, match="ic, ops, comms, planning"):
        rules.normalize_role("scribe")


@pytest.mark.parametrize(("given", "expected"), [("7", 7), ("INC-7", 7), ("inc-12", 12), (3, 3), ("inc7", 7)])
def test_incident_numbers(given, expected):
    assert rules.parse_number(given) == expected
    assert rules.format_number(expected) == f"INC-{expected}"


@pytest.mark.parametrize("bad", ["INC-", "0", "INC-x", "7a", "-1", ""])
def test_bad_incident_numbers(bad):
    with pytest.raises(ValidationFailed, match="INC-7 or 7"):
        rules.parse_number(bad)


def test_slug_and_channel_name():
    assert rules.slugify("Payment webhooks failing!") == "payment-webhooks-failing"
    assert rules.slugify("Élan — café down") == "elan-cafe-down"
    assert rules.slugify("!!!") == "incident"
    long = rules.slugify("a very long title that keeps going on and on and on forever")
    assert len(long) <= 40 and not long.endswith("-")
    name = rules.channel_name(
        "inc-{date}-{slug}",
        number=7,
        title="Payment webhook backlog",
        service="payment-platform",
        severity="SEV2",
        local_date="2026-06-24",
    )
    assert name == "inc-2026-06-24-payment-webhook-backlog"
    other = rules.channel_name(
        "{severity}_{service}/{number} {unknown}",
        number=7,
        title="x",
        service=None,
        severity="SEV1",
        local_date="d",
    )
    assert other == "sev1_none-7-unknown"


def test_render_template_keeps_unknown_placeholders_and_stray_braces():
    assert rules.render_template("{number}: {title} {nope}", {"number": "7", "title": "t"}) == "7: t {nope}"
    assert rules.render_template("{number} } {", {"number": "7"}) == "7 } {"


def test_comms_due_and_reminder_periods():
    due = datetime(2026, 6, 24, 3, 30, tzinfo=UTC)
    cadence = timedelta(minutes=30)
    assert rules.comms_due(due - cadence, cadence) == due
    assert rules.comms_due(due, None) is None
    assert rules.reminder_period(due, cadence, due - timedelta(seconds=1)) is None
    assert rules.reminder_period(due, cadence, due) == due
    assert rules.reminder_period(due, cadence, due + timedelta(minutes=29)) == due
    assert rules.reminder_period(due, cadence, due + timedelta(minutes=95)) == due + 3 * cadence
    assert rules.next_reminder_at(due, cadence, None) == due
    assert rules.next_reminder_at(due, cadence, due) == due + cadence
    assert rules.next_reminder_at(due, None, due) is None


def test_next_steps_name_channel_runbook_and_comms():
    steps = rules.next_steps(number="INC-7", runbook="payment-webhook-backlog", paging=True, channel="inc-x")
    assert steps[0] == "join the command post #inc-x"
    assert "the on-call is being paged: brief them when they ack" in steps
    assert "open the runbook payment-webhook-backlog" in steps
    assert steps[-1] == "post the initial comms: commandpost comms INC-7 initial"


def test_declared_paging_says_who_is_paged_or_why_nobody():
    assert rules.declared_paging(severity="SEV1", pages=True, service="payment-platform", page=True) == (
        True,
        "paging the on-call of payment-platform per its escalation policy (skipping you if you are on call)",
    )
    assert rules.declared_paging(severity="SEV1", pages=True, service=None, page=True)[0] is False
    assert "no service" in rules.declared_paging(severity="SEV1", pages=True, service=None, page=True)[1]
    assert rules.declared_paging(severity="SEV1", pages=True, service="x", page=False) == (
        False,
        "nobody is paged: declared without paging",
    )
    assert rules.declared_paging(severity="SEV3", pages=False, service="x", page=True) == (
        False,
        "SEV3 does not page: nobody is paged",
    )
