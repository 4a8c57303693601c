"""Every page renders for a logged-in user, and the incident page's forms call the services (both DBs)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.runbooks import service as runbook_service
from commandpost.security import users
from tests.api.test_web_auth import PASSWORD, csrf_of, login

FETCH = {"X-CommandPost-Fetch": "1"}


@pytest.fixture
def hana(client, sessions, applied_ops, clock):
    with sessions() as s:
        for handle, role in (("hana", "admin"), ("ken", "responder")):
            users.set_password(
                s, config=applied_ops, handle=handle, password=PASSWORD, role=role, now=clock.now()
            )
        s.commit()
    login(client, "hana")
    return csrf_of(client.get("/declare").text)


def declare(client, csrf: str, **values: str) -> str:
    data = {"title": "Payment webhooks piling up", "severity": "SEV2", "service": "payment-platform"}
    data.update(values)
    r = client.post("/declare", data={**data, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def entries(session) -> list[str]:
    return [e.text for e in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]


def error_of(text: str) -> str:
    found = re.search(r'class="error-message"[^>]*>([^<]*)<', text)
    return html.unescape(found.group(1)) if found else ""


def test_declare_form_shows_the_severity_table_and_refuses_bad_input(client, hana, session):
    form = client.get("/declare").text
    assert "Full outage / data loss / payment double-charge or miss" in form and "respond within 5m" in form
    r = client.post("/declare", data={"title": " ", "severity": "SEV2", "csrf_token": hana})
    assert r.status_code == 422 and error_of(r.text) == "title must not be empty"
    r = client.post("/declare", data={"title": "x", "severity": "SEV9", "csrf_token": hana})
    assert r.status_code == 422 and "unknown severity 'SEV9'" in error_of(r.text)
    assert session.scalar(select(func.count()).select_from(Incident)) == 0
    assert declare(client, hana) == "/incidents/INC-1"
    page = client.get("/incidents/INC-1").text
    assert (
        "Payment webhooks piling up" in page and "@hana" in page and "inc-2026-06-24-payment-webhooks" in page
    )


def test_incident_forms_call_the_services(client, hana, session):
    declare(client, hana)
    base = "/incidents/INC-1"
    r = client.post(f"{base}/severity", data={"severity": "SEV1", "reason": "", "csrf_token": hana})
    assert r.status_code == 422 and error_of(r.text) == "reason must not be empty"
    r = client.post(
        f"{base}/severity", data={"severity": "SEV1", "reason": "all charging", "csrf_token": hana}
    )
    assert r.status_code == 200  # redirected back to the page
    r = client.post(
        f"{base}/status", data={"status": "closed", "csrf_token": hana, "note": ""}, headers=FETCH
    )
    assert r.status_code == 200 and r.json()["ok"]
    r = client.post(f"{base}/status", data={"status": "mitigated", "csrf_token": hana}, headers=FETCH)
    assert r.status_code == 409 and "read-only" in r.json()["error"]["message"]
    texts = entries(session)
    assert any("severity SEV2 → SEV1 by @hana: all charging" in t for t in texts)
    assert any("investigating → closed by @hana" in t for t in texts)


def test_handover_offer_accept_and_live_cursor(client, hana, session):
    declare(client, hana)
    base = "/incidents/INC-1"
    live = client.get(f"{base}/live", params={"after": 0}, headers=FETCH).json()
    cursor = live["cursor"]
    assert live["count"] >= 3 and "declared SEV2" in live["html"]
    r = client.post(
        f"{base}/roles/offer", data={"role": "ic", "person": "ken", "csrf_token": hana}, headers=FETCH
    )
    assert r.status_code == 200
    assert "Accept IC" not in client.get(base).text  # only the person offered sees Accept
    r = client.post(f"{base}/roles/ic/accept", data={"csrf_token": hana}, headers=FETCH)
    assert r.status_code == 403 and "is for @ken" in r.json()["error"]["message"]
    login(client, "ken")
    ken = csrf_of(client.get(base).text)
    assert "Accept IC" in client.get(base).text
    assert client.post(f"{base}/roles/ic/accept", data={"csrf_token": ken}, headers=FETCH).status_code == 200
    fresh = client.get(f"{base}/live", params={"after": cursor}, headers=FETCH).json()
    assert fresh["count"] == 2 and "@ken accepted IC from @hana" in fresh["html"]
    assert "@ken" in fresh["panels"]["header"] and fresh["cursor"] > cursor
    assert client.get(f"{base}/live", params={"after": fresh["cursor"]}, headers=FETCH).json()["count"] == 0


def test_runbook_steps_only_ops_ticks_mitigate(client, hana, session):
    declare(client, hana)
    base = "/incidents/INC-1"
    client.post(
        f"{base}/runbooks", data={"slug": "payment-webhook-backlog", "csrf_token": hana}, headers=FETCH
    )
    page = client.get(base).text
    assert "What you must never do" in page and page.index("3. Mitigate") < page.index("4. Verify")
    login(client, "ken")
    ken = csrf_of(client.get(base).text)
    r = client.post(
        f"{base}/runbooks/payment-webhook-backlog/steps/3.1", data={"csrf_token": ken}, headers=FETCH
    )
    assert r.status_code == 403 and "only the Ops holder" in r.json()["error"]["message"]
    login(client, "hana")
    again = csrf_of(client.get(base).text)  # a new session has a new CSRF token
    r = client.post(
        f"{base}/runbooks/payment-webhook-backlog/steps/3.1", data={"csrf_token": again}, headers=FETCH
    )
    assert r.status_code == 200
    assert any("payment-webhook-backlog step 3.1" in t and "done by @hana" in t for t in entries(session))


def evidence_of(page: str) -> str:
    """The Verify evidence block beside the status control ('' when it is not shown)."""
    found = re.search(r'<div class="evidence" data-live="evidence">(.*?)</section>', page, re.S)
    return found.group(1) if found else ""


def test_verify_evidence_beside_the_status_control(client, hana, session):
    declare(client, hana)
    base, slug = "/incidents/INC-1", "payment-webhook-backlog"
    box = evidence_of(client.get(base).text)  # investigating: resolved is an allowed next state
    assert "no verification recorded yet" in box and "no runbook attached" in box
    client.post(f"{base}/runbooks", data={"slug": slug, "csrf_token": hana}, headers=FETCH)
    box = evidence_of(client.get(base).text)
    steps = re.findall(r'<li class="(\w+)" data-step="(4\.\d)-', box)
    assert steps == [("open", "4.1"), ("open", "4.2"), ("open", "4.3")]
    assert box.count(">not yet<") == 3 and "0/3 Verify steps done" in box
    assert "no verification recorded yet" in box and "no runbook attached" not in box
    cursor = client.get(f"{base}/live", params={"after": 0}, headers=FETCH).json()["cursor"]
    for ref, state, note in (("4.2", "skipped", "no DLQ events"), ("4.3", "failed", ""), ("4.1", "done", "")):
        r = client.post(
            f"{base}/runbooks/{slug}/steps/{ref}",
            data={"state": state, "note": note, "csrf_token": hana},
            headers=FETCH,
        )
        assert r.status_code == 200, r.text
    box = evidence_of(client.get(base).text)
    states = re.findall(r'<li class="(\w+)" data-step="(4\.\d)-', box)
    assert states == [("done", "4.1"), ("skipped", "4.2"), ("failed", "4.3")]
    assert "no verification recorded yet" not in box and "1/3 Verify steps done" in box
    assert "done by @hana at 12:00" in box  # Asia/Tokyo
    assert "skipped by @hana at 12:00 — no DLQ events" in box and "failed by @hana" in box
    incident = session.scalars(select(Incident)).one()
    done = [e.step_id for e in runbook_service.verify_evidence(session, incident=incident)]
    assert len(done) == 1 and f'data-step="{done[0]}"' in box  # the service's evidence, on the page
    live = client.get(f"{base}/live", params={"after": cursor}, headers=FETCH).json()
    assert "1/3 Verify steps done" in live["panels"]["evidence"]
    # shown, not enforced: resolving with a failed Verify step is the IC's call
    r = client.post(f"{base}/status", data={"status": "resolved", "csrf_token": hana}, headers=FETCH)
    assert r.status_code == 200 and r.json()["ok"]
    page = client.get(base).text
    assert evidence_of(page) == "" and 'data-live="evidence" hidden' in page  # resolved: nothing to decide


def test_only_what_is_published_reaches_the_status_page_and_feeds(client, hana):
    """External comms stay on the timeline; the publish form is what the public reads (escaped)."""
    declare(client, hana)
    r = client.post(
        "/incidents/INC-1/comms",
        data={"kind": "initial", "audience": "external", "body": "internal-ish detail", "csrf_token": hana},
        headers=FETCH,
    )
    assert r.status_code == 200
    status = client.get("/status").text
    assert "internal-ish detail" not in status and "All systems operational" in status
    assert "Not on the status page" in client.get("/incidents/INC-1").text
    text = "Card payments are delayed <b>no charge is lost</b>"
    form = {"title": "Delayed card payments", "message": text, "state": "identified", "csrf_token": hana}
    r = client.post(
        "/incidents/INC-1/publish",
        data={**form, "services": ["payment-platform=partial_outage", ""]},
        headers=FETCH,
    )
    assert r.status_code == 200 and r.json()["message"] == "published to the status page: identified"
    status = client.get("/status").text
    assert "Card payments are delayed &lt;b&gt;no charge is lost&lt;/b&gt;" in status  # escaped, not markup
    assert "internal-ish detail" not in status and "Partial outage" in status
    assert "Payment webhooks piling up" not in status and "INC-1" not in status and "SEV2" not in status
    page = client.get("/incidents/INC-1").text
    assert (
        'value="Delayed card payments"' in page and 'value="payment-platform=partial_outage" selected' in page
    )
    live = client.get("/incidents/INC-1/live", params={"after": 0}, headers=FETCH).json()["panels"]
    assert '<strong class="public-state">identified</strong>' in live["status-page"]
    assert "payment-platform: partial outage · published 12:00 JST by @hana" in live["status-page"]
    feed = client.get("/status/feed.atom").text
    assert "no charge is lost" in feed and "internal-ish detail" not in feed and "&lt;b&gt;" in feed
    items = client.get("/status/feed.json").json()["items"]
    assert [i["content_text"] for i in items] == [f"{text}\n\npayment-platform: Partial outage"]
    r = client.post(
        "/incidents/INC-1/publish", data={**form, "services": ["payment-platform"]}, headers=FETCH
    )
    assert r.status_code == 422 and "SERVICE=STATE" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/incidents", "Open"),
        ("/oncall", "On call now"),
        ("/oncall?view=month", "Calendar"),
        ("/runbooks", "Payment-webhook backlog stagnation"),
        ("/runbooks/payment-webhook-backlog", "First move"),
        ("/runbooks/coverage", "Coverage"),
        ("/postmortems", "Postmortems"),
        ("/action-items", "Overdue"),
        ("/insights", 'aria-label="MTTR (median)"'),
        ("/settings", "Integrations"),
        ("/settings/revisions/1", "initial revision"),
    ],
)
def test_every_page_renders(client, hana, path, expected):
    r = client.get(path)
    assert r.status_code == 200, error_of(r.text)
    assert expected in r.text


def test_unknown_things_are_404_pages(client, hana):
    r = client.get("/incidents/INC-99")
    assert r.status_code == 404 and error_of(r.text) == "no incident INC-99"
    assert client.get("/runbooks/nope").status_code == 404


def test_overrides_and_feeds_from_the_on_call_page(client, hana, session):
    r = client.post(
        "/oncall/overrides",
        data={
            "layer": "payment-platform/primary",
            "person": "ken",
            "start": "2026-06-24T13:00",
            "end": "2026-06-25T13:00",
            "csrf_token": hana,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get("/oncall").text
    assert "override" in page
    r = client.post(
        "/oncall/overrides",
        data={
            "layer": "payment-platform/primary",
            "person": "ken",
            "start": "tomorrow",
            "end": "x",
            "csrf_token": hana,
        },
    )
    assert r.status_code == 422 and "is not a date and time" in error_of(r.text)
    r = client.post("/oncall/feeds", data={"of": "person:ken", "csrf_token": hana})
    url = re.search(r'id="new-feed">([^<]+)<', r.text).group(1)
    ics = client.get(url.replace("http://testserver", ""))
    assert ics.status_code == 200 and "BEGIN:VCALENDAR" in ics.text


def test_cursors_out_of_range_are_422_not_500(client, hana):
    declare(client, hana)
    for params in ({"after": 2**31}, {"before": 0}, {"after": -1}):
        r = client.get("/incidents/INC-1/live", params=params, headers=FETCH)
        assert r.status_code == 422, (params, r.status_code)
    assert client.get("/incidents/INC-1", params={"before": 2**40}).status_code == 422


def test_dates_outside_1970_to_2999_are_422_not_500(client, hana):
    """Date arithmetic on year 1 or 9999 overflows Python's datetime: the on-call page says why."""
    for start in ("0001-01-01", "9999-12-31"):
        r = client.get("/oncall", params={"view": "month", "start": start})
        assert r.status_code == 422 and "must be from 1970 to 2999" in error_of(r.text), start
    r = client.post(
        "/oncall/overrides",
        data={
            "layer": "payment-platform/primary",
            "person": "ken",
            "start": "0001-01-01T00:00",
            "end": "2026-06-25T13:00",
            "csrf_token": hana,
        },
    )
    assert r.status_code == 422 and "must be from 1970 to 2999" in error_of(r.text)
