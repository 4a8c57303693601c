"""Grafana unified alerting webhooks: Grafana's own examples, resolved alerts, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from commandpost.alerts.sources import grafana
from commandpost.alerts.sources.alertmanager import fingerprint
from commandpost.alerts.sources.grafana import parse_grafana
from commandpost.errors import BadRequest, ValidationFailed

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "grafana"


def payload(name: str = "webhook_docs_example.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def parse(data: dict[str, Any]) -> list[Any]:
    return parse_grafana(json.dumps(data).encode())


def test_docs_example_gives_one_trigger_per_alert() -> None:
    first, second = parse(payload())
    assert (first.action, second.action) == ("trigger", "trigger")
    assert (first.dedup_key, second.dedup_key) == ("c6eadffa33fcdf37", "bc97ff14869b13e3")
    assert first.alertname == "High memory usage"
    assert first.summary == "This alert was triggered for zone us-1"
    assert first.labels == {"alertname": "High memory usage", "team": "blue", "zone": "us-1"}
    assert first.annotations["description"] == "The system has high memory usage"
    assert first.runbook_url == "https://myrunbook.com/runbook/1234"
    assert first.group_key == "{}:{}"
    assert first.starts_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    assert first.ends_at is None  # Go's zero time while firing
    assert first.details == {
        "receiver": "My Super Webhook",
        "org_id": 1,
        "values": {"B": 44.23943737541908, "C": 1},
    }
    # Empty dashboard/panel URLs are not links.
    assert [(link.text, link.href) for link in first.links] == [
        ("Grafana alert rule", "https://play.grafana.org/alerting/1afz29v7z/edit"),
        (
            "Silence in Grafana",
            "https://play.grafana.org/alerting/silence/new?alertmanager=grafana"
            "&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
        ),
        ("Grafana", "https://play.grafana.org/"),
    ]
    assert first.raw == payload()["alerts"][0]


def test_dashboard_and_panel_urls_are_links() -> None:
    [event] = parse(payload("webhook_alerting_test.json"))
    texts = {link.text: link.href for link in event.links}
    assert texts["Grafana dashboard"] == "http://localhost/d/abcd?orgId=1"
    assert texts["Grafana panel"] == "http://localhost/d/abcd?orgId=1&viewPanel=efgh"
    assert texts["Silence in Grafana"].startswith("http://localhost/alerting/silence/new")
    assert event.group_key == "alertname"
    assert event.starts_at is None  # "0001-01-01T00:00:00Z"
    assert event.summary == "alert1"  # no summary/description annotation: the alertname
    assert "values" not in event.details  # null


def test_resolved_alert_resolves_with_its_end() -> None:
    data = payload()
    data["status"], data["state"] = "resolved", "ok"
    for alert in data["alerts"]:
        alert["status"], alert["endsAt"] = "resolved", "2021-10-12T10:01:03.157076+02:00"
    events = parse(data)
    assert [e.action for e in events] == ["resolve", "resolve"]
    assert events[0].ends_at == datetime(2021, 10, 12, 8, 1, 3, 157076, tzinfo=UTC)


def test_mixed_group_each_alert_keeps_its_own_status() -> None:
    data = payload()
    data["alerts"][1]["status"] = "resolved"
    assert [e.action for e in parse(data)] == ["trigger", "resolve"]


@pytest.mark.parametrize(
    ("status", "state", "action"),
    [
        ("resolved", None, "resolve"),
        (None, "ok", "resolve"),
        (None, "alerting", "trigger"),
        ("firing", "ok", "trigger"),
    ],
)
def test_without_per_alert_status_the_top_level_decides(
    status: str | None, state: str | None, action: str
) -> None:
    data = payload()
    data.pop("status"), data.pop("state")
    if status:
        data["status"] = status
    if state:
        data["state"] = state
    for alert in data["alerts"]:
        del alert["status"]
    assert {e.action for e in parse(data)} == {action}


def test_missing_fingerprint_is_computed_from_labels_like_alertmanager() -> None:
    data = payload()
    del data["alerts"][0]["fingerprint"]
    first, _ = parse(data)
    assert first.dedup_key == fingerprint(data["alerts"][0]["labels"])


def test_only_http_links_are_kept() -> None:
    data = payload()
    data["alerts"][0]["generatorURL"] = "javascript:alert(1)"
    data["externalURL"] = "file:///etc/passwd"
    first, _ = parse(data)
    assert [link.text for link in first.links] == ["Silence in Grafana"]


def test_registry_entry_point() -> None:
    assert len(grafana.parse(json.dumps(payload()).encode())) == 2


def _without(key: str) -> dict[str, Any]:
    data = payload()
    del data[key]
    return data


def _alert_change(**changes: Any) -> dict[str, Any]:
    data = payload()
    data["alerts"][1].update(changes)
    return data


BAD: list[tuple[str, Any, str]] = [
    ("no alerts", _without("alerts"), "alerts: is required"),
    ("alerts not a list", {**payload(), "alerts": {"a": 1}}, "alerts: expected an array, got object"),
    ("empty alerts", {**payload(), "alerts": []}, "alerts: is empty"),
    ("alert not an object", {**payload(), "alerts": ["firing"]}, "alerts[0]: expected an object, got string"),
    ("unknown alert status", _alert_change(status="pending"),
     "alerts[1].status: 'pending' is not one of firing, resolved"),
    ("status not a string", _alert_change(status=1), "alerts[1].status: expected a string, got number"),
    ("label not a string", _alert_change(labels={"alertname": "x", "zone": 3}),
     "alerts[1].labels.zone: expected a string, got number"),
    ("labels not an object", _alert_change(labels=["x"]),
     "alerts[1].labels: expected an object of strings, got array"),
    ("annotation not a string", _alert_change(annotations={"summary": None}),
     "alerts[1].annotations.summary: expected a string, got null"),
    ("bad startsAt", _alert_change(startsAt="yesterday"),
     "alerts[1].startsAt: 'yesterday' is not an RFC 3339"),
    ("fingerprint not a string", _alert_change(fingerprint=123),
     "alerts[1].fingerprint: expected a string, got number"),
    ("values not an object", _alert_change(values=[1, 2]),
     "alerts[1].values: expected an object of numbers, got array"),
    ("no labels, no fingerprint", _alert_change(labels={}, fingerprint=""), "alerts[1].labels: is required"),
    ("unknown state", {**payload(), "state": "paused"}, "state: 'paused' is not one of alerting, ok"),
    ("wrong version", {**payload(), "version": "2"}, "version: '2' is not supported"),
    ("orgId a string", {**payload(), "orgId": "1"}, "orgId: expected an integer, got string"),
    ("groupKey an object", {**payload(), "groupKey": {}}, "groupKey: expected a string, got object"),
    ("legacy alerting payload", {"title": "[Alerting] x", "ruleId": 1, "evalMatches": []},
     "legacy alerting is not supported"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "data", "text"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_422_saying_where(case: str, data: Any, text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(data)
    assert text in info.value.message or any(text in d for d in info.value.details)


def test_every_problem_is_reported_at_once() -> None:
    data = payload()
    data["alerts"][0]["labels"] = {"alertname": 1}
    data["alerts"][1]["status"] = "weird"
    with pytest.raises(ValidationFailed) as info:
        parse(data)
    assert info.value.details == [
        "alerts[0].labels.alertname: expected a string, got number",
        "alerts[1].status: 'weird' is not one of firing, resolved",
    ]


@pytest.mark.parametrize(
    ("body", "error", "text"),
    [
        (b"", BadRequest, "empty"),
        (b"{", BadRequest, "not valid JSON"),
        (b"[]", ValidationFailed, "must be a JSON object"),
        (b'{"alerts": ' + b"[" * 1000 + b"]" * 1000 + b"}", BadRequest, "nests deeper"),
    ],
)
def test_unparseable_bodies(body: bytes, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        parse_grafana(body)
