"""Stacked layers through the on-call services on both databases: who is on call, shifts, overrides of
the stack, handoffs and their notices, rotation anchors, and on-call health without double counting.

The example's payment-platform schedule is rewritten as PagerDuty would import it: ``primary`` is
the final schedule, a stack of ``weekdays`` (yuta, hana, weekly, Monday 09:00 New York) and
``nights`` (ken, mei, daily at 18:00, weeknights only); ``secondary`` is sato all week.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.errors import ValidationFailed
from commandpost.metrics import oncall_health
from commandpost.notify.models import OutgoingMessage
from commandpost.oncall import handoff_notice, service
from commandpost.oncall.models import RotationAnchor
from commandpost.oncall.processors import HandoffNotices
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from tests.conftest import EXAMPLE_OPS

NY = ZoneInfo("America/New_York")
HANDOFF = '{weekday: monday, time: "09:00", timezone: America/New_York}'
STACKED = f"""\
description: Payments, stacked as PagerDuty's final schedule.
timezone: America/New_York
layers:
  - name: primary
    stack: [weekdays, nights]
  - name: secondary
    rotation: {{members: [sato], length: weekly, start: 2026-01-05, handoff: {HANDOFF}}}
  - name: weekdays
    rotation: {{members: [yuta, hana], length: weekly, start: 2026-01-05, handoff: {HANDOFF}}}
  - name: nights
    rotation:
      members: [ken, mei]
      length: daily
      start: 2026-01-05
      handoff: {{time: "18:00", timezone: America/New_York}}
    restrictions: [{{days: [mon, tue, wed, thu, fri], start: "18:00", end: "09:00"}}]
"""
S = "payment-platform"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)  # type: ignore[misc]


def stacked_folder(tmp_path: Path) -> Path:
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "schedules" / f"{S}.yaml").write_text(STACKED)
    return ops


@pytest.fixture
def config(sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Path) -> OpsConfig:
    """Applied on Monday 2026-06-01, before everything the tests look at."""
    with sessions() as s:
        policy_service.apply_folder(s, path=stacked_folder(tmp_path), now=ny(2026, 6, 1), actor="test")
        s.commit()
        return policy_service.current_config(s)


def who(session: Session, config: OpsConfig, at: datetime, layer: str = "primary") -> str | None:
    return service.who_is_on_call(session, config=config, schedule=S, layer=layer, at=at)


def test_the_stack_pages_weekdays_by_day_nights_on_weeknights_and_has_no_anchor(config, session):
    anchors = {(r.schedule, r.layer) for r in session.scalars(select(RotationAnchor))}
    assert anchors == {(S, "secondary"), (S, "weekdays"), (S, "nights")}
    # week 24 of the rotation: weekdays is yuta; nights alternates daily from ken on 2026-01-05
    assert who(session, config, ny(2026, 6, 23, 23)) == "mei"
    assert who(session, config, ny(2026, 6, 24, 12)) == "yuta"
    assert who(session, config, ny(2026, 6, 24, 20)) == "ken"
    assert who(session, config, ny(2026, 6, 27, 3)) == "ken"  # Friday night runs to Saturday 09:00
    assert who(session, config, ny(2026, 6, 28, 3)) == "yuta"  # the weekend: weekdays fills the gap
    assert who(session, config, ny(2026, 6, 28, 3), "nights") is None
    now = service.on_call(session, config=config, at=ny(2026, 6, 23, 23))
    assert [(n.layer, n.shift.person if n.shift else None) for n in now] == [
        ("primary", "mei"),
        ("secondary", "sato"),
        ("weekdays", "yuta"),
        ("nights", "mei"),
    ]
    assert now[0].shift is not None and now[0].shift.via == ("nights",)
    assert now[0].shift.end == ny(2026, 6, 24, 9)


def test_an_apply_leaves_the_stack_without_anchor_and_a_stack_is_refused_as_a_rotation(config, sessions):
    with sessions() as s:
        assert service.sync_rotations(s, config, ny(2026, 6, 2)) == []
        assert s.scalars(select(RotationAnchor).where(RotationAnchor.layer == "primary")).first() is None


def test_shifts_of_the_stack_are_merged_and_say_where_they_came_from(config, session):
    shifts = service.shifts(
        session,
        config=config,
        schedule=S,
        layer="primary",
        start=ny(2026, 6, 24, 10),
        end=ny(2026, 6, 25, 10),
    )
    assert [(s.person, s.start, s.end, s.via) for s in shifts] == [
        ("yuta", ny(2026, 6, 24, 9), ny(2026, 6, 24, 18), ("weekdays",)),
        ("ken", ny(2026, 6, 24, 18), ny(2026, 6, 25, 9), ("nights",)),
        ("yuta", ny(2026, 6, 25, 9), ny(2026, 6, 25, 18), ("weekdays",)),
    ]
    every = service.schedule_shifts(
        session, config=config, schedule=S, start=ny(2026, 6, 24, 10), end=ny(2026, 6, 24, 11)
    )
    assert [(s.layer, s.person) for s in every] == [
        ("primary", "yuta"),
        ("secondary", "sato"),
        ("weekdays", "yuta"),
    ]
    kens = service.person_shifts(
        session, config=config, person="@ken", start=ny(2026, 6, 24, 10), end=ny(2026, 6, 25, 8)
    )
    assert [(s.layer, s.start) for s in kens] == [
        ("nights", ny(2026, 6, 24, 18)),
        ("primary", ny(2026, 6, 24, 18)),
    ]


def test_an_override_of_the_stack_wins_and_a_layers_override_shows_through(config, sessions):
    with sessions() as s:
        on_stack = service.add_override(
            s, config=config, schedule=S, layer="primary", person="hana",
            start=ny(2026, 6, 24, 17), end=ny(2026, 6, 24, 19), actor="test", now=ny(2026, 6, 20),
        )  # fmt: skip
        on_nights = service.add_override(
            s, config=config, schedule=S, layer="nights", person="sato",
            start=ny(2026, 6, 24, 21), end=ny(2026, 6, 24, 22), actor="test", now=ny(2026, 6, 20),
        )  # fmt: skip
        s.commit()
        ids = on_stack.id, on_nights.id
    with sessions() as s:
        shifts = service.shifts(
            s, config=config, schedule=S, layer="primary", start=ny(2026, 6, 24, 16), end=ny(2026, 6, 24, 23)
        )
        assert [(x.person, x.start, x.override_id, x.via) for x in shifts] == [
            ("yuta", ny(2026, 6, 24, 9), None, ("weekdays",)),
            ("hana", ny(2026, 6, 24, 17), ids[0], ()),
            ("ken", ny(2026, 6, 24, 19), None, ("nights",)),
            ("sato", ny(2026, 6, 24, 21), ids[1], ("nights",)),
            ("ken", ny(2026, 6, 24, 22), None, ("nights",)),
        ]
        assert who(s, config, ny(2026, 6, 24, 18, 30)) == "hana"
        assert who(s, config, ny(2026, 6, 24, 18, 30), "nights") == "ken"  # the stack's override is its own


def test_handoffs_of_the_stack_are_changes_of_its_person_and_only_they_are_noticed(config, session):
    start, end = ny(2026, 6, 24, 0), ny(2026, 6, 25, 0)
    every = service.handoffs_between(session, config=config, start=start, end=end)
    assert [(h.layer, h.at, h.outgoing, h.incoming) for h in every] == [
        ("primary", ny(2026, 6, 24, 9), "mei", "yuta"),
        ("nights", ny(2026, 6, 24, 18), "mei", "ken"),
        ("primary", ny(2026, 6, 24, 18), "yuta", "ken"),
    ]
    noticed = service.handoffs_between(session, config=config, start=start, end=end, noticed=True)
    assert [(h.layer, h.at) for h in noticed] == [
        ("primary", ny(2026, 6, 24, 9)),
        ("primary", ny(2026, 6, 24, 18)),
    ]
    notice = handoff_notice.build(session, config, noticed[1], now=ny(2026, 6, 24, 18))
    assert notice.since == ny(2026, 6, 24, 9)  # the stack's previous change of hands


def test_the_processor_sends_notices_for_the_stack_not_for_its_layers(config, sessions):
    processor = HandoffNotices()
    with sessions() as s:
        assert processor.next_due(s, ny(2026, 6, 24, 10)) == ny(2026, 6, 24, 18)
        queued = processor.run(s, ny(2026, 6, 24, 18, 1))
        s.commit()
    with sessions() as s:
        keys = [r.key for r in s.scalars(select(OutgoingMessage))]
    assert queued == len(keys) > 0
    assert all("primary" in key for key in keys), keys
    assert {r.person for r in _messages(sessions)} == {"yuta", "ken"}


def _messages(sessions: sessionmaker[Session]) -> list[OutgoingMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutgoingMessage)))


def test_health_counts_a_persons_hours_through_the_stack_once(config, session):
    start, end = ny(2026, 6, 22, 9), ny(2026, 6, 29, 9)  # Monday to Monday
    out = oncall_health.health(session, config=config, start=start, end=end)
    hours = {p["person"]: p["on_call_hours"] for p in out["people"]}
    week = 7 * 24.0
    assert hours["sato"] == week
    # the stack has exactly one person at every instant: the week is shared, nobody counted twice
    assert hours["yuta"] + hours["hana"] + hours["ken"] + hours["mei"] == week
    assert hours["hana"] == 0 and hours["yuta"] == week - 5 * 15
    rotations = {r["layer"]: r for r in out["rotations"]}
    assert (rotations["primary"]["members"], rotations["primary"]["around_the_clock"]) == (4, True)
    assert (rotations["nights"]["members"], rotations["nights"]["around_the_clock"]) == (2, False)


def test_an_unchecked_stack_of_unknown_layers_has_nobody_and_find_layer_names_every_layer(config, session):
    with pytest.raises(ValidationFailed, match="layers: primary, secondary, weekdays, nights"):
        service.find_layer(config, S, "final")
    schedule = config.schedule(S)
    assert schedule is not None
    broken = schedule.model_copy(
        update={"layers": [schedule.layers[0].model_copy(update={"stack": ["gone"]}), *schedule.layers[1:]]}
    )
    unchecked = config.model_copy(update={"schedules": [broken]})
    assert who(session, unchecked, ny(2026, 6, 24, 12)) is None


def test_a_rotation_layer_turned_into_a_stack_and_back(sessions, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    original = (ops / "schedules" / f"{S}.yaml").read_text()
    states = []
    for at, text in ((ny(2026, 6, 1), original), (ny(2026, 6, 2), STACKED), (ny(2026, 6, 3), original)):
        (ops / "schedules" / f"{S}.yaml").write_text(text)
        with sessions() as s:
            policy_service.apply_folder(s, path=ops, now=at, actor="test")
            s.commit()
            config = policy_service.current_config(s)
            states.append((who(s, config, ny(2026, 6, 24, 20)), who(s, config, ny(2026, 6, 24, 12))))
    # the example's primary is yuta this week (Tokyo); the stack has ken at night and yuta by day
    assert states == [("yuta", "yuta"), ("ken", "yuta"), ("yuta", "yuta")]


def test_one_persons_run_of_turns_is_one_shift_whatever_the_range(config, session):
    """yuta has three weekly turns in a row: the stack's shift is those three weeks from any range."""
    schedule = config.schedule(S)
    assert schedule is not None
    weekdays = schedule.layers[2]
    assert weekdays.rotation is not None
    rotation = weekdays.rotation.model_copy(update={"members": ["yuta", "yuta", "yuta", "hana"]})
    layers = [
        schedule.layers[0].model_copy(update={"stack": ["runs"]}),
        weekdays.model_copy(update={"name": "runs", "rotation": rotation}),  # a layer with no anchor yet
    ]
    changed = config.model_copy(update={"schedules": [schedule.model_copy(update={"layers": layers})]})
    runs = set()
    for day in (1, 9, 17):  # weeks 0, 1 and 2 of yuta's run (rotation turns 24 to 26, from 2026-06-22)
        at = ny(2026, 6, 22, 12) + timedelta(days=day)
        found = service.shifts(
            session, config=changed, schedule=S, layer="primary", start=at, end=at + timedelta(hours=1)
        )
        runs.add(tuple((s.person, s.start, s.end) for s in found))
    assert runs == {(("yuta", ny(2026, 6, 22, 9), ny(2026, 7, 13, 9)),)}
