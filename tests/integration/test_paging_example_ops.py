"""Done-when, end to end: the example ops folder, a real server with its engine running, alerts through
the real PagerDuty intake endpoint, Slack and webhook channels pointed at a local HTTP receiver (the
far end). SEV1 pages the primary at once and escalates to secondary and team lead after 5 minutes;
SEV2 escalates after 15 minutes unless acknowledged — and an ack stops it. Both databases."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from commandpost.app import create_app
from commandpost.notify.models import OutgoingMessage
from commandpost.settings import get_settings
from tests.alert_support import keys, pd_trigger, serve
from tests.integration.notify_sink import Received, start_sink, stop_sink
from tests.paging_support import apply, ops_variant

pytestmark = pytest.mark.integration


def _wait(what: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s")


def _text(received: Received) -> str:
    blocks = json.loads(received.body)["blocks"]
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] in ("header", "section"))


def test_example_ops_pages_escalates_and_stops_on_ack(
    sessions, session, clock, engine, settings, tmp_path, make_token, monkeypatch
):
    sink = start_sink()
    # The engine's processors read the process settings (as under `commandpost serve`), not the app's.
    monkeypatch.setenv("COMMANDPOST_OUTBOUND_ALLOWLIST", "127.0.0.1")
    monkeypatch.setenv("COMMANDPOST_PUBLIC_URL", "https://cp.example")
    monkeypatch.setenv("COMMANDPOST_SLACK_MIN_INTERVAL_SECONDS", "0")
    get_settings.cache_clear()

    def people(data: dict[str, Any]) -> None:
        for person in data["people"]:
            if person["contact"].get("slack_webhook"):
                person["contact"]["slack_webhook"] = f"{sink.url}/slack/{person['handle']}"
            if person["contact"].get("webhook"):
                person["contact"]["webhook"] = f"{sink.url}/hook/{person['handle']}"
        data["teams"][0]["channel"]["slack_webhook"] = f"{sink.url}/slack/payments"

    apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": people}))
    tuned = settings.model_copy(
        update={
            "outbound_allowlist": ["127.0.0.1"],
            "public_url": "https://cp.example",
            "slack_min_interval_seconds": 0.0,
            "engine_max_sleep_seconds": 0.5,
        }
    )
    app = create_app(tuned, clock=clock, engine=engine, run_engine=True)
    token = make_token("responder", person="hana")
    key = keys(sessions)["pagerduty"]
    t0 = clock.now()  # Wednesday 12:00 JST: primary yuta, secondary hana, team lead yuta
    try:
        with serve(app) as url, httpx.Client(base_url=url) as http:
            runner = app.state.engine_runner

            def move(**delta: float) -> None:
                clock.advance(timedelta(**delta))
                runner.wake()

            sent = time.monotonic()
            r = http.post(
                "/v2/enqueue", json=pd_trigger(key, dedup_key="db", **{"class": "DBConnectionsExhausted"})
            )
            assert (r.status_code, r.json()["incident"]) == (202, "INC-1")
            first = _wait(lambda: sink.to("/slack/yuta"))[0]
            handed_after = time.monotonic() - sent
            page = _text(first)
            assert page.startswith("[SEV1] INC-1 payment-platform: DB connections exhausted")
            assert "Runbook: https://runbooks.internal/db-connection-exhaustion" in page
            assert "First move: rate-limit the runaway caller" in page
            assert "commandpost ack INC-1 — or open https://cp.example/incidents/INC-1" in page
            assert handed_after < 5.0  # woken by the commit, not by a poll cycle

            move(minutes=4, seconds=59)
            time.sleep(1.0)
            assert sink.to("/slack/hana") == []  # not before 5 minutes
            move(seconds=1)
            assert "level 2 of 2" in _text(_wait(lambda: sink.to("/slack/hana"))[0])
            _wait(lambda: len(sink.to("/slack/yuta")) == 2)  # the team lead

            move(minutes=5)
            r = http.post(
                "/v2/enqueue", json=pd_trigger(key, dedup_key="wh", **{"class": "WebhookBacklogHigh"})
            )
            assert (r.status_code, r.json()["incident"]) == (202, "INC-2")
            second = _wait(lambda: sink.to("/slack/yuta")[2:])[0]
            assert _text(second).startswith("[SEV2] INC-2 payment-platform:")
            move(minutes=14)
            r = http.post("/api/v1/incidents/INC-2/ack", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["ic"] == "hana"
            move(minutes=2)
            time.sleep(1.5)
            assert len(sink.to("/slack/hana")) == 1  # the SEV2 escalation never went out
            pages = http.get(
                "/api/v1/incidents/INC-2/pages", headers={"Authorization": f"Bearer {token}"}
            ).json()
            assert pages["escalation"]["state"] == "acknowledged"
    finally:
        stop_sink(sink)
        get_settings.cache_clear()
    session.rollback()
    levels = {
        (m.incident_id, m.key.split("/")[3])
        for m in session.scalars(select(OutgoingMessage).where(OutgoingMessage.key.like("page/%")))
    }
    assert levels == {(1, "level=0"), (1, "level=1"), (2, "level=0")}
    assert t0 < clock.now()
