"""Stacked layers as pure rules: the last listed layer with someone on call wins, overrides of the
stack lie over everything, adjacent pieces of one person are one shift — checked against a
per-minute evaluation of the same layers (hypothesis), and across the DST weeks of 2026."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commandpost.errors import ValidationFailed
from commandpost.oncall import rules
from commandpost.oncall.rules import OverrideSpan, Shift
from commandpost.policy.opsfiles import Layer, Schedule

NEW_YORK = "America/New_York"
MARGIN = timedelta(days=9)

EXAMPLE: dict[str, Any] = {
    "name": "support",
    "timezone": NEW_YORK,
    "layers": [
        {
            "name": "weekdays",
            "rotation": {
                "members": ["a", "b"],
                "length": "weekly",
                "start": "2026-01-05",
                "handoff": {"weekday": "monday", "time": "09:00", "timezone": NEW_YORK},
            },
        },
        {
            "name": "nights",
            "rotation": {
                "members": ["c", "d"],
                "length": "daily",
                "start": "2026-01-05",
                "handoff": {"time": "18:00", "timezone": NEW_YORK},
            },
            "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "18:00", "end": "09:00"}],
        },
        {"name": "final", "stack": ["weekdays", "nights"]},
    ],
}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(NEW_YORK)).astimezone(UTC)  # type: ignore[misc]


def _layer_shifts(
    schedule: Schedule,
    layer: Layer,
    start: datetime,
    end: datetime,
    overrides: dict[str, list[OverrideSpan]],
) -> list[Shift]:
    return rules.layer_shifts(
        schedule=schedule.name,
        layer=layer,
        timezone=schedule.timezone,
        epochs=[],
        overrides=overrides.get(layer.name, []),
        start=start,
        end=end,
    )


def stacked(
    schedule: Schedule,
    name: str,
    start: datetime,
    end: datetime,
    overrides: dict[str, list[OverrideSpan]] | None = None,
) -> list[Shift]:
    """The stack's shifts as the service computes them: its layers over a wider window."""
    overrides = overrides or {}
    found = schedule.layer(name)
    assert found is not None
    lo, hi = start - MARGIN, end + MARGIN
    return rules.stack_shifts(
        schedule=schedule.name,
        layer=name,
        stacked=[
            (x.name, _layer_shifts(schedule, x, lo, hi, overrides)) for x in schedule.stacked_layers(found)
        ],
        overrides=overrides.get(name, []),
        start=start,
        end=end,
        window=(lo, hi),
    )


def brute_force(
    schedule: Schedule, name: str, start: datetime, end: datetime, overrides: dict[str, list[OverrideSpan]]
) -> Callable[[datetime], str | None]:
    """Who the stack has at an instant, from first principles: the stack's latest override covering
    it, else the last of its layers (each computed alone, over the whole range) with someone."""
    found = schedule.layer(name)
    assert found is not None
    layers = [_layer_shifts(schedule, x, start, end, overrides) for x in schedule.stacked_layers(found)]

    def at(instant: datetime) -> str | None:
        own = [o for o in overrides.get(name, []) if o.start <= instant < o.end]
        if own:
            return max(own, key=lambda o: o.id).person
        person = None
        for shifts in layers:
            shift = rules.person_at(shifts, instant)
            if shift is not None:
                person = shift.person
        return person

    return at


def test_the_documented_example_weekdays_by_day_nights_by_night():
    schedule = Schedule.model_validate(EXAMPLE)
    start, end = ny(2026, 3, 2), ny(2026, 3, 4)
    got = [(s.person, s.start, s.end, s.via) for s in stacked(schedule, "final", start, end)]
    assert got == [
        # the weekend: nights is restricted to weeknights, so weekdays (b) covers Saturday 09:00 on
        ("b", ny(2026, 2, 28, 9), ny(2026, 3, 2, 9), ("weekdays",)),
        ("a", ny(2026, 3, 2, 9), ny(2026, 3, 2, 18), ("weekdays",)),
        ("c", ny(2026, 3, 2, 18), ny(2026, 3, 3, 9), ("nights",)),
        ("a", ny(2026, 3, 3, 9), ny(2026, 3, 3, 18), ("weekdays",)),
        ("d", ny(2026, 3, 3, 18), ny(2026, 3, 4, 9), ("nights",)),
    ]
    handoffs = rules.handoffs(stacked(schedule, "final", start - MARGIN, end), start, end)
    assert [(h.at, h.outgoing, h.incoming) for h in handoffs] == [
        (ny(2026, 3, 2, 9), "b", "a"),
        (ny(2026, 3, 2, 18), "a", "c"),
        (ny(2026, 3, 3, 9), "c", "a"),
        (ny(2026, 3, 3, 18), "a", "d"),
    ]


def test_an_override_of_the_stack_wins_over_every_layer_and_a_layers_override_shows_through():
    schedule = Schedule.model_validate(EXAMPLE)
    start, end = ny(2026, 3, 2, 9), ny(2026, 3, 3, 9)
    overrides = {
        "nights": [OverrideSpan(1, "e", ny(2026, 3, 2, 20), ny(2026, 3, 2, 22))],
        "final": [OverrideSpan(2, "z", ny(2026, 3, 2, 17), ny(2026, 3, 2, 19))],
        "weekdays": [OverrideSpan(3, "y", ny(2026, 3, 2, 23), ny(2026, 3, 3, 1))],  # hidden by nights
    }
    got = [
        (s.person, s.start, s.end, s.override_id, s.via)
        for s in stacked(schedule, "final", start, end, overrides)
    ]
    assert got == [
        ("a", ny(2026, 3, 2, 9), ny(2026, 3, 2, 17), None, ("weekdays",)),
        ("z", ny(2026, 3, 2, 17), ny(2026, 3, 2, 19), 2, ()),
        ("c", ny(2026, 3, 2, 19), ny(2026, 3, 2, 20), None, ("nights",)),
        ("e", ny(2026, 3, 2, 20), ny(2026, 3, 2, 22), 1, ("nights",)),
        ("c", ny(2026, 3, 2, 22), ny(2026, 3, 3, 9), None, ("nights",)),
    ]


def test_adjacent_pieces_of_one_person_are_one_shift_from_both_layers():
    doc = {**EXAMPLE, "layers": [dict(x) for x in EXAMPLE["layers"]]}
    doc["layers"][1] = {**doc["layers"][1], "rotation": {**doc["layers"][1]["rotation"], "members": ["a"]}}
    schedule = Schedule.model_validate(doc)
    got = stacked(schedule, "final", ny(2026, 3, 3, 12), ny(2026, 3, 3, 13))
    # weekdays gives a the day, nights gives a the night: one shift, both layers named
    assert [(s.person, s.via) for s in got] == [("a", ("weekdays", "nights"))]
    assert got[0].start <= ny(2026, 3, 2, 9) and got[0].end >= ny(2026, 3, 9, 9)


def test_nobody_when_no_layer_has_someone_and_a_single_layer_stack_is_that_layer():
    doc = {
        "name": "s",
        "timezone": "UTC",
        "layers": [
            {
                "name": "day",
                "rotation": {"members": ["a", "b"], "length": "daily", "start": "2026-01-01"},
                "restrictions": [{"start": "09:00", "end": "17:00"}],
            },
            {"name": "only", "stack": ["day"]},
        ],
    }
    schedule = Schedule.model_validate(doc)
    start, end = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC)
    got = stacked(schedule, "only", start, end)
    day = _layer_shifts(schedule, schedule.layers[0], start, end, {})
    assert [(s.person, s.start, s.end) for s in got] == [(s.person, s.start, s.end) for s in day]
    assert rules.person_at(got, datetime(2026, 2, 1, 20, tzinfo=UTC)) is None


def test_a_stack_is_not_a_rotation_for_layer_shifts_and_the_range_must_be_forward():
    schedule = Schedule.model_validate(EXAMPLE)
    final = schedule.layers[2]
    at = ny(2026, 3, 2)
    with pytest.raises(ValidationFailed, match="is a stack"):
        rules.layer_shifts(
            schedule="s", layer=final, timezone="UTC", epochs=[], overrides=[], start=at, end=at + MARGIN
        )
    with pytest.raises(ValidationFailed, match="not after"):
        rules.stack_shifts(
            schedule="s", layer="final", stacked=[], overrides=[], start=at, end=at, window=(at, at)
        )


@pytest.mark.parametrize(
    ("start", "spring"),
    [(ny(2026, 3, 6), True), (ny(2026, 10, 30), False)],
    ids=["spring-forward", "fall-back"],
)
def test_dst_weeks_keep_the_wall_clock(start, spring):
    """2026-03-08 and 2026-11-01 in New York: the night and day handoffs stay at 18:00 and 09:00."""
    schedule = Schedule.model_validate(EXAMPLE)
    end = start + timedelta(days=5)
    got = stacked(schedule, "final", start, end)
    walls = {s.start.astimezone(ZoneInfo(NEW_YORK)).strftime("%H:%M") for s in got}
    assert walls == {"09:00", "18:00"}
    lengths = {s.end - s.start for s in got if start <= s.start and s.end <= end}
    # weekdays are 9 hours and weeknights 15; the weekend (Saturday 09:00 to Monday 09:00, weekdays'
    # person, as nights is restricted to weeknights) holds the Sunday the clocks change
    weekend = timedelta(hours=47 if spring else 49)
    assert lengths == {timedelta(hours=9), timedelta(hours=15), weekend}
    expected = brute_force(schedule, "final", start, end, {})
    for at in (start + timedelta(minutes=m) for m in range(0, 5 * 24 * 60, 7)):
        shift = rules.person_at(got, at)
        assert (shift.person if shift else None) == expected(at)


PEOPLE = st.sampled_from(["a", "b", "c", "d"])
ZONES = st.sampled_from(["UTC", NEW_YORK, "Europe/Berlin", "Asia/Tokyo"])


@st.composite
def rotation_layers(draw: st.DrawFn, name: str) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "name": name,
        "rotation": {
            "members": draw(st.lists(PEOPLE, min_size=1, max_size=3)),
            "length": draw(st.sampled_from(["daily", "weekly", "12h", "8h", "3d", "90m"])),
            "start": draw(st.dates(date(2026, 2, 20), date(2026, 3, 10))).isoformat(),
            "handoff": {
                "time": f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 15, 30])):02d}",
                "timezone": draw(ZONES),
            },
        },
    }
    if draw(st.booleans()):
        layer["restrictions"] = [
            {
                "days": draw(
                    st.lists(st.sampled_from(["mon", "tue", "wed", "sat", "sun"]), min_size=1, unique=True)
                ),
                "start": f"{draw(st.integers(0, 23)):02d}:00",
                "end": f"{draw(st.integers(0, 23)):02d}:30",
            }
            for _ in range(draw(st.integers(1, 2)))
        ]
    return layer


@st.composite
def overrides_of(draw: st.DrawFn, names: list[str], base: datetime) -> dict[str, list[OverrideSpan]]:
    out: dict[str, list[OverrideSpan]] = {}
    for i in range(draw(st.integers(0, 4))):
        start = base + timedelta(minutes=draw(st.integers(-600, 3000)))
        span = OverrideSpan(
            i + 1,
            draw(st.sampled_from(["x", "y"])),
            start,
            start + timedelta(minutes=draw(st.integers(1, 900))),
        )
        out.setdefault(draw(st.sampled_from(names)), []).append(span)
    return out


BASE = datetime(2026, 3, 7, 12, tzinfo=UTC)  # the weekend of New York's spring-forward


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layers=st.integers(1, 3).flatmap(
        lambda n: st.tuples(*(rotation_layers(f"l{i}") for i in range(n)))  # type: ignore[arg-type]
    ),
    data=st.data(),
)
def test_the_stack_equals_a_per_minute_evaluation(layers: tuple[dict[str, Any], ...], data: st.DataObject):
    names = [x["name"] for x in layers]
    order = data.draw(st.permutations(names))
    schedule = Schedule.model_validate(
        {
            "name": "s",
            "timezone": data.draw(ZONES),
            "layers": [*layers, {"name": "top", "stack": order}],
        }
    )
    overrides = data.draw(overrides_of([*names, "top"], BASE))
    start, end = BASE, BASE + timedelta(hours=40)
    got = stacked(schedule, "top", start, end, overrides)
    for left, right in pairwise(got):
        assert left.end <= right.start, "shifts overlap"
        if left.end == right.start:
            assert (left.person, left.override_id) != (right.person, right.override_id), "not merged"
    expected = brute_force(schedule, "top", start, end, overrides)
    changes, last = [], None
    for minute in range(0, 40 * 60):
        at = start + timedelta(minutes=minute)
        shift = rules.person_at(got, at)
        person = expected(at)
        assert (shift.person if shift else None) == person, at
        if person is not None:
            if last is not None and person != last:
                changes.append((at, last, person))
            last = person
    # a handoff of the stack is a change of its person (a stretch with nobody between is none)
    handoffs = rules.handoffs(got, start + timedelta(minutes=1), end)
    assert [(h.at, h.outgoing, h.incoming) for h in handoffs] == changes
