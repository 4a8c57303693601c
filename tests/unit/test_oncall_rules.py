"""Pure rotation rules: wall-clock handoffs across DST, lengths, layers, restrictions, overrides, rebase."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commandpost.errors import ValidationFailed
from commandpost.oncall import rules
from commandpost.oncall.rules import Epoch, OverrideSpan, Segment
from commandpost.policy.opsfiles import Layer, Rotation

TOKYO, NEW_YORK, BERLIN = "Asia/Tokyo", "America/New_York", "Europe/Berlin"
PEOPLE = ["yuta", "hana", "ken", "mei"]


def rot(
    members: list[str] | None = None,
    *,
    length: str = "weekly",
    start: date = date(2026, 1, 5),
    weekday: str | None = "monday",
    time: str = "10:00",
    tz: str = TOKYO,
) -> Rotation:
    handoff: dict[str, Any] = {"time": time, "timezone": tz}
    if weekday:
        handoff["weekday"] = weekday
    return Rotation.model_validate(
        {"members": members or PEOPLE, "length": length, "start": start, "handoff": handoff}
    )


def layer(
    rotation: Rotation, name: str = "primary", restrictions: list[dict[str, Any]] | None = None
) -> Layer:
    return Layer.model_validate({"name": name, "rotation": rotation, "restrictions": restrictions or []})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)  # type: ignore[misc]


def shifts_of(lay: Layer, start: datetime, end: datetime, *, tz: str = TOKYO, **kw: Any) -> list[rules.Shift]:
    return rules.layer_shifts(
        schedule="s",
        layer=lay,
        timezone=tz,
        epochs=kw.get("epochs", []),
        overrides=kw.get("overrides", []),
        start=start,
        end=end,
    )


def who(lay: Layer, at: datetime, **kw: Any) -> str | None:
    found = rules.person_at(shifts_of(lay, at, at + timedelta(seconds=1), **kw), at)
    return found.person if found else None


def starts(shifts: list[rules.Shift], tz: str) -> list[str]:
    return [s.start.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M %Z") for s in shifts]


# ------------------------------------------------------------------ who is on call across a week


def test_weekly_tokyo_rotation_hands_off_monday_10_local():
    primary = layer(rot())
    # 2026-01-05 is a Monday; 10:00 JST = 01:00 UTC.
    assert who(primary, utc(2026, 1, 5, 0, 59)) is None  # before the first handoff: not started
    assert who(primary, utc(2026, 1, 5, 1, 0)) == "yuta"
    assert who(primary, utc(2026, 1, 8, 12, 0)) == "yuta"  # Thursday
    assert who(primary, utc(2026, 1, 12, 0, 59, 59)) == "yuta"  # Monday 09:59:59 JST
    assert who(primary, utc(2026, 1, 12, 1, 0)) == "hana"
    assert who(primary, utc(2026, 1, 19, 1, 0)) == "ken"
    assert who(primary, utc(2026, 1, 26, 1, 0)) == "mei"
    assert who(primary, utc(2026, 2, 2, 1, 0)) == "yuta"  # round again
    week = shifts_of(primary, utc(2026, 1, 6), utc(2026, 1, 20))
    assert [(s.person, s.start, s.end) for s in week] == [
        ("yuta", utc(2026, 1, 5, 1), utc(2026, 1, 12, 1)),
        ("hana", utc(2026, 1, 12, 1), utc(2026, 1, 19, 1)),
        ("ken", utc(2026, 1, 19, 1), utc(2026, 1, 26, 1)),
    ]


def test_start_moves_forward_to_the_handoff_weekday():
    # start is a Wednesday; handoffs are on Mondays, so the first one is the Monday after.
    primary = layer(rot(start=date(2026, 1, 7)))
    assert who(primary, utc(2026, 1, 10)) is None
    assert who(primary, utc(2026, 1, 12, 1)) == "yuta"


def test_layers_are_independent_rotations():
    primary, secondary = layer(rot()), layer(rot(["hana", "ken", "mei", "yuta"]), "secondary")
    for week in range(8):
        at = utc(2026, 1, 5, 1) + timedelta(weeks=week, hours=30)
        assert who(primary, at) != who(secondary, at)
        assert who(secondary, at) == PEOPLE[(week + 1) % 4]


# ------------------------------------------------------------------ DST keeps local handoff time


@pytest.mark.parametrize(
    ("tz", "before_monday", "after_monday", "hours"),
    [
        (NEW_YORK, date(2026, 3, 2), date(2026, 3, 9), 167),  # spring forward Sun 2026-03-08
        (NEW_YORK, date(2026, 10, 26), date(2026, 11, 2), 169),  # fall back Sun 2026-11-01
        (BERLIN, date(2026, 3, 23), date(2026, 3, 30), 167),  # spring forward Sun 2026-03-29
        (BERLIN, date(2026, 10, 19), date(2026, 10, 26), 169),  # fall back Sun 2026-10-25
    ],
)
def test_weekly_handoff_stays_10_local_across_dst(tz, before_monday, after_monday, hours):
    primary = layer(rot(tz=tz))
    found = shifts_of(
        primary, local(tz, *before_monday.timetuple()[:3], 12), local(tz, *after_monday.timetuple()[:3], 12)
    )
    assert starts(found, tz)[:2] == [
        f"Mon {before_monday} 10:00 {found[0].start.astimezone(ZoneInfo(tz)).tzname()}",
        f"Mon {after_monday} 10:00 {found[1].start.astimezone(ZoneInfo(tz)).tzname()}",
    ]
    assert all(s.start.astimezone(ZoneInfo(tz)).hour == 10 for s in found)
    assert found[0].end - found[0].start == timedelta(hours=hours)
    assert found[0].end == found[1].start
    assert (
        found[0].start.astimezone(ZoneInfo(tz)).utcoffset()
        != found[1].start.astimezone(ZoneInfo(tz)).utcoffset()
    )


def test_daily_rotation_across_new_york_dst_keeps_10_local():
    daily = layer(rot(length="daily", weekday=None, start=date(2026, 3, 6), tz=NEW_YORK))
    found = shifts_of(daily, local(NEW_YORK, 2026, 3, 6, 12), local(NEW_YORK, 2026, 3, 10, 12))
    assert [s.start.astimezone(ZoneInfo(NEW_YORK)).strftime("%m-%d %H:%M") for s in found] == [
        "03-06 10:00",
        "03-07 10:00",
        "03-08 10:00",
        "03-09 10:00",
        "03-10 10:00",
    ]
    assert [(s.end - s.start).total_seconds() / 3600 for s in found[:3]] == [24, 23, 24]


def test_handoff_in_a_spring_forward_gap_happens_the_gap_later():
    """02:30 does not exist on 2026-03-08 in New York: the handoff is at 03:30 EDT (RFC 5545)."""
    daily = layer(rot(length="daily", weekday=None, start=date(2026, 3, 6), time="02:30", tz=NEW_YORK))
    found = shifts_of(daily, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))
    assert [s.start for s in found] == [
        utc(2026, 3, 7, 7, 30),
        utc(2026, 3, 8, 7, 30),
        utc(2026, 3, 9, 6, 30),
    ]
    assert found[1].start.astimezone(ZoneInfo(NEW_YORK)).strftime("%H:%M %Z") == "03:30 EDT"
    berlin = layer(rot(length="daily", weekday=None, start=date(2026, 3, 27), time="02:30", tz=BERLIN))
    gap_day = rules.person_at(
        shifts_of(berlin, utc(2026, 3, 29, 2), utc(2026, 3, 29, 3)), utc(2026, 3, 29, 2)
    )
    assert gap_day is not None
    assert gap_day.start.astimezone(ZoneInfo(BERLIN)).strftime("%m-%d %H:%M %Z") == "03-29 03:30 CEST"


def test_handoff_in_a_fall_back_overlap_is_the_first_occurrence():
    daily = layer(rot(length="daily", weekday=None, start=date(2026, 10, 30), time="01:30", tz=NEW_YORK))
    found = shifts_of(daily, utc(2026, 11, 1, 12), utc(2026, 11, 1, 13))
    assert found[0].start == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST
    assert found[0].end - found[0].start == timedelta(hours=25)


@settings(max_examples=200, deadline=None)
@given(
    tz=st.sampled_from([NEW_YORK, BERLIN, TOKYO, "Australia/Lord_Howe"]),
    length=st.sampled_from(["weekly", "daily", "3d", "12h", "8h", "5h"]),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 800),
    hour=st.integers(min_value=0, max_value=23),
)
def test_index_at_finds_the_shift_containing_any_instant(tz, length, minutes, hour):
    rotation = rot(
        length=length, weekday=None if length != "weekly" else "monday", time=f"{hour:02d}:30", tz=tz
    )
    at = utc(2025, 12, 1) + timedelta(minutes=minutes)
    k = rules.index_at(rotation, at)
    if k < 0:
        assert at < rules.boundary(rotation, 0)
    else:
        assert rules.boundary(rotation, k) <= at < rules.boundary(rotation, k + 1)


# ------------------------------------------------------------------ lengths


@pytest.mark.parametrize(
    ("length", "step"),
    [
        ("daily", timedelta(days=1)),
        ("3d", timedelta(days=3)),
        ("12h", timedelta(hours=12)),
        ("weekly", timedelta(weeks=1)),
    ],
)
def test_lengths(length, step):
    rotation = rot(["a", "b", "c"], length=length, weekday=None, tz=TOKYO)
    found = shifts_of(layer(rotation), utc(2026, 1, 5, 1), utc(2026, 1, 5, 1) + 6 * step)
    assert [s.person for s in found] == ["a", "b", "c", "a", "b", "c"]
    assert [s.start for s in found] == [utc(2026, 1, 5, 1) + i * step for i in range(6)]


def test_12h_rotation_hands_off_at_the_same_two_local_times_across_dst():
    rotation = rot(["a", "b"], length="12h", weekday=None, time="09:00", start=date(2026, 3, 7), tz=NEW_YORK)
    found = shifts_of(layer(rotation), local(NEW_YORK, 2026, 3, 7, 9), local(NEW_YORK, 2026, 3, 9, 22))
    assert [s.start.astimezone(ZoneInfo(NEW_YORK)).strftime("%d %H:%M") for s in found] == [
        "07 09:00",
        "07 21:00",
        "08 09:00",
        "08 21:00",
        "09 09:00",
        "09 21:00",
    ]
    assert found[1].end - found[1].start == timedelta(hours=11)  # the night the clocks spring forward


def test_an_absurd_range_for_a_tiny_rotation_is_refused():
    tiny = layer(rot(length="1m", weekday=None))
    with pytest.raises(ValidationFailed, match="shorter range"):
        shifts_of(tiny, utc(2026, 1, 5), utc(2026, 3, 5))
    with pytest.raises(ValidationFailed, match="not after"):
        shifts_of(tiny, utc(2026, 1, 5), utc(2026, 1, 5))


# ------------------------------------------------------------------ restrictions


def test_business_hours_restriction_leaves_nobody_outside_the_window():
    shadow = layer(
        rot(["ken"], length="weekly"),
        "shadow",
        [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}],
    )
    assert who(shadow, local(TOKYO, 2026, 1, 6, 9)) == "ken"
    assert who(shadow, local(TOKYO, 2026, 1, 6, 17, 59)) == "ken"
    assert who(shadow, local(TOKYO, 2026, 1, 6, 18)) is None
    assert who(shadow, local(TOKYO, 2026, 1, 10, 12)) is None  # Saturday
    week = shifts_of(shadow, local(TOKYO, 2026, 1, 12), local(TOKYO, 2026, 1, 19))
    assert len(week) == 6  # five weekdays, Monday's cut in two by the 10:00 handoff
    # the Monday window is cut by the 10:00 handoff but the rotation has one member: two pieces, same person
    monday = [s for s in shifts_of(shadow, local(TOKYO, 2026, 1, 12, 9), local(TOKYO, 2026, 1, 12, 12))]
    assert [
        (s.start.astimezone(ZoneInfo(TOKYO)).hour, s.end.astimezone(ZoneInfo(TOKYO)).hour) for s in monday
    ] == [
        (9, 10),
        (10, 18),
    ]


def test_overnight_restriction_wraps_past_midnight():
    nights = layer(
        rot(["a", "b"], length="daily", weekday=None), "nights", [{"start": "22:00", "end": "06:00"}]
    )
    assert who(nights, local(TOKYO, 2026, 1, 5, 23)) == "a"
    assert who(nights, local(TOKYO, 2026, 1, 6, 23)) == "b"  # daily handoff at 10:00: b's day
    assert who(nights, local(TOKYO, 2026, 1, 7, 5, 59)) == "b"
    assert who(nights, local(TOKYO, 2026, 1, 7, 6)) is None
    assert who(nights, local(TOKYO, 2026, 1, 7, 12)) is None


# ------------------------------------------------------------------ overrides


def test_override_covers_its_interval_and_the_latest_created_wins():
    primary = layer(rot())
    overrides = [
        OverrideSpan(1, "sato", local(TOKYO, 2026, 1, 7, 0), local(TOKYO, 2026, 1, 9, 0)),
        OverrideSpan(2, "mei", local(TOKYO, 2026, 1, 8, 0), local(TOKYO, 2026, 1, 8, 12)),
    ]
    found = shifts_of(primary, local(TOKYO, 2026, 1, 6), local(TOKYO, 2026, 1, 10), overrides=overrides)
    assert [(s.person, s.override_id) for s in found] == [
        ("yuta", None),
        ("sato", 1),
        ("mei", 2),
        ("sato", 1),
        ("yuta", None),
    ]
    assert found[0].end == found[1].start == local(TOKYO, 2026, 1, 7)
    assert found[-1].end == local(TOKYO, 2026, 1, 12, 10)
    reversed_order = [OverrideSpan(3, "sato", overrides[0].start, overrides[0].end), overrides[1]]
    assert who(primary, local(TOKYO, 2026, 1, 8, 6), overrides=reversed_order) == "sato"


def test_override_applies_outside_restriction_windows():
    shadow = layer(rot(["ken"]), "shadow", [{"days": ["mon"], "start": "09:00", "end": "17:00"}])
    night = local(TOKYO, 2026, 1, 7, 3)
    assert who(shadow, night) is None
    assert (
        who(shadow, night, overrides=[OverrideSpan(1, "hana", night, night + timedelta(hours=1))]) == "hana"
    )


def test_paint_keeps_gaps_and_ignores_empty_overrides():
    a = Segment("a", utc(2026, 1, 1), utc(2026, 1, 2))
    b = Segment("b", utc(2026, 1, 3), utc(2026, 1, 4))
    painted = rules.paint([a, b], [OverrideSpan(1, "x", utc(2026, 1, 5), utc(2026, 1, 5))])
    assert painted == [a, b]


# ------------------------------------------------------------------ handoffs


def test_handoffs_skip_gaps_with_nobody_and_same_person_windows():
    shadow = layer(
        rot(["ken", "mei"]), "shadow", [{"days": ["mon", "tue"], "start": "09:00", "end": "18:00"}]
    )
    found = shifts_of(shadow, local(TOKYO, 2026, 1, 5), local(TOKYO, 2026, 1, 20))
    handoffs = rules.handoffs(found, local(TOKYO, 2026, 1, 5), local(TOKYO, 2026, 1, 20))
    assert [(h.at, h.outgoing, h.incoming) for h in handoffs] == [
        (local(TOKYO, 2026, 1, 12, 10), "ken", "mei"),
        (local(TOKYO, 2026, 1, 19, 10), "mei", "ken"),
    ]


# ------------------------------------------------------------------ member changes never reshuffle


def _on_call(epochs: list[Epoch], at: datetime) -> str:
    found = rules.person_at(
        shifts_of(layer(epochs[-1].rotation), at, at + timedelta(seconds=1), epochs=epochs), at
    )
    assert found is not None
    return found.person


def test_reorder_keeps_the_current_person_then_follows_the_new_order():
    old = rot()
    epochs = [rules.initial_epoch(old)]
    now = local(TOKYO, 2026, 1, 21, 15)  # Wednesday of ken's week
    assert _on_call(epochs, now) == "ken"
    new = rot(["mei", "ken", "hana", "yuta"])
    rebased = rules.rebase(epochs, new, now)
    assert len(rebased) == 2 and rebased[1].effective_from == local(TOKYO, 2026, 1, 26, 10)
    assert _on_call(rebased, now) == "ken"
    following = [_on_call(rebased, local(TOKYO, 2026, 1, 26, 11) + timedelta(weeks=i)) for i in range(4)]
    assert following == ["hana", "yuta", "mei", "ken"]
    # history before the change is what it was
    assert _on_call(rebased, local(TOKYO, 2026, 1, 13)) == "hana"


def test_added_member_joins_in_the_new_order_without_a_reshuffle():
    epochs = [rules.initial_epoch(rot())]
    now = local(TOKYO, 2026, 1, 14, 9)  # hana's week
    rebased = rules.rebase(epochs, rot(["yuta", "hana", "sato", "ken", "mei"]), now)
    assert _on_call(rebased, now) == "hana"
    nexts = [_on_call(rebased, local(TOKYO, 2026, 1, 19, 11) + timedelta(weeks=i)) for i in range(5)]
    assert nexts == ["sato", "ken", "mei", "yuta", "hana"]


def test_removed_current_person_finishes_their_shift_then_the_next_member_continues():
    epochs = [rules.initial_epoch(rot())]
    now = local(TOKYO, 2026, 1, 21, 15)  # ken's week
    rebased = rules.rebase(epochs, rot(["yuta", "hana", "mei"]), now)
    assert _on_call(rebased, now) == "ken"
    nexts = [_on_call(rebased, local(TOKYO, 2026, 1, 26, 11) + timedelta(weeks=i)) for i in range(4)]
    assert nexts == ["mei", "yuta", "hana", "mei"]


def test_a_second_change_within_the_shift_replaces_the_pending_one_and_a_revert_cancels_it():
    epochs = [rules.initial_epoch(rot())]
    now = local(TOKYO, 2026, 1, 21, 15)
    first = rules.rebase(epochs, rot(["mei", "ken", "hana", "yuta"]), now)
    second = rules.rebase(first, rot(["ken", "yuta", "hana", "mei"]), now + timedelta(hours=1))
    assert len(second) == 2 and second[1].rotation.members == ["ken", "yuta", "hana", "mei"]
    assert _on_call(second, local(TOKYO, 2026, 1, 26, 11)) == "yuta"
    reverted = rules.rebase(second, rot(), now + timedelta(hours=2))
    assert reverted == epochs
    assert rules.rebase(reverted, rot(), now + timedelta(hours=3)) == epochs


def test_change_before_the_rotation_starts_simply_starts_the_new_one():
    epochs = [rules.initial_epoch(rot(start=date(2026, 2, 2)))]
    rebased = rules.rebase(epochs, rot(["mei", "ken"], start=date(2026, 2, 2)), utc(2026, 1, 20))
    assert rebased == [rules.initial_epoch(rot(["mei", "ken"], start=date(2026, 2, 2)))]


def test_changed_handoff_time_keeps_the_person_until_their_shift_ends():
    epochs = [rules.initial_epoch(rot())]
    now = local(TOKYO, 2026, 1, 21, 15)  # ken, until Mon 26th 10:00
    rebased = rules.rebase(epochs, rot(time="18:00"), now)
    assert rebased[1].effective_from == local(TOKYO, 2026, 1, 26, 10)
    assert _on_call(rebased, local(TOKYO, 2026, 1, 26, 11)) == "mei"  # the rest of the new grid's shift
    assert _on_call(rebased, local(TOKYO, 2026, 1, 26, 18)) == "yuta"
