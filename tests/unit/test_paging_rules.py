"""Pure escalation rules and page wording: no database, exact values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commandpost.paging import rules
from commandpost.paging.page import PageText
from commandpost.paging.rules import Level, Position
from commandpost.policy.loader import load_ops
from commandpost.policy.opsfiles import EscalationPolicy, SeverityRoute
from commandpost.runbooks.document import FirstMove
from tests.paging_support import EXAMPLE_OPS

T0 = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
M = timedelta(minutes=1)


@pytest.fixture(scope="module")
def config():  # type: ignore[no-untyped-def]
    result = load_ops(EXAMPLE_OPS)
    assert result.config is not None
    return result.config


def test_the_guide_shape_is_two_levels():
    route = SeverityRoute(page=["primary"], escalate_after="5m", then=["secondary", "lead"], notify=["boss"])
    assert rules.levels_of(route) == (Level(("primary",), timedelta(0)), Level(("secondary", "lead"), 5 * M))


def test_a_chain_fires_level_by_level_then_is_exhausted():
    levels = (Level(("a",), timedelta(0)), Level(("b",), 5 * M))
    assert rules.start(levels, T0) == Position(0, 0, T0)
    first = rules.after_fire(levels, level=0, repeat=0, repeat_limit=0, at=T0, reached=True)
    assert first == Position(1, 0, T0 + 5 * M)
    assert rules.after_fire(
        levels, level=1, repeat=0, repeat_limit=0, at=T0 + 5 * M, reached=True
    ) == Position(2, 0, None)


def test_repeat_starts_over_after_the_last_levels_wait_and_stops_after_n():
    levels = (Level(("a",), timedelta(0)), Level(("b",), 10 * M))
    again = rules.after_fire(levels, level=1, repeat=0, repeat_limit=2, at=T0, reached=True)
    assert again == Position(0, 1, T0 + 10 * M)
    assert rules.after_fire(levels, level=1, repeat=2, repeat_limit=2, at=T0, reached=True).at is None
    # level 0's own wait wins when it has one; no wait anywhere → the default
    assert rules.repeat_delay((Level(("a",), 3 * M), Level(("b",), 10 * M))) == 3 * M
    assert rules.repeat_delay((Level(("a",), timedelta(0)),)) == rules.DEFAULT_REPEAT_DELAY


def test_a_level_that_reached_nobody_does_not_wait():
    levels = (Level(("a",), timedelta(0)), Level(("b",), 5 * M))
    assert rules.after_fire(levels, level=0, repeat=0, repeat_limit=0, at=T0, reached=False) == Position(
        1, 0, T0
    )


def test_escalating_by_hand_takes_the_next_level_or_one_more_cycle():
    levels = (Level(("a",), timedelta(0)), Level(("b",), 5 * M))
    assert rules.manual_level(levels, level=1, repeat=0) == (1, 0)
    assert rules.manual_level(levels, level=2, repeat=0) == (0, 1)
    assert rules.describe(levels, 0, 1, 1) == "level 1 of 2, repeat 1 of 1"
    assert rules.describe(levels, 1, 3, 1) == "level 2 of 2, repeat 3"


def test_names_resolve_to_people_and_channels(config):
    policy = config.policy("payment-platform")
    on_call = {("payment-platform", "primary"): "hana", ("payment-platform", "secondary"): None}
    found = rules.resolve(
        policy,
        config,
        [
            "primary_oncall",
            "secondary_oncall",
            "team_lead",
            "payments",
            "status_page",
            "hana",
            "@ken",
            "nope",
        ],
        lambda s, layer: on_call[(s, layer)],
    )
    assert [(r.target, r.label) for r in found.recipients] == [
        ("primary_oncall", "@hana"),
        ("team_lead", "@yuta"),  # person target
        ("payments", "#payments"),  # a team: its lead (yuta, already here) and its channel
        ("@ken", "@ken"),
    ]
    assert found.status_page
    assert found.notes == (
        "secondary_oncall: nobody is on call for payment-platform/secondary",
        "status_page: on the public status page (/status) once Comms or the IC publishes it "
        "(the incident page's Status page form, or commandpost incident publish)",
        "nope: not a target, person or team of the applied ops folder",
    )


def test_a_team_without_a_lead_is_every_member(config):
    policy = EscalationPolicy(service="x", severity_routing={"SEV1": SeverityRoute(page=["m"])})
    found = rules.resolve(policy, config, ["engineering-management"], lambda s, layer: None)
    assert [r.label for r in found.recipients] == ["@sato", "#engineering-management"]  # sato is its lead


def test_fyis_of_a_route_that_pages_nobody_wait_for_business_hours(config):
    sev3 = config.policy("payment-platform").severity_routing["SEV3"]
    sunday_night = datetime(2026, 6, 28, 13, 0, tzinfo=UTC)  # 22:00 JST
    monday_morning = datetime(2026, 6, 29, 0, 0, tzinfo=UTC)  # 09:00 JST
    assert rules.fyi_not_before(config, "SEV3", sev3, sunday_night) == monday_morning
    assert rules.fyi_not_before(config, "SEV3", sev3, monday_morning + 3 * M) is None
    sev1 = config.policy("payment-platform").severity_routing["SEV1"]
    assert rules.fyi_not_before(config, "SEV1", sev1, sunday_night) is None


def text(missing: str | None = None, move: FirstMove | None = None) -> PageText:
    return PageText(
        number="INC-7",
        severity="SEV1",
        service="payment-platform",
        title="DB exhausted",
        url="https://cp/incidents/INC-7",
        runbook_url=None if missing else "https://rb/db",
        first_move=move,
        move_note="" if move or missing else "read it",
        missing=missing,
    )


def test_a_page_without_a_runbook_says_so_first():
    body = text(missing="no runbook is linked").page_body("primary_oncall (level 1 of 2)", "")
    assert body.splitlines()[0] == "NO RUNBOOK — no runbook is linked"
    assert text(missing="x").subject() == "[SEV1] INC-7 NO RUNBOOK payment-platform: DB exhausted"
    assert text(missing="x").subject(fyi=True) == "[SEV1] INC-7 FYI NO RUNBOOK payment-platform: DB exhausted"


def test_a_page_with_a_runbook_leads_with_severity_runbook_and_first_move():
    move = FirstMove(step_id="3.1-abc", text="First move: drain the queue", command="kubectl scale x")
    body = text(move=move).page_body("primary_oncall (level 1 of 2)", "Next: secondary at 12:05 JST")
    assert body.splitlines() == [
        "[SEV1] INC-7 payment-platform: DB exhausted",
        "Runbook: https://rb/db",
        "First move: drain the queue",
        "    $ kubectl scale x",
        "Incident: https://cp/incidents/INC-7",
        "Ack: commandpost ack INC-7 — or open https://cp/incidents/INC-7",
        "Paged: primary_oncall (level 1 of 2)",
        "Next: secondary at 12:05 JST",
    ]
    assert FirstMove("1", "first move — restart it", None).words == "restart it"
