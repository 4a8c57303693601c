"""``commandpost import pagerduty``: the round-trip property on both databases, the CLI on saved
responses, and the live read against the PagerDuty stand-in (tests/standins/pagerduty_rest.py).

The round trip: for each imported schedule, who commandpost's on-call service puts on the layer
escalation pages, at 200 random instants over 60 days, equals who PagerDuty's documented final
schedule has — computed here by :func:`pagerduty_on_call`, a brute-force reading of the saved JSON
that shares nothing with the importer.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from commandpost.importers import pagerduty
from commandpost.importers.folder import write_ops_folder
from commandpost.importers.source import SavedResponses
from tests.cli_support import run_cli
from tests.importer_support import (
    add_imported_overrides,
    checked_config,
    iso_time,
    random_instants,
    who_commandpost_pages,
)
from tests.standins.pagerduty_rest import PagerDutyAccount, running

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "pagerduty"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TOKEN = "pd-test-key-Xy7Qm2vLw9"


def _in_restriction(restriction: dict[str, Any], at: datetime, zone: ZoneInfo) -> bool:
    """PagerDuty: a window opens at start_time_of_day (on start_day_of_week) and lasts duration_seconds."""
    local = at.astimezone(zone)
    clock = datetime.strptime(restriction["start_time_of_day"], "%H:%M:%S").time()
    length = timedelta(seconds=restriction["duration_seconds"])
    if restriction["type"] == "daily_restriction":
        days = [local.date() - timedelta(days=n) for n in range(2)]
    else:
        monday = local.date() - timedelta(days=local.weekday())
        days = [monday + timedelta(days=restriction["start_day_of_week"] - 1 - 7 * n) for n in range(2)]
    for day in days:
        opens = datetime.combine(day, clock, tzinfo=zone)
        if opens <= at < opens + length:
            return True
    return False


def pagerduty_on_call(schedule: dict[str, Any], overrides: list[dict[str, Any]], at: datetime) -> str | None:
    """The PagerDuty user id on call at ``at``: an override, else the highest-numbered layer with
    someone (inside its [start, end), its turn, its restriction windows), else nobody."""
    for override in reversed(overrides):
        if iso_time(override["start"]) <= at < iso_time(override["end"]):
            return str(override["user"]["id"])
    zone = ZoneInfo(schedule["time_zone"])
    layers = sorted(
        schedule["schedule_layers"], key=lambda x: int(re.findall(r"\d+", x["name"])[0]), reverse=True
    )
    for layer in layers:
        if at < iso_time(layer["start"]) or (layer["end"] and at >= iso_time(layer["end"])):
            continue
        if layer["restrictions"] and not any(_in_restriction(r, at, zone) for r in layer["restrictions"]):
            continue
        turns = (at - iso_time(layer["rotation_virtual_start"])).total_seconds() // layer[
            "rotation_turn_length_seconds"
        ]
        return str(layer["users"][int(turns) % len(layer["users"])]["user"]["id"])
    return None


def _saved(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


@pytest.fixture
def imported(tmp_path: Path) -> tuple[Path, Any]:
    result = pagerduty.read(SavedResponses(FIXTURES), now=NOW)
    loaded = write_ops_folder(result, tmp_path / "ops", now=NOW)
    assert loaded.errors == []
    return tmp_path / "ops", result


def test_who_is_on_call_round_trips_through_the_import(session: Session, imported: tuple[Path, Any]) -> None:
    folder, result = imported
    config = checked_config(folder)
    add_imported_overrides(session, config, result, now=NOW)
    session.commit()
    handles = result.source_ids["user"]
    edges = [iso_time(t) for t in ("2026-12-20T17:00:00Z", "2026-12-20T16:59:59Z", "2027-01-10T17:00:00Z")]
    instants = sorted([*random_instants(NOW), *edges])
    # PO3's user is no PagerDuty user we imported: the report says so; its hours are not compared
    skipped_users = {"PU9"}
    assert [u.source_id for u in result.unmapped if u.kind == "override"] == ["PO3", "PS2"]
    compared = layers = 0
    for schedule_id, stem in result.source_ids["schedule"].items():
        detail = _saved(f"schedules/{schedule_id}.json")["schedule"]
        saved = FIXTURES / "schedules" / schedule_id / "overrides.json"
        overrides = json.loads(saved.read_text())["overrides"] if saved.exists() else []
        layer = "final" if len(detail["schedule_layers"]) > 1 else "layer-1"
        users = [pagerduty_on_call(detail, overrides, at) for at in instants]
        got = who_commandpost_pages(session, config, schedule=stem, layer=layer, instants=instants)
        mismatches = [
            (at.isoformat(), user, handle)
            for at, user, handle in zip(instants, users, got, strict=True)
            if user not in skipped_users and (handles[user] if user else None) != handle
        ]
        assert not mismatches, f"{stem}: {mismatches[:5]}"
        assert len({x for x in got if x}) >= 2  # the instants see several people, not one
        compared += 1
        imported_schedule = config.schedule(stem)
        assert imported_schedule is not None
        for pd_layer in detail["schedule_layers"]:  # each imported layer alone, too
            name = pd_layer["name"].lower().replace(" ", "-")
            if imported_schedule.layer(name) is None:
                continue
            alone = {**detail, "schedule_layers": [pd_layer]}
            users = [pagerduty_on_call(alone, [], at) for at in instants]
            got = who_commandpost_pages(session, config, schedule=stem, layer=name, instants=instants)
            assert [handles[u] if u else None for u in users] == got, f"{stem}/{name}"
            layers += 1
    assert (compared, layers) == (2, 6)  # the two schedules with importable layers, three layers each


def test_the_import_command_writes_a_folder_that_passes_check(tmp_path: Path) -> None:
    out = tmp_path / "ops"
    done = run_cli(["import", "pagerduty", str(FIXTURES), "--out", str(out)])
    assert done.returncode == 0, done.stderr
    assert "passes check" in done.stderr
    assert run_cli(["check", str(out)]).returncode == 0
    report = (out / "README.md").read_text()
    assert (
        "| payments-api | events_api_v2_inbound_integration | …8f90 | payments-api-datadog | pagerduty |"
        in report
    )
    assert "a1b2c3d4e5f60718293a4b5c6d7e8f90" not in report  # old keys only masked
    assert "--schedule payments-primary --layer final --person chen-wei" in report
    overrides = json.loads((out / ".import" / "overrides.json").read_text())
    assert {o["person"] for o in overrides} == {"chen-wei", "alice-ng"}


def test_the_live_import_reads_the_api_page_by_page_patient_with_its_limits(tmp_path: Path) -> None:
    account = PagerDutyAccount.from_saved(FIXTURES)
    waits: list[float] = []
    with running(account, token=TOKEN) as far_end:
        far_end.throttle["users"] = 7
        far_end.fail_once.add("schedules/PS2")
        source = pagerduty.live(TOKEN, base_url=far_end.url, sleep=waits.append)
        live = pagerduty.read(source, now=NOW)
        requests = list(far_end.requests)
    saved = pagerduty.read(SavedResponses(FIXTURES), now=NOW)
    assert live.people == saved.people and live.schedules == saved.schedules
    assert live.escalation == saved.escalation and live.services == saved.services
    assert live.integrations == saved.integrations
    assert waits[0] == 7.0 and len(waits) == 2  # the 429's ratelimit-reset, then a 5xx backoff
    users = [query for path, query, _ in requests if path == "users"]
    assert users[-1]["include[]"] == ["contact_methods", "notification_rules"]
    assert all(h["Accept"] == "application/vnd.pagerduty+json;version=2" for _, _, h in requests)
    assert all(TOKEN not in path and TOKEN not in json.dumps(q) for path, q, _ in requests)


def test_the_live_import_through_the_command_and_a_refused_token(tmp_path: Path) -> None:
    account = PagerDutyAccount.from_saved(FIXTURES)
    with running(account, token=TOKEN) as far_end:
        done = run_cli(
            ["import", "pagerduty", "--api-url", far_end.url, "--out", str(tmp_path / "ops")],
            env={"COMMANDPOST_IMPORT_TOKEN": TOKEN},
        )
        assert done.returncode == 0, done.stderr
        assert checked_config(tmp_path / "ops").schedule("payments-primary") is not None
        refused = run_cli(
            ["import", "pagerduty", "--api-url", far_end.url, "--out", str(tmp_path / "ops2")],
            env={"COMMANDPOST_IMPORT_TOKEN": "wrong-key-123"},
        )
    assert refused.returncode != 0
    assert "GET /users: HTTP 401" in refused.stderr and "Invalid Credentials" in refused.stderr
    assert "wrong-key-123" not in refused.stderr + refused.stdout
    assert not (tmp_path / "ops2").exists()
