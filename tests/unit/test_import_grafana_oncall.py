"""``commandpost import grafana-oncall`` from saved responses: what maps, what is reported, bad input.

The fixture folder (tests/fixtures/importers/grafana_oncall) is built from the documented shapes of
Grafana OnCall's public API: two pages of users and of shifts, three calendar schedules with levels,
restriction-shaped shifts and overrides, an iCal and a web schedule, chains with every kind of step,
integrations of five types and a second route. Who is on call is the round trip's business
(tests/service/test_import_grafana_oncall_roundtrip.py); here, the rest of the mapping.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from commandpost.errors import BadRequest, NotFound, PayloadTooLarge
from commandpost.importers import grafana_oncall
from commandpost.importers.folder import write_ops_folder
from commandpost.importers.grafana_oncall_shifts import restrictions
from commandpost.importers.result import ImportResult
from commandpost.importers.source import SavedResponses
from tests.importer_support import checked_config

FIXTURES = Path(__file__).parents[1] / "fixtures" / "importers" / "grafana_oncall"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TOKENS = (
    "mReAoNwDm0eMwKo1mTeTwYo",
    "Zq8VbXwQk1nT4pLr6sYd2Hj",
    "Kt3WmQ9xR2vN7bLp5cZs8Fd",
    "Hn6TqW2yP8mK4dVr9bXs3Lc",
)


def _read(folder: Path = FIXTURES, now: datetime = NOW) -> ImportResult:
    return grafana_oncall.read(SavedResponses(folder), now=now)


def _reasons(result: ImportResult, source_id: str) -> str:
    return " | ".join(u.reason for u in result.unmapped if u.source_id == source_id)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "saved"
    shutil.copytree(FIXTURES, folder)
    return folder


def _edit(folder: Path, endpoint: str, change: Any) -> None:
    path = folder / f"{endpoint}.json"
    body = json.loads(path.read_text())
    change(body["results"])
    path.write_text(json.dumps(body))


def test_people_keep_their_contacts_and_default_rules_and_teams_their_members() -> None:
    result = _read()
    people = {p["handle"]: p for p in result.people}
    assert list(people) == ["alice", "bob", "carol", "dave", "erin-31m-ops"]
    assert people["alice"]["contact"] == {
        "email": "alice@example.com",
        "phone": "+4915112345678",
        "slack_user": "UALICE123",
    }
    assert people["alice"]["timezone"] == "Europe/Berlin"
    assert people["alice"]["notification_rules"] == {
        "high": [{"methods": ["slack"]}, {"after": "5m", "methods": ["voice"]}]
    }
    assert people["dave"]["timezone"] == "UTC" and "contact" not in people["dave"]
    assert "\x00" not in people["erin-31m-ops"]["name"] and "\x1b" not in people["erin-31m-ops"]["name"]
    teams = {t["name"]: t["members"] for t in result.teams}
    assert teams == {
        "platform-sre": ["alice", "bob"],
        "payments": ["bob", "carol", "erin-31m-ops"],
        "general": [],
    }
    assert "telegram" in _reasons(result, "NALICE4")
    assert "'important' rules" in _reasons(result, "UALICE7Q2M4KX")
    assert "verified phone number the API does not show" in _reasons(result, "UBOB9D3K2LQ8W")
    assert "email 'dave at example'" in _reasons(result, "UDAVE2H8N6RJC")
    assert any(u.kind == "user" and "not an object" in u.reason for u in result.unmapped)


def test_what_a_schedule_cannot_carry_is_reported_shift_by_shift() -> None:
    result = _read()
    assert set(result.schedules) == {"platform-primary", "payments-follow-the-sun", "database", "pairs"}
    assert "monthly" in _reasons(result, "OMONTHLY0005")
    assert "several people on call at once" in _reasons(result, "OPAIRS0000006")
    assert "ended on 2026-09-01" in _reasons(result, "OENDED0000007")
    assert "did not return" in _reasons(result, "OMISSING00008")
    assert "in no schedule" in _reasons(result, "OORPHAN000015")
    assert "commandpost rotations do not end" in _reasons(result, "OHALFDAYNY012")
    assert "'ical' schedule" in _reasons(result, "SLEGACYICAL03")
    assert "final_shifts" in _reasons(result, "SWEBUI0000004")
    assert "ical_url_overrides" in _reasons(result, "SPAYMENTSFTS2")
    # the lunch cover overlaps the day shift at one level; days and nights only touch
    assert "overlaps 'Days' at the same level 1" in _reasons(result, "OLUNCH0000013")
    assert _reasons(result, "ONIGHTS000011") == ""


def test_levels_become_a_final_stack_and_short_shifts_restriction_windows() -> None:
    result = _read()
    platform = result.schedules["platform-primary"]
    assert platform["timezone"] == "Europe/Berlin"
    assert platform["layers"][-1] == {"name": "final", "stack": ["weekly-primary", "office-hours"]}
    office = platform["layers"][1]
    assert office["rotation"]["members"] == ["erin-31m-ops", "dave"]  # start_rotation_from_user_index 1
    assert office["rotation"]["handoff"] == {
        "time": "09:00",
        "weekday": "monday",
        "timezone": "Europe/Berlin",
    }
    assert office["restrictions"] == [
        {"days": ["monday", "tuesday", "wednesday", "thursday", "friday"], "start": "09:00", "end": "17:00"}
    ]
    payments = result.schedules["payments-follow-the-sun"]["layers"]
    assert [x["name"] for x in payments] == ["new-york-half-days", "days", "nights", "lunch-cover", "final"]
    nights = payments[2]  # level 0 first: the stack lists the lowest level first
    assert nights["restrictions"][0]["start"] == "20:00"
    assert nights["restrictions"][0]["end"] == "08:00"  # one window over midnight
    database = result.schedules["database"]["layers"]
    assert [x["name"] for x in database] == ["fortnight"]  # one layer: no stack
    assert database[0]["rotation"]["length"] == "14d" and database[0]["rotation"]["start"] == "2025-06-30"


def test_restriction_windows_over_midnight_and_longer_than_a_day() -> None:
    assert restrictions([(4, 20 * 3600, 12 * 3600)]) == [
        {"days": ["friday"], "start": "20:00", "end": "08:00"}
    ]
    assert restrictions([(5, 18 * 3600, 36 * 3600)]) == [
        {"days": ["sunday"], "start": "18:00", "end": "06:00"},
        {"days": ["saturday"], "start": "18:00", "end": "18:00"},
    ]
    assert restrictions([(0, 9 * 3600 + 30 * 60, 3600), (2, 9 * 3600 + 30 * 60, 3600)]) == [
        {"days": ["monday", "wednesday"], "start": "09:30", "end": "10:30"}
    ]


def test_overrides_are_runtime_data_on_the_layer_escalations_page() -> None:
    result = _read()
    assert [(o.schedule, o.layer, o.person, o.start, o.end) for o in result.overrides] == [
        (
            "platform-primary",
            "final",
            "bob",
            datetime(2026, 12, 20, 7, 0, tzinfo=UTC),  # 08:00 Europe/Berlin
            datetime(2026, 12, 21, 7, 0, tzinfo=UTC),
        )
    ]
    assert "ended on 2026-03-02" in _reasons(result, "OOVERRIDEOLD4")
    assert "pages 2 people at once" in _reasons(result, "OPAIROVER0017")


def test_a_schedules_one_shift_of_pairs_is_a_layer_per_position_and_escalations_page_both() -> None:
    result = _read()
    layers = result.schedules["pairs"]["layers"]
    assert [(x["name"], x["rotation"]["members"]) for x in layers] == [
        ("pair-rota-1", ["alice", "carol"]),
        ("pair-rota-2", ["bob", "erin-31m-ops"]),
    ]
    payments = result.escalation["grafana-alerting"]
    assert payments["severity_routing"]["SEV1"]["levels"][1]["targets"] == [
        "database-oncall",
        "pairs-pair-rota-1-oncall",
        "pairs-pair-rota-2-oncall",
    ]
    assert payments["targets"]["pairs-pair-rota-2-oncall"] == {"schedule": "pairs", "layer": "pair-rota-2"}
    # beside other shifts a pair cannot be exact: a stack pages one person
    assert "exact only as its schedule's one shift" in _reasons(result, "OPAIRS0000006")


def test_chains_become_levels_with_waits_repeats_and_reported_steps() -> None:
    result = _read()
    prometheus = result.escalation["prometheus"]
    route = prometheus["severity_routing"]["SEV1"]
    assert route == prometheus["severity_routing"]["SEV2"]
    assert route["levels"] == [
        {"targets": ["platform-primary-oncall"]},
        {"targets": ["alice"], "after": "5m"},
        {"targets": ["platform-sre"], "after": "15m"},
    ]
    assert route["repeat"] == 5
    assert prometheus["targets"]["platform-primary-oncall"] == {
        "schedule": "platform-primary",
        "layer": "final",
    }
    assert prometheus["targets"]["platform-sre"] == {"team": "platform-sre"}
    assert "important" in _reasons(result, "E3PERSONS0003")
    assert "Slack user group" in _reasons(result, "E4GROUP000004")
    assert "never reached" in _reasons(result, "E8RESOLVE0008")
    payments = result.escalation["grafana-alerting"]
    assert payments["targets"]["database-oncall"] == {"schedule": "database", "layer": "fortnight"}
    # one chain behind two integrations: two policies, each step reported once
    assert result.escalation["zabbix-prod"]["severity_routing"] == payments["severity_routing"]
    assert _reasons(result, "E12WINDOW0012").count("time window") == 1
    assert "not imported" in _reasons(result, "E13ICAL000013")
    assert "no integration's default route" in _reasons(result, "FUNUSED000003")


def test_each_integration_is_a_service_and_its_old_url_token_is_masked() -> None:
    result = _read()
    services = result.services
    assert set(services) == {"prometheus", "grafana-alerting", "zabbix-prod", "deploy-webhook"}
    assert services["prometheus"]["integrations"] == [
        {"name": "prometheus-alertmanager", "source": "alertmanager"}
    ]
    assert services["grafana-alerting"]["integrations"][0]["source"] == "grafana"
    assert services["zabbix-prod"]["owner"] == "general"
    assert "escalation_policy" not in services["deploy-webhook"]
    assert "no escalation chain" in _reasons(result, "CWEBHOOK00005")
    assert "direct_paging" in _reasons(result, "CDIRECT000004")
    assert "severity=critical" in _reasons(result, "RCRITICAL0001")
    old = {i.service: (i.source, i.vendor_type, i.old_key, i.note) for i in result.integrations}
    assert old["prometheus"] == ("alertmanager", "alertmanager", "…TwYo", "")
    assert "adapt the sender" in old["zabbix-prod"][3]


def test_the_written_folder_passes_check_and_holds_no_old_token(tmp_path: Path) -> None:
    result = _read()
    loaded = write_ops_folder(result, tmp_path / "ops", now=NOW)
    assert loaded.errors == []
    config = checked_config(tmp_path / "ops")
    assert {s.name for s in config.schedules} == {
        "platform-primary",
        "payments-follow-the-sun",
        "database",
        "pairs",
    }
    written = b"".join(p.read_bytes() for p in (tmp_path / "ops").rglob("*") if p.is_file())
    assert not [t for t in TOKENS if t.encode() in written]
    readme = (tmp_path / "ops" / "README.md").read_text()
    assert "| prometheus | alertmanager | …TwYo | prometheus-alertmanager | alertmanager |" in readme
    assert "commandpost override add --schedule platform-primary --layer final --person bob" in readme


def test_a_weekly_shift_on_chosen_days_starting_mid_week_in_the_future_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path)

    def later(shifts: list[Any]) -> None:
        office = next(s for s in shifts if s["id"] == "ODAYTIMEWEEK2")
        office["start"] = office["rotation_start"] = "2027-01-06T09:00:00"  # a Wednesday

    _edit(folder, "on_call_shifts", later)
    result = _read(folder)
    assert "middle of a week in the future" in _reasons(result, "ODAYTIMEWEEK2")
    assert [x["name"] for x in result.schedules["platform-primary"]["layers"]] == ["weekly-primary"]


def test_unknown_references_are_report_lines_not_errors(tmp_path: Path) -> None:
    folder = _copy(tmp_path)

    def ghost(shifts: list[Any]) -> None:
        next(s for s in shifts if s["id"] == "OBIWEEKLY0014")["rolling_users"].append(["UGHOST0000000"])

    _edit(folder, "on_call_shifts.2", ghost)
    _edit(folder, "escalation_policies", lambda steps: steps[2].update(persons_to_notify=["UNOBODY"]))
    result = _read(folder)
    assert "UGHOST0000000, who is not among the users read" in _reasons(result, "OBIWEEKLY0014")
    assert "database" not in result.schedules
    assert "UNOBODY" in _reasons(result, "E3PERSONS0003")
    assert "not imported" in _reasons(result, "E11SCHEDULE11")


def test_optional_endpoints_may_be_missing_required_ones_not(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "routes.json").unlink()
    (folder / "personal_notification_rules.json").unlink()
    result = _read(folder)
    assert {u.source_id for u in result.unmapped if u.kind == "endpoint"} == {
        "routes",
        "personal_notification_rules",
    }
    assert "notification_rules" not in result.people[0]
    (folder / "escalation_policies.json").unlink()
    with pytest.raises(NotFound, match=r"escalation_policies\.json: missing"):
        _read(folder)


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b'{"results": [', BadRequest, r"users\.json: not JSON"),
        (b"[" * 5000 + b"]" * 5000, BadRequest, r"users\.json: not JSON"),
        (b'{"count": 1, "results": {"id": "U1"}}', BadRequest, r"/users: not a Grafana OnCall list page"),
        (b'"a string"', BadRequest, r"/users: not a Grafana OnCall list page"),
        (b'"\x00"', BadRequest, r"users\.json: not JSON"),
    ],
)
def test_broken_files_name_the_file(
    tmp_path: Path, content: bytes, error: type[Exception], message: str
) -> None:
    folder = _copy(tmp_path)
    (folder / "users.json").write_bytes(content)
    with pytest.raises(error, match=message):
        _read(folder)


def test_a_40_mb_file_is_refused_unread(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    with (folder / "on_call_shifts.json").open("wb") as f:
        f.write(b'{"results": [' + b'{"id": "x"},' * (40 * 1024 * 1024 // 12) + b"{}]}")
    with pytest.raises(PayloadTooLarge, match=r"on_call_shifts\.json: more than"):
        _read(folder)


def test_names_with_nul_and_control_characters_become_clean_slugs(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder, "schedules", lambda s: s[0].update(name="Plat\x00form\x1b[2J\u202e primary"))
    _edit(folder, "integrations", lambda s: s[0].update(name="\x07Prom|etheus <b>"))
    result = _read(folder)
    assert "platform-2j-primary" in result.schedules
    assert "prom-etheus-b" in result.services
    loaded = write_ops_folder(result, tmp_path / "ops", now=NOW)
    assert loaded.errors == []
    text = b"".join(p.read_bytes() for p in (tmp_path / "ops").rglob("*") if p.is_file())
    assert b"\x00" not in text and b"\x1b" not in text and b"\x07" not in text
    assert (
        orjson.loads((tmp_path / "ops" / ".import" / "report.json").read_bytes())["vendor"]
        == "grafana-oncall"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", 10**30),
        ("duration", True),
        ("interval", 10**30),
        ("start", "9999-12-31T23:59:59"),
        ("start", "0001-01-01T00:00:00"),
        ("frequency", ["weekly"]),
        ("by_day", [["MO"], 5, None]),
        ("by_day", 5),
        ("rolling_users", [[None], "UALICE7Q2M4KX", {}]),
        ("time_zone", {"name": "UTC"}),
    ],
)
def test_absurd_shift_fields_are_report_lines(tmp_path: Path, field: str, value: Any) -> None:
    folder = _copy(tmp_path)
    _edit(folder, "on_call_shifts", lambda shifts: shifts[0].update({field: value}))
    result = _read(folder)
    assert _reasons(result, "OWEEKLYROTA01") != "" or field == "by_day"
    assert write_ops_folder(result, tmp_path / "ops", now=NOW).errors == []


def test_absurd_waits_are_report_lines(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(folder, "escalation_policies", lambda steps: steps[1].update(duration=10**30))
    _edit(
        folder, "personal_notification_rules", lambda rules: rules[1].update(duration=10**30, type=["wait"])
    )
    result = _read(folder)
    assert "no duration in seconds" in _reasons(result, "E2WAIT0000002")
    assert "no commandpost method" in _reasons(result, "NALICE2")
    assert write_ops_folder(result, tmp_path / "ops", now=NOW).errors == []
