"""On-call services on both databases: who is on call, overrides, shifts, handoffs, and YAML member
changes that never reshuffle who is on call now."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.errors import NotFound, ValidationFailed
from commandpost.oncall import service
from commandpost.oncall.models import RotationAnchor
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from tests.conftest import EXAMPLE_OPS

# The example rotation started Monday 2026-01-05 10:00 JST (01:00 UTC); the clock fixture is
# Wednesday 2026-06-24 03:00 UTC, 24 weeks later: primary yuta, secondary hana.
WEEK_START = datetime(2026, 6, 22, 1, 0, tzinfo=UTC)


def _apply(sessions: sessionmaker[Session], path: Path, clock: FrozenClock) -> OpsConfig:
    with sessions() as s:
        policy_service.apply_folder(s, path=path, now=clock.now(), actor="test")
        s.commit()
        return policy_service.current_config(s)


def _members(ops: Path, layer: str, members: list[str]) -> None:
    path = ops / "schedules" / "payment-platform.yaml"
    text = path.read_text()
    old = {"primary": "[yuta, hana, ken, mei]", "secondary": "[hana, ken, mei, yuta]"}[layer]
    assert old in text
    path.write_text(text.replace(old, "[" + ", ".join(members) + "]", 1))


def _who(sessions: sessionmaker[Session], config: OpsConfig, layer: str, at: datetime) -> str | None:
    with sessions() as s:
        return service.who_is_on_call(s, config=config, schedule="payment-platform", layer=layer, at=at)


def test_apply_stores_one_anchor_per_layer_and_who_is_on_call_follows_the_rotation(
    applied_ops, sessions, session, clock
):
    assert session.scalar(select(func.count()).select_from(RotationAnchor)) == 2
    now = clock.now()
    assert _who(sessions, applied_ops, "primary", now) == "yuta"
    assert _who(sessions, applied_ops, "secondary", now) == "hana"
    week = [_who(sessions, applied_ops, "primary", WEEK_START + timedelta(weeks=i)) for i in range(5)]
    assert week == ["yuta", "hana", "ken", "mei", "yuta"]
    assert _who(sessions, applied_ops, "primary", WEEK_START - timedelta(seconds=1)) == "mei"
    current = service.on_call(session, config=applied_ops, at=now)
    assert [(c.schedule, c.layer, c.shift.person if c.shift else None) for c in current] == [
        ("payment-platform", "primary", "yuta"),
        ("payment-platform", "secondary", "hana"),
    ]
    assert current[0].shift is not None and current[0].shift.end == WEEK_START + timedelta(weeks=1)


def test_member_change_in_yaml_keeps_who_is_on_call_now(sessions, session, clock, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    _apply(sessions, ops, clock)
    clock.set(WEEK_START + timedelta(days=3, hours=5))  # mid-shift: yuta primary, hana secondary
    # reordered, one added (sato), one removed (mei)
    _members(ops, "primary", ["ken", "sato", "hana", "yuta"])
    # the current person removed: they finish their shift, then the member after them continues
    _members(ops, "secondary", ["yuta", "ken", "mei"])
    config = _apply(sessions, ops, clock)
    now = clock.now()
    assert _who(sessions, config, "primary", now) == "yuta"
    assert _who(sessions, config, "secondary", now) == "hana"
    nxt = WEEK_START + timedelta(weeks=1)
    assert [_who(sessions, config, "primary", nxt + timedelta(weeks=i)) for i in range(4)] == [
        "ken",
        "sato",
        "hana",
        "yuta",
    ]
    assert [_who(sessions, config, "secondary", nxt + timedelta(weeks=i)) for i in range(3)] == [
        "ken",
        "mei",
        "yuta",
    ]
    # the past stays what it was
    assert _who(sessions, config, "primary", WEEK_START - timedelta(weeks=1)) == "mei"
    anchors = session.scalars(select(RotationAnchor).order_by(RotationAnchor.layer, RotationAnchor.id)).all()
    assert [(a.layer, a.effective_from) for a in anchors][-1] == ("secondary", nxt)
    assert "members" in anchors[-1].reason
    # applying the same folder again changes nothing
    clock.advance(hours=1)
    with sessions() as s:
        assert service.sync_rotations(s, config, clock.now()) == []


def test_first_sync_of_an_old_database_continues_from_the_previous_revision(sessions, clock, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    _apply(sessions, ops, clock)
    with sessions() as s:  # as if the revision had been applied before on-call anchors existed
        s.execute(delete(RotationAnchor))
        s.commit()
    clock.set(WEEK_START + timedelta(days=2))
    _members(ops, "primary", ["mei", "ken", "hana", "yuta"])
    config = _apply(sessions, ops, clock)
    assert _who(sessions, config, "primary", clock.now()) == "yuta"
    assert _who(sessions, config, "primary", WEEK_START + timedelta(weeks=1)) == "mei"


def test_overrides_add_list_remove_and_the_latest_wins(applied_ops, sessions, clock):
    now = clock.now()
    with sessions() as s:
        first = service.add_override(
            s,
            config=applied_ops,
            schedule="payment-platform",
            layer="primary",
            person="@ken",
            start=now,
            end=now + timedelta(hours=6),
            actor="yuta",
            now=now,
        )
        second = service.add_override(
            s,
            config=applied_ops,
            schedule="payment-platform",
            layer="primary",
            person="mei",
            start=now + timedelta(hours=2),
            end=now + timedelta(hours=3),
            actor="yuta",
            now=now,
        )
        s.commit()
        first_id, second_id = first.id, second.id
    assert first.person == "ken"
    assert _who(sessions, applied_ops, "primary", now + timedelta(hours=1)) == "ken"
    assert _who(sessions, applied_ops, "primary", now + timedelta(hours=2, minutes=30)) == "mei"
    assert _who(sessions, applied_ops, "primary", now + timedelta(hours=4)) == "ken"
    assert _who(sessions, applied_ops, "primary", now + timedelta(hours=7)) == "yuta"
    assert _who(sessions, applied_ops, "secondary", now + timedelta(hours=1)) == "hana"
    with sessions() as s:
        current = service.on_call(s, config=applied_ops, at=now + timedelta(hours=1))
    assert current[0].shift is not None and current[0].shift.override_id == first_id
    with sessions() as s:
        assert [o.id for o in service.list_overrides(s, now=now)] == [first_id, second_id]
        assert [o.id for o in service.list_overrides(s, now=now, person="mei")] == [second_id]
        assert service.list_overrides(s, now=now + timedelta(days=1)) == []
        assert len(service.list_overrides(s, now=now + timedelta(days=1), include_past=True)) == 2
        service.remove_override(s, override_id=second_id)
        s.commit()
    assert _who(sessions, applied_ops, "primary", now + timedelta(hours=2, minutes=30)) == "ken"
    with sessions() as s, pytest.raises(NotFound, match=f"no override with id {second_id}"):
        service.remove_override(s, override_id=second_id)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"person": "nobody"}, "unknown person 'nobody' (people: yuta, hana, ken, mei, sato)"),
        ({"schedule": "nope"}, "unknown schedule 'nope' (schedules: payment-platform)"),
        ({"layer": "tertiary"}, "has no layer 'tertiary' (layers: primary, secondary)"),
        ({"end_hours": 0}, "is not after 'start'"),
    ],
)
def test_override_validation_names_the_valid_values(applied_ops, sessions, session, clock, changes, message):
    now = clock.now()
    args = {"schedule": "payment-platform", "layer": "primary", "person": "ken", "end_hours": 2} | changes
    with sessions() as s, pytest.raises(ValidationFailed) as caught:
        service.add_override(
            s,
            config=applied_ops,
            schedule=args["schedule"],
            layer=args["layer"],
            person=args["person"],
            start=now,
            end=now + timedelta(hours=args["end_hours"]),
            actor="yuta",
            now=now,
        )
    assert message in caught.value.message
    assert service.list_overrides(session, now=now, include_past=True) == []


def test_schedule_shifts_over_a_range(applied_ops, session, clock):
    found = service.schedule_shifts(
        session,
        config=applied_ops,
        schedule="payment-platform",
        start=WEEK_START,
        end=WEEK_START + timedelta(weeks=2),
    )
    assert [(s.layer, s.person, s.start) for s in found] == [
        ("primary", "yuta", WEEK_START),
        ("primary", "hana", WEEK_START + timedelta(weeks=1)),
        ("secondary", "hana", WEEK_START),
        ("secondary", "ken", WEEK_START + timedelta(weeks=1)),
    ]
    one = service.schedule_shifts(
        session,
        config=applied_ops,
        schedule="payment-platform",
        start=WEEK_START,
        end=WEEK_START + timedelta(days=1),
        layer="secondary",
    )
    assert [s.person for s in one] == ["hana"]
    with pytest.raises(ValidationFailed, match="at most 366 days"):
        service.schedule_shifts(
            session,
            config=applied_ops,
            schedule="payment-platform",
            start=WEEK_START,
            end=WEEK_START + timedelta(days=367),
        )
    with pytest.raises(ValidationFailed, match="is not after"):
        service.schedule_shifts(
            session, config=applied_ops, schedule="payment-platform", start=WEEK_START, end=WEEK_START
        )
    with pytest.raises(NotFound, match="schedules: payment-platform"):
        service.schedule_shifts(
            session, config=applied_ops, schedule="nope", start=WEEK_START, end=WEEK_START + timedelta(days=1)
        )
    mine = service.person_shifts(
        session, config=applied_ops, person="@hana", start=WEEK_START, end=WEEK_START + timedelta(weeks=2)
    )
    assert [(s.layer, s.start) for s in mine] == [
        ("secondary", WEEK_START),
        ("primary", WEEK_START + timedelta(weeks=1)),
    ]


def test_handoffs_between_lists_outgoing_and_incoming(applied_ops, sessions, session, clock):
    found = service.handoffs_between(
        session, config=applied_ops, start=WEEK_START, end=WEEK_START + timedelta(weeks=1, seconds=1)
    )
    assert [(h.layer, h.at, h.outgoing, h.incoming) for h in found] == [
        ("primary", WEEK_START, "mei", "yuta"),
        ("secondary", WEEK_START, "yuta", "hana"),
        ("primary", WEEK_START + timedelta(weeks=1), "yuta", "hana"),
        ("secondary", WEEK_START + timedelta(weeks=1), "hana", "ken"),
    ]
    now = clock.now()
    with sessions() as s:
        service.add_override(
            s,
            config=applied_ops,
            schedule="payment-platform",
            layer="primary",
            person="sato",
            start=now,
            end=now + timedelta(hours=1),
            actor="yuta",
            now=now,
        )
        s.commit()
    with sessions() as s:
        around = service.handoffs_between(
            s, config=applied_ops, start=now - timedelta(hours=1), end=now + timedelta(hours=2)
        )
    assert [(h.at, h.outgoing, h.incoming) for h in around] == [
        (now, "yuta", "sato"),
        (now + timedelta(hours=1), "sato", "yuta"),
    ]
