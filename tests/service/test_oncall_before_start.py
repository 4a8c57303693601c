"""Issue 14, item 18: on-call health counts no on-call time from before commandpost knew the rotation.

The example rotation starts on 2026-01-05; a team that applies it for the first time on 2026-06-24
(with @sato added to the primary layer that day) must not see May filled with shifts nobody worked
under commandpost: a layer counts from its rotation's ``start`` *and* from the apply that introduced
it, whichever is later. A layer added by a later apply counts from that apply; the layers already
there keep their history. Both databases, frozen clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from commandpost.metrics import oncall_health
from tests.paging_support import apply, ops_variant

APPLIED = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)  # Wednesday 12:00 JST
HANDOFF = datetime(2026, 6, 29, 1, 0, tzinfo=UTC)  # the next Monday 10:00 JST
MAY = (datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
WEEK = 168.0


def _add_sato(data: dict[str, Any]) -> None:
    data["layers"][0]["rotation"]["members"].append("sato")  # primary: yuta, hana, ken, mei, sato


def _shadow(data: dict[str, Any]) -> None:
    data["layers"].append(
        {
            "name": "shadow",
            "rotation": {
                "members": ["sato"],
                "length": "weekly",
                "start": "2026-01-05",
                "handoff": {"weekday": "monday", "time": "10:00", "timezone": "Asia/Tokyo"},
            },
        }
    )


def _hours(session, config, start: datetime, end: datetime) -> dict[str, float]:  # type: ignore[no-untyped-def]
    session.rollback()
    got = oncall_health.health(session, config=config, start=start, end=end)
    return {p["person"]: p["on_call_hours"] for p in got["people"]}


def test_a_first_apply_counts_nothing_before_it(sessions, session, clock, tmp_path: Path) -> None:
    clock.set(APPLIED)
    config = apply(sessions, clock, ops_variant(tmp_path, {"schedules/payment-platform.yaml": _add_sato}))
    may = _hours(session, config, *MAY)
    assert may == {"hana": 0.0, "ken": 0.0, "mei": 0.0, "sato": 0.0, "yuta": 0.0}
    session.rollback()
    got = oncall_health.health(session, config=config, start=MAY[0], end=MAY[1])
    assert [r["pages"] for r in got["rotations"]] == [0, 0]

    # the week of the apply: sato holds the primary (week 24 of the rotation, the 5th member), hana
    # the secondary, each from the apply on, not from Monday's handoff
    week = _hours(session, config, HANDOFF - timedelta(days=7), HANDOFF)
    held = (HANDOFF - APPLIED).total_seconds() / 3600  # 118 h
    assert week == {"hana": held, "ken": 0.0, "mei": 0.0, "sato": held, "yuta": 0.0}
    # after the apply every hour is covered, by both layers
    later = _hours(session, config, HANDOFF, HANDOFF + timedelta(days=35))
    assert sum(later.values()) == 2 * 5 * WEEK
    assert later["sato"] == WEEK  # one primary week in five


def test_a_rotation_counts_from_its_start(sessions, session, clock, tmp_path: Path) -> None:
    def late_secondary(data: dict[str, Any]) -> None:
        data["layers"][1]["rotation"]["start"] = "2026-07-06"  # a Monday, after the apply

    clock.set(APPLIED)
    config = apply(
        sessions, clock, ops_variant(tmp_path, {"schedules/payment-platform.yaml": late_secondary})
    )
    end = datetime(2026, 7, 13, 1, 0, tzinfo=UTC)
    hours = _hours(session, config, datetime(2026, 6, 1, tzinfo=UTC), end)
    primary = (end - APPLIED).total_seconds() / 3600  # from the apply
    assert sum(hours.values()) == primary + WEEK  # the secondary: only its first week, from 07-06 10:00 JST
    # primary: yuta from the apply, hana, ken; secondary: hana from 07-06 only (its first member)
    held = (HANDOFF - APPLIED).total_seconds() / 3600
    assert hours == {"hana": 2 * WEEK, "ken": WEEK, "mei": 0.0, "sato": 0.0, "yuta": held}


def test_a_layer_added_later_counts_from_the_apply_that_added_it(
    sessions, session, clock, tmp_path: Path
) -> None:
    first = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    clock.set(first)
    apply(sessions, clock)
    clock.set(APPLIED)
    config = apply(sessions, clock, ops_variant(tmp_path, {"schedules/payment-platform.yaml": _shadow}))
    before = _hours(session, config, first, APPLIED)
    assert before["sato"] == 0.0  # the shadow layer did not exist yet
    covered = (APPLIED - first).total_seconds() / 3600
    assert sum(before.values()) == 2 * covered  # primary and secondary count from the first apply
    after = _hours(session, config, APPLIED, HANDOFF)
    assert after["sato"] == (HANDOFF - APPLIED).total_seconds() / 3600
