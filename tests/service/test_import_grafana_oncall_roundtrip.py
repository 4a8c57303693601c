"""The round-trip property for Grafana OnCall (docs/migrate.md): commandpost pages whom Grafana would.

The reference below is an independent, brute-force reading of Grafana OnCall's schedule semantics,
written from the API's shapes and its documented rules, never from the importer:

- a shift's occurrences follow RFC 5545 recurrence from its local ``start`` on the wall clock of its
  zone (the shift's, else the schedule's): every ``interval`` hours/days/weeks, limited to the
  ``by_day`` weekdays (weeks counted from ``week_start``); each lasts ``duration`` seconds; none
  start after ``until``;
- a ``rolling_users`` shift gives each turn to the next group (from ``start_rotation_from_user_index``);
  a turn is one occurrence, or for a weekly shift on chosen days all occurrences of one week; the
  first turn is the first occurrence at or after ``rotation_start``, and a weekly shift on chosen
  days whose start is not one of them begins on the first chosen day of the following week order;
- where shifts overlap the highest ``level`` that has someone wins; at one level everyone is paged.

Only the shifts the import maps are evaluated (the others are report lines, asserted in the unit
tests). At an instant where Grafana pages several people, commandpost's one must be among them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from commandpost.importers import grafana_oncall
from commandpost.importers.folder import write_ops_folder
from commandpost.importers.source import SavedResponses
from tests.importer_support import checked_config, random_instants, who_commandpost_pages

FIXTURES = Path(__file__).parents[1] / "fixtures" / "importers" / "grafana_oncall"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAPPED = {
    # schedule id → (its file, the layers escalations page, the shifts the import maps)
    "SPLATFORMPRI1": ("platform-primary", ["final"], {"OWEEKLYROTA01", "ODAYTIMEWEEK2", "OENDED0000007"}),
    "SPAYMENTSFTS2": (
        "payments-follow-the-sun",
        ["final"],
        {"ODAYS00000010", "ONIGHTS000011", "OHALFDAYNY012", "OLUNCH0000013"},
    ),
    "SDATABASE0005": ("database", ["fortnight"], {"OBIWEEKLY0014"}),
    "SPAIRS0000006": ("pairs", ["pair-rota-1", "pair-rota-2"], {"OPAIRROTA0016"}),
}


def _all(endpoint: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.glob(f"{endpoint}*.json")):
        out += [x for x in json.loads(path.read_text())["results"] if isinstance(x, dict)]
    return out


def _local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")


def _occurrence_starts(shift: dict[str, Any], until: datetime) -> list[datetime]:
    """Local occurrence starts up to ``until`` (RRULE expanded by brute force: step one unit at a time)."""
    start, freq, every = _local(shift["start"]), shift["frequency"], shift.get("interval") or 1
    days = {RRULE_DAYS.index(d) for d in shift.get("by_day") or ()}
    if shift["type"] == "rolling_users" and days and freq == "weekly" and start.weekday() not in days:
        week_start = RRULE_DAYS.index(shift.get("week_start") or "SU")
        first = min(days, key=lambda d: (d - week_start) % 7)
        start += timedelta(days=(first - start.weekday()) % 7)
    out = []
    if freq == "weekly" and days:
        week_start = RRULE_DAYS.index(shift.get("week_start") or "SU")
        week0 = start.date() - timedelta(days=(start.weekday() - week_start) % 7)
        day = start.date()
        while (moment := datetime.combine(day, start.time())) <= until:
            weeks = (day - week0).days // 7
            if day.weekday() in days and weeks % every == 0 and moment >= start:
                out.append(moment)
            day += timedelta(days=1)
        return out
    unit = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}[freq]
    moment, k = start, 0
    while moment <= until:
        if k % every == 0 and (not days or moment.weekday() in days):
            out.append(moment)
        moment, k = moment + unit, k + 1
    return out


def _turns(shift: dict[str, Any], until: datetime) -> list[tuple[datetime, datetime, list[str]]]:
    """(local start, local end, users) of each occurrence that someone covers."""
    starts = _occurrence_starts(shift, until)
    if shift.get("until"):
        starts = [s for s in starts if s <= _local(shift["until"])]
    length = timedelta(seconds=shift["duration"])
    if shift["type"] == "recurrent_event":
        return [(s, s + length, list(shift["users"])) for s in starts]
    groups = [g for g in shift["rolling_users"] if g]
    first = shift.get("start_rotation_from_user_index") or 0
    groups = groups[first:] + groups[:first]
    rotation_start = _local(shift.get("rotation_start") or shift["start"])
    starts = [s for s in starts if s >= rotation_start]
    out = []
    if shift["frequency"] == "weekly" and shift.get("by_day"):
        week_start = RRULE_DAYS.index(shift.get("week_start") or "SU")

        def week(s: datetime) -> Any:
            return s.date() - timedelta(days=(s.weekday() - week_start) % 7)

        for s in starts:
            turn = ((week(s) - week(starts[0])).days // 7) // (shift.get("interval") or 1)
            out.append((s, s + length, groups[turn % len(groups)]))
        return out
    return [(s, s + length, groups[i % len(groups)]) for i, s in enumerate(starts)]


def _grafana(schedule: dict[str, Any], shifts: dict[str, dict[str, Any]], mapped: set[str]) -> Any:
    """who(at) → the set of user ids Grafana pages at ``at``."""
    horizon = NOW + timedelta(days=61)
    spans: list[tuple[int, datetime, datetime, list[str]]] = []
    for shift_id in schedule["shifts"]:
        if shift_id not in mapped:
            continue
        shift = shifts[shift_id]
        tz = ZoneInfo(shift.get("time_zone") or schedule["time_zone"])
        local_horizon = horizon.astimezone(tz).replace(tzinfo=None)
        for lo, hi, users in _turns(shift, local_horizon):
            spans.append((shift.get("level") or 0, lo.replace(tzinfo=tz), hi.replace(tzinfo=tz), users))

    def who(at: datetime) -> set[str]:
        covering = [(level, users) for level, lo, hi, users in spans if lo <= at < hi]
        if not covering:
            return set()
        top = max(level for level, _ in covering)
        return {u for level, users in covering if level == top for u in users}

    return who


def test_commandpost_pages_whom_grafana_oncall_would(session: Session, tmp_path: Path) -> None:
    result = grafana_oncall.read(SavedResponses(FIXTURES), now=NOW)
    write_ops_folder(result, tmp_path / "ops", now=NOW)
    config = checked_config(tmp_path / "ops")
    handles = result.source_ids["user"]
    shifts = {s["id"]: s for s in _all("on_call_shifts")}
    schedules = {s["id"]: s for s in _all("schedules")}
    instants = random_instants(NOW, days=60, n=200)
    several = 0
    for schedule_id, (name, layers, mapped) in MAPPED.items():
        who = _grafana(schedules[schedule_id], shifts, mapped)
        answers = [
            who_commandpost_pages(session, config, schedule=name, layer=layer, instants=instants)
            for layer in layers
        ]
        for at, *people in zip(instants, *answers, strict=True):
            expected = {handles[u] for u in who(at)}
            if len(layers) > 1:  # one layer per position of a pair: together they page the pair
                assert set(people) - {None} == expected, (
                    f"{name} at {at}: commandpost {people}, Grafana {expected}"
                )
            elif len(expected) > 1:
                several += 1
                assert people[0] in expected, (
                    f"{name} at {at}: commandpost {people}, Grafana {sorted(expected)}"
                )
            else:
                assert set(people) - {None} == expected, (
                    f"{name} at {at}: commandpost {people}, Grafana {expected}"
                )
    # the lunch cover overlaps the day shift at one level: Grafana pages two people then
    assert several > 0


def test_every_person_of_a_mapped_schedule_is_on_call_at_some_instant(
    session: Session, tmp_path: Path
) -> None:
    """The property is not vacuous: each mapped schedule's final layer pages everyone of its rotations."""
    result = grafana_oncall.read(SavedResponses(FIXTURES), now=NOW)
    write_ops_folder(result, tmp_path / "ops", now=NOW)
    config = checked_config(tmp_path / "ops")
    instants = random_instants(NOW, days=60, n=200)
    seen = {
        name: set(who_commandpost_pages(session, config, schedule=name, layer=layers[0], instants=instants))
        for name, layers, _ in MAPPED.values()
    }
    assert seen["platform-primary"] == {"alice", "bob", "carol", "dave", "erin-31m-ops"}
    assert seen["payments-follow-the-sun"] >= {"alice", "carol", "bob", "dave", "erin-31m-ops"}
    assert seen["database"] == {"alice", "carol", "dave"}
    assert seen["pairs"] == {"alice", "carol"}
