"""What the incident page tells people (issue 14, item 13), on SQLite and PostgreSQL: beside the
"Escalate now" button the timeline does not send them to the ``commandpost escalate`` CLI, and a
status-page target is not "not built yet" — the public status page is /status."""

from __future__ import annotations

import html

from tests.alert_support import keys, pd_trigger
from tests.api.test_web_pages import FETCH, hana  # noqa: F401  (the fixture)
from tests.paging_support import processor, run_until

DB = {"class": "DBConnectionsExhausted"}  # SEV1 on payment-platform: pages, and tells status_page


def test_the_incident_page_offers_its_button_not_the_cli(client, hana, sessions, clock):  # noqa: F811
    r = client.post("/v2/enqueue", json=pd_trigger(keys(sessions)["pagerduty"], **DB))
    assert (r.status_code, r.json()["incident"]) == (202, "INC-1")
    run_until(sessions, clock, clock.now(), processor())
    clock.advance(minutes=1)
    r = client.post("/incidents/INC-1/escalate", data={"csrf_token": hana}, headers=FETCH)
    assert r.status_code == 200, r.text  # level 2 of 2: the last level

    page = html.unescape(client.get("/incidents/INC-1").text)
    assert "Escalate now" in page
    assert "This is the last level: nobody else is paged unless someone escalates by hand" in page
    assert "commandpost escalate" not in page
    assert "status page is not built yet" not in page
    assert "status_page: on the public status page (/status)" in page


def test_the_api_timeline_says_the_same(client, auth, sessions, clock, applied_ops):
    client.post("/v2/enqueue", json=pd_trigger(keys(sessions)["pagerduty"], **DB))
    run_until(sessions, clock, clock.now(), processor())
    client.post("/api/v1/incidents/INC-1/escalate", headers=auth("responder", person="hana"))
    entries = client.get("/api/v1/incidents/INC-1/timeline", headers=auth("read")).json()["entries"]
    texts = [e["text"] for e in entries if e["kind"] == "page"]
    assert texts[-1].endswith("This is the last level: nobody else is paged unless someone escalates by hand")
    assert any("status_page: on the public status page (/status)" in t for t in texts)
    assert not any("not built yet" in t or "commandpost escalate" in t for t in texts)
