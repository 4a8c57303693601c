"""Publishing to the status page through the API, the CLI and the public pages (issue 18), both databases.

``POST /api/v1/incidents/{n}/public-updates`` (bearer token, scope responder, the Comms holder or the
IC), ``commandpost incident publish``, the resolve answer's prompt, and what ``/status``,
``/status/feed.atom`` and ``/status/feed.json`` (JSON Feed 1.1) then say — escaped where it is HTML or
XML, and nothing internal.
"""

# ruff: noqa: F811 (the CLI fixtures imported from test_incident_cli are arguments here)
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from commandpost.errors import Forbidden, ValidationFailed
from commandpost.incidents.models import PublicUpdate
from tests.api.test_incident_cli import _ok, cli_app, run, server  # noqa: F401 (fixtures)

BASE = "/api/v1/incidents"
ATOM = "{http://www.w3.org/2005/Atom}"
FIRST = {
    "title": "Delayed card payments",
    "message": "Card payments are delayed; no charge is lost.",
    "state": "identified",
    "services": {"payment-platform": "partial_outage"},
}


@pytest.fixture
def tokens(auth, applied_ops):
    return {p: auth("responder", person=p) for p in ("yuta", "hana", "ken")} | {
        "read": auth("read", person="sato")
    }


def _declare(client, headers, title="Payment webhooks piling up", severity="SEV1"):
    body = {"title": title, "severity": severity, "service": "payment-platform"}
    r = client.post(BASE, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["number"]


def _published(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(PublicUpdate)) or 0


def test_publish_read_and_the_public_pages(client, tokens, session):
    number = _declare(client, tokens["yuta"])
    assert "All systems operational" in client.get("/status").text
    r = client.post(f"{BASE}/{number}/public-updates", json=FIRST, headers=tokens["yuta"])
    assert r.status_code == 201, r.text
    out = r.json()
    assert {k: out[k] for k in ("number", "author", "title", "state", "services")} == {
        "number": "INC-1",
        "author": "yuta",
        "title": "Delayed card payments",
        "state": "identified",
        "services": {"payment-platform": "partial_outage"},
    }
    later = {"message": "A fix is rolling out <em>now</em> & we watch.", "state": "monitoring"}
    assert (
        client.post(f"{BASE}/{number}/public-updates", json=later, headers=tokens["yuta"]).status_code == 201
    )
    listed = client.get(f"{BASE}/{number}/public-updates", headers=tokens["read"]).json()
    assert [(u["state"], u["services"]) for u in listed] == [
        ("monitoring", {"payment-platform": "partial_outage"}),
        ("identified", {"payment-platform": "partial_outage"}),
    ]
    page = client.get("/status").text
    assert '<p class="overall bad" data-state="partial_outage">Partial outage</p>' in page
    assert "A fix is rolling out &lt;em&gt;now&lt;/em&gt; &amp; we watch." in page
    for internal in ("Payment webhooks piling up", "INC-1", "SEV1", "No incidents reported"):
        assert internal not in page
    assert page.count("<rect ") == 90 and '<rect x="445" y="0" width="4" height="20" fill="#e67e22"' in page
    assert (
        'data-day="2026-06-24" data-state="partial_outage"><title>2026-06-24: Partial outage</title>' in page
    )
    assert "100.00% uptime over the last 90 days" in page  # published at this very instant
    # each update with its own state, not the incident's current one
    assert page.index('data-state="monitoring"') < page.index('data-state="identified"')

    atom = client.get("/status/feed.atom")
    root = ET.fromstring(atom.content)  # well-formed XML
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Monitoring: Delayed card payments",
        "Identified: Delayed card payments",
    ]
    assert entries[0].findtext(f"{ATOM}content").startswith("A fix is rolling out <em>now</em> & we watch.")
    assert "&lt;em&gt;" in atom.text and root.findtext(f"{ATOM}subtitle") == "Partial outage"

    feed = client.get("/status/feed.json")
    assert feed.headers["content-type"].startswith("application/feed+json")
    body = feed.json()
    assert body["version"] == "https://jsonfeed.org/version/1.1"
    assert body["feed_url"].endswith("/status/feed.json") and body["home_page_url"].endswith("/status")
    assert [(i["title"], i["tags"]) for i in body["items"]] == [
        ("Monitoring: Delayed card payments", ["monitoring", "payment-platform"]),
        ("Identified: Delayed card payments", ["identified", "payment-platform"]),
    ]
    assert body["items"][0]["content_text"] == (
        "A fix is rolling out <em>now</em> & we watch.\n\npayment-platform: Partial outage"
    )
    assert all(i["id"] and i["date_published"].endswith("+00:00") for i in body["items"])
    assert "INC-1" not in feed.text and "SEV1" not in feed.text


def test_only_comms_or_the_ic_with_a_responder_token_publishes(client, tokens, session):
    number = _declare(client, tokens["yuta"])
    r = client.post(f"{BASE}/{number}/public-updates", json=FIRST, headers=tokens["read"])
    assert r.status_code == 403 and "scope 'responder'" in r.json()["error"]["message"]
    r = client.post(f"{BASE}/{number}/public-updates", json=FIRST, headers=tokens["ken"])
    assert r.status_code == 403
    assert r.json()["error"]["message"] == (
        "only the Comms holder or the IC publishes INC-1 to the status page: the IC @yuta holds Comms "
        "(by default); ask @yuta to assign Comms to you"
    )
    assert client.post(f"{BASE}/{number}/public-updates", json=FIRST).status_code == 401
    assert _published(session) == 0
    assign = {"person": "hana"}
    assert (
        client.post(f"{BASE}/{number}/roles/comms/assign", json=assign, headers=tokens["yuta"]).status_code
        == 200
    )
    assert (
        client.post(f"{BASE}/{number}/public-updates", json=FIRST, headers=tokens["hana"]).status_code == 201
    )
    assert client.post(f"{BASE}/nine/public-updates", json=FIRST, headers=tokens["hana"]).status_code == 422
    assert client.post(f"{BASE}/9/public-updates", json=FIRST, headers=tokens["hana"]).status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({**FIRST, "message": "m" * 5001}, "message"),
        ({**FIRST, "title": "t" * 301}, "title"),
        ({**FIRST, "message": "nul\u0000byte"}, "message holds a control character"),
        ({**FIRST, "message": "bell\u0007"}, "message holds a control character"),
        ({**FIRST, "extra": "x"}, "extra"),
        ({**FIRST, "services": {"payment-platform": "on fire"}}, "unknown service state 'on_fire'"),
        ({**FIRST, "services": {f"s{i}": "degraded" for i in range(2000)}}, "unknown service 's0'"),
        ({**FIRST, "state": "resolved"}, "a resolved update leaves every service it names operational"),
        ({"message": "no title yet", "services": FIRST["services"]}, "needs a public title"),
        ([1, 2, 3], "body"),
    ],
)
def test_bad_bodies_are_4xx_and_store_nothing(client, tokens, session, body, says):
    number = _declare(client, tokens["yuta"])
    r = client.post(f"{BASE}/{number}/public-updates", json=body, headers=tokens["yuta"])
    assert r.status_code == 422, r.text
    assert says in json.dumps(r.json())
    assert _published(session) == 0
    assert "All systems operational" in client.get("/status").text


def test_the_resolve_answer_prompts_and_closing_waits(client, tokens):
    number = _declare(client, tokens["yuta"])
    client.post(f"{BASE}/{number}/public-updates", json=FIRST, headers=tokens["yuta"])
    r = client.post(f"{BASE}/{number}/status", json={"status": "mitigated"}, headers=tokens["yuta"])
    assert r.status_code == 200 and r.json()["status_page"] is None  # still open: nothing to prompt yet
    r = client.post(f"{BASE}/{number}/status", json={"status": "resolved"}, headers=tokens["yuta"])
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert r.json()["status_page"].startswith("the status page still shows INC-1 as identified")
    r = client.post(f"{BASE}/{number}/status", json={"status": "closed"}, headers=tokens["yuta"])
    assert r.status_code == 409 and "publish the resolved update first" in r.json()["error"]["message"]
    assert "Partial outage" in client.get("/status").text
    done = {"message": "Payments are back to normal.", "state": "resolved"}
    assert (
        client.post(f"{BASE}/{number}/public-updates", json=done, headers=tokens["yuta"]).status_code == 201
    )
    r = client.post(f"{BASE}/{number}/status", json={"status": "closed"}, headers=tokens["yuta"])
    assert r.status_code == 200 and r.json()["status_page"] is None
    page = client.get("/status").text
    assert "All systems operational" in page and "Payments are back to normal." in page


def test_the_org_may_show_numbers_and_severities(client, tokens, sessions, clock, tmp_path):
    from commandpost.db.engine import transaction
    from commandpost.policy import service as policy_service
    from tests.service.test_status_publish import ops_folder

    with transaction(sessions) as s:
        folder = ops_folder(tmp_path, "{show_incident_numbers: true, show_severity: true}")
        policy_service.apply_folder(s, path=folder, now=clock.now(), actor="test")
    number = _declare(client, tokens["yuta"])
    client.post(f"{BASE}/{number}/public-updates", json=FIRST, headers=tokens["yuta"])
    assert "<small>INC-1 · SEV1</small>" in client.get("/status").text
    assert client.get("/status/feed.json").json()["items"][0]["title"] == (
        "Identified: Delayed card payments (INC-1 SEV1)"
    )


def test_the_cli_publishes_and_the_resolve_answer_says_what_is_next(run):
    _ok(run("declare", "Payment webhooks failing", "--sev", "2", "--service", "payment-platform"))
    out = _ok(
        run(
            "incident", "publish", "INC-1", "--title", "Delayed card payments", "--message", "We are on it.",
            "--service", "payment-platform=partial_outage", "--state", "investigating",
        )
    )  # fmt: skip
    assert out.splitlines() == [
        "#1 published to the status page for INC-1: investigating · Delayed card payments",
        "  payment-platform: partial outage",
    ]
    data = json.loads(
        _ok(run("incident", "publish", "1", "-m", "Found it.", "--state", "identified", "--json"))
    )
    assert (data["title"], data["state"], data["services"]) == (
        "Delayed card payments", "identified", {"payment-platform": "partial_outage"},
    )  # fmt: skip
    bad = run("incident", "publish", "1", "-m", "x", "--service", "payment-platform")
    assert isinstance(bad.exception, ValidationFailed) and bad.exception.exit_code == 2
    assert "is not SERVICE=STATE" in bad.exception.message
    refused = run("incident", "publish", "1", "-m", "x", person="ken")
    assert isinstance(refused.exception, Forbidden) and refused.exception.exit_code == 3
    resolved = _ok(run("status", "1", "resolved"))
    assert resolved.splitlines()[0] == "INC-1 is resolved"
    assert "next: the status page still shows INC-1 as identified" in resolved
    _ok(run("incident", "publish", "1", "-m", "Back to normal.", "--state", "resolved"))
    assert _ok(run("status", "1", "closed")).splitlines() == ["INC-1 is closed"]
