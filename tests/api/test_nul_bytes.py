"""NUL characters in any stored text: both databases store U+FFFD where the NUL was and answer 2xx.

PostgreSQL refused them with a 500 (``psycopg.DataError``), and senders retry a 5xx forever; SQLite
stored them as sent. Each door a NUL can come through is tried: a PagerDuty summary, dedup key and
``custom_details`` key; an Alertmanager label; a declared incident's title through the API.
"""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from commandpost.alerts.models import Alert
from commandpost.incidents.models import Incident
from tests.alert_support import keys, pd_trigger

BAD = "\ufffd"


@pytest.fixture
def k(sessions, applied_ops):
    return keys(sessions)


def test_pagerduty_event_with_nul_everywhere_is_stored_with_the_replacement(client, k, session):
    body = pd_trigger(
        k["pagerduty"],
        dedup_key="db\u0000pool",
        summary="connections a\u0000b",
        custom_details={"alertname": "DBConnectionsExhausted", "ke\u0000y": "va\u0000lue"},
    )
    r = client.post("/v2/enqueue", content=orjson.dumps(body))
    assert r.status_code == 202, r.text
    assert r.json()["dedup_key"] == f"db{BAD}pool"
    again = client.post("/v2/enqueue", content=orjson.dumps(body))
    assert again.status_code == 202 and again.json()["incident"] == r.json()["incident"]  # dedup still dedups
    session.rollback()
    alert = session.scalars(select(Alert)).one()
    assert (alert.summary, alert.dedup_key) == (f"connections a{BAD}b", f"db{BAD}pool")
    details = orjson.dumps(alert.details).decode()
    assert "\\u0000" not in details and f"ke{BAD}y" in details and f"va{BAD}lue" in details


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(client, k, session):
    """``\\\\u0000`` in JSON is a backslash and the letters u0000: kept exactly as sent."""
    raw = (
        b'{"routing_key": "%s", "event_action": "trigger", "dedup_key": "lit", "payload": {"summary": '
        % k["pagerduty"].encode()
        + rb'"path C:\\u0000 and \\\u0000 end", "source": "x", "severity": "critical"}}'
    )
    assert client.post("/v2/enqueue", content=raw).status_code == 202
    session.rollback()
    assert session.scalars(select(Alert.summary)).one() == f"path C:\\u0000 and \\{BAD} end"


def test_alertmanager_label_with_nul(client, k, session):
    webhook = {
        "version": "4",
        "status": "firing",
        "receiver": "cp",
        "groupKey": '{}:{alertname="DBConnectionsExhausted"}',
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DBConnectionsExhausted", "instance": "db\u00001"},
                "annotations": {"summary": "pool \u0000 exhausted"},
                "startsAt": "2026-06-24T02:59:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }
    r = client.post(f"/api/v1/intake/alertmanager/{k['alertmanager']}", content=orjson.dumps(webhook))
    assert r.status_code in (200, 202), r.text
    session.rollback()
    alert = session.scalars(select(Alert)).one()
    assert alert.summary == f"pool {BAD} exhausted"
    assert "\x00" not in orjson.dumps(alert.details).decode().replace("\\u0000", "\x00")


def test_declared_title_with_nul_through_the_api(client, applied_ops, auth, session):
    r = client.post(
        "/api/v1/incidents",
        content=orjson.dumps({"title": "webhooks\u0000 failing", "severity": "SEV3"}),
        headers={**auth("responder", person="hana"), "content-type": "application/json"},
    )
    assert r.status_code == 201, r.text
    session.rollback()
    assert session.scalars(select(Incident.title)).one() == f"webhooks{BAD} failing"
