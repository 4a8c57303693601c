"""Pure postmortem rules: the criteria table, review moves, SMART validation, reminder timing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from commandpost.errors import InvalidTransition, ValidationFailed
from commandpost.policy.opsfiles import PostmortemSettings
from commandpost.postmortems import criteria, reminders, smart, states
from commandpost.postmortems.blameless import People, check_text
from commandpost.postmortems.sections import SECTION_NAMES, empty_sections

TZ = "Asia/Tokyo"
T0 = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
SETTINGS = PostmortemSettings(resolve_time_threshold={"SEV1": "1h", "SEV2": "4h", "SEV3": "1d"})


def _inp(**overrides):
    values = {
        "severity": "SEV3",
        "data_loss": False,
        "manual_intervention_flag": False,
        "detection": "automatic",
        "detected_at": T0,
        "resolved_at": T0 + timedelta(minutes=30),
        "interventions": (),
    }
    values.update(overrides)
    return criteria.CriteriaInput(**values)


ACTION = criteria.Intervention(at=T0 + timedelta(minutes=21), author="yuta", what="action")
STEP = criteria.Intervention(at=T0 + timedelta(minutes=25), author="ken", what="mitigate_step", step="3.3")


# ---------------------------------------------------------------- the criteria table


@pytest.mark.parametrize(
    ("overrides", "criterion", "text"),
    [
        ({"severity": "SEV1"}, "severity", "SEV1"),
        ({"severity": "SEV2"}, "severity", "SEV2"),
        ({"data_loss": True}, "data_loss", "data loss"),
        ({"interventions": (ACTION,)}, "manual_intervention", "manual intervention at 12:21 by @yuta"),
        (
            {"interventions": (STEP,)},
            "manual_intervention",
            "manual intervention at 12:25 by @ken (Mitigate step 3.3 done by hand)",
        ),
        (
            {"manual_intervention_flag": True},
            "manual_intervention",
            "manual intervention (flagged on the incident)",
        ),
        (
            {"resolved_at": T0 + timedelta(days=1, minutes=1)},
            "resolve_time",
            "resolved in 1d1m, over the SEV3 threshold of 1d",
        ),
        (
            {"detection": "manual"},
            "manual_detection",
            "detection manual: a human noticed, not monitoring (a monitoring defect)",
        ),
    ],
)
def test_each_criterion_alone_requires_a_postmortem(overrides, criterion, text):
    result = criteria.evaluate(_inp(**overrides), SETTINGS, TZ)
    assert result.required is True
    assert [(r.criterion, r.text) for r in result.reasons] == [(criterion, text)]
    assert result.summary == f"required: {text}"


def test_nothing_applies_and_the_reason_says_so():
    result = criteria.evaluate(_inp(), SETTINGS, TZ)
    assert result.required is False and result.reasons == ()
    assert result.summary == (
        "not required: SEV3, and no data loss, manual intervention, slow resolution or manual detection"
    )


def test_reasons_add_up_in_a_fixed_order_and_the_earliest_intervention_is_named():
    result = criteria.evaluate(
        _inp(severity="SEV2", interventions=(STEP, ACTION), detection="manual"), SETTINGS, TZ
    )
    assert result.summary == (
        "required: SEV2; manual intervention at 12:21 by @yuta; "
        "detection manual: a human noticed, not monitoring (a monitoring defect)"
    )
    assert result.manual_detection is True


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"data_loss": True},
        {"interventions": (ACTION,), "manual_intervention_flag": True},
        {"detection": "manual"},
        {"resolved_at": T0 + timedelta(days=30)},
        {"severity_requires": True},
    ],
)
def test_sev4_never_requires_one(overrides):
    result = criteria.evaluate(_inp(severity="SEV4", **overrides), SETTINGS, TZ)
    assert result.required is False
    assert result.summary == "not required: SEV4 never requires a postmortem (a ticket suffices)"


def test_severities_yaml_flag_and_switched_off_criteria():
    assert criteria.evaluate(_inp(severity_requires=True), SETTINGS, TZ).summary == "required: SEV3"
    off = PostmortemSettings(
        required_severities=["SEV1"], data_loss=False, manual_intervention=False, manual_detection=False
    )
    quiet = _inp(severity="SEV2", data_loss=True, interventions=(ACTION,), detection="manual")
    assert criteria.evaluate(quiet, off, TZ).required is False
    # manual detection is still known, so the draft still calls it out
    assert criteria.evaluate(quiet, off, TZ).manual_detection is True


def test_resolve_time_exactly_at_the_threshold_does_not_trigger_and_unresolved_is_not_judged():
    at = _inp(severity="SEV3", resolved_at=T0 + timedelta(days=1))
    assert criteria.evaluate(at, SETTINGS, TZ).required is False
    assert criteria.evaluate(_inp(resolved_at=None), SETTINGS, TZ).required is False


# ---------------------------------------------------------------- review moves


@pytest.mark.parametrize(
    ("status", "move", "target", "expected"),
    [
        ("not_required", "start", None, "draft"),
        ("draft", "submit", None, "in_review"),
        ("in_review", "submit", None, "in_review"),
        ("in_review", "approve", None, "final"),
        ("final", "reopen", None, "draft"),
        ("final", "reopen", "in_review", "in_review"),
        ("in_review", "reopen", "draft", "draft"),
    ],
)
def test_allowed_moves(status, move, target, expected):
    assert states.check_move(status, move, number="INC-7", target=target) == expected


@pytest.mark.parametrize(
    ("status", "move", "message"),
    [
        ("draft", "approve", "is Draft; it cannot approve (possible now: submit)"),
        ("final", "approve", "is Final; it cannot approve (possible now: reopen)"),
        ("final", "submit", "is Final; it cannot submit"),
        ("draft", "reopen", "is Draft; it cannot reopen"),
        ("not_required", "submit", "is Not required; it cannot submit (possible now: start)"),
    ],
)
def test_refused_moves_name_what_is_possible(status, move, message):
    with pytest.raises(InvalidTransition, match=message.replace("(", r"\(").replace(")", r"\)")):
        states.check_move(status, move, number="INC-7")


def test_reopen_target_is_checked():
    with pytest.raises(ValidationFailed, match="draft or in_review"):
        states.check_move("final", "reopen", number="INC-7", target="final")
    with pytest.raises(InvalidTransition, match="already In Review"):
        states.check_move("in_review", "reopen", number="INC-7", target="in_review")


def test_empty_sections_lists_blank_ones_in_template_order():
    sections = {name: "x" for name in SECTION_NAMES}
    sections.update(root_cause="  ", got_lucky="")
    del sections["went_well"]
    assert empty_sections(sections) == ["root_cause", "went_well", "got_lucky"]


# ---------------------------------------------------------------- SMART

PEOPLE = People.of(
    [
        type("P", (), {"handle": "yuta", "name": "Yuta Tomoda"}),
        type("P", (), {"handle": "ken", "name": "Ken Watanabe"}),
    ]
)
CTX = smart.SmartContext(
    today=date(2026, 6, 24),
    timezone=TZ,
    vague_words=PostmortemSettings().vague_words,
    people={"yuta", "ken"},
    runbooks={"payment-webhook-backlog"},
    blame=lambda text: check_text(text, PEOPLE),
)
GOOD = {
    "title": "Permanently install an RDS Proxy and alert on the connection limit",
    "type": "prevent",
    "owner": "yuta",
    "due": date(2026, 7, 15),
    "ticket": "OPS-123",
    "verification": "reproduce it in a failure drill and confirm the auto-mitigation works",
    "runbook": None,
}


def _problems(**overrides):
    return [(p.rule, p.field) for p in smart.smart_problems(smart.ActionDraft(**{**GOOD, **overrides}), CTX)]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, []),
        ({"type": "process", "verification": None}, []),
        ({"ticket": "https://tickets.example.com/browse/OPS-9"}, []),
        ({"runbook": "payment-webhook-backlog"}, []),
        ({"title": "Be careful with deploys to the payment consumer"}, [("Specific", "title")]),
        (
            {"title": "Thoroughly pay attention to the queue depth"},
            [("Specific", "title"), ("Specific", "title")],
        ),
        ({"title": "Try to double-check the config before deploying"}, [("Specific", "title")] * 2),
        ({"title": "fix it"}, [("Specific", "title")]),
        (
            {"title": "Make sure to check @yuta never deleted the queue again"},
            [("Specific", "title"), ("Blameless", "title")],
        ),
        ({"type": "cleanup"}, [("Specific", "type")]),
        ({"verification": None}, [("Measurable", "verification")]),
        ({"verification": "check it"}, [("Measurable", "verification")]),
        ({"verification": "be careful when testing the proxy"}, [("Measurable", "verification")]),
        ({"owner": None}, [("Assigned", "owner")]),
        ({"owner": "nobody"}, [("Assigned", "owner")]),
        ({"ticket": None}, [("Assigned", "ticket")]),
        ({"ticket": "see slack"}, [("Assigned", "ticket")]),
        ({"due": None}, [("Time-bound", "due")]),
        ({"due": date(2026, 6, 24)}, [("Time-bound", "due")]),
        ({"due": date(2026, 6, 1)}, [("Time-bound", "due")]),
        ({"due": date(2027, 7, 1)}, [("Realistic", "due")]),
        ({"runbook": "nope"}, [("Specific", "runbook")]),
    ],
)
def test_smart_table(overrides, expected):
    assert _problems(**overrides) == expected


def test_smart_error_names_each_rule_and_the_fix():
    problems = smart.smart_problems(
        smart.ActionDraft(**{**GOOD, "owner": None, "title": "Be careful next time"}), CTX
    )
    with pytest.raises(ValidationFailed) as caught:
        smart.raise_if_not_smart(problems)
    message = caught.value.message
    assert message.startswith("action item is not SMART — Specific (title): 'be careful' is vague wording")
    assert "Assigned (owner): an owner is required: a handle from people.yaml" in message
    assert caught.value.details == {"smart": [p.to_dict() for p in problems]}


def test_ticket_keys_are_normalized():
    assert smart.normalize_ticket(" ops-123 ") == "OPS-123"
    assert smart.normalize_ticket("https://x.example/T-1") == "https://x.example/T-1"
    assert smart.normalize_ticket("  ") is None


def test_wontfix_needs_a_reason():
    with pytest.raises(ValidationFailed, match="wontfix needs a note"):
        states.check_action_status("open", "wontfix", note=" ")
    assert states.check_action_status("open", "wontfix", note="superseded by OPS-200") == "wontfix"
    with pytest.raises(ValidationFailed, match="not one of open, in_progress, done, wontfix"):
        states.check_action_status("open", "closed", note="")


# ---------------------------------------------------------------- reminders


def test_reminder_times_are_09_00_org_time_two_days_before_and_the_morning_after():
    times = reminders.reminder_times(date(2026, 7, 15), TZ)
    assert times["before"] == datetime(2026, 7, 13, 0, 0, tzinfo=UTC)  # 09:00 JST
    assert times["after"] == datetime(2026, 7, 16, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "before", "after", "expected"),
    [
        (datetime(2026, 7, 12, 23, 59, tzinfo=UTC), None, None, None),
        (datetime(2026, 7, 13, 0, 0, tzinfo=UTC), None, None, "before"),
        (datetime(2026, 7, 14, 0, 0, tzinfo=UTC), date(2026, 7, 15), None, None),
        (datetime(2026, 7, 14, 0, 0, tzinfo=UTC), date(2026, 7, 1), None, "before"),  # due moved: re-armed
        (datetime(2026, 7, 16, 0, 0, tzinfo=UTC), date(2026, 7, 15), None, "after"),
        (datetime(2026, 7, 16, 0, 0, tzinfo=UTC), None, None, "after"),  # first seen late: only "after"
        (datetime(2026, 8, 1, tzinfo=UTC), date(2026, 7, 15), date(2026, 7, 15), None),
    ],
)
def test_due_reminder(now, before, after, expected):
    due = date(2026, 7, 15)
    assert reminders.due_reminder(due, now, TZ, before_sent_for=before, after_sent_for=after) == expected


def test_next_reminder_and_overdue():
    due = date(2026, 7, 15)
    assert reminders.next_reminder_at(due, TZ, before_sent_for=None, after_sent_for=None) == datetime(
        2026, 7, 13, tzinfo=UTC
    )
    assert reminders.next_reminder_at(due, TZ, before_sent_for=due, after_sent_for=due) is None
    assert reminders.is_overdue(due, datetime(2026, 7, 15, 14, 59, tzinfo=UTC), TZ) is False  # 23:59 JST
    assert reminders.is_overdue(due, datetime(2026, 7, 15, 15, 0, tzinfo=UTC), TZ) is True
