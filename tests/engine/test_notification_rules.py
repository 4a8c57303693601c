"""Personal notification rules: a page reaches each person step by step until someone acknowledges,
each person reads it in their own timezone, and an ack, a resolve or a pass-on stops the later steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from commandpost.notify import service as notify_service
from commandpost.notify.models import CANCELLED, PENDING, OutgoingMessage
from commandpost.policy.opsfiles import Person
from tests.paging_support import ack, act, apply, open_alert, ops_variant, processor, resolve, run_until

T0 = datetime(2026, 6, 28, 12, 0, tzinfo=UTC)  # Sunday 21:00 JST: yuta primary, hana secondary


def _people(data: dict[str, Any]) -> None:
    people = {p["handle"]: p for p in data["people"]}
    people["yuta"]["timezone"] = "Europe/Berlin"
    people["yuta"]["contact"].update({"phone": "+819012345678", "ntfy_topic": "cp-yuta-7f3k"})
    people["yuta"]["notification_rules"] = {
        "high": [
            {"after": "0m", "methods": ["push", "email"]},
            {"after": "2m", "methods": ["sms"]},
            {"after": "5m", "methods": ["voice"]},
        ],
        "low": [{"after": "0m", "methods": ["email"]}],
    }
    people["hana"]["contact"].update({"phone": "+819087654321"})
    people["hana"]["notification_rules"] = {
        "high": [{"methods": "sms"}, {"after": "10m", "methods": "voice"}]
    }


@pytest.fixture
def ops(tmp_path: Path) -> Path:
    return ops_variant(tmp_path, {"people.yaml": _people})


def messages(session) -> list[tuple[datetime, str, str, str]]:  # type: ignore[no-untyped-def]
    session.rollback()
    rows = session.scalars(select(OutgoingMessage).order_by(OutgoingMessage.due_at, OutgoingMessage.id))
    return [(m.due_at, m.person or "", m.channel, m.status) for m in rows if m.key.startswith("page/")]


def test_a_page_goes_step_by_step_and_an_ack_stops_the_later_steps(sessions, session, clock, ops):
    clock.set(T0 - timedelta(hours=1))
    apply(sessions, clock, ops)
    esc = processor()
    run_until(sessions, clock, T0, esc)
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="Webhook backlog", now=T0, group="a"))
    run_until(sessions, clock, T0 + timedelta(minutes=3), esc)
    m = timedelta(minutes=1)
    assert messages(session) == [
        (T0, "yuta", "push", PENDING),
        (T0, "yuta", "email", PENDING),
        (T0, "yuta", "console", PENDING),
        (T0 + 2 * m, "yuta", "sms", PENDING),
        (T0 + 5 * m, "yuta", "voice", PENDING),
    ]
    keys = [k for k in session.scalars(select(OutgoingMessage.key)) if "channel=voice" in k]
    assert keys == ["page/incident=INC-1/chain=0/level=0/repeat=0/to=yuta/after=5m/channel=voice"]

    # yuta reads the page in Berlin time, the incident's (JST) in brackets.
    body = session.scalars(select(OutgoingMessage.body).where(OutgoingMessage.channel == "push")).one()
    assert "Next: secondary_oncall at 14:15 CEST [21:15 JST] unless acknowledged" in body

    act(sessions, ack(1, "yuta", T0 + 3 * m))
    # the SMS step was due (sent by the sender whenever it runs); the call at +5m is not made
    assert messages(session)[-2:] == [
        (T0 + 2 * m, "yuta", "sms", PENDING),
        (T0 + 5 * m, "yuta", "voice", CANCELLED),
    ]
    reason = session.scalars(
        select(OutgoingMessage.last_error).where(OutgoingMessage.channel == "voice")
    ).one()
    assert reason == "INC-1 was acknowledged by @yuta first"
    run_until(sessions, clock, T0 + timedelta(hours=1), esc)
    assert [row for row in messages(session) if row[1] == "hana"] == []  # acknowledged: no level 2


def test_the_next_level_gets_its_own_rules_and_a_resolve_stops_them(sessions, session, clock, ops):
    clock.set(T0 - timedelta(hours=1))
    apply(sessions, clock, ops)
    esc = processor()
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="Webhook backlog", now=T0, group="a"))
    run_until(sessions, clock, T0 + timedelta(minutes=16), esc)
    m = timedelta(minutes=1)
    hana = [row for row in messages(session) if row[1] == "hana"]
    assert hana == [
        (T0 + 15 * m, "hana", "sms", PENDING),
        (T0 + 15 * m, "hana", "console", PENDING),
        (T0 + 25 * m, "hana", "voice", PENDING),
    ]
    body = session.scalars(
        select(OutgoingMessage.body).where(OutgoingMessage.person == "hana", OutgoingMessage.channel == "sms")
    ).one()
    assert "This is the last level" in body and "[" not in body.split("Paged:")[1]  # hana reads JST only
    act(sessions, resolve(1, "hana", T0 + 20 * m))
    assert [row for row in messages(session) if row[2] == "voice"] == [
        (T0 + 5 * m, "yuta", "voice", PENDING),  # due before the resolve: the sender sends what is due
        (T0 + 25 * m, "hana", "voice", CANCELLED),
    ]


def test_which_steps_a_person_gets_for_each_urgency_and_the_older_notify_form(sessions, clock, ops):
    clock.set(T0)
    config = apply(sessions, clock, ops)
    steps = notify_service.page_steps(config, "yuta", "SEV2")
    assert [(s.after, s.channel) for s in steps] == [
        (timedelta(0), "push"),
        (timedelta(0), "email"),
        (timedelta(minutes=2), "sms"),
        (timedelta(minutes=5), "voice"),
        (timedelta(0), "console"),
    ]
    # SEV3 does not page: low urgency, email only
    assert [s.channel for s in notify_service.page_steps(config, "yuta", "SEV3")] == ["email", "console"]
    # sato's older `notify: {SEV1: [email, slack]}` wins for SEV1: all at once (he has no Slack)
    assert [(s.after, s.channel) for s in notify_service.page_steps(config, "sato", "SEV1")] == [
        (timedelta(0), "email"),
        (timedelta(0), "console"),
    ]
    # no rules at all: every method the person has at once, as before rules existed
    assert [s.channel for s in notify_service.page_steps(config, "sato", "SEV2")] == ["email", "console"]
    # the example's own rules: pages add push, notices do not
    assert [s.channel for s in notify_service.page_steps(config, "mei", "SEV2")] == [
        "slack",
        "email",
        "push",
        "console",
    ]
    assert notify_service.destinations_for_person(config, "mei", None) == [
        ("slack", "slack:mei@example.com https://hooks.slack.example/services/T000/B003/mei"),
        ("email", "mei@example.com"),
        ("console", "@mei"),
    ]
    # notices (no ack asked) use the low-urgency rules' first step
    assert notify_service.destinations_for_person(config, "yuta", "SEV1") == [
        ("email", "yuta@example.com"),
        ("console", "@yuta"),
    ]


@pytest.mark.parametrize(
    ("contact", "rules", "message"),
    [
        ({"phone": "+81 90 1234 5678"}, {}, r"must be written in E.164 form: \+819012345678"),
        ({"phone": "0901234567"}, {}, "not a phone number in E.164 form"),
        ({"phone": "+1555000"}, {}, "not a valid phone number"),
        ({"phone": "+81901234\x005678"}, {}, "phone"),
        ({"ntfy_topic": "cp/../x"}, {}, "ntfy_topic"),
        ({}, {"high": [{"methods": ["pigeon"]}]}, "unknown method pigeon"),
        ({}, {"high": [{"methods": []}]}, "at least 1"),
        ({}, {"urgent": [{"methods": ["sms"]}]}, "high"),
        ({}, {"high": [{"methods": ["sms"]}, {"after": "0m", "methods": ["push"]}]}, "same 'after'"),
    ],
)
def test_bad_contact_methods_and_rules_are_refused_with_where(contact, rules, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        Person.model_validate({"handle": "x", "name": "X", "contact": contact, "notification_rules": rules})
