"""The round-trip property for Opsgenie (docs/migrate.md): who commandpost puts on call equals Opsgenie.

The reference below is an independent reading of Opsgenie's documented schedule semantics, brute
force and written from the API's shapes, never from the importer: every rotation of a schedule is
on call at the same time; a rotation turns every ``length`` days/weeks/hours from ``startDate`` on
the schedule's wall clock, through its participants in order; a time restriction leaves the
rotation with nobody outside its windows; a rotation has nobody before its start or after its end;
an override puts its user on the rotations it names (all of them when it names none).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from commandpost.importers import opsgenie
from commandpost.importers.folder import write_ops_folder
from commandpost.importers.source import SavedResponses
from tests.importer_support import (
    add_imported_overrides,
    checked_config,
    iso_time,
    random_instants,
    who_commandpost_pages,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "importers" / "opsgenie"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _minute_of_week(local: datetime) -> int:
    return local.weekday() * 1440 + local.hour * 60 + local.minute


def _open(restriction: dict[str, Any] | None, local: datetime) -> bool:
    if not restriction:
        return True
    minute = local.hour * 60 + local.minute
    if restriction["type"] == "time-of-day":
        r = restriction["restriction"]
        lo, hi = r["startHour"] * 60 + r["startMin"], r["endHour"] * 60 + r["endMin"]
        return lo <= minute < hi if lo < hi else (minute >= lo or minute < hi)
    week = _minute_of_week(local)
    for r in restriction["restrictions"]:
        lo = DAYS.index(r["startDay"]) * 1440 + r["startHour"] * 60 + r["startMin"]
        hi = DAYS.index(r["endDay"]) * 1440 + r["endHour"] * 60 + r["endMin"]
        if hi <= lo:
            hi += 7 * 1440
        if lo <= week < hi or lo <= week + 7 * 1440 < hi:
            return True
    return False


def opsgenie_on_call(
    schedule: dict[str, Any], rotation: dict[str, Any], overrides: list[dict[str, Any]], at: datetime
) -> str | None:
    """The username Opsgenie puts on ``rotation`` at ``at`` (None: nobody)."""
    for override in reversed(overrides):
        names = [r["id"] for r in override.get("rotations", [])]
        if (not names or rotation["id"] in names) and iso_time(override["startDate"]) <= at < iso_time(
            override["endDate"]
        ):
            return str(override["user"]["username"])
    tz = ZoneInfo(schedule["timezone"])
    start = iso_time(rotation["startDate"])
    if at < start or ("endDate" in rotation and at >= iso_time(rotation["endDate"])):
        return None
    local, first = at.astimezone(tz).replace(tzinfo=None), start.astimezone(tz).replace(tzinfo=None)
    unit = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1), "hourly": timedelta(hours=1)}[
        rotation["type"]
    ]
    turn = (local - first) // (unit * rotation["length"])
    participant = rotation["participants"][turn % len(rotation["participants"])]
    if participant["type"] != "user" or not _open(rotation.get("timeRestriction"), local):
        return None
    return str(participant["username"])


def test_every_imported_layer_puts_on_call_whom_opsgenie_does(session: Session, tmp_path: Path) -> None:
    result = opsgenie.read(SavedResponses(FIXTURES), now=NOW)
    write_ops_folder(result, tmp_path / "ops", now=NOW)
    config = checked_config(tmp_path / "ops")
    add_imported_overrides(session, config, result, now=NOW)
    email = {p.handle: p.contact.email for p in config.people}
    saved = json.loads((FIXTURES / "schedules.json").read_text())["data"]
    instants = random_instants(NOW)
    compared = 0
    for schedule in saved:
        name = result.source_ids["schedule"].get(schedule["id"])
        if name is None:
            continue
        overrides = json.loads((FIXTURES / "schedules" / schedule["id"] / "overrides.json").read_text())[
            "data"
        ]
        users_only = [o for o in overrides if o["user"]["type"] == "user"]
        layers = {layer.name for layer in next(s for s in config.schedules if s.name == name).layers}
        for rotation in schedule["rotations"]:
            if any(p["type"] != "user" for p in rotation["participants"]):
                continue  # reported: its turns cannot match (test_the_report_says_what_was_left_out)
            layer = next((n for n in layers if n == rotation["name"].replace(" ", "-")), None)
            if "endDate" in rotation and iso_time(rotation["endDate"]) <= NOW:
                assert layer is None
                continue
            assert layer is not None, rotation["name"]
            window = [
                at for at in instants if "endDate" not in rotation or at < iso_time(rotation["endDate"])
            ]
            ours = who_commandpost_pages(session, config, schedule=name, layer=layer, instants=window)
            theirs = [opsgenie_on_call(schedule, rotation, users_only, at) for at in window]
            mismatches = [
                (at.isoformat(), email.get(o) if o else None, t)
                for at, o, t in zip(window, ours, theirs, strict=True)
                if (email.get(o) if o else None) != t
            ]
            assert not mismatches, f"{name}/{layer}: {mismatches[:5]}"
            assert len({t for t in theirs if t}) >= 1
            compared += 1
    assert compared == 5  # weekdays, nights, six hours, weekends (until its end), main: every clean rotation
