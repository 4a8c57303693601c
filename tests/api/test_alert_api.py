"""Intake endpoints and the alerts API over HTTP: response shapes, bad input, rate limits, auth, CLI."""

from __future__ import annotations

import collections
import copy
import json
import subprocess

import httpx
import orjson
import pytest

from commandpost.policy import service as policy_service
from commandpost.policy.models import OpsRevision
from tests import cli_support
from tests.alert_support import PAYLOADS, apply_variant, counts, keys, load_jsonc, pd_trigger, serve

DB = {"custom_details": {"alertname": "DBConnectionsExhausted"}}


@pytest.fixture
def k(sessions, applied_ops):
    return keys(sessions)


def test_pagerduty_answers_exactly_like_pagerduty_plus_outcome_and_incident(client, k):
    r = client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"], **DB))
    assert r.status_code == 202
    assert r.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "k-1",
        "outcome": "incident_opened",
        "incident": "INC-1",
    }
    r = client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"], dedup_key=None))
    assert r.status_code == 202 and len(r.json()["dedup_key"]) == 32 and r.json()["outcome"] == "recorded"
    r = client.post(
        "/v2/enqueue", json={"routing_key": k["pagerduty"], "event_action": "acknowledge", "dedup_key": "k-1"}
    )
    assert (r.status_code, r.json()["outcome"], r.json()["incident"]) == (202, "recorded", "INC-1")


def test_pagerduty_invalid_event_shapes(client, k, session):
    before = counts(session)
    r = client.post("/v2/enqueue", json={"routing_key": k["pagerduty"], "event_action": "trigger"})
    assert r.status_code == 400
    assert r.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["payload: is required for event_action=trigger"],
    }
    r = client.post("/v2/enqueue", content=b"{not json")
    assert r.status_code == 400 and r.json()["status"] == "Unrecognized object"
    assert r.json()["errors"][0].startswith("request body is not valid JSON")
    r = client.post("/v2/enqueue", json=pd_trigger("0" * 32))
    assert r.status_code == 400 and r.json()["errors"] == ["routing_key: no active integration has this key"]
    r = client.post("/v2/enqueue", json=pd_trigger(k["alertmanager"]))
    assert r.status_code == 400 and "not a pagerduty one" in r.json()["errors"][0]
    assert counts(session) == before


def test_change_events_and_recent_changes_of_an_incident(client, k, auth, clock):
    change = load_jsonc("pagerduty_change_events_v2.jsonc")[0]
    change["routing_key"] = k["pagerduty"]
    change["payload"].pop("timestamp")
    r = client.post("/v2/change/enqueue", json=change)
    assert r.status_code == 202
    assert r.json()["status"] == "success" and r.json()["outcome"] == "recorded" and r.json()["id"] == "1"
    clock.advance(minutes=3)
    client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"], **DB))
    r = client.get("/api/v1/incidents/INC-1/changes", headers=auth("read"))
    assert r.status_code == 200
    body = r.json()
    assert body["incident"] == "INC-1" and body["service"] == "payment-platform"
    assert [c["summary"] for c in body["changes"]] == [change["payload"]["summary"]]
    assert body["changes"][0]["links"][0]["href"] == "https://acme.pagerduty.dev/build/2"
    assert client.get("/api/v1/incidents/INC-9/changes", headers=auth("read")).status_code == 404


def test_alertmanager_webhook_firing_and_resolved(client, k, auth):
    url = f"/api/v1/intake/alertmanager/{k['alertmanager']}"
    r = client.post(url, content=(PAYLOADS / "alertmanager-0.25-firing.json").read_bytes())
    assert r.status_code == 202
    body = r.json()
    assert (body["outcome"], body["incident"], body["dedup_key"]) == (
        "incident_opened",
        "INC-1",
        "7b571dabecb56203",
    )
    resolved = orjson.loads((PAYLOADS / "alertmanager-0.25-firing.json").read_bytes())
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-06-24T03:00:00Z"
    r = client.post(url, json=resolved)
    assert r.status_code == 202 and r.json()["events"][0]["outcome"] == "resolved"
    inc = client.get("/api/v1/incidents/INC-1", headers=auth("read")).json()
    assert inc["status"] == "investigating", "alert resolution never resolves the incident"
    alerts = client.get("/api/v1/incidents/INC-1/alerts", headers=auth("read")).json()
    assert [(a["status"], a["runbook"]) for a in alerts] == [("resolved", "payment-webhook-backlog")]


BAD_INPUT = [
    ("malformed JSON", b'{"dedup_key": "a", ', 400, "not valid JSON"),
    ("wrong types", orjson.dumps({"dedup_key": 7, "summary": ["x"]}), 422, "dedup_key: expected a string"),
    ("missing fields", orjson.dumps({"status": "firing"}), 422, "dedup_key: is required"),
    (
        "nesting 1,000 deep",
        b'{"dedup_key":"a","summary":"x","details":' + b"[" * 1000 + b"]" * 1000 + b"}",
        400,
        "nests deeper than 32 levels",
    ),
    (
        "600 KiB body",
        orjson.dumps({"dedup_key": "a", "summary": "x", "details": {"b": "x" * 600 * 1024}}),
        413,
        "larger than the 512 KiB limit",
    ),
    ("not an object", b"42", 422, "must be an object or an array"),
    ("empty body", b"", 400, "request body is empty"),
]


@pytest.mark.parametrize(("case", "body", "status", "message"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_clear_4xx_and_stores_nothing(client, k, session, case, body, status, message):
    before = counts(session)
    r = client.post(f"/api/v1/intake/generic/{k['generic']}", content=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]
    assert counts(session) == before


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/intake/generic/" + "0" * 32, "no active generic integration has this key"),
        ("/api/v1/intake/nagios/abc", "unknown intake source 'nagios'"),
    ],
)
def test_unknown_key_or_source_is_404(client, k, session, path, message):
    before = counts(session)
    r = client.post(path, json={"dedup_key": "a", "summary": "x"})
    assert r.status_code == 404 and message in r.json()["error"]["message"]
    assert counts(session) == before


def test_a_key_sent_to_another_sources_endpoint_says_where_it_belongs(client, k):
    r = client.post(f"/api/v1/intake/generic/{k['alertmanager']}", json={"dedup_key": "a", "summary": "x"})
    assert r.status_code == 404
    assert "/api/v1/intake/alertmanager/<key>" in r.json()["error"]["message"]


def test_bad_alertmanager_webhook_is_422_with_paths(client, k):
    r = client.post(f"/api/v1/intake/alertmanager/{k['alertmanager']}", json={"version": "4", "alerts": [{}]})
    assert r.status_code == 422
    assert r.json()["error"]["details"] == ["alerts[0].labels: is required (at least alertname)"]


def test_rate_limits_429_with_retry_after_and_503_for_alertmanager(
    client, sessions, clock, tmp_path, session
):
    def limit(svc):
        for integration in svc["integrations"]:
            integration["rate_limit_per_minute"] = 2

    k = apply_variant(sessions, clock, tmp_path, limit)
    generic = f"/api/v1/intake/generic/{k['generic']}"
    assert client.post(generic, json=[{"dedup_key": "a", "summary": "x"}] * 2).status_code == 202
    before = counts(session)
    r = client.post(generic, json={"dedup_key": "a", "summary": "x"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "limit of 2 events per minute" in r.json()["error"]["message"]
    am = f"/api/v1/intake/alertmanager/{k['alertmanager']}"
    webhook = (PAYLOADS / "alertmanager-0.25-firing.json").read_bytes()
    assert client.post(am, content=webhook).status_code == 202
    assert client.post(am, content=webhook).status_code == 202
    r = client.post(am, content=webhook)
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    for _ in range(2):
        client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"]))
    r = client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"]))
    assert r.status_code == 429 and r.json()["status"] == "throttle event" and "retry-after" in r.headers
    assert counts(session)["alert"] == before["alert"] + 2  # only the two accepted webhooks stored anything


def test_unrunbooked_pages_are_counted(client, sessions, clock, tmp_path):
    # `check` refuses a paging default without a default_runbook (issue 14, item 12); a revision an
    # older commandpost applied can still have one, and its pages are still counted
    k = apply_variant(sessions, clock, tmp_path, lambda svc: None)
    with sessions() as s:
        latest = policy_service.latest_revision(s)
        assert latest is not None
        model = copy.deepcopy(latest.model)
        model["services"][0]["default_severity"] = "SEV2"
        s.add(
            OpsRevision(
                seq=latest.seq + 1,
                content_hash="legacy" + latest.content_hash[6:],
                applied_at=clock.now(),
                applied_by="an older commandpost",
                model=model,
                files=latest.files,
            )
        )
        s.commit()

    def counted() -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('commandpost_unrunbooked_pages_total{service="payment-platform"}'):
                return float(line.split()[-1])
        return 0.0

    before = counted()
    r = client.post(f"/api/v1/intake/generic/{k['generic']}", json={"dedup_key": "u-1", "summary": "x"})
    assert r.json()["outcome"] == "incident_opened"
    assert counted() == before + 1
    client.post(f"/api/v1/intake/generic/{k['generic']}", json={"dedup_key": "u-1", "summary": "x"})
    assert counted() == before + 1, "a repeat is not another page"


def test_a_webhooks_events_are_counted_one_per_alert_by_outcome(client, k):
    """The intake counts a webhook's outcomes together (one increment per outcome, not per alert):
    the counter still moves by one per alert, under each alert's own outcome."""

    def events() -> dict[str, float]:
        found = {}
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('commandpost_alert_events_total{outcome="') and 'source="generic"' in line:
                found[line.split('outcome="')[1].split('"')[0]] = float(line.split()[-1])
        return found

    generic = f"/api/v1/intake/generic/{k['generic']}"
    client.post(generic, json=[{"dedup_key": "c-1", "summary": "x", "severity": "info"}])
    before = events()
    alerts = [{"dedup_key": f"c-{n}", "summary": "x", "severity": "info"} for n in range(1, 6)]
    reply = client.post(generic, json=alerts).json()
    outcomes = collections.Counter(e["outcome"] for e in reply["events"])
    assert sum(outcomes.values()) == 5 and len(outcomes) == 2  # one repeat, four new
    after = events()
    assert {o: after[o] - before.get(o, 0.0) for o in outcomes} == dict(outcomes)


def test_alerts_api_needs_a_token_and_filters(client, k, auth):
    generic = f"/api/v1/intake/generic/{k['generic']}"
    client.post(generic, json={"dedup_key": "a", "summary": "one", "details": {"token": "s3cr3t"}})
    client.post(
        generic, json=[{"dedup_key": "b", "summary": "two"}, {"dedup_key": "b", "status": "resolved"}]
    )
    assert client.get("/api/v1/alerts").status_code == 401
    rows = client.get("/api/v1/alerts?status=open", headers=auth("read")).json()
    assert [r["dedup_key"] for r in rows] == ["a"] and rows[0]["outcome"] == "recorded"
    rows = client.get("/api/v1/alerts?service=payment-platform", headers=auth("read")).json()
    assert [r["dedup_key"] for r in rows] == ["b", "a"]
    r = client.get("/api/v1/alerts?status=burning", headers=auth("read"))
    assert r.status_code == 422 and "not one of" in r.json()["error"]["message"]
    one = client.get(f"/api/v1/alerts/{rows[1]['id']}", headers=auth("read")).json()
    assert one["details"] == {"token": "[REDACTED:secret-key]"}
    assert one["raw"]["details"] == {"token": "[REDACTED:secret-key]"}
    assert client.get("/api/v1/alerts/999", headers=auth("read")).status_code == 404


def test_openapi_lists_the_intake_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v2/enqueue", "/v2/change/enqueue", "/api/v1/intake/{source}/{key}", "/api/v1/alerts"} <= set(
        paths
    )


def test_cli_lists_alerts(app, k, make_token, tmp_path):
    token = make_token("read")
    with serve(app) as url:
        httpx.post(
            f"{url}/api/v1/intake/generic/{k['generic']}", json={"dedup_key": "a", "summary": "Disk full"}
        )
        env = {"COMMANDPOST_URL": url, "COMMANDPOST_TOKEN": token, "HOME": str(tmp_path), "COLUMNS": "200"}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return cli_support.run_cli(["alerts", *args], env=env)

        table = run("--status", "open")
        as_json = run("--json")
        bad = run("--status", "burning")
    assert table.returncode == 0, table.stderr
    assert "Disk full" in table.stdout and "SEV3" in table.stdout
    assert [a["summary"] for a in json.loads(as_json.stdout)] == ["Disk full"]
    assert bad.returncode == 2 and "not one of" in bad.stderr
