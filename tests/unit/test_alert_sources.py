"""Source adapters on the real sample payloads (tests/fixtures/payloads) and on broken ones: no database."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from commandpost.alerts.intake import wire
from commandpost.alerts.sources import alertmanager, generic, pagerduty
from commandpost.errors import BadRequest, ValidationFailed
from tests.alert_support import PAYLOADS, load_jsonc


def dumps(value: object) -> bytes:
    return orjson.dumps(value)


# ---------------------------------------------------------------- PagerDuty Events v2


def test_pagerduty_documented_trigger():
    doc = load_jsonc("pagerduty_events_v2_enqueue.jsonc")[0]
    got = pagerduty.parse_event(dumps(doc))
    ev = got.event
    assert got.routing_key == "samplekeyhere"
    assert (ev.action, ev.dedup_key, ev.source_severity) == ("trigger", "samplekeyhere", "info")
    assert ev.summary == "Example alert on host1.example.com"
    assert ev.starts_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert ev.labels == {
        "source": doc["payload"]["source"],
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "deploy",
    }
    assert ev.alertname == "deploy" and ev.group_key == "prod-datapipe"
    assert ev.details["custom_details"] == {"ping time": "1500ms", "load avg": 0.75}
    assert ev.details["images"][0]["alt"] == "Example text"
    assert [link.href for link in ev.links] == ["https://example.com/", "https://monitoring.example.com"]
    assert "routing_key" not in ev.raw, "the integration key is a secret: never stored"


def test_pagerduty_acknowledge_and_resolve_samples():
    ack, resolve = load_jsonc("pagerduty_events_v2_enqueue.jsonc")[2:4]
    assert pagerduty.parse_event(dumps(ack)).event.action == "acknowledge"
    got = pagerduty.parse_event(dumps(resolve)).event
    assert (got.action, got.dedup_key) == ("resolve", "dedupkeyhere")


def test_pagerduty_generates_a_dedup_key_for_a_trigger_without_one():
    doc = load_jsonc("pagerduty_events_v2_enqueue.jsonc")[1]
    del doc["dedup_key"]
    first = pagerduty.parse_event(dumps(doc)).event.dedup_key
    second = pagerduty.parse_event(dumps(doc)).event.dedup_key
    assert len(first) == 32 and first != second


def test_pagerduty_alertname_and_runbook_from_custom_details_or_links():
    doc = {
        "routing_key": "k",
        "event_action": "trigger",
        "payload": {
            "summary": "s",
            "source": "x",
            "severity": "error",
            "class": "disk",
            "custom_details": {"alertname": "DBConnectionsExhausted", "runbook_url": "https://rb/x"},
        },
    }
    ev = pagerduty.parse_event(dumps(doc)).event
    assert (ev.alertname, ev.runbook_url) == ("DBConnectionsExhausted", "https://rb/x")
    doc["payload"]["custom_details"] = {}
    doc["links"] = [
        {"href": "https://wiki/a", "text": "dashboard"},
        {"href": "https://wiki/b", "text": "Runbook"},
    ]
    ev = pagerduty.parse_event(dumps(doc)).event
    assert (ev.alertname, ev.runbook_url) == ("disk", "https://wiki/b")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d.pop("routing_key"), "routing_key: is required"),
        (lambda d: d.update(event_action="explode"), "event_action: 'explode' is not one of"),
        (lambda d: d.update(event_action="resolve", dedup_key=None), "dedup_key: is required"),
        (lambda d: d.update(dedup_key="x" * 256), "dedup_key: is 256 characters long; the limit is 255"),
        (lambda d: d.pop("payload"), "payload: is required for event_action=trigger"),
        (lambda d: d.update(payload=[]), "payload: expected an object, got array"),
        (lambda d: d["payload"].pop("summary"), "payload.summary: is required"),
        (lambda d: d["payload"].update(summary="s" * 1025), "payload.summary: is 1025 characters"),
        (lambda d: d["payload"].update(severity="fatal"), "payload.severity: 'fatal' is not one of"),
        (lambda d: d["payload"].update(severity=3), "payload.severity: expected a string, got number"),
        (
            lambda d: d["payload"].update(timestamp="yesterday"),
            "payload.timestamp: 'yesterday' is not an RFC",
        ),
        (lambda d: d.update(links=[{"text": "no href"}]), "links[0].href: is required"),
        (lambda d: d.update(images="x"), "images: expected an array, got string"),
    ],
)
def test_pagerduty_invalid_events_say_what_and_where(change, error):
    doc = load_jsonc("pagerduty_events_v2_enqueue.jsonc")[1]
    change(doc)
    with pytest.raises(ValidationFailed) as caught:
        pagerduty.parse_event(dumps(doc))
    assert any(d.startswith(error) for d in caught.value.details), caught.value.details


def test_pagerduty_lists_every_problem_at_once():
    with pytest.raises(ValidationFailed) as caught:
        pagerduty.parse_event(dumps({"event_action": "trigger", "payload": {"severity": "bad"}}))
    assert len(caught.value.details) == 4  # routing_key, summary, source, severity
    assert "(and 3 more)" in caught.value.message


def test_pagerduty_change_events_samples():
    for doc in load_jsonc("pagerduty_change_events_v2.jsonc"):
        got = pagerduty.parse_change(dumps(doc))
        assert got.event.kind == "change" and got.event.summary == doc["payload"]["summary"]
        assert got.event.links[0].href == doc["links"][0]["href"]
    with pytest.raises(ValidationFailed):
        pagerduty.parse_change(dumps({"routing_key": "k", "payload": {"source": "ci"}}))


# ---------------------------------------------------------------- Alertmanager


def test_alertmanager_fingerprint_is_alertmanagers_own():
    """The 0.25 sample was captured from a real Alertmanager: our FNV-1a must give its fingerprint."""
    doc = orjson.loads((PAYLOADS / "alertmanager-0.25-firing.json").read_bytes())
    alert = doc["alerts"][0]
    assert alertmanager.fingerprint(alert["labels"]) == alert["fingerprint"] == "7b571dabecb56203"
    assert alertmanager.fingerprint({}) == "cbf29ce484222325"


def test_alertmanager_real_025_payload():
    (ev,) = alertmanager.parse((PAYLOADS / "alertmanager-0.25-firing.json").read_bytes())
    assert (ev.action, ev.dedup_key, ev.alertname) == ("trigger", "7b571dabecb56203", "WebhookBacklogHigh")
    assert ev.group_key == '{}:{alertname="WebhookBacklogHigh", service="payment-platform"}'
    assert ev.runbook_url == "https://runbooks.internal/payment-webhook-backlog"
    assert ev.summary == "Payment webhook backlog 1500 > 1000" and ev.ends_at is None
    assert ev.starts_at == datetime(2026, 11, 27, 6, 6, 46, 293000, tzinfo=UTC)
    assert ev.links[0].text == "Prometheus" and ev.raw["fingerprint"] == "7b571dabecb56203"


def test_alertmanager_puts_each_of_an_alerts_fields_in_the_events_field_for_it():
    (ev,) = alertmanager.parse((PAYLOADS / "alertmanager-0.25-firing.json").read_bytes())
    assert (ev.source_severity, ev.idempotency_key, ev.kind) == ("page", None, "alert")
    assert ev.details == {"receiver": "cp"} and ev.labels["alertname"] == ev.alertname == "WebhookBacklogHigh"
    assert ev.annotations["summary"] == ev.summary and ev.links[-1].text == "Alertmanager"


def test_alertmanager_firing_and_resolved_in_one_request():
    doc, old = load_jsonc("alertmanager_webhook_v4.jsonc")
    doc["truncatedAlerts"] = 3
    firing, resolved = alertmanager.parse(dumps(doc))
    assert (firing.action, resolved.action) == ("trigger", "resolve")
    assert resolved.ends_at == datetime(2026, 8, 20, 10, 2, 30, tzinfo=UTC)
    assert firing.details["truncated_alerts"] == 3
    # a 2018 Alertmanager: no per-alert status or fingerprint, nanosecond timestamps
    events = alertmanager.parse(dumps(old))
    assert [e.action for e in events] == ["trigger", "trigger"]
    assert events[0].dedup_key == alertmanager.fingerprint({"alertname": "high_memory_load"})
    assert events[0].summary == "Server High Memory usage"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d.update(version="3"), "version: '3' is not supported"),
        (lambda d: d.pop("alerts"), "alerts: is required"),
        (lambda d: d.update(alerts={}), "alerts: expected an array, got object"),
        (lambda d: d["alerts"][0].update(labels={}), "alerts[0].labels: is required"),
        (
            lambda d: d["alerts"][1]["labels"].update(severity=2),
            "alerts[1].labels.severity: expected a string",
        ),
        (lambda d: d["alerts"][0].update(startsAt=12), "alerts[0].startsAt: expected an RFC 3339"),
        (lambda d: d["alerts"][0].update(status="burning"), "alerts[0].status: 'burning' is not one of"),
        (lambda d: d.update(truncatedAlerts="x"), "truncatedAlerts: expected an integer"),
    ],
)
def test_alertmanager_invalid_payloads(change, error):
    doc = load_jsonc("alertmanager_webhook_v4.jsonc")[0]
    change(doc)
    with pytest.raises(ValidationFailed) as caught:
        alertmanager.parse(dumps(doc))
    assert any(d.startswith(error) for d in caught.value.details), caught.value.details


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda a: a["annotations"].update(summary=None), "alerts[1].annotations.summary: expected a string"),
        (lambda a: a.update(annotations=[]), "alerts[1].annotations: expected an object of strings"),
        (lambda a: a.update(labels="x"), "alerts[1].labels: expected an object of strings"),
        (lambda a: a.update(status=1), "alerts[1].status: expected a string, got number"),
        (lambda a: a.update(generatorURL=False), "alerts[1].generatorURL: expected a string, got boolean"),
        (lambda a: a.update(fingerprint="f" * 65), "alerts[1].fingerprint: is 65 characters long"),
        (lambda a: a.update(fingerprint=0), "alerts[1].fingerprint: expected a string, got number"),
        (lambda a: a.update(endsAt="soon"), "alerts[1].endsAt: 'soon' is not an RFC 3339"),
        (
            lambda a: a.update(startsAt="9999-12-31T23:59:59-01:00"),
            "alerts[1].startsAt: '9999-12-31T23:59:59-01:00' is past the years a time can hold in UTC",
        ),
        (lambda a: a.update(endsAt=["x"]), "alerts[1].endsAt: expected an RFC 3339 timestamp string"),
    ],
)
def test_alertmanager_each_field_of_an_alert_is_checked_where_it_is(change, error):
    """Each field the quick reading of an alert takes as given is one that a bad value in sends to
    the checked reading, whatever its position: the other alerts do not hide it."""
    doc = load_jsonc("alertmanager_webhook_v4.jsonc")[0]
    doc["alerts"] = [doc["alerts"][0], dict(doc["alerts"][0], annotations={"summary": "s"}), doc["alerts"][1]]
    change(doc["alerts"][1])
    with pytest.raises(ValidationFailed) as caught:
        alertmanager.parse(dumps(doc))
    details = caught.value.details
    assert details[0].startswith(error) and all(d.startswith("alerts[1].") for d in details), details


def test_alertmanager_quick_and_checked_readings_agree():
    """Every alert the quick reading accepts reads exactly as the checked one reads it (empty
    strings and nulls as absent, Go's zero time as no end); what it declines, the checked one reads."""
    doc = load_jsonc("alertmanager_webhook_v4.jsonc")[0]
    base = doc["alerts"][0]
    variants = [
        *doc["alerts"],
        dict(base, annotations=None, generatorURL=None, fingerprint=None, startsAt=None, endsAt=None),
        dict(base, generatorURL="", fingerprint="", startsAt="", endsAt="0001-01-01T00:00:00Z"),
        dict(base, fingerprint="f" * 64, endsAt="2026-06-24T12:00:00+09:00"),
        {k: v for k, v in base.items() if k not in ("annotations", "generatorURL", "fingerprint")},
    ]
    for alert in variants:
        f = wire.Fields()
        checked = alertmanager._checked(f, alert, "alerts[0]", None, "firing")
        assert checked is not None and not f.errors and alertmanager._plain(alert) == checked, alert
    legacy = {k: v for k, v in base.items() if k != "status"}  # before 0.16: the status is inferred
    assert alertmanager._plain(legacy) is None
    assert alertmanager._checked(wire.Fields(), legacy, "alerts[0]", None, "firing")[2] == "firing"


# ---------------------------------------------------------------- generic JSON


def test_generic_single_and_batch():
    (ev,) = generic.parse(
        dumps(
            {
                "dedup_key": "disk/db-1",
                "summary": "Disk 95%",
                "severity": "critical",
                "labels": {"team": "payments"},
                "annotations": {"runbook_url": "https://rb/disk"},
                "links": [{"href": "https://grafana/d/1", "text": "dash"}],
                "group": "db",
                "starts_at": "2026-06-24T02:55:00Z",
                "idempotency_key": "delivery-1",
            }
        )
    )
    assert (ev.action, ev.runbook_url, ev.group_key, ev.idempotency_key) == (
        "trigger",
        "https://rb/disk",
        "db",
        "delivery-1",
    )
    events = generic.parse(
        dumps([{"dedup_key": "a", "summary": "x"}, {"dedup_key": "a", "status": "resolved"}])
    )
    assert [e.action for e in events] == ["trigger", "resolve"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"summary": "x"}, "dedup_key: is required"),
        ({"dedup_key": "a"}, "summary: is required"),
        ({"dedup_key": "a", "summary": "x", "sumary": "typo"}, "sumary: unknown field"),
        ({"dedup_key": "a", "summary": "x", "status": "ok"}, "status: 'ok' is not one of"),
        ({"dedup_key": "a", "summary": "x", "labels": ["a"]}, "labels: expected an object of strings"),
        ({"dedup_key": "a", "summary": "x", "details": "text"}, "details: expected an object"),
        ([{"dedup_key": "a", "summary": "x"}, 7], "[1]: expected an object, got number"),
    ],
)
def test_generic_invalid(body, error):
    with pytest.raises(ValidationFailed) as caught:
        generic.parse(dumps(body))
    assert any(d.startswith(error) for d in caught.value.details), caught.value.details


def test_generic_refuses_scalars_empty_and_oversized_batches():
    for body in (b"7", b"[]", dumps([{"dedup_key": "a", "summary": "x"}] * 1001)):
        with pytest.raises(ValidationFailed):
            generic.parse(body)


# ---------------------------------------------------------------- the body reader


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "request body is empty"),
        (b"   ", "request body is empty"),
        (b"{not json", "request body is not valid JSON"),
        (b'{"a": 1,}', "request body is not valid JSON"),
        (b"\xff\xfe", "request body is not valid JSON"),
        (b"[" * 1000 + b"]" * 1000, "request body nests deeper than 32 levels"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "request body nests deeper than 32 levels"),
        (b"[" * 5000 + b"]" * 5000, "request body is not valid JSON"),
    ],
)
def test_wire_refuses_unreadable_bodies(body, message):
    with pytest.raises(BadRequest) as caught:
        wire.parse_json(body)
    assert caught.value.message.startswith(message)


def test_wire_depth_limit_is_exact():
    assert wire.parse_json(b"[" * 32 + b"]" * 32) is not None
    wire.parse_json(b'{"a":' * 31 + b"{}" + b"}" * 31)  # 32 levels: fine
    with pytest.raises(BadRequest):
        wire.parse_json(b'{"a":' * 32 + b"{}" + b"}" * 32)  # 33 levels


def test_parse_time_forms():
    assert wire.parse_time("2015-07-17T08:42:58.315+0000") == datetime(
        2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC
    )
    assert wire.parse_time("2026-06-24T12:00:00+09:00") == datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
    assert wire.parse_time("2026-06-24T03:00:00") == datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
    assert wire.parse_time("0001-01-01T00:00:00Z") is None
