"""``commandpost import opsgenie``: the mapping of a saved account, hostile input, the live read
against the stand-in Opsgenie (tests/standins/opsgenie_rest.py) and the real command."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from commandpost.errors import BadRequest, CommandpostError, NotFound, PayloadTooLarge, Unauthorized
from commandpost.importers import opsgenie
from commandpost.importers.folder import write_ops_folder
from commandpost.importers.result import ImportResult
from commandpost.importers.source import SavedResponses
from tests.importer_support import checked_config
from tests.standins.opsgenie_rest import OpsgenieStandIn

FIXTURES = Path(__file__).parents[1] / "fixtures" / "importers" / "opsgenie"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KEY = "eb24a1b2-faa2-4ba2-a551-0123456789ab"


def _read(folder: Path = FIXTURES) -> ImportResult:
    return opsgenie.read(SavedResponses(folder), now=NOW)


def _why(result: ImportResult, kind: str, name: str) -> list[str]:
    return [u.reason for u in result.unmapped if u.kind == kind and u.name == name]


@pytest.fixture
def account(tmp_path: Path) -> Path:
    """A copy of the fixture account a test may spoil."""
    return Path(shutil.copytree(FIXTURES, tmp_path / "account"))


@pytest.fixture
def standin() -> Iterator[OpsgenieStandIn]:
    server = OpsgenieStandIn(FIXTURES, api_key=KEY, max_limit=2)
    yield server
    server.close()


def test_the_imported_account_passes_check(tmp_path: Path) -> None:
    result = _read()
    loaded = write_ops_folder(result, tmp_path / "ops", now=NOW)
    assert loaded.errors == []
    config = checked_config(tmp_path / "ops")
    assert sorted(s.name for s in config.schedules) == ["payments-primary", "platform"]
    assert sorted(s.name for s in config.services) == ["checkout-api", "ledger", "platform-team"]
    assert result.counts()["overrides"] == 6


def test_people_carry_their_contacts_and_the_create_alert_steps() -> None:
    people = {p["handle"]: p for p in _read().people}
    assert sorted(people) == ["alice-archer", "bob-baker", "carol-chen", "dave-diaz", "eve-31mevans"]
    alice = people["alice-archer"]
    assert alice["contact"] == {
        "email": "alice@example.com",
        "sms": "+4915123456789",
        "phone": "+4915123456789",
    }
    assert alice["notification_rules"] == {
        "high": [
            {"after": "0m", "methods": ["email"]},
            {"after": "5m", "methods": ["sms"]},
            {"after": "10m", "methods": ["voice"]},
        ]
    }
    assert people["bob-baker"]["contact"] == {"email": "bob@example.com", "sms": "+12025550143"}
    assert "\x00" not in people["eve-31mevans"]["name"] and "\x1b" not in people["eve-31mevans"]["name"]
    assert people["eve-31mevans"]["timezone"] == "Europe/Berlin"  # Mars/Olympus → the org's, reported


def test_teams_keep_their_members_and_the_admin_leads() -> None:
    teams = {t["name"]: t for t in _read().teams}
    assert teams["payments"] == {
        "name": "payments",
        "members": ["alice-archer", "bob-baker", "carol-chen"],
        "lead": "alice-archer",
    }
    assert teams["platform-team"]["lead"] == "dave-diaz"


def test_rotations_become_layers_with_their_turns_handoffs_and_windows() -> None:
    schedule = _read().schedules["payments-primary"]
    layers = {layer["name"]: layer for layer in schedule["layers"]}
    assert schedule["timezone"] == "Europe/Berlin"
    assert sorted(layers) == ["nights", "six-hours", "weekdays", "weekends", "with-a-gap"]  # 'old' ended
    assert layers["weekdays"]["rotation"] == {
        "members": ["alice-archer", "bob-baker", "carol-chen"],
        "length": "weekly",
        "start": "2026-01-05",
        "handoff": {"weekday": "monday", "time": "09:00", "timezone": "Europe/Berlin"},
    }
    assert layers["weekdays"]["restrictions"] == [
        {"days": ["monday"], "start": "09:00", "end": "00:00"},
        {"days": ["tuesday", "wednesday", "thursday"], "start": "00:00", "end": "00:00"},
        {"days": ["friday"], "start": "00:00", "end": "17:00"},
    ]
    assert layers["nights"]["rotation"]["length"] == "2d"
    assert layers["nights"]["restrictions"] == [{"start": "22:00", "end": "06:30"}]
    assert layers["six-hours"]["rotation"]["length"] == "6h"
    assert layers["weekends"]["rotation"]["length"] == "14d"


def test_an_escalation_pages_every_layer_of_a_schedule_and_waits_between_levels() -> None:
    policy = _read().escalation["checkout-api"]
    route = policy["severity_routing"]["SEV1"]
    assert policy["service"] == "checkout-api" and policy["severity_routing"]["SEV2"] == route
    assert route["levels"][0] == {
        "targets": [
            f"payments-primary-{x}" for x in ("weekdays", "nights", "six-hours", "weekends", "with-a-gap")
        ]
    }
    assert route["levels"][1] == {"targets": ["dave-diaz", "team-platform-team"], "after": "15m"}
    assert route["repeat"] == 2
    assert policy["targets"]["team-platform-team"] == {"team": "platform-team"}
    platform = _read().escalation["platform-team"]["severity_routing"]["SEV1"]["levels"]
    assert platform[1] == {
        "targets": ["alice-archer", "bob-baker", "carol-chen"],
        "after": "1m",
    }  # team, users


def test_services_integrations_and_heartbeats() -> None:
    result = _read()
    checkout, platform = result.services["checkout-api"], result.services["platform-team"]
    assert checkout["owner"] == "payments" and checkout["escalation_policy"] == "checkout-api"
    assert checkout["integrations"] == [
        {"name": "checkout-api-prometheus", "source": "alertmanager"},
        {"name": "checkout-api-datadog", "source": "generic"},
    ]
    assert platform["integrations"] == [
        {"name": "platform-team-default-api", "source": "generic"},
        {"name": "platform-team-grafana", "source": "grafana"},
    ]
    assert platform["heartbeats"] == [{"name": "nightly-backup", "interval": "1d"}]
    keys = {i.integration: i.old_key for i in result.integrations}
    assert keys["checkout-api-prometheus"] == "…c889" and keys["platform-team-default-api"] == "…cc33"
    assert not any("eb24a1b2" in json.dumps(s) for s in result.services.values())


def test_overrides_are_current_and_future_ones_per_rotation() -> None:
    overrides = _read().overrides
    current = [o for o in overrides if o.person == "carol-chen"]
    assert len(current) == 5 and {o.schedule for o in current} == {"payments-primary"}
    assert [(o.layer, o.person) for o in overrides if o.person == "dave-diaz"] == [("weekdays", "dave-diaz")]
    assert not [o for o in overrides if o.person == "bob-baker"]  # the past one


def test_the_report_says_what_was_left_out_and_why() -> None:
    result = _read()
    assert _why(result, "rotation", "Payments Primary: old") == [
        "ended 2026-06-01T08:00:00+00:00: not imported"
    ]
    assert "does not end" in _why(result, "rotation_end", "Payments Primary: weekends")[0]
    assert "empty slot" in _why(result, "rotation_participant", "Payments Primary: with a gap: none")[0]
    assert "team slot" in _why(result, "rotation_participant", "Platform: team slot: payments")[0]
    assert "notifyType next" in _why(result, "escalation_rule", "payments_escalation: Payments Primary")[0]
    assert "no service routes to it" in _why(result, "escalation_policy", "zz_legacy")[0]
    assert "default routing rule" in _why(result, "service", "checkout-api")[0]
    assert "first escalation by name" in _why(result, "service", "platform-team")[0]
    assert "closeAlertAfterAll has no equivalent" in _why(result, "escalation_repeat", "payments_escalation")
    assert "Nowhere/City" in _why(result, "schedule", "Broken zone")[0]
    assert _why(result, "user", "Mallory") == ["blocked in Opsgenie: not imported"]
    assert "not an imported user" in _why(result, "override", "Payments Primary: Platform Team")[0]
    assert _why(result, "integration", "Old webhook") == ["disabled in Opsgenie: not imported"]
    assert "outside 30s–31d" in _why(result, "heartbeat", "too-often")[0]
    assert (
        len(_why(result, "escalation_rule", "payments_escalation: Payments Primary")) == 1
    )  # once, not per service


def test_broken_huge_deep_or_missing_files_are_named(account: Path) -> None:
    (account / "escalations.json").write_text('{"data": [')
    with pytest.raises(BadRequest, match=r"escalations\.json: not JSON"):
        _read(account)
    (account / "escalations.json").write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(BadRequest, match=r"escalations\.json: not JSON"):
        _read(account)
    (account / "escalations.json").write_text('{"data": "nope"}')
    with pytest.raises(BadRequest, match="escalations: a page without a 'data' list"):
        _read(account)
    (account / "escalations.json").unlink()
    with pytest.raises(NotFound, match=r"escalations\.json: missing"):
        _read(account)
    (account / "escalations.json").write_bytes(b'{"data": []}' + b" " * (40 * 1024 * 1024))
    with pytest.raises(PayloadTooLarge, match=r"escalations\.json"):
        _read(account)


def test_objects_of_the_wrong_shape_become_report_lines(account: Path, tmp_path: Path) -> None:
    schedules = json.loads((account / "schedules.json").read_text())
    rotation = schedules["data"][0]["rotations"][0]
    schedules["data"] += [
        "not an object",
        {
            "id": "s9",
            "name": "\x00bad\x07",
            "timezone": "UTC",
            "rotations": [{"id": "x", "type": "monthly"}, 7],
        },
    ]
    schedules["data"][0]["rotations"][1]["length"] = 10**9
    rotation["participants"].append({"type": "user", "id": "nobody", "username": "nobody@example.com"})
    (account / "schedules.json").write_text(json.dumps(schedules))
    escalations = json.loads((account / "escalations.json").read_text())
    escalations["data"][0]["rules"].append({"delay": {"timeAmount": "soon"}, "recipient": {"type": "robot"}})
    (account / "escalations.json").write_text(json.dumps(escalations))
    result = _read(account)
    assert "no readable startDate" in _why(result, "rotation", "bad: x")[0]
    assert "× 1000000000: not daily" in _why(result, "rotation", "Payments Primary: nights")[0]
    assert _why(result, "schedule", "bad") == ["no rotation could be imported (see the rotation lines)"]
    assert _why(result, "rotation_participant", "Payments Primary: weekdays: nobody@example.com")
    assert write_ops_folder(result, tmp_path / "ops", now=NOW).errors == []


def test_the_live_read_equals_the_saved_one(standin: OpsgenieStandIn) -> None:
    waits: list[float] = []
    standin.throttle(1, period=3)
    standin.fail(1)
    live = opsgenie.read(opsgenie.live(KEY, base_url=standin.url, sleep=waits.append), now=NOW)
    saved = _read()
    assert live.people == saved.people and live.teams == saved.teams
    assert live.schedules == saved.schedules and live.escalation == saved.escalation
    assert live.services == saved.services and live.overrides == saved.overrides
    assert waits[0] == 3.0 and len(waits) == 2  # the documented wait, then a backoff for the 500
    users = [path for path, _ in standin.requests if path.startswith("/v2/users?")]
    assert len(users) == 3 and users[-1].endswith("offset=4")  # six users, two a page: the links followed
    assert any(path.startswith("/v1/services") for path, _ in standin.requests)
    assert {auth for _, auth in standin.requests} == {f"GenieKey {KEY}"}


def test_a_refused_key_is_a_clear_error_without_the_key(standin: OpsgenieStandIn) -> None:
    with pytest.raises(Unauthorized) as caught:
        opsgenie.read(opsgenie.live("wrong-key-0123456789", base_url=standin.url), now=NOW)
    assert "the token was refused: Could not authenticate" in str(caught.value)
    assert "wrong-key" not in str(caught.value)


def test_the_import_command_writes_a_checked_folder(tmp_path: Path, standin: OpsgenieStandIn) -> None:
    from tests.cli_support import run_cli

    done = run_cli(["import", "opsgenie", str(FIXTURES), "--out", str(tmp_path / "saved")])
    assert done.returncode == 0, done.stderr
    assert "passes check" in done.stderr
    assert "| Payments Primary: old | r4 | ended" in (tmp_path / "saved" / "README.md").read_text()
    done = run_cli(
        ["import", "opsgenie", "--api-url", standin.url, "--out", str(tmp_path / "live")],
        env={"COMMANDPOST_IMPORT_TOKEN": KEY},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "live" / "schedules" / "payments-primary.yaml").read_text().count("- name:") == 5
    assert KEY not in (tmp_path / "live" / "README.md").read_text()


def _spoil(node: Any, rng: random.Random) -> None:
    junk: list[Any] = [None, -5, "x", "\x00", [], {}, True, 1.5, [1, "a"], {"id": 3}, "monday", 10**30]
    keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
    for key in keys:
        if rng.random() < 0.08:
            node[key] = rng.choice(junk)
        else:
            _spoil(node[key], rng)


@pytest.mark.parametrize("seed", range(24))
def test_values_of_any_wrong_type_never_crash_the_import(account: Path, tmp_path: Path, seed: int) -> None:
    """A saved account with values swapped for junk at random: a clear error or report lines, and
    whatever is written passes check — never a TypeError half-way."""
    rng = random.Random(seed)
    for path in sorted(account.rglob("*.json")):
        body = json.loads(path.read_text())
        _spoil(body, rng)
        path.write_text(json.dumps(body))
    try:
        result = _read(account)
    except CommandpostError as exc:
        assert str(exc)
        return
    assert write_ops_folder(result, tmp_path / "ops", now=NOW).errors == []


def test_a_default_routing_rule_to_a_schedule_pages_its_layers(account: Path) -> None:
    rules = {"id": "rr9", "name": "Default Routing", "isDefault": True, "order": 0}
    rules["notify"] = {"type": "schedule", "id": "s2-a875e654-9b4e", "name": "Platform"}
    (account / "teams" / "t2-90098alp9-team").mkdir()
    (account / "teams" / "t2-90098alp9-team" / "routing-rules.json").write_text(json.dumps({"data": [rules]}))
    result = _read(account)
    route = result.escalation["platform-team"]["severity_routing"]["SEV1"]
    assert route == {"levels": [{"targets": ["platform-main", "platform-team-slot"]}]}
    assert _why(result, "service", "platform-team") == [
        "escalation: the team's default routing rule → schedule Platform (every rotation at once)"
    ]
    assert "no service routes to it" in _why(result, "escalation_policy", "platform_escalation")[0]
