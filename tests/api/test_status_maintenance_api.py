"""Scheduled maintenance on the status page (issue 18), both databases: the API, the CLI and /status.

``POST /api/v1/status/maintenance`` (bearer token: an admin, a member of the owning team, or the
Comms holder or IC of an open incident on the service), the window listed as upcoming, its services
"Under maintenance" while it is on (the injected clock), back to operational after it, counted as up;
bad bodies refused with 422 and nothing stored.
"""

# ruff: noqa: F811 (the CLI fixtures imported from test_incident_cli are arguments here)
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from commandpost.errors import Forbidden, ValidationFailed
from commandpost.incidents.models import MaintenanceWindow
from tests.api.test_incident_cli import _ok, cli_app, run, server  # noqa: F401 (fixtures)

BASE = "/api/v1/status/maintenance"
WINDOW = {
    "title": "Database upgrade",
    "message": "Card payments may be slow for a few minutes.",
    "services": ["payment-platform"],
    "starts_at": "2026-06-24T05:00:00Z",
    "ends_at": "2026-06-24T06:00:00Z",
}


@pytest.fixture
def tokens(auth, applied_ops):
    return {
        "hana": auth("responder", person="hana"),  # a member of payments, the owning team
        "sato": auth("responder", person="sato"),  # not a member
        "admin": auth("admin", person="sato"),
        "read": auth("read", person="ken"),
    }


def _stored(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(MaintenanceWindow)) or 0


def _component(page: str) -> str:
    start = page.index('data-service="payment-platform"')
    return page[start : page.index("</li>", start)]


def test_a_window_is_upcoming_then_on_then_over(client, tokens, clock, session):
    r = client.post(BASE, json=WINDOW, headers=tokens["hana"])
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["title"], out["services"], out["created_by"], out["cancelled_at"]) == (
        "Database upgrade", ["payment-platform"], "hana", None,
    )  # fmt: skip
    page = client.get("/status").text
    assert 'data-on="no"' in page and "Upcoming" in page and "Database upgrade" in page
    assert "Times are in Asia/Tokyo (JST)." in page  # the org's zone, said, whoever reads it
    assert ">2026-06-24 14:00 JST</time> –" in page
    assert 'data-state="operational"' in _component(page) and "All systems operational" in page
    listed = client.get(BASE, headers=tokens["read"]).json()
    assert [w["id"] for w in listed] == [out["id"]]

    clock.advance(hours=2, minutes=30)  # 05:30: on
    page = client.get("/status").text
    assert 'data-on="yes"' in page and "In progress" in page
    assert '<li class="component sev4" data-service="payment-platform" data-state="maintenance">' in page
    assert "Maintenance in progress" in page
    assert 'data-state="maintenance"><title>2026-06-24: Under maintenance</title>' in page
    assert "100.00% uptime" in page  # maintenance counts as up

    clock.advance(hours=1)  # 06:30: over
    page = client.get("/status").text
    assert "Database upgrade" not in page and "All systems operational" in page
    assert 'data-state="operational"' in _component(page)
    assert 'data-state="maintenance"><title>2026-06-24: Under maintenance</title>' in page  # the day's bar
    assert client.get(BASE, headers=tokens["read"]).json() == []
    assert [w["id"] for w in client.get(BASE, params={"past": "true"}, headers=tokens["read"]).json()] == [
        out["id"]
    ]


def test_an_incident_worse_than_maintenance_shows_its_state(client, tokens, clock):
    client.post(BASE, json={**WINDOW, "starts_at": "2026-06-24T02:00:00Z"}, headers=tokens["hana"])
    r = client.post(
        "/api/v1/incidents",
        json={"title": "x", "severity": "SEV2", "service": "payment-platform"},
        headers=tokens["hana"],
    )
    number = r.json()["number"]
    published = {
        "title": "Payments failing",
        "message": "We are on it.",
        "services": {"payment-platform": "major_outage"},
    }
    assert (
        client.post(
            f"/api/v1/incidents/{number}/public-updates", json=published, headers=tokens["hana"]
        ).status_code
        == 201
    )
    assert 'data-state="major_outage"' in _component(client.get("/status").text)


def test_cancel_ends_it_at_once_and_only_once(client, tokens, clock):
    on = client.post(
        BASE, json={**WINDOW, "starts_at": "2026-06-24T02:00:00Z"}, headers=tokens["hana"]
    ).json()
    assert 'data-state="maintenance"' in _component(client.get("/status").text)
    r = client.post(f"{BASE}/{on['id']}/cancel", headers=tokens["sato"])
    assert (
        r.status_code == 403 and "schedules maintenance for payment-platform" in r.json()["error"]["message"]
    )
    r = client.post(f"{BASE}/{on['id']}/cancel", headers=tokens["admin"])
    assert r.status_code == 200 and r.json()["cancelled_by"] == "sato"
    page = client.get("/status").text
    assert 'data-state="operational"' in _component(page) and "Database upgrade" not in page
    assert client.post(f"{BASE}/{on['id']}/cancel", headers=tokens["admin"]).status_code == 409
    assert client.post(f"{BASE}/999/cancel", headers=tokens["admin"]).status_code == 404
    assert client.post(f"{BASE}/99999999999/cancel", headers=tokens["admin"]).status_code == 422


ATOM = "{http://www.w3.org/2005/Atom}"


def _feeds(client) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str, list[str]]]]:  # type: ignore[no-untyped-def]
    """(title, id's fragment, updated) of each Atom entry; (title, id's fragment, date, tags) of each
    JSON Feed item — both newest first."""
    root = ET.fromstring(client.get("/status/feed.atom").content)
    atom = [
        (
            e.findtext(f"{ATOM}title") or "",
            (e.findtext(f"{ATOM}id") or "").rpartition("#")[2],
            e.findtext(f"{ATOM}updated") or "",
        )
        for e in root.findall(f"{ATOM}entry")
    ]
    items = client.get("/status/feed.json").json()["items"]
    return atom, [(i["title"], i["id"].rpartition("#")[2], i["date_published"], i["tags"]) for i in items]


def test_the_feeds_tell_what_each_window_did(client, tokens, clock):
    """One entry when a window is scheduled, one when it starts, one when it ends — or when it is
    cancelled (before it starts) or ended early (while on); with the incidents' updates by time."""
    done = client.post(BASE, json=WINDOW, headers=tokens["hana"]).json()  # 05:00-06:00, at 03:00
    clock.advance(minutes=10)
    called_off = client.post(
        BASE, json={**WINDOW, "title": "Cache flush", "starts_at": "2026-06-24T07:00:00Z",
                    "ends_at": "2026-06-24T08:00:00Z"}, headers=tokens["hana"],
    ).json()  # fmt: skip
    atom, items = _feeds(client)
    assert atom == [
        ("Scheduled maintenance: Cache flush", f"maintenance-{called_off['id']}-scheduled",
         "2026-06-24T03:10:00Z"),
        ("Scheduled maintenance: Database upgrade", f"maintenance-{done['id']}-scheduled",
         "2026-06-24T03:00:00Z"),
    ]  # fmt: skip
    assert items[1] == (
        "Scheduled maintenance: Database upgrade",
        f"maintenance-{done['id']}-scheduled",
        "2026-06-24T03:00:00+00:00",
        ["maintenance", "scheduled", "payment-platform"],
    )
    body = client.get("/status/feed.json").json()["items"][1]
    assert body["url"].endswith(f"/status#maintenance-{done['id']}")
    assert body["content_text"] == (
        "Card payments may be slow for a few minutes.\n\n"
        "2026-06-24 05:00 – 2026-06-24 06:00 UTC · payment-platform"
    )
    assert client.post(f"{BASE}/{called_off['id']}/cancel", headers=tokens["hana"]).status_code == 200
    clock.advance(hours=2, minutes=20)  # 05:30: on
    r = client.post(
        "/api/v1/incidents",
        json={"title": "x", "severity": "SEV2", "service": "payment-platform"},
        headers=tokens["hana"],
    )
    update = {
        "title": "Payments failing",
        "message": "We are on it.",
        "services": {"payment-platform": "major_outage"},
    }
    assert client.post(f"/api/v1/incidents/{r.json()['number']}/public-updates", json=update,
                       headers=tokens["hana"]).status_code == 201  # fmt: skip
    clock.advance(hours=1)  # 06:30: over
    atom, items = _feeds(client)
    assert [(t, u) for t, _k, u in atom] == [
        ("Maintenance completed: Database upgrade", "2026-06-24T06:00:00Z"),
        ("Investigating: Payments failing", "2026-06-24T05:30:00Z"),
        ("Maintenance in progress: Database upgrade", "2026-06-24T05:00:00Z"),
        ("Maintenance cancelled: Cache flush", "2026-06-24T03:10:00Z"),
        ("Scheduled maintenance: Cache flush", "2026-06-24T03:10:00Z"),
        ("Scheduled maintenance: Database upgrade", "2026-06-24T03:00:00Z"),
    ]
    assert [(t, k) for t, k, _u in atom] == [(t, k) for t, k, _d, _tags in items]
    assert len({k for _t, k, _u in atom}) == 6  # each entry its own id
    assert items[3][3] == ["maintenance", "cancelled", "payment-platform"]
    cancelled = client.get("/status/feed.json").json()["items"][3]["content_text"]
    assert cancelled.startswith("The planned maintenance will not take place.")

    early = client.post(
        BASE, json={**WINDOW, "title": "Index rebuild", "starts_at": "2026-06-24T06:00:00Z",
                    "ends_at": "2026-06-24T09:00:00Z"}, headers=tokens["hana"],
    ).json()  # fmt: skip
    clock.advance(minutes=15)
    assert client.post(f"{BASE}/{early['id']}/cancel", headers=tokens["hana"]).status_code == 200
    atom, _items = _feeds(client)
    assert [t for t, _k, _u in atom[:3]] == [
        "Maintenance ended early: Index rebuild",
        "Scheduled maintenance: Index rebuild",
        "Maintenance in progress: Index rebuild",
    ]
    assert atom[0][2] == "2026-06-24T06:45:00Z"

    clock.advance(days=7, minutes=1)  # a week after the last window ended: the windows are gone
    atom, items = _feeds(client)
    assert [t for t, _k, _u in atom] == ["Investigating: Payments failing"] == [i[0] for i in items]


def test_who_may_schedule(client, tokens, session):
    r = client.post(BASE, json=WINDOW, headers=tokens["read"])
    assert r.status_code == 403 and "scope 'responder'" in r.json()["error"]["message"]
    r = client.post(BASE, json=WINDOW, headers=tokens["sato"])
    assert r.status_code == 403
    assert r.json()["error"]["message"].startswith("only an admin, a member of the owning team")
    assert _stored(session) == 0
    assert client.post(BASE, json=WINDOW, headers=tokens["admin"]).status_code == 201
    assert client.post(BASE, headers={}, json=WINDOW).status_code == 401


def test_the_comms_holder_of_an_open_incident_on_the_service_may_schedule(client, tokens, auth, session):
    number = client.post(
        "/api/v1/incidents",
        json={"title": "x", "severity": "SEV3", "service": "payment-platform", "ic": "sato"},
        headers=tokens["admin"],
    ).json()["number"]
    r = client.post(BASE, json=WINDOW, headers=tokens["sato"])  # sato is the IC now
    assert r.status_code == 201, r.text
    assert number and _stored(session) == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"ends_at": "2026-06-24T04:00:00Z"}, "ends_at must be after starts_at"),
        ({"starts_at": "2026-06-24T01:00:00Z", "ends_at": "2026-06-24T02:00:00Z"}, "ends_at is in the past"),
        ({"ends_at": "2026-07-24T06:00:00Z"}, "at most 14 days"),
        ({"starts_at": "2028-01-01T00:00:00Z", "ends_at": "2028-01-01T01:00:00Z"}, "more than a year ahead"),
        ({"starts_at": "2026-06-24T05:00:00"}, "timezone"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"services": []}, "name at least one service"),
        ({"services": ["ledger-of-doom"]}, "unknown service 'ledger-of-doom'"),
        ({"services": ["x" * 100_000]}, "unknown service"),
        ({"services": [f"s{i}" for i in range(51)]}, "services"),
        ({"title": ""}, "title must not be empty"),
        ({"title": "t" * 301}, "title"),
        ({"message": "m" * 5001}, "message"),
        ({"message": "nul\u0000byte"}, "message holds a control character"),
        ({"title": "esc\u001b[31m"}, "title holds a control character"),
        ({"title": "rtl\u202etxt"}, "title holds a control character"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_windows_are_4xx_and_store_nothing(client, tokens, session, change, says):
    r = client.post(BASE, json={**WINDOW, **change}, headers=tokens["admin"])
    assert r.status_code == 422, r.text
    assert says in json.dumps(r.json())
    assert _stored(session) == 0
    assert "Scheduled maintenance" not in client.get("/status").text


def test_hostile_bodies(client, tokens, session):
    for body in (
        b"[1,2,3]",
        b"{" * 10_000,
        b"\x00\xff",
        json.dumps({**WINDOW, "title": "a" * 2_000_000}).encode(),
    ):
        r = client.post(BASE, content=body, headers={**tokens["admin"], "Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (body[:20], r.status_code)
    assert _stored(session) == 0


def test_markup_is_escaped_on_the_page(client, tokens):
    body = {**WINDOW, "title": "<script>alert(1)</script>", "message": "a & <b>b</b>"}
    assert client.post(BASE, json=body, headers=tokens["admin"]).status_code == 201
    page = client.get("/status").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a &amp; &lt;b&gt;b&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page


def test_the_cli_adds_lists_and_cancels(run, clock):
    start = (clock.now() + timedelta(hours=2)).isoformat()
    end = (clock.now() + timedelta(hours=3)).isoformat()
    out = _ok(
        run(
            "maintenance", "add", "--title", "Database upgrade", "-m", "Slow for a few minutes.",
            "--start", start, "--end", end, "--service", "payment-platform",
        )
    )  # fmt: skip
    assert out.startswith(
        "scheduled #1 2026-06-24 05:00 UTC → 2026-06-24 06:00 UTC payment-platform: Database"
    )
    listed = _ok(run("maintenance", "list"))
    assert listed.splitlines()[0].startswith("#1 ") and "Database upgrade" in listed
    assert json.loads(_ok(run("maintenance", "list", "--json")))[0]["services"] == ["payment-platform"]
    refused = run("maintenance", "cancel", "1", person="sato")
    assert isinstance(refused.exception, Forbidden) and refused.exception.exit_code == 3
    bad = run(
        "maintenance", "add", "--title", "x", "-m", "y", "--start", end, "--end", start,
        "--service", "payment-platform",
    )  # fmt: skip
    assert (
        isinstance(bad.exception, ValidationFailed)
        and "ends_at must be after starts_at" in bad.exception.message
    )
    assert _ok(run("maintenance", "cancel", "1")).startswith("cancelled #1 ")
    assert _ok(run("maintenance", "list")).strip() == "no maintenance scheduled"
