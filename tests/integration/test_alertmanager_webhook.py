"""Debian's real Alertmanager sends its webhooks to commandpost served by a real uvicorn (SQLite and
PostgreSQL). Alerts are injected through Alertmanager's own API (``POST /api/v2/alerts``); firing
opens an incident, resolved resolves the alert and leaves the incident open for a human to verify."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from commandpost.alerts.models import Alert
from commandpost.alerts.sources.alertmanager import fingerprint
from commandpost.incidents.models import Incident, TimelineEntry
from tests.alert_support import free_port, keys, running, serve

pytestmark = pytest.mark.integration

BINARY = "prometheus-alertmanager"


def alertmanager_binary() -> str:
    path = shutil.which(BINARY) or ("/usr/bin/" + BINARY if Path("/usr/bin/" + BINARY).exists() else None)
    if path is None:
        pytest.fail(
            f"{BINARY} is not installed: these tests run Debian's Alertmanager as a real sender "
            "(.ci/run installs it: apt-get install prometheus-alertmanager)",
            pytrace=False,
        )
    return path


class Alertmanager:
    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, alerts: list[dict[str, Any]]) -> None:
        r = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        assert r.status_code == 200, r.text


def start_alertmanager(tmp: Path, webhook_url: str) -> Iterator[Alertmanager]:
    config = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "commandpost",
            "group_by": ["alertname", "service"],
            "group_wait": "200ms",
            "group_interval": "500ms",
            "repeat_interval": "1h",
        },
        "receivers": [
            {"name": "commandpost", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}
        ],
    }
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        alertmanager_binary(),
        f"--config.file={tmp / 'alertmanager.yml'}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    url = f"http://127.0.0.1:{port}"
    with running("alertmanager", argv, url, tmp / "alertmanager.log"):
        yield Alertmanager(url)


@pytest.fixture
def alertmanager(app, sessions, applied_ops, tmp_path) -> Iterator[Alertmanager]:
    key = keys(sessions)["alertmanager"]
    with serve(app) as base:
        yield from start_alertmanager(tmp_path, f"{base}/api/v1/intake/alertmanager/{key}")


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def alert(instance: str, *, ends: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": {
            "alertname": "WebhookBacklogHigh",
            "service": "payment-platform",
            "severity": "page",
            "instance": instance,
        },
        "annotations": {
            "summary": f"Payment webhook backlog 1500 > 1000 on {instance}",
            "runbook_url": "https://runbooks.internal/payment-webhook-backlog",
        },
        "startsAt": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=backlog",
    }
    if ends is not None:
        body["endsAt"] = ends.isoformat()
    return body


def test_alertmanager_firing_then_resolved(alertmanager, sessions):
    def alerts() -> list[Alert]:
        with sessions() as s:
            return list(s.scalars(select(Alert).order_by(Alert.id)))

    alertmanager.post([alert("worker-1"), alert("worker-2")])
    firing = wait_for(lambda: len(alerts()) == 2 and alerts(), "both firing alerts to arrive")
    assert {a.dedup_key for a in firing} == {
        fingerprint(alert(i)["labels"]) for i in ("worker-1", "worker-2")
    }, "dedup keys are Alertmanager's own fingerprints"
    assert {a.status for a in firing} == {"triggered"}
    assert sorted(a.outcome for a in firing) == ["attached", "incident_opened"]
    assert {(a.severity, a.runbook, a.incident_number) for a in firing} == {
        ("SEV2", "payment-webhook-backlog", 1)
    }
    assert firing[0].group_key == "alertname=WebhookBacklogHigh"  # the rule's group_by wins over groupKey
    assert firing[0].links[0]["href"].startswith("http://prometheus:9090/graph")

    now = datetime.now(UTC)
    alertmanager.post([alert("worker-1", ends=now), alert("worker-2", ends=now)])
    resolved = wait_for(
        lambda: all(a.status == "resolved" for a in alerts()) and alerts(), "the resolved notification"
    )
    assert all(a.resolved_at is not None and a.open_dedup_key is None for a in resolved)
    with sessions() as s:
        incident = s.scalars(select(Incident)).one()
        assert incident.status == "investigating", "alert resolution never resolves the incident"
        assert incident.detection == "automatic" and incident.runbook == "payment-webhook-backlog"
        texts = [e.text for e in s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "alert"))]
    assert sum("alert resolved" in t for t in texts) == 2


def test_alertmanager_resends_are_repeats_not_new_alerts(alertmanager, sessions):
    alertmanager.post([alert("worker-1")])
    wait_for(lambda: _count(sessions) == 1, "the first notification")
    # A new alert in the same group makes Alertmanager re-send the whole group, worker-1 included.
    alertmanager.post([alert("worker-1"), alert("worker-3")])
    wait_for(lambda: _count(sessions) == 2, "the second notification")
    with sessions() as s:
        rows = list(s.scalars(select(Alert).order_by(Alert.id)))
        incidents = list(s.scalars(select(Incident)))
    assert [r.count for r in rows] == [2, 1] and len(incidents) == 1


def _count(sessions) -> int:
    with sessions() as s:
        return len(list(s.scalars(select(Alert.id))))
