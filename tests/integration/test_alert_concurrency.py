"""The same dedup key 1,000 times over 50 concurrent connections, against real uvicorn servers on SQLite
and PostgreSQL: one alert with count 1,000, one incident. Two app instances (two writer threads,
two connection pools) share the database, so first triggers really race and only the unique
constraint keeps them to one alert."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from commandpost.alerts.models import Alert, AlertEvent
from commandpost.app import create_app
from commandpost.incidents.models import Incident
from tests.alert_support import keys, serve

pytestmark = pytest.mark.integration

TOTAL = 1000
CONNECTIONS = 50


def test_one_key_a_thousand_times_over_fifty_connections(settings, clock, engine, sessions, applied_ops):
    key = keys(sessions)["pagerduty"]
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "payments-db/connections",
        "payload": {
            "summary": "DB connections exhausted",
            "source": "payments-db-1",
            "severity": "critical",
            "custom_details": {"alertname": "DBConnectionsExhausted"},
        },
    }
    apps = [create_app(settings, clock=clock, engine=engine, run_engine=False) for _ in range(2)]
    statuses: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    incidents: set[str] = set()
    lock = threading.Lock()
    start = threading.Barrier(CONNECTIONS)

    def sender(url: str, count: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            for _ in range(count):
                r = client.post("/v2/enqueue", json=body)
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code == 202:
                        outcomes[r.json()["outcome"]] += 1
                        incidents.add(r.json()["incident"])

    with serve(apps[0]) as first, serve(apps[1]) as second:
        threads = [
            threading.Thread(target=sender, args=(first if i % 2 else second, TOTAL // CONNECTIONS))
            for i in range(CONNECTIONS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)

    assert statuses == {202: TOTAL}
    assert outcomes == {"incident_opened": 1, "deduplicated": TOTAL - 1}
    assert incidents == {"INC-1"}
    with sessions() as s:
        (alert,) = s.scalars(select(Alert)).all()
        assert (alert.count, alert.status, alert.incident_number) == (TOTAL, "triggered", 1)
        assert len(s.scalars(select(Incident)).all()) == 1
        assert s.scalars(select(AlertEvent)).all() == []
