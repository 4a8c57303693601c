"""The PagerDuty mapping: turn lengths, restriction windows, layer precedence, layers that start or
end later, people, escalation levels, and hostile saved responses (each error names its file)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from commandpost.errors import BadRequest, NotFound, PayloadTooLarge
from commandpost.importers import pagerduty
from commandpost.importers.pagerduty_render import Comparison, compare, layer_order
from commandpost.importers.pagerduty_schedules import (
    MappedSchedule,
    Unmappable,
    by_precedence,
    map_layer,
    map_schedule,
    restrictions,
    turn_length,
)
from commandpost.importers.result import ImportResult
from commandpost.importers.source import SavedResponses

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "pagerduty"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
PEOPLE = {"PU1": "alice", "PU2": "bob"}


def _read(folder: Path = FIXTURES) -> ImportResult:
    return pagerduty.read(SavedResponses(folder), now=NOW)


def _layer(**fields: Any) -> dict[str, Any]:
    layer = {
        "id": "PL1",
        "name": "Layer 1",
        "start": "2026-01-05T10:00:00+01:00",
        "end": None,
        "rotation_virtual_start": "2026-01-05T10:00:00+01:00",
        "rotation_turn_length_seconds": 604800,
        "users": [{"user": {"id": "PU1"}}, {"user": {"id": "PU2"}}],
        "restrictions": [],
    }
    return {**layer, **fields}


def _mapped(detail: dict[str, Any]) -> MappedSchedule:
    ordered, note = layer_order(detail, NOW)
    return map_schedule(detail, ordered=ordered, order_note=note, stem="s", people=PEOPLE.get, now=NOW)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "saved"
    shutil.copytree(FIXTURES, folder)
    return folder


@pytest.mark.parametrize(
    ("seconds", "length"),
    [(86400, "daily"), (604800, "weekly"), (172800, "2d"), (1209600, "14d"), (28800, "8h"), (43200, "12h")],
)
def test_turn_lengths_map_to_rotation_lengths(seconds: int, length: str) -> None:
    assert turn_length(seconds) == length


@pytest.mark.parametrize("seconds", [5400, 0, -86400, True, "86400", None])
def test_other_turn_lengths_are_not_mapped(seconds: Any) -> None:
    with pytest.raises(Unmappable, match="turn length"):
        turn_length(seconds)


def test_restrictions_become_day_windows_on_the_schedule_clock() -> None:
    daily = {"type": "daily_restriction", "start_time_of_day": "22:00:00", "duration_seconds": 28800}
    assert restrictions([daily]) == [{"start": "22:00", "end": "06:00"}]
    weekend = {
        "type": "weekly_restriction",
        "start_day_of_week": 6,
        "start_time_of_day": "08:00:00",
        "duration_seconds": 2 * 86400 + 3 * 3600,
    }
    assert restrictions([weekend]) == [
        {"days": ["sat", "sun"], "start": "08:00", "end": "08:00"},
        {"days": ["mon"], "start": "08:00", "end": "11:00"},
    ]
    sunday_night = {
        **weekend,
        "start_day_of_week": 7,
        "start_time_of_day": "23:30:15",
        "duration_seconds": 3600,
    }
    assert restrictions([sunday_night]) == [{"days": ["sun"], "start": "23:30:15", "end": "00:30:15"}]
    assert restrictions([{**weekend, "duration_seconds": 7 * 86400}]) == []  # all week: no restriction
    assert restrictions([{**daily, "duration_seconds": 86400}]) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"start_day_of_week": 8}, "start_day_of_week 8"),
        ({"start_day_of_week": 0}, "start_day_of_week 0"),
        ({"duration_seconds": 8 * 86400}, "longer than a week"),
        ({"duration_seconds": 0}, "not a positive number"),
        ({"start_time_of_day": "25:00:00"}, "is not HH:MM:SS"),
        ({"type": "monthly_restriction"}, "not daily_restriction or weekly_restriction"),
    ],
)
def test_restrictions_that_cannot_be_read_say_why(bad: dict[str, Any], message: str) -> None:
    weekly = {"type": "weekly_restriction", "start_day_of_week": 1, "start_time_of_day": "09:00:00"}
    with pytest.raises(Unmappable, match=message):
        restrictions([{**weekly, "duration_seconds": 3600, **bad}])


def test_the_layer_number_decides_precedence_whatever_the_api_order() -> None:
    layers = [{"name": "Layer 2"}, {"name": "Layer 10"}, {"name": "Layer 1"}]
    assert [x["name"] for x in by_precedence(layers)[0]] == ["Layer 1", "Layer 2", "Layer 10"]
    named = [{"name": "Weekend"}, {"name": "Weekdays"}]
    ordered, note = by_precedence(named)
    assert [x["name"] for x in ordered] == ["Weekdays", "Weekend"]
    assert note is not None and "highest first" in note


def test_a_layer_is_anchored_at_the_turn_running_at_the_import() -> None:
    body, override, note = map_layer(_layer(), name="layer-1", tz=BERLIN, people=PEOPLE.get, now=NOW)
    # 2026-01-05 + 48 weeks = 2026-12-07: turn 48 (even) is alice's, from Monday 10:00 Berlin
    assert body["rotation"] == {
        "members": ["alice", "bob"],
        "length": "weekly",
        "start": "2026-12-07",
        "handoff": {"weekday": "monday", "time": "10:00", "timezone": "Europe/Berlin"},
    }
    assert override is None and note is None
    before = datetime(2026, 12, 7, 8, 59, tzinfo=UTC)  # 09:59 Berlin: turn 47, bob's, started a week ago
    body, _, _ = map_layer(_layer(), name="layer-1", tz=BERLIN, people=PEOPLE.get, now=before)
    assert body["rotation"]["members"] == ["bob", "alice"] and body["rotation"]["start"] == "2026-11-30"


def test_a_layer_starting_mid_turn_gets_its_partial_turn_as_an_override() -> None:
    later = _layer(start="2026-12-20T12:00:00+01:00", rotation_turn_length_seconds=86400)
    body, override, note = map_layer(later, name="layer-2", tz=BERLIN, people=PEOPLE.get, now=NOW)
    assert body["rotation"]["start"] == "2026-12-21" and body["rotation"]["handoff"]["time"] == "10:00"
    assert override is not None and override.person == body["rotation"]["members"][-1]
    assert (override.start, override.end) == (
        datetime(2026, 12, 20, 11, 0, tzinfo=UTC),
        datetime(2026, 12, 21, 9, 0, tzinfo=UTC),
    )
    night = {"type": "daily_restriction", "start_time_of_day": "22:00:00", "duration_seconds": 28800}
    restricted = {**later, "restrictions": [night]}
    _, override, note = map_layer(restricted, name="layer-2", tz=BERLIN, people=PEOPLE.get, now=NOW)
    assert override is None and note is not None and "partial first turn" in note


def test_layers_that_ended_are_skipped_and_those_ending_later_are_reported() -> None:
    with pytest.raises(Unmappable, match="ended at 2026-06-01"):
        map_layer(_layer(end="2026-06-01T00:00:00Z"), name="x", tz=BERLIN, people=PEOPLE.get, now=NOW)
    _, _, note = map_layer(
        _layer(end="2027-01-01T00:00:00Z"), name="x", tz=BERLIN, people=PEOPLE.get, now=NOW
    )
    assert note is not None and "ends 2027-01-01" in note and "do not end" in note
    with pytest.raises(Unmappable, match="'PU7' was not imported"):
        stranger = _layer(users=[{"user": {"id": "PU7"}}])
        map_layer(stranger, name="x", tz=BERLIN, people=PEOPLE.get, now=NOW)
    with pytest.raises(Unmappable, match="not an ISO 8601 time"):
        map_layer(_layer(start="yesterday"), name="x", tz=BERLIN, people=PEOPLE.get, now=NOW)


def test_one_layer_needs_no_stack_and_a_layer_named_final_keeps_the_name_free() -> None:
    one = _mapped({"time_zone": "UTC", "schedule_layers": [_layer()]})
    assert one.body is not None and [x["name"] for x in one.body["layers"]] == ["layer-1"]
    assert one.target_layer == "layer-1"
    two = _mapped(
        {"time_zone": "UTC", "schedule_layers": [_layer(name="Final"), _layer(id="PL2", name="Backup")]}
    )
    assert two.body is not None and two.target_layer == "final"
    assert two.body["layers"][-1] == {"name": "final", "stack": ["backup", "final-2"]}


def _rendered(*runs: tuple[str, str, str]) -> dict[str, Any]:
    entries = [{"user": {"id": user}, "start": start, "end": end} for user, start, end in runs]
    return {"name": "Final Schedule", "rendered_schedule_entries": entries}


def test_without_layer_numbers_the_rendered_final_schedule_decides_the_order() -> None:
    # "Weekdays" (alice) all the time; "Nights" (bob) 22:00–06:00 above it; listed lowest first
    nights = {"type": "daily_restriction", "start_time_of_day": "22:00:00", "duration_seconds": 28800}
    layers = [
        _layer(name="Weekdays", users=[{"user": {"id": "PU1"}}]),
        _layer(id="PL2", name="Nights", users=[{"user": {"id": "PU2"}}], restrictions=[nights]),
    ]
    final = _rendered(
        ("PU1", "2026-12-07T12:00:00Z", "2026-12-07T22:00:00Z"),
        ("PU2", "2026-12-07T22:00:00Z", "2026-12-08T06:00:00Z"),
        ("PU1", "2026-12-08T06:00:00Z", "2026-12-08T22:00:00Z"),
    )
    detail = {"time_zone": "UTC", "schedule_layers": layers, "final_schedule": final}
    ordered, note = layer_order(detail, NOW)
    assert [x["name"] for x in ordered] == ["Weekdays", "Nights"]
    assert note is not None and "lowest first, which reproduces" in note
    assert compare(detail, ordered, NOW) == Comparison(6, 0)
    assert compare(detail, list(reversed(ordered)), NOW).differing == 2  # bob's night hidden by alice
    unrendered = {**detail, "final_schedule": _rendered()}
    ordered, note = layer_order(unrendered, NOW)
    assert [x["name"] for x in ordered] == ["Nights", "Weekdays"] and note and "assumed" not in note


def test_a_final_schedule_the_layers_do_not_reproduce_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    saved = json.loads((folder / "schedules" / "PS1.json").read_text())
    entries = saved["schedule"]["final_schedule"]["rendered_schedule_entries"]
    assert entries, "the fixture carries PagerDuty's rendering of PS1"
    entries[0]["user"]["id"] = "PU5"
    (folder / "schedules" / "PS1.json").write_text(json.dumps(saved))
    assert not [u for u in _read().unmapped if "rendered final schedule" in u.reason]
    found = [u for u in _read(folder).unmapped if "rendered final schedule" in u.reason]
    assert [u.source_id for u in found] == ["PS1"] and "PagerDuty shows PU5" in found[0].reason


def test_people_keep_their_contact_methods_and_paging_ladder() -> None:
    result = _read()
    alice = next(p for p in result.people if p["handle"] == "alice-ng")
    assert alice["contact"] == {"email": "alice@example.com", "phone": "+4915123456789"}
    assert alice["notification_rules"]["high"] == [
        {"after": "0m", "methods": ["email"]},
        {"after": "5m", "methods": ["voice"]},
        {"after": "10m", "methods": ["sms"]},
    ]
    dana = next(p for p in result.people if p["handle"].startswith("dana"))
    assert all(ch.isprintable() for ch in dana["name"]) and "\x00" not in dana["name"]
    reasons = {(u.kind, u.source_id): u.reason for u in result.unmapped}
    assert "ntfy topic" in reasons[("contact_method", "PC1D")]
    assert "Mars/Olympus_Mons" in reasons[("user", "PU4")]
    assert "not a valid phone number" in reasons[("contact_method", "PC5B")]
    assert next(t for t in result.teams if t["name"] == "payments-team")["lead"] == "alice-ng"
    assert (result.org, result.timezone) == ("acme", "UTC")  # the account's subdomain; the most common zone


def test_escalation_rules_become_levels_and_loops_a_repeat() -> None:
    result = _read()
    route = result.escalation["payments-ep"]["severity_routing"]["SEV1"]
    assert route == {
        "levels": [
            {"targets": ["oncall-payments-primary"]},
            {"targets": ["alice-ng"], "after": "10m"},
            {"targets": ["chen-wei"], "after": "35m"},  # rule 3 had nobody imported: 15 + 20 minutes
        ],
        "repeat": 2,
    }
    assert result.escalation["payments-ep"]["targets"]["oncall-payments-primary"] == {
        "schedule": "payments-primary",
        "layer": "final",
    }
    assert set(result.escalation["payments-ep"]["severity_routing"]) == {"SEV1", "SEV2"}
    assert (
        result.escalation["sre-ep-batch-jobs"]["service"] == "batch-jobs"
    )  # a shared policy: one per service
    reasons = [u.reason for u in result.unmapped if u.kind == "escalation_policy"]
    assert any("waits 5 min after the last rule" in r for r in reasons)
    assert any("no imported service uses it" in r for r in reasons)


def test_integrations_map_to_sources_with_the_old_key_masked() -> None:
    result = _read()
    by_name = {i.integration: i for i in result.integrations}
    assert by_name["payments-api-datadog"].source == "pagerduty"
    assert by_name["payments-api-prometheus"].source == "alertmanager"
    assert by_name["payments-api-nagios"].old_key == "…8f94"  # read from the integration's own endpoint
    assert by_name["search-legacy-v1"].note.startswith("Events API v1")
    assert all(len(i.old_key) <= 5 for i in result.integrations)
    assert any(u.source_id == "PI3" and "e-mail intake" in u.reason for u in result.unmapped)


def test_an_integration_without_its_key_is_read_from_its_own_endpoint(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    services = json.loads((folder / "services.json").read_text())
    datadog = services["services"][0]["integrations"][0]
    del datadog["integration_key"]
    (folder / "services.json").write_text(json.dumps(services))
    by_name = {i.integration: i for i in _read(folder).integrations}
    assert by_name["payments-api-datadog"].old_key == "none"  # not saved anywhere: the report says none
    (folder / "services" / "PSV1" / "integrations" / "PI1.json").write_text(
        json.dumps({"integration": {**datadog, "integration_key": "0000000000000000000000000000abcd"}})
    )
    by_name = {i.integration: i for i in _read(folder).integrations}
    assert by_name["payments-api-datadog"].old_key == "…abcd"


def test_broken_saved_files_are_errors_naming_the_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "teams.json").write_text('{"teams": [')
    with pytest.raises(BadRequest, match=r"teams\.json: not JSON"):
        _read(folder)
    (folder / "teams.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BadRequest, match=r"teams\.json: not JSON"):
        _read(folder)
    (folder / "teams.json").write_text('{"users": []}')
    with pytest.raises(BadRequest, match=r"/teams page 1: no 'teams' list"):
        _read(folder)
    shutil.copy(FIXTURES / "teams.json", folder / "teams.json")
    (folder / "schedules" / "PS2.json").unlink()
    with pytest.raises(NotFound, match=r"schedules/PS2\.json: missing"):
        _read(folder)


def test_a_40_mb_file_is_refused_unread(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    with (folder / "users.json").open("r+b") as huge:
        huge.truncate(40 * 1024 * 1024)
    with pytest.raises(PayloadTooLarge, match=r"users\.json: more than"):
        _read(folder)


def test_hostile_names_and_unknown_references_become_report_lines(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    policies = json.loads((folder / "escalation_policies.json").read_text())
    rule = policies["escalation_policies"][1]["escalation_rules"][0]
    rule["targets"].append({"id": "PNOPE", "type": "user_reference"})
    policies["escalation_policies"][1]["name"] = "\x1b]0;owned\x07 SRE\u202e\x00"
    (folder / "escalation_policies.json").write_text(json.dumps(policies))
    services = json.loads((folder / "services.json").read_text())
    services["services"][2]["escalation_policy"] = {"id": "PMISSING", "type": "escalation_policy_reference"}
    (folder / "services.json").write_text(json.dumps(services))
    result = _read(folder)
    assert any(u.source_id == "PNOPE" and "not imported" in u.reason for u in result.unmapped)
    assert any(u.source_id == "PSV3" and "pages nobody" in u.reason for u in result.unmapped)
    assert "escalation_policy" not in result.services["batch-jobs"]
    assert all(stem.isascii() and stem.replace("-", "").isalnum() for stem in result.escalation)


def test_a_policy_or_service_without_an_id_is_a_report_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    policies = json.loads((folder / "escalation_policies.json").read_text())
    policies["escalation_policies"].append({"name": "Nameless id", "escalation_rules": []})
    (folder / "escalation_policies.json").write_text(json.dumps(policies))
    services = json.loads((folder / "services.json").read_text())
    services["services"].append({"id": "", "name": "Ghost service"})
    (folder / "services.json").write_text(json.dumps(services))
    result = _read(folder)
    skipped = {(u.kind, u.name, u.reason) for u in result.unmapped}
    assert ("escalation_policy", "Nameless id", "no id") in skipped
    assert ("service", "Ghost service", "no id") in skipped
    assert "ghost-service" not in result.services
